"""Alignment of Roman exposures to each other and to an absolute reference catalog."""

from __future__ import annotations

from photoncal.roman.stpipe import RomanStep

__all__ = ["TweakRegStep", "catalog_for_alignment", "update_catalog_coordinates"]

_NETWORK_CATALOGS = ("GAIADR1", "GAIADR2", "GAIADR3", "GAIADR3_S3", "GAIAREFCAT")


def catalog_for_alignment(model, log=None):
    """The ``x, y, flux`` table of an image's sources (0-based pixels).

    From the catalog the source_catalog step kept with the image, else the
    file named in ``meta.source_catalog.tweakreg_catalog_name``, else a
    fresh detection.
    """
    import os

    import numpy as np
    from astropy.table import Table

    table = getattr(model, "_tweakreg_catalog", None)
    if table is None:
        name = model.meta.source_catalog.tweakreg_catalog_name
        if name and os.path.exists(name):
            table = Table.read(name, format="ascii.ecsv")
    if table is None:
        from photoncal.kernels.starfind import find_sources
        from photoncal.roman import dqflags

        if log:
            log.info("%s: no source catalog; detecting sources", model.meta.filename)
        found = find_sources(model.data.astype(np.float64), dq=model.dq, error=model.err.astype(np.float64),
                             bad_bits=dqflags.DO_NOT_USE)
        return Table({"x": np.asarray(found["x"]), "y": np.asarray(found["y"]), "flux": np.asarray(found["flux"])})
    xcol = "x_centroid" if "x_centroid" in table.colnames else "x"
    ycol = "y_centroid" if "y_centroid" in table.colnames else "y"
    if xcol not in table.colnames or ycol not in table.colnames:
        raise ValueError(f"{model.meta.filename}: the source catalog needs x_centroid/y_centroid (or x/y) columns; "
                         f"it has {table.colnames}")
    x = np.asarray(getattr(table[xcol], "value", table[xcol]), dtype=np.float64)
    y = np.asarray(getattr(table[ycol], "value", table[ycol]), dtype=np.float64)
    fcol = next((c for c in ("segment_flux", "aper_total_flux", "flux") if c in table.colnames), None)
    flux = np.asarray(getattr(table[fcol], "value", table[fcol]), np.float64) if fcol else np.ones(len(x))
    ny, nx = model.data.shape
    keep = np.isfinite(x) & np.isfinite(y) & (x >= -0.5) & (x < nx - 0.5) & (y >= -0.5) & (y < ny - 0.5)
    return Table({"x": x[keep], "y": y[keep], "flux": flux[keep]})


def update_catalog_coordinates(catalog, wcs):
    """Recompute ``ra_centroid``/``dec_centroid`` of a catalog through a (corrected) WCS."""
    import numpy as np
    from astropy import units as u

    if catalog is None or len(catalog) == 0 or "x_centroid" not in catalog.colnames:
        return catalog
    x = np.asarray(getattr(catalog["x_centroid"], "value", catalog["x_centroid"]), np.float64)
    y = np.asarray(getattr(catalog["y_centroid"], "value", catalog["y_centroid"]), np.float64)
    ra, dec = wcs(x, y, with_bounding_box=False)
    catalog["ra_centroid"] = np.asarray(ra, np.float64) * u.deg
    catalog["dec_centroid"] = np.asarray(dec, np.float64) * u.deg
    return catalog


def _plain_fit(fit):
    import numpy as np

    out = {}
    for key, value in fit.as_dict().items():
        if key == "fitmask":
            continue
        if isinstance(value, np.ndarray):
            value = value.tolist()
        elif isinstance(value, tuple):
            value = [float(v) for v in value]
        elif isinstance(value, (np.floating, np.integer, np.bool_)):
            value = value.item()
        out[key] = value
    return out


class TweakRegStep(RomanStep):
    """Align the WCS of Roman images to each other and to an absolute catalog.

    The images' sources (the source_catalog step's catalog) are matched
    first to each other (several images: one group per exposure), then all
    together to ``abs_refcat``, a catalog file with RA/DEC columns (ECSV,
    FITS, or a ``_cat`` file), with the tangent-plane fits of
    :mod:`photoncal.kernels.tweakreg`.  photoncal never queries Gaia: a Gaia
    name (the established default) or an empty ``abs_refcat`` skips the
    absolute alignment, with a message.  Corrected WCSs carry the Roman
    tangent-plane correction; ``meta.wcsinfo`` gets the new pointing and
    ``meta.wcs_fit_results`` the fit.
    """

    class_alias = "roman_tweakreg"
    cal_step = "tweakreg"
    spec = """
        catalog_format = string(default='ascii.ecsv') # catalog output file format
        catalog_path = string(default='')           # catalog output file path
        enforce_user_order = boolean(default=False) # align images in user specified order?
        expand_refcat = boolean(default=False)      # expand the reference catalog with new sources?
        minobj = integer(default=10)                # minimum number of objects acceptable for matching
        searchrad = float(default=2.0)              # the search radius in arcsec for a match
        use2dhist = boolean(default=True)           # use a 2d histogram to find the initial offset?
        separation = float(default=1.0)             # minimum object separation in arcsec
        tolerance = float(default=0.7)              # matching tolerance for xyxymatch in arcsec
        fitgeometry = option('shift', 'rshift', 'rscale', 'general', default='general') # fitting geometry
        nclip = integer(min=0, default=3)           # number of clipping iterations in the fit
        sigma = float(min=0.0, default=3.0)         # clipping limit in sigma units
        abs_refcat = string(default='')             # absolute reference catalog file (RA/DEC columns); Gaia names are not queried
        save_abs_catalog = boolean(default=False)   # write the absolute reference catalog used
        abs_minobj = integer(default=10)            # minimum number of objects for the absolute alignment
        abs_searchrad = float(default=6.0)          # search radius (arcsec) of the absolute alignment
        abs_use2dhist = boolean(default=True)       # 2d histogram for the absolute alignment's initial offset?
        abs_separation = float(default=1.0)         # minimum object separation (arcsec), absolute alignment
        abs_tolerance = float(default=0.7)          # matching tolerance (arcsec), absolute alignment
        abs_fitgeometry = option('shift', 'rshift', 'rscale', 'general', default='general') # absolute fit geometry
        abs_nclip = integer(min=0, default=3)       # clipping iterations, absolute alignment
        abs_sigma = float(min=0.0, default=3.0)     # clipping limit in sigma, absolute alignment
        update_source_catalog_coordinates = boolean(default=False) # rewrite the catalog file with corrected coordinates
        vo_timeout = float(min=0, default=1200.)    # accepted for compatibility (no network access)
    """

    def process(self, step_input):
        import os

        from astropy.table import Table

        from photoncal.kernels import tweakreg as tw
        from photoncal.wcs.tpcorr import ROMAN_TPCORR_NAME, corrected_wcsinfo, find_tpcorr

        from .assign_wcs import s_region

        images = self.open_model(step_input)
        single = not isinstance(images, (list, tuple))
        models = [images] if single else list(images)
        if not models:
            raise ValueError("tweakreg: no image to align")
        for m in models:
            if m.meta.wcs is None:
                raise ValueError(f"tweakreg: {m.meta.filename} has no WCS (run assign_wcs first)")
        if any(getattr(m, "_fully_saturated", False) for m in models):
            return self.skip_step(images, "an input is fully saturated")

        items = []
        for index, m in enumerate(models):
            catalog = catalog_for_alignment(m, self.log)
            info = m.meta.wcsinfo
            angles = {"v2_ref": info.v2_ref, "v3_ref": info.v3_ref, "roll_ref": info.roll_ref}
            items.append(tw.AlignInput(wcs=m.meta.wcs, catalog=catalog, ref_angles=angles, group_id=index,
                                       name=m.meta.filename or f"image {index}"))
            self.log.info("%s: %d sources", items[-1].name, len(catalog))

        aligned = False
        if len(items) > 1:
            try:
                results = tw.relative_align(
                    items, searchrad=self.searchrad, separation=self.separation, use2dhist=self.use2dhist,
                    tolerance=self.tolerance, enforce_user_order=self.enforce_user_order,
                    expand_refcat=self.expand_refcat, minobj=self.minobj, fitgeometry=self.fitgeometry,
                    nclip=self.nclip, sigma=self.sigma)
                items = [tw.AlignInput(r.wcs, i.catalog, i.ref_angles, i.group_id, i.name)
                         for i, r in zip(items, results)]
                aligned = any(r.succeeded for r in results)
                for r in results:
                    self.log.info("relative alignment %s: %s (%d matches)", r.name, r.status, r.nmatches)
            except tw.TweakregError as err:
                self.log.warning("Relative alignment failed: %s", err)

        refcat_name = (self.abs_refcat or "").strip()
        absolute = None
        if not refcat_name or refcat_name.upper() in _NETWORK_CATALOGS:
            self.log.warning("No absolute reference catalog file (abs_refcat=%r): photoncal does not query Gaia; "
                             "give a catalog file with RA/DEC columns to align to it", refcat_name)
        else:
            path = self.make_input_path(refcat_name)
            if not os.path.exists(path):
                raise FileNotFoundError(f"tweakreg: abs_refcat {refcat_name!r}: no such file ({path})")
            refcat = tw.parse_refcat(Table.read(path), name=path)
            if self.save_abs_catalog:
                out = self.make_output_path(suffix="abs_refcat", ext="ecsv")
                refcat.write(out, format="ascii.ecsv", overwrite=True)
            try:
                absolute = tw.absolute_align(
                    items, refcat, abs_searchrad=self.abs_searchrad, abs_separation=self.abs_separation,
                    abs_use2dhist=self.abs_use2dhist, abs_tolerance=self.abs_tolerance,
                    abs_minobj=self.abs_minobj, abs_fitgeometry=self.abs_fitgeometry, abs_nclip=self.abs_nclip,
                    abs_sigma=self.abs_sigma)
            except tw.TweakregError as err:
                self.log.warning("Absolute alignment to %s failed: %s", refcat_name, err)
                absolute = None
            if absolute is not None:
                for r in absolute:
                    self.log.info("absolute alignment %s: %s (%d matches, rms %.4g arcsec)", r.name, r.status,
                                  r.nmatches, r.fit.rmse if r.fit is not None else float("nan"))
                if any(r.succeeded for r in absolute):
                    items = [tw.AlignInput(r.wcs, i.catalog, i.ref_angles, i.group_id, i.name)
                             for i, r in zip(items, absolute)]
                    aligned = True
        if not aligned:
            return self.skip_step(images, "no alignment could be made")

        for index, (m, item) in enumerate(zip(models, items)):
            wcs = item.wcs
            if wcs is m.meta.wcs:
                continue
            corr = find_tpcorr(wcs)
            if corr is not None:
                corr.name = ROMAN_TPCORR_NAME
            m.meta.wcs = wcs
            new = corrected_wcsinfo(wcs, item.ref_angles)
            m.meta.wcsinfo.ra_ref = float(new["ra_ref"])
            m.meta.wcsinfo.dec_ref = float(new["dec_ref"])
            m.meta.wcsinfo.roll_ref = float(new["roll_ref"])
            m.meta.wcsinfo.s_region = s_region(wcs, m.data.shape)
            if absolute is not None and absolute[index].fit is not None:
                m.meta.wcs_fit_results = _plain_fit(absolute[index].fit)
            catalog = getattr(m, "_tweakreg_catalog", None)
            if catalog is not None:
                update_catalog_coordinates(catalog, wcs)
                name = m.meta.source_catalog.tweakreg_catalog_name
                if self.update_source_catalog_coordinates and name and os.path.exists(name):
                    catalog.write(name, format="ascii.ecsv", overwrite=True)
        return images
