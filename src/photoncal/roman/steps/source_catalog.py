"""The source catalog and segmentation map of a Roman exposure."""

from __future__ import annotations

from photoncal.roman.stpipe import RomanStep

__all__ = ["SourceCatalogStep", "roman_catalog", "segmentation_model"]

#: Catalog columns (Roman names) and the source-catalog kernel columns they come from.
_RENAME = (
    ("label", "label"), ("x_centroid", "xcentroid"), ("y_centroid", "ycentroid"),
    ("segment_flux", "isophotal_flux"), ("segment_flux_err", "isophotal_flux_err"),
    ("segment_abmag", "isophotal_abmag"), ("segment_abmag_err", "isophotal_abmag_err"),
    ("segment_area", "isophotal_area"), ("is_extended", "is_extended"), ("sharpness", "sharpness"),
    ("roundness1", "roundness"), ("nn_label", "nn_label"), ("nn_distance", "nn_dist"),
    ("semimajor", "semimajor_sigma"), ("semiminor", "semiminor_sigma"), ("ellipticity", "ellipticity"),
    ("orientation_pix", "orientation"), ("orientation_sky", "sky_orientation"),
)


def roman_catalog(table, jy_per_unit):
    """Roman catalog columns from the kernel's table: fluxes in nJy, positions 0-based.

    ``label, x_centroid, y_centroid, ra_centroid, dec_centroid, aperNN_flux(_err), aper_total_flux(_err),
    segment_flux(_err), segment_abmag(_err), segment_area, is_extended, sharpness, roundness1, nn_label,
    nn_distance, semimajor, semiminor, ellipticity, orientation_pix, orientation_sky``.
    """
    import numpy as np
    from astropy import units as u
    from astropy.table import Table

    out = Table()
    names = table.colnames

    def plain(col):
        return np.asarray(getattr(col, "value", col))

    for new, old in _RENAME[:3]:
        out[new] = plain(table[old])
    if "sky_centroid" in names and hasattr(table["sky_centroid"], "ra"):
        sky = table["sky_centroid"]
        out["ra_centroid"] = np.asarray(sky.ra.deg, dtype=np.float64) * u.deg
        out["dec_centroid"] = np.asarray(sky.dec.deg, dtype=np.float64) * u.deg
    nano = 1e9 * jy_per_unit
    for name in names:
        if name.startswith("aper") and name.endswith(("_flux", "_flux_err")) and not name.startswith("aper_bkg"):
            out[name] = (plain(table[name]) * nano).astype(np.float32) * u.nJy
    for new, old in _RENAME[3:]:
        if old not in names:
            continue
        values = plain(table[old])
        if new in ("segment_flux", "segment_flux_err"):
            out[new] = (values * nano).astype(np.float32) * u.nJy
        elif new in ("orientation_pix", "orientation_sky"):
            out[new] = values.astype(np.float32) * u.deg
        elif new in ("segment_area",):
            out[new] = values.astype(np.float32) * u.pix**2
        elif new in ("nn_distance", "semimajor", "semiminor"):
            out[new] = values.astype(np.float32) * u.pix
        else:
            out[new] = values
    return out


def segmentation_model(image, labels):
    """The ``_segm`` model of an image's segmentation map (uint32 labels)."""
    import copy

    import numpy as np

    from photoncal.roman import datamodels as rdm

    segm = rdm.SegmentationMapModel()
    meta = image._instance.get("meta", {})
    keep = ("filename", "calibration_software_name", "calibration_software_version", "product_type", "origin", "prd_version",
            "sdf_software_version", "telescope", "coordinates", "exposure", "instrument", "observation",
            "photometry", "pointing", "program", "ref_file", "visit", "wcsinfo", "subarray")
    segm._instance["meta"] = {k: copy.deepcopy(meta[k]) for k in keep if meta.get(k) is not None}
    segm._instance["meta"]["image"] = {"filename": meta.get("filename") or "?",
                                       "file_date": meta.get("file_date") or "2020-01-01T00:00:00.000"}
    segm.data = np.asarray(labels, dtype=np.uint32)
    return segm


class SourceCatalogStep(RomanStep):
    """Detect sources and measure them: the ``_cat`` catalog (ECSV) and ``_segm`` map.

    Background-subtracted, kernel-smoothed segmentation detection and
    photometry (:func:`photoncal.kernels.source_catalog.make_source_catalog`)
    on the image converted to Jy with ``meta.photometry`` (DN/s when photom
    did not run); fluxes in nJy.  Pixels that are DO_NOT_USE, NaN or have a
    non-positive error are masked.  The catalog and map are the step's
    ``catalog`` and ``segmentation`` attributes and are kept with the image
    for tweakreg; with ``save_results`` they are written (the image is not).
    PSF fitting (``fit_psf``) is not done: positions are centroids.
    """

    class_alias = "roman_source_catalog"
    cal_step = "source_catalog"
    spec = """
        bkg_boxsize = integer(default=1000)   # background mesh box size in pixels
        kernel_fwhm = float(default=2.0)      # Gaussian kernel FWHM in pixels
        snr_threshold = float(default=3.0)    # per-pixel SNR threshold above the background
        npixels = integer(default=25)         # minimum number of connected pixels of a source
        deblend = boolean(default=False)      # deblend sources
        suffix = string(default='cat')        # Default suffix for output files
        fit_psf = boolean(default=True)       # accepted for compatibility; centroids are used
    """

    def default_suffix(self):
        return "cat"

    def process(self, step_input):
        import numpy as np

        from photoncal.kernels.source_catalog import make_source_catalog
        from photoncal.roman import dqflags

        image = self.open_model(step_input)
        self.catalog = None
        self.segmentation = None
        data = image.data.astype(np.float64)
        err = image.err.astype(np.float64)
        mask = (image.dq & dqflags.DO_NOT_USE) != 0
        mask |= ~np.isfinite(data)
        mask |= ~np.isfinite(err)
        mask |= err <= 0
        photometry = image.meta.photometry
        conversion, area = photometry.conversion_megajanskys, photometry.pixel_area
        if conversion and area and conversion > 0 and area > 0:
            jy_per_unit = float(conversion) * 1e6 * float(area)
        else:
            self.log.warning("No photometric calibration (photom did not run): fluxes are in DN/s x 1e-9")
            jy_per_unit = 1.0
        empty = np.zeros(data.shape, np.uint32)
        if np.all(mask):
            self.log.error("Cannot make a source catalog: every pixel is masked")
            table, labels = None, empty
        else:
            wcs = image.meta.wcs
            for array in (data, err):  # in place: no frame-sized temporaries
                array[mask] = 0.0
                array *= jy_per_unit
            table, labels = make_source_catalog(
                data, err, wcs=wcs,
                coverage_mask=mask, snr_threshold=self.snr_threshold, kernel_fwhm=self.kernel_fwhm,
                bkg_boxsize=self.bkg_boxsize, npixels=self.npixels, deblend=self.deblend,
            )
            if table is None:
                self.log.warning("No sources found")
                labels = empty
        catalog = roman_catalog(table, jy_per_unit) if table is not None else None
        if catalog is None:
            from astropy.table import Table

            catalog = Table({name: np.zeros(0) for name in ("label", "x_centroid", "y_centroid")})
        catalog.meta["image"] = image.meta.filename
        self.log.info("%d sources in the catalog", len(catalog))
        self.catalog = catalog
        self.segmentation = segmentation_model(image, labels)
        object.__setattr__(image, "_tweakreg_catalog", catalog)
        return image

    def _save_results(self, result):
        path = self.save_catalog(self.catalog, force=True)
        if path:
            result.meta.source_catalog.tweakreg_catalog_name = path
        self.save_model(self.segmentation, suffix="segm", force=True)

    def save_catalog(self, catalog, force=False, model=None):
        """Write the catalog as ECSV (atomically); returns the path."""
        import os
        import uuid

        if catalog is None:
            return None
        basepath = None
        if model is not None and self.search_attr("output_file") is None:
            basepath = model.meta.filename
        path = self.make_output_path(basepath=basepath, suffix="cat", ext="ecsv")
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        tmp = os.path.join(directory, f".{os.path.basename(path)}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            catalog.write(tmp, format="ascii.ecsv", overwrite=True)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        self.log.info("Saved catalog in %s", path)
        return path
