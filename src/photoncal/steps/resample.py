"""resample: drizzle calibrated images onto an undistorted grid (``_i2d``).

Seed 002 "Resample" and seed 003 (``ResampleData``): a single ``_cal``
exposure or an association of them is resampled onto one output grid whose
footprint encloses every input, with the orientation and plate scale of the
first input (or as the grid parameters say), by
:class:`photoncal.resample.ResampleData` and photoncal's drizzle kernels.

Drizzle parameters come from the step parameters; the DRIZPARS reference
file (selected by the number of input exposures and the filter, as the
established step did) supplies ``pixfrac``, ``kernel``, ``fillval`` and
``weight_type`` for those the user left at their defaults.  Without a
DRIZPARS reference the parameters are used as they are.

Before drizzling, each input's NaN values and DO_NOT_USE flags are made to
agree; pixels whose DQ has flags other than ``good_bits`` get no weight.
The product is an ImageModel with SCI, ERR, WHT, CON and the VAR_* arrays.
"""

from __future__ import annotations

import os

from photoncal.stpipe import Step

__all__ = ["ResampleStep", "GOOD_BITS"]

#: Default ``good_bits``: every flag except DO_NOT_USE and NON_SCIENCE is usable.
GOOD_BITS = "~DO_NOT_USE+NON_SCIENCE"

_DRIZPARS_FIELDS = {"pixfrac": "pixfrac", "kernel": "kernel", "fillval": "fillval", "weight_type": "wht_type"}


class ResampleStep(Step):
    """Resample images onto a common undistorted grid with the drizzle algorithm."""

    class_alias = "resample"

    spec = """
        pixfrac = float(min=0.0, max=1.0, default=1.0)  # linear size of the drizzle drop relative to an input pixel
        kernel = option('square', 'gaussian', 'point', 'turbo', 'tophat', 'lanczos2', 'lanczos3', default='square')  # flux distribution kernel
        fillval = string(default='NAN')                 # value of output pixels that received no input
        weight_type = option('ivm', 'exptime', None, default='ivm')  # input weighting: inverse read-noise variance or exposure time
        good_bits = string(default='~DO_NOT_USE+NON_SCIENCE')  # DQ flags that do not exclude a pixel
        output_shape = int_list(min=2, max=2, default=None)  # output size [nx, ny]
        crpix = float_list(min=2, max=2, default=None)  # 0-based output pixel of crval
        crval = float_list(min=2, max=2, default=None)  # sky position (deg) of the reference pixel
        rotation = float(default=None)                  # position angle of the output y axis east of north (deg)
        pixel_scale_ratio = float(default=1.0)          # output / input pixel scale
        pixel_scale = float(default=None)               # output pixel scale in arcsec (overrides pixel_scale_ratio)
        output_wcs = string(default='')                 # ASDF file holding the output WCS (overrides the grid parameters)
        single = boolean(default=False)                 # resample each exposure to its own output (many-to-many)
        blendheaders = boolean(default=True)            # blend the inputs' metadata into the output
        in_memory = boolean(default=True)               # keep inputs and single outputs in memory
        enable_ctx = boolean(default=True)              # compute the context (CON) array
        enable_err = boolean(default=True)              # compute ERR (and the variances)
        report_var = boolean(default=True)              # keep the VAR_* arrays in the output
        propagate_dq = boolean(default=False)           # OR the inputs' DQ into an output DQ
        pixmap_stepsize = float(default=1.0)            # evaluate the WCSs every this many pixels (1: every pixel)
        pixmap_order = integer(default=1)               # spline order of the sparse pixel map (1 or 3)
    """

    reference_file_types = ["drizpars"]
    optional_reference_file_types = ["drizpars"]

    def process(self, step_input):
        inputs, output_name, single_input = self._inputs(step_input)
        if self.pixmap_order not in (1, 3):
            raise ValueError(f"pixmap_order = {self.pixmap_order}: expected 1 or 3")
        pars = self._drizzle_parameters(inputs)

        from photoncal.resample import ResampleData

        kwargs = dict(
            output=output_name, single=self.single, blendheaders=self.blendheaders and not single_input,
            pixfrac=pars["pixfrac"], kernel=pars["kernel"], fillval=pars["fillval"],
            wht_type=pars["weight_type"], good_bits=self.good_bits, pscale_ratio=self.pixel_scale_ratio,
            pscale=self.pixel_scale, rotation=self.rotation, crpix=self.crpix, crval=self.crval,
            output_shape=self.output_shape, in_memory=self.in_memory, enable_ctx=self.enable_ctx,
            enable_err=self.enable_err, report_var=self.report_var, propagate_dq=self.propagate_dq,
            pixmap_stepsize=self.pixmap_stepsize, pixmap_order=self.pixmap_order,
            output_dir=self.search_attr("output_dir"),
        )
        if self.output_wcs:
            kwargs["output_wcs"] = self.make_input_path(self.output_wcs)
        return ResampleData(inputs, **kwargs).do_drizzle()

    # ------------------------------------------------------------------
    def _inputs(self, step_input):
        """(inputs for ResampleData, output file name, whether it is one image)."""
        from photoncal.datamodels import ModelContainer
        from photoncal.steps._stage2 import match_nans_and_flags

        if isinstance(step_input, (str, os.PathLike)) and os.fspath(step_input).lower().endswith(".json"):
            container = ModelContainer(self.make_input_path(os.fspath(step_input)), on_disk=not self.in_memory)
        elif isinstance(step_input, ModelContainer):
            container = step_input
        elif isinstance(step_input, (list, tuple)):
            container = ModelContainer([self.make_input_path(i) if isinstance(i, (str, os.PathLike)) else i
                                        for i in step_input], on_disk=not self.in_memory)
        else:
            model = self.open_model(step_input)
            if type(model).__name__ != "ImageModel":
                raise TypeError(f"resample: {model.meta.filename or 'the input'} is a {type(model).__name__}; "
                                "resample needs 2-D images (ImageModel)")
            match_nans_and_flags(model)
            return [model], model.meta.filename, True
        if len(container) == 0:
            raise ValueError("resample: the input association or list holds no images")
        if not container.on_disk:
            for model in container:
                if model.data.ndim != 2:
                    raise TypeError(f"resample: {model.meta.filename} is not a 2-D image")
                match_nans_and_flags(model)
        name = None
        try:
            name = container.asn_table["products"][0]["name"]
        except (KeyError, IndexError, TypeError):
            pass
        if name and not os.path.splitext(name)[1]:
            name = f"{name}_i2d.fits"
        return container, name, len(container) == 1

    def _drizzle_parameters(self, inputs):
        """pixfrac, kernel, fillval, weight_type: user values, else DRIZPARS, else the defaults."""
        from photoncal.stpipe.exceptions import ReferenceFileNotFoundError
        from photoncal.stpipe.spec import DEFAULT_SOURCE

        pars = {name: getattr(self, name) for name in _DRIZPARS_FIELDS}
        sources = self.get_par_sources()
        defaulted = [n for n in _DRIZPARS_FIELDS if sources.get(n) == str(DEFAULT_SOURCE)]
        if not defaulted:
            return pars
        first = inputs[0]
        try:
            drizpars = self.get_reference_file_model(first, "drizpars")
            filter_name = first.meta.instrument.filter
        except ReferenceFileNotFoundError as err:
            self.log.info("No DRIZPARS reference (%s); using the step parameters", str(err).splitlines()[0])
            return pars
        finally:
            if not isinstance(inputs, list) and inputs.on_disk:
                first.close()
        if drizpars is None:
            return pars
        table = drizpars.drizpars_table
        if table is None or len(table) == 0:
            self.log.warning("DRIZPARS %s has an empty table; using the step parameters", drizpars.meta.filename)
            return pars
        from photoncal.resample.utils import select_drizpars_row

        n_images = _count_exposures(inputs)
        row = select_drizpars_row(table, n_images, filter_name)
        if row is None:
            self.log.warning("DRIZPARS %s has no row for %d image(s) of filter %s; using the step parameters",
                             drizpars.meta.filename, n_images, filter_name)
            return pars
        names = {n.lower(): n for n in table.dtype.names}
        for name in defaulted:
            column = names.get(_DRIZPARS_FIELDS[name])
            if column is None:
                continue
            value = table[column][row]
            if isinstance(value, bytes):
                value = value.decode()
            if hasattr(value, "item"):
                value = value.item()
            if isinstance(value, str):
                value = value.strip()
                if name == "weight_type" and value.upper() in ("NONE", ""):
                    value = None
                elif name == "kernel":
                    value = value.lower()
            if name == "pixfrac":
                value = float(value)
            pars[name] = value
        self.log.info("Drizzle parameters from DRIZPARS row %d (%d image(s)): pixfrac=%s kernel=%s fillval=%s "
                      "weight_type=%s", row, n_images, pars["pixfrac"], pars["kernel"], pars["fillval"],
                      pars["weight_type"])
        return pars


def _count_exposures(inputs):
    """Number of exposure groups in the inputs."""
    from photoncal.resample.resample import exposure_group_id

    if isinstance(inputs, list):
        return len({exposure_group_id(m, i) for i, m in enumerate(inputs)})
    ids = set()
    for index in range(len(inputs)):
        model = inputs[index]
        ids.add(exposure_group_id(model, index))
        if inputs.on_disk:
            model.close()
    return len(ids)
