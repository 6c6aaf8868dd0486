"""tweakreg: align the WCSs of the exposures to each other (and to a reference catalog).

Seed 002, "TweakReg".  For each exposure the step finds point sources
(:func:`photoncal.kernels.starfind.find_sources`, or a user catalog),
groups the exposures (the detectors of one exposure are fitted together:
``models_grouped``), matches the catalogs in the tangent plane and fits a
linear correction per group (:func:`photoncal.kernels.tweakreg.relative_align`),
optionally aligns the whole set to an absolute reference catalog
(``abs_refcat``: the path of a catalog file), and inserts the correction
into each exposure's gwcs as a tangent-plane correction (TPCorr, frame
``v2v3corr``).  The FITS view of the WCS follows: the SCI header's TAN-SIP
approximation (``sip_approx``), ``S_REGION`` and the pointing keywords
RA_REF, DEC_REF, ROLL_REF of the corrected WCS.

Parameters have the established step's names and defaults, plus
``match_algorithm`` / ``abs_match_algorithm`` (not in the established step):
``'tolerance'`` (default, as established) starts the tolerance match from the
2-D histogram offset (``use2dhist``) or ``xoffset``/``yoffset``;
``'triangles'`` finds the initial solution by matching similar triangles of
the brightest sources (the spec's "initial solution derived from the
'triangles' algorithm"), so offsets beyond ``searchrad`` and rotations are
recovered without a guess.  The step is
SKIPPED, WCSs untouched, when there is a single exposure group (and no
reference catalog) or when the alignment fails (too few sources or
matches, or a correction larger than the search allows); the log says why.
"""

from __future__ import annotations

import os

from photoncal.stpipe import Step

from ._stage3 import STARFINDER_SPEC, starfinder_options

__all__ = ["TweakRegStep", "ONLINE_CATALOGS"]

#: Astrometric catalogs the established step fetches from a web service.
ONLINE_CATALOGS = ("GAIAREFCAT", "GAIADR3", "GAIADR2", "GAIADR1")


class TweakRegStep(Step):
    """Align the exposures' WCSs using the sources they have in common."""

    class_alias = "tweakreg"

    spec = """
        save_catalogs = boolean(default=False)  # write out the source catalogs
        use_custom_catalogs = boolean(default=False)  # use user-provided catalogs
        catalog_format = string(default='ecsv')  # catalog file format: 'ecsv' or 'fits'
        catfile = string(default='')  # file listing (image, catalog) pairs of user catalogs
        starfinder = option('dao', 'iraf', 'segmentation', default='iraf')  # star finder

        # general starfinder options
        snr_threshold = float(default=10.0)  # SNR threshold above the background
        kernel_fwhm = float(default=2.5)  # Gaussian kernel FWHM in pixels
        bkg_boxsize = integer(default=400)  # background mesh box size in pixels

        # SourceFinder and SourceCatalog options (starfinder 'segmentation')
        npixels = integer(default=10)  # minimum number of connected pixels
""" + STARFINDER_SPEC + """

        # alignment options
        enforce_user_order = boolean(default=False)  # align images in the user's order
        expand_refcat = boolean(default=False)  # add the sources of aligned images to the reference catalog
        minobj = integer(default=15)  # minimum number of matched sources
        fitgeometry = option('shift', 'rshift', 'rscale', 'general', default='rshift')  # fit geometry
        nclip = integer(min=0, default=3)  # clipping iterations of the fit
        sigma = float(min=0.0, default=3.0)  # clipping limit, in sigma

        # matching options
        searchrad = float(default=2.0)  # search radius for a match, arcsec
        use2dhist = boolean(default=True)  # use a 2-D histogram for the initial offset
        separation = float(default=1.0)  # minimum source separation, arcsec
        tolerance = float(default=0.7)  # matching tolerance, arcsec
        xoffset = float(default=0.0)  # initial guess of the x offset, arcsec
        yoffset = float(default=0.0)  # initial guess of the y offset, arcsec
        match_algorithm = option('tolerance', 'triangles', default='tolerance')  # initial solution: 2-D histogram or offsets ('tolerance'), or triangle matching

        # absolute alignment
        abs_refcat = string(default='')  # reference catalog file (RA/DEC or sky_centroid columns); '' for none
        save_abs_catalog = boolean(default=False)  # write the reference catalog used
        abs_minobj = integer(default=15)  # minimum matched sources for the absolute alignment
        abs_fitgeometry = option('shift', 'rshift', 'rscale', 'general', default='rshift')  # fit geometry
        abs_nclip = integer(min=0, default=3)  # clipping iterations of the absolute fit
        abs_sigma = float(min=0.0, default=3.0)  # clipping limit of the absolute fit, in sigma
        abs_searchrad = float(default=6.0)  # search radius of the absolute match, arcsec
        abs_use2dhist = boolean(default=True)  # 2-D histogram for the absolute initial offset
        abs_separation = float(default=1.0)  # minimum source separation, arcsec
        abs_tolerance = float(default=0.7)  # absolute matching tolerance, arcsec
        abs_match_algorithm = option('tolerance', 'triangles', default='tolerance')  # as match_algorithm, for the absolute alignment

        # SIP approximation options (as assign_wcs)
        sip_approx = boolean(default=True)  # write a FITS TAN-SIP approximation of the corrected WCS
        sip_max_pix_error = float(default=0.01)  # largest forward error of the SIP fit, pixels
        sip_degree = integer(max=6, default=None)  # SIP degree (None: the lowest that meets the error)
        sip_max_inv_pix_error = float(default=0.01)  # largest inverse error, pixels
        sip_inv_degree = integer(max=6, default=None)  # inverse SIP degree
        sip_npoints = integer(default=12)  # grid points per axis of the SIP fit

        # stpipe general options
        output_use_model = boolean(default=True)  # name outputs after each model's meta.filename
        in_memory = boolean(default=True)  # False: keep the images on disk, one open at a time
    """

    reference_file_types: list = []

    def process(self, step_input):
        from photoncal.steps._stage3 import group_ids, open_container

        refcat_path = self._absolute_catalog_path()
        container = open_container(self, step_input, in_memory=self.in_memory)
        if len(container) == 0:
            raise ValueError(f"step {self.name!r}: the input holds no science image")
        gids = group_ids(container)
        n_groups = len(dict.fromkeys(gids))
        if refcat_path is None and not self.save_catalogs and n_groups < 2:
            self.log.warning("At least two exposures are needed for image alignment; found %d", n_groups)
            return self.skip_step(container, "fewer than 2 exposure groups and no abs_refcat")

        items = self._catalogs(container, gids)
        self.log.info("Number of image groups to be aligned: %d", n_groups)
        results = self._relative(items) if n_groups > 1 else None
        if refcat_path is not None:
            absolute = self._absolute(items if results is None else
                                      [_with_wcs(i, r.wcs) for i, r in zip(items, results)], refcat_path)
            if absolute is None:
                return self.skip_step(container, f"alignment to {refcat_path} failed")
            results = absolute
        if results is None:
            return self.skip_step(container, "relative alignment failed or was not possible")
        self._apply(container, items, results, refcat_path)
        return container

    # ------------------------------------------------------------------
    def _absolute_catalog_path(self):
        name = (self.abs_refcat or "").strip()
        if not name or name.lower() == "none":
            return None
        if name.upper() in ONLINE_CATALOGS:
            raise ValueError(
                f"step {self.name!r}: abs_refcat = {name!r} names an online astrometric catalog; "
                "photoncal works offline - give the path of a catalog file (ECSV or FITS with RA and "
                "DEC columns, or a source_catalog _cat.ecsv)"
            )
        path = self.make_input_path(name)
        if not os.path.isfile(path):
            raise ValueError(f"step {self.name!r}: abs_refcat {name!r}: no such file ({os.path.abspath(path)})")
        # aligning to a catalog: the reference grows with the aligned images, as the established step
        self.expand_refcat = True
        return path

    def _custom_catalogs(self, container):
        """Image file name -> user catalog path (or None) from ``catfile`` or the association."""
        if not self.use_custom_catalogs:
            return {}
        catalogs = {}
        catfile = (self.catfile or "").strip()
        if catfile:
            path = self.make_input_path(catfile)
            base = os.path.dirname(os.path.abspath(path))
            try:
                with open(path) as handle:
                    lines = handle.readlines()
            except OSError as err:
                raise ValueError(f"step {self.name!r}: cannot read catfile {path}: {err}") from None
            for number, line in enumerate(lines, 1):
                parts = line.split("#", 1)[0].split()
                if not parts:
                    continue
                if len(parts) > 2:
                    raise ValueError(f"catfile {path}, line {number}: at most two columns "
                                     f"(image, catalog), got {len(parts)}")
                catalogs[parts[0]] = os.path.join(base, parts[1]) if len(parts) == 2 else None
            if not catalogs:
                self.log.warning("use_custom_catalogs is set but catfile %s lists no catalog; "
                                 "finding sources instead", path)
        else:
            asn = getattr(container, "asn_table", None) or {}
            base = os.path.dirname(os.path.abspath(container.asn_file_path or "."))
            for member in (asn.get("products") or [{}])[0].get("members", []):
                if "tweakreg_catalog" in member:
                    cat = (member.get("tweakreg_catalog") or "").strip()
                    catalogs[member["expname"]] = os.path.join(base, cat) if cat else None
        return catalogs

    def _catalogs(self, container, gids):
        """One AlignInput per model (catalog, WCS, reference angles, group)."""
        from astropy.table import Table

        from photoncal.kernels import tweakreg as tw
        from photoncal.steps._stage3 import model_name, store_member

        custom = self._custom_catalogs(container)
        items = []
        for index, model in enumerate(container):
            name = model_name(model, index)
            if model.meta.wcs is None:
                raise ValueError(f"{name}: no WCS (meta.wcs); run assign_wcs first")
            user = custom.get(os.path.basename(name)) if custom else None
            if user is None and self.use_custom_catalogs and (model.meta.tweakreg_catalog or "").strip():
                user = self.make_input_path(model.meta.tweakreg_catalog.strip())
            if user is not None:
                self.log.info("Using user-provided input catalog %s for %s", user, name)
                catalog = _rename_xy(Table.read(user))
                changed = False
            else:
                catalog = self._find_sources(model)
                changed = False
                if self.save_catalogs:
                    model.meta.tweakreg_catalog = self._write_catalog(catalog, name)
                    changed = True
            catalog = _inside_bounding_box(catalog, model.meta.wcs)
            catalog.meta["name"] = os.path.splitext(os.path.basename(name))[0]
            if len(catalog):
                self.log.info("Detected %d sources in %s", len(catalog), name)
            else:
                self.log.warning("No sources found in %s", name)
            wi = model.meta.wcsinfo
            angles = {"v2_ref": wi.v2_ref, "v3_ref": wi.v3_ref, "roll_ref": wi.roll_ref}
            items.append(tw.AlignInput(wcs=model.meta.wcs, catalog=catalog, group_id=gids[index], name=name,
                                       ref_angles=angles if None not in angles.values() else None))
            if changed:
                store_member(container, index, model)
            elif container.on_disk:
                model.close()
        return items

    def _find_sources(self, model):
        from photoncal.kernels.starfind import find_sources

        return find_sources(model.data, dq=model.dq, error=model.err, **starfinder_options(self))

    def _write_catalog(self, catalog, filename):
        fmt = {"ecsv": "ascii.ecsv", "fits": "fits"}.get(str(self.catalog_format).lower())
        if fmt is None:
            raise ValueError(f"step {self.name!r}: catalog_format must be 'ecsv' or 'fits', "
                             f"got {self.catalog_format!r}")
        base = os.path.basename(filename)
        stem = base[:-5] if base.endswith(".fits") else os.path.splitext(base)[0]
        name = f"{stem}_cat.{self.catalog_format.lower()}"
        directory = self.search_attr("output_dir") or ""
        if directory:
            os.makedirs(directory, exist_ok=True)
        catalog.write(os.path.join(directory, name), format=fmt, overwrite=True)
        self.log.info("Wrote source catalog: %s", os.path.join(directory, name))
        return name

    def _relative(self, items):
        from photoncal.kernels import tweakreg as tw

        try:
            results = tw.relative_align(
                items, searchrad=self.searchrad, separation=self.separation, use2dhist=self.use2dhist,
                tolerance=self.tolerance, xoffset=self.xoffset, yoffset=self.yoffset,
                enforce_user_order=self.enforce_user_order, expand_refcat=self.expand_refcat,
                minobj=self.minobj, fitgeometry=self.fitgeometry, nclip=self.nclip, sigma=self.sigma,
                match_algorithm=self.match_algorithm,
            )
        except tw.TweakregError as err:
            self.log.warning("Relative alignment failed: %s", err)
            return None
        self._log_fits(results)
        return results

    def _absolute(self, items, path):
        from astropy.table import Table

        from photoncal.kernels import tweakreg as tw

        try:
            table = Table.read(path)
        except Exception as err:  # noqa: BLE001 - any unreadable file is the user's to fix
            raise ValueError(f"step {self.name!r}: abs_refcat {path}: cannot read it as a table: {err}") from None
        refcat = tw.parse_refcat(table, name=f"abs_refcat {path}")
        self.log.info("Aligning to absolute reference catalog %s (%d sources)", path, len(refcat))
        if self.save_abs_catalog:
            out = os.path.join(self.search_attr("output_dir") or "", f"fit_{os.path.splitext(os.path.basename(path))[0]}_ref.ecsv")
            refcat.write(out, format="ascii.ecsv", overwrite=True)
            self.log.info("Wrote the absolute reference catalog used: %s", out)
        try:
            results = tw.absolute_align(
                items, refcat, abs_searchrad=self.abs_searchrad, abs_separation=self.abs_separation,
                abs_use2dhist=self.abs_use2dhist, abs_tolerance=self.abs_tolerance,
                abs_minobj=self.abs_minobj, abs_fitgeometry=self.abs_fitgeometry,
                abs_nclip=self.abs_nclip, abs_sigma=self.abs_sigma,
                match_algorithm=self.abs_match_algorithm,
            )
        except tw.TweakregError as err:
            self.log.warning("Absolute alignment failed: %s", err)
            return None
        self._log_fits(results)
        return results

    def _log_fits(self, results):
        seen = set()
        for r in results:
            if r.fit is None or r.group_id in seen:
                continue
            seen.add(r.group_id)
            fit = r.fit
            self.log.info(
                "Group %s: %s, %d matches, shift (%.4g, %.4g) arcsec, rotation %.4g deg, scale %.6g, "
                "RMSE %.3g arcsec", r.group_id, r.status, r.nmatches, fit.shift[0], fit.shift[1],
                float(fit.mean_rot), float(fit.mean_scale), float(fit.rmse))
        for r in results:
            if r.status.startswith("FAILED"):
                self.log.warning("%s: %s", r.name, r.status)

    def _apply(self, container, items, results, refcat_path):
        from photoncal.steps._stage3 import store_member
        from photoncal.wcs.tpcorr import corrected_wcsinfo

        for index, (model, item, result) in enumerate(zip(container, items, results)):
            if result.succeeded:
                wcs = result.wcs
                if refcat_path is not None:
                    wcs.name = f"FIT-LVL3-{os.path.basename(refcat_path)}"
                model.meta.wcs = wcs
                try:
                    for key, value in corrected_wcsinfo(wcs, item.ref_angles).items():
                        setattr(model.meta.wcsinfo, key, value)
                except (ValueError, KeyError) as err:
                    self.log.warning("%s: could not update RA_REF/DEC_REF/ROLL_REF: %s", item.name, err)
                self._update_fits_wcs(model)
            self.record_status(model, "COMPLETE")
            store_member(container, index, model)

    def _update_fits_wcs(self, model):
        from photoncal.steps.assign_wcs import s_region_of, set_fits_wcsinfo

        shape = model.data.shape[-2:]
        model.meta.wcsinfo.s_region = s_region_of(model.meta.wcs, shape)
        if not self.sip_approx:
            return
        wi = model.meta.wcsinfo
        crpix = [float(wi.crpix1), float(wi.crpix2)] if wi.crpix1 is not None and wi.crpix2 is not None else None
        degree = range(1, 7) if self.sip_degree is None else self.sip_degree
        inv_degree = range(1, 7) if self.sip_inv_degree is None else self.sip_inv_degree
        try:
            header = model.meta.wcs.to_fits_sip(
                max_pix_error=self.sip_max_pix_error, degree=degree,
                max_inv_pix_error=self.sip_max_inv_pix_error, inv_degree=inv_degree,
                npoints=self.sip_npoints, crpix=crpix, projection="TAN")
        except (ValueError, RuntimeError) as err:
            self.log.warning("Failed to update the FITS SIP approximation of %s: %s", model.meta.filename, err)
            return
        set_fits_wcsinfo(model, header)


def _with_wcs(item, wcs):
    from dataclasses import replace

    return replace(item, wcs=wcs)


def _rename_xy(catalog):
    """User catalogs may name the positions ``xcentroid``/``x_centroid``: use ``x``/``y``."""
    for axis in ("x", "y"):
        if axis not in catalog.colnames:
            for alt in (f"{axis}centroid", f"{axis}_centroid"):
                if alt in catalog.colnames:
                    catalog.rename_column(alt, axis)
                    break
    for axis in ("x", "y"):
        if axis not in catalog.colnames:
            raise ValueError(f"a tweakreg catalog needs {axis!r} (or {axis}centroid) columns; "
                             f"this one has {catalog.colnames}")
    return catalog


def _inside_bounding_box(catalog, wcs):
    """Sources inside the WCS bounding box (all of them when it has none)."""
    import numpy as np

    try:
        (xlo, xhi), (ylo, yhi) = wcs.bounding_box.bounding_box(order="F")
    except (AttributeError, NotImplementedError, TypeError, ValueError):
        return catalog
    if len(catalog) == 0:
        return catalog
    x = np.asarray(catalog["x"], dtype=float)
    y = np.asarray(catalog["y"], dtype=float)
    keep = (x >= xlo) & (x <= xhi) & (y >= ylo) & (y <= yhi)
    return catalog[keep]
