"""source_catalog: the final catalog of sources of a resampled image (``_cat``, ``_segm``).

Seed 002, "Source Catalog", with the established step's parameters and
outputs: photutils image segmentation (threshold ``snr_threshold`` times
the background RMS, ``npixels`` connected pixels, optional deblending) on
the ``_i2d`` converted to Jy per pixel, then aperture photometry in the
30/50/70 % encircled-energy apertures of the APCORR reference (with their
aperture corrections), isophotal photometry, AB and Vega magnitudes (the
ABVEGAOFFSET reference), concentration indices, star/extended
classification and morphology (:func:`photoncal.kernels.source_catalog.make_source_catalog`).

The step returns the catalog (an astropy QTable, ``None`` when no source
is found); with ``save_results`` the framework writes it as ``_cat.ecsv``
and the step writes the segmentation map as ``_segm.fits``.  Without an
APCORR reference the fallback apertures (1, 2, 3 pixels, no correction) are
used, and without an ABVEGAOFFSET reference the Vega magnitudes equal the
AB ones; both are logged as warnings.
"""

from __future__ import annotations

import os

import numpy as np

from photoncal.stpipe import Step

from ._stage3 import STARFINDER_SPEC, starfinder_options

__all__ = ["SourceCatalogStep"]


class SourceCatalogStep(Step):
    """Detect and measure the sources of a resampled image."""

    class_alias = "source_catalog"

    spec = """
        aperture_ee1 = integer(default=30)  # aperture encircled energy 1
        aperture_ee2 = integer(default=50)  # aperture encircled energy 2
        aperture_ee3 = integer(default=70)  # aperture encircled energy 3
        ci1_star_threshold = float(default=2.0)  # CI 1 star threshold
        ci2_star_threshold = float(default=1.8)  # CI 2 star threshold
        suffix = string(default='cat')  # default suffix for output files
        starfinder = option('dao', 'iraf', 'segmentation', default='segmentation')  # star finder

        # general starfinder options
        snr_threshold = float(default=3.0)  # SNR threshold above the background
        bkg_boxsize = integer(default=1000)  # background mesh box size in pixels
        kernel_fwhm = float(default=2.0)  # Gaussian kernel FWHM in pixels

        # SourceFinder and SourceCatalog options (starfinder 'segmentation')
        npixels = integer(default=25)  # minimum number of connected pixels
""" + STARFINDER_SPEC + """
    """

    reference_file_types = ["apcorr", "abvegaoffset"]
    optional_reference_file_types = ["apcorr", "abvegaoffset"]

    def process(self, step_input):
        from photoncal.kernels import source_catalog as sc

        model = self.open_model(step_input)
        if type(model).__name__ not in ("ImageModel", "DrizProductModel"):
            raise TypeError(f"source_catalog: {model.meta.filename or 'the input'} is a "
                            f"{type(model).__name__}; it needs a resampled image (_i2d ImageModel)")
        if model.meta.wcs is None:
            raise ValueError(f"source_catalog: {model.meta.filename or 'the input'} has no WCS (meta.wcs)")
        aperture_ee = (self.aperture_ee1, self.aperture_ee2, self.aperture_ee3)
        aperture_params = sc.aperture_parameters(self._apcorr_rows(model), aperture_ee,
                                                 pixel_scale_ratio=self._pixel_scale_ratio(model))
        abvega_offset = self._abvega_offset(model)

        pixar = model.meta.photometry.pixelarea_steradians
        to_jy = sc.mjysr_to_jy_factor(pixar)
        unit = str(model.meta.bunit_data or "MJy/sr")
        if unit.replace(" ", "").lower() not in ("mjy/sr", "mjy/steradian"):
            raise ValueError(f"source_catalog: {model.meta.filename}: SCI is in {unit!r}; the catalog "
                             "needs surface brightness in MJy/sr (run photom)")
        err = model.err if "err" in model.keys() else np.zeros_like(model.data)
        coverage = np.isnan(err)
        if "wht" in model.keys():
            coverage |= model.wht == 0
        wi = model.meta.wcsinfo
        ref_pixel = (wi.crpix1 - 1.0, wi.crpix2 - 1.0) if wi.crpix1 is not None and wi.crpix2 is not None else None
        catalog, segm = sc.make_source_catalog(
            model.data * np.float32(to_jy), err * np.float32(to_jy), wcs=model.meta.wcs,
            coverage_mask=coverage, **starfinder_options(self), aperture_params=aperture_params,
            abvega_offset=abvega_offset,
            ci_star_thresholds=(self.ci1_star_threshold, self.ci2_star_threshold), ref_pixel=ref_pixel,
        )
        if catalog is None or len(catalog) == 0:
            self.log.warning("No sources found in %s; no catalog is written", model.meta.filename)
            return None
        self.log.info("Detected %d sources", len(catalog))
        if self.save_results:
            model.meta.source_catalog = os.path.basename(self.make_output_path(ext=".ecsv"))
            if segm is not None:
                self._save_segmentation(model, segm)
        return catalog

    # ------------------------------------------------------------------
    def _reference(self, model, reftype):
        """The opened reference model, or None (N/A or not found: logged)."""
        from photoncal.stpipe.exceptions import ReferenceFileNotFoundError

        try:
            return self.get_reference_file_model(model, reftype)
        except ReferenceFileNotFoundError as err:
            self.log.warning("No %s reference file: %s", reftype.upper(), str(err).splitlines()[0])
            return None

    def _selector(self, model, table, reftype, allowed):
        ins = model.meta.instrument
        name = str(ins.name or "").upper()
        keys = {"NIRCAM": ("filter", "pupil"), "NIRISS": ("filter", "pupil"),
                "MIRI": ("filter", "subarray" if reftype == "apcorr" else None),
                "FGS": (None, "detector" if reftype == "abvegaoffset" else None)}.get(name)
        if keys is None:
            raise ValueError(f"source_catalog: instrument {name or '(missing)'} has no {reftype.upper()} "
                             "selection rule (NIRCAM, NIRISS, MIRI or FGS)")
        values = {"filter": ins.filter, "pupil": ins.pupil, "subarray": model.meta.subarray.name,
                  "detector": ins.detector}
        columns = table.colnames if hasattr(table, "colnames") else table.dtype.names
        keep = np.ones(len(table[columns[0]]), dtype=bool)
        used = {}
        for key in keys:
            if key is None or key not in columns:
                continue
            wanted = str(values[key] or "").strip().upper()
            column = np.array([str(v).strip().upper() for v in np.asarray(table[key])])
            keep &= column == wanted
            used[key] = wanted
        return keep, used

    def _apcorr_rows(self, model):
        ref = self._reference(model, "apcorr")
        if ref is None:
            self.log.warning("APCORR reference file not available: using the fallback apertures "
                             "(1, 2, 3 pixels) without aperture corrections")
            return None
        table = ref.apcorr_table
        keep, used = self._selector(model, table, "apcorr", None)
        if not keep.any():
            raise ValueError(f"APCORR reference {ref.meta.filename} has no rows for {used}")
        return {name: np.asarray(table[name])[keep] for name in table.dtype.names}

    def _abvega_offset(self, model):
        ref = self._reference(model, "abvegaoffset")
        if ref is None:
            self.log.warning("ABVEGAOFFSET reference file not available: Vega magnitudes are not correct")
            return 0.0
        table = ref.abvega_offset
        keep, used = self._selector(model, table, "abvegaoffset", None)
        rows = np.flatnonzero(keep)
        if rows.size != 1:
            raise ValueError(f"ABVEGAOFFSET reference {ref.meta.filename}: {rows.size} rows for {used} "
                             "(expected 1)")
        offset = float(np.asarray(table["abvega_offset"])[rows[0]])
        self.log.info("AB - Vega offset for %s: %.4f", used, offset)
        return offset

    def _pixel_scale_ratio(self, model):
        ratio = model.meta.resample.pixel_scale_ratio
        if ratio is None:
            self.log.warning("meta.resample.pixel_scale_ratio not set: assuming the native pixel scale (1)")
            return 1.0
        return float(ratio)

    def _save_segmentation(self, model, segm):
        from photoncal.datamodels.models import SegmentationMapModel

        segm_model = SegmentationMapModel(data=np.asarray(segm, dtype=np.uint32))
        segm_model.update(model, only="PRIMARY")
        segm_model.meta.wcs = model.meta.wcs
        for key in ("crpix1", "crpix2", "crval1", "crval2", "ctype1", "ctype2", "cunit1", "cunit2", "cdelt1",
                    "cdelt2", "pc1_1", "pc1_2", "pc2_1", "pc2_2", "s_region"):
            setattr(segm_model.meta.wcsinfo, key, getattr(model.meta.wcsinfo, key, None))
        path = self.save_model(segm_model, suffix="segm", force=True)
        model.meta.segmentation_map = os.path.basename(path) if path else None
        self.log.info("Wrote segmentation map: %s", path)
