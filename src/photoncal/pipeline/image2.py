"""calwebb_image2: calibrate imaging count-rate exposures (``_rate``/``_rateints`` -> ``_cal``/``_calints``).

Seed 002, "calwebb_image2": for each exposure (each product of a level-2
association, or the single input file or model)

    bkg_subtract (only with ``background`` members) -> assign_wcs ->
    flat_field -> photom -> resample (``_i2d``; 2-D images of the regular
    imaging types only)

then the calibrated exposure is written as ``<product>_cal.fits`` (or
``_calints`` for a ``_rateints`` cube).  ``save_bsub`` also writes the
background-subtracted exposure (``_bsub`` / ``_bsubints``).
"""

from __future__ import annotations

import os
from collections import defaultdict

from photoncal.steps.assign_wcs import AssignWcsStep
from photoncal.steps.background import BackgroundStep
from photoncal.steps.flat_field import FlatFieldStep
from photoncal.steps.photom import PhotomStep
from photoncal.steps.resample import ResampleStep
from photoncal.stpipe import Pipeline

__all__ = ["Image2Pipeline"]


class Image2Pipeline(Pipeline):
    """Process JWST imaging count-rate exposures to calibrated images (calwebb_image2)."""

    class_alias = "calwebb_image2"

    spec = """
        save_bsub = boolean(default=False)  # save the background-subtracted exposure (_bsub / _bsubints)
    """

    step_defs = {
        "bkg_subtract": BackgroundStep,
        "assign_wcs": AssignWcsStep,
        "flat_field": FlatFieldStep,
        "photom": PhotomStep,
        "resample": ResampleStep,
    }

    #: Exposure types whose 2-D products are also resampled to ``_i2d``.
    image_exptypes = ("MIR_IMAGE", "NRC_IMAGE", "NIS_IMAGE", "FGS_IMAGE")

    def process(self, input_data):
        asn, asn_dir, table_name = self._as_level2_association(input_data)
        products = asn["products"]
        if len(products) > 1 and self.output_file is not None:
            self.log.warning("The association has %d products: output_file is ignored", len(products))
            self.output_file = None
        results = []
        for index, product in enumerate(products):
            self.log.info("Processing product %s", product["name"])
            if asn_dir is not None:
                # outputs are named after the association product
                self.set_primary_input(product["name"], exclusive=False)
                base = self.output_file or product["name"]
            else:
                if index > 0:
                    self.set_primary_input(product["members"][0]["expname"], exclusive=False)
                base = self.output_file
            result = self.process_exposure_product(product, asn.get("asn_pool", " "), table_name, asn_dir)
            suffix = "calints" if type(result).__name__ == "CubeModel" else "cal"
            if self.save_results:
                self.save_model(result, suffix=suffix, output_file=base, force=True)
            else:
                result.meta.filename = os.path.basename(self.make_output_path(basepath=base, suffix=suffix))
            results.append(result)
        self.log.info("... ending calwebb_image2")
        return results[0] if len(results) == 1 else results

    def _save_results(self, result):
        # Each product was saved in process() under its own name and suffix
        # (_cal or _calints), so the framework has nothing left to save.
        return None

    # ------------------------------------------------------------------
    def _as_level2_association(self, input_data):
        """(association dict, its directory or None, its file name) for any input."""
        if isinstance(input_data, dict):
            return input_data, self.effective_input_dir or os.getcwd(), "<association>"
        if isinstance(input_data, (str, os.PathLike)) and os.fspath(input_data).lower().endswith(".json"):
            from photoncal.associations import load_asn

            path = self.make_input_path(os.fspath(input_data))
            asn = load_asn(path)
            return asn, os.path.dirname(os.path.abspath(path)), os.path.basename(path)
        from photoncal.datamodels import ModelContainer

        if isinstance(input_data, ModelContainer) and input_data.asn_file_path:
            return self._as_level2_association(input_data.asn_file_path)
        items = list(input_data) if isinstance(input_data, (list, tuple, ModelContainer)) else [input_data]
        products = []
        for item in items:
            name = os.fspath(item) if isinstance(item, (str, os.PathLike)) else (item.meta.filename or "image2")
            products.append({"name": _product_name(name), "members": [{"expname": item, "exptype": "science"}]})
        return {"asn_pool": "singleton", "products": products}, None, "singleton"

    def process_exposure_product(self, exp_product, pool_name=" ", asn_file=" ", asn_dir=None):
        """Calibrate the exposure of one level-2 product.

        Parameters
        ----------
        exp_product : dict
            ``{"name": ..., "members": [{"expname": ..., "exptype": ...}, ...]}``;
            member names are paths (relative to ``asn_dir``) or models.
        pool_name, asn_file : str
            Recorded in ``meta.asn``.
        asn_dir : str, optional
            Directory of the association file.

        Returns
        -------
        ImageModel or CubeModel
            The calibrated exposure.
        """
        members = defaultdict(list)
        for member in exp_product["members"]:
            expname = member["expname"]
            if isinstance(expname, (str, os.PathLike)) and asn_dir is not None and not os.path.isabs(expname):
                expname = os.path.join(asn_dir, expname)
            members[str(member.get("exptype", "science")).lower()].append(expname)
        science = members["science"]
        if not science:
            raise ValueError(f"product {exp_product['name']!r} has no science member")
        if len(science) > 1:
            self.log.warning("%d science members in product %s; using the first", len(science), exp_product["name"])
        self.log.info("Working on input %s ...", science[0] if isinstance(science[0], str) else
                      science[0].meta.filename)
        model = self.open_model(science[0])
        model.meta.asn.pool_name = pool_name
        model.meta.asn.table_name = asn_file

        if members["background"]:
            self.bkg_subtract.suffix = "bsubints" if type(model).__name__ == "CubeModel" else "bsub"
            if self.save_bsub:
                self.bkg_subtract.save_results = True
            model = self.bkg_subtract.run(model, members["background"])

        model = self.assign_wcs.run(model)
        model = self.flat_field.run(model)
        model = self.photom.run(model)

        exp_type = str(model.meta.exposure.type or "").upper()
        if exp_type in self.image_exptypes and model.data.ndim == 2:
            self.resample.save_results = self.save_results
            self.resample.suffix = "i2d"
            self.resample.run(model)
        else:
            self.log.info("No _i2d for %s (EXP_TYPE %s, %d-D data)", model.meta.filename, exp_type, model.data.ndim)
        self.log.info("Finished processing product %s", exp_product["name"])
        return model


def _product_name(path):
    """A product name from an exposure file name: the stem without its product suffix."""
    from photoncal.stpipe.naming import remove_suffix, split_extension

    stem = split_extension(os.path.basename(os.fspath(path)))[0]
    return remove_suffix(stem)[0]
