"""assign_wcs: attach the imaging gwcs (detector -> v2v3 -> world) to an exposure.

Seed 002, "Assign WCS": the DISTORTION reference (an ASDF file holding an
astropy model from 0-based detector pixels to V2/V3 in arcsec), for MIRI the
FILTEROFFSET reference (a shift of the input pixels per filter), and the
pointing keywords V2_REF/V3_REF/ROLL_REF/RA_REF/DEC_REF of the SCI header
build a gwcs with the frames ``detector``, ``v2v3`` and ``world``
(:func:`photoncal.wcs.pointing.imaging_wcs`, the builder the simulator uses).
Subarray pixels are shifted to full-frame pixels before the distortion.

The step also writes, as the established pipeline does, ``S_REGION`` (the
sky footprint of the pixel edges) and a FITS approximation of the gwcs to
the SCI header: a TAN-SIP fit (``sip_approx``, gwcs ``to_fits_sip``: CD
matrix, A/B forward and AP/BP inverse polynomials) reached to
``sip_max_pix_error`` pixels, so ``model.get_fits_wcs()`` and other FITS
tools see the distortion too.

Only imaging exposure types are supported; spectroscopic and NIRSpec modes
are skipped (status SKIPPED) with a log message naming the EXP_TYPE.
"""

from __future__ import annotations

import re

from photoncal.stpipe import Step

__all__ = ["AssignWcsStep", "IMAGING_EXP_TYPES", "set_fits_wcsinfo", "imaging_bounding_box"]

#: EXP_TYPEs whose WCS is the plain imaging chain (seed 002 table, and the
#: established pipeline's other non-NIRSpec imaging types).
IMAGING_EXP_TYPES = frozenset({
    "FGS_IMAGE", "FGS_FOCUS", "FGS_SKYFLAT", "FGS_INTFLAT",
    "MIR_IMAGE", "MIR_TACQ", "MIR_TACONFIRM", "MIR_LYOT", "MIR_4QPM", "MIR4QPM", "MIR_CORONCAL",
    "NRC_IMAGE", "NRC_TSIMAGE", "NRC_FOCUS", "NRC_TACONFIRM", "NRC_TACQ", "NRC_CORON",
    "NIS_IMAGE", "NIS_TACQ", "NIS_TACONFIRM", "NIS_FOCUS", "NIS_AMI",
})

#: Keys of ``meta.wcsinfo`` (and SCI header cards) that describe a previous
#: FITS approximation and are replaced by a new one.
_STALE_WCSINFO = ("cdelt1", "cdelt2", "pc1_1", "pc1_2", "pc2_1", "pc2_2")
_STALE_CARD = re.compile(r"^(CD\d_\d|PC\d_\d|CDELT\d|[AB]P?_\d+_\d+|[AB]P?_ORDER|SIP[MI][XV]ERR|LONPOLE|LATPOLE"
                         r"|MJDREF|WCSNAME|RADESYS)$")


def imaging_bounding_box(model, distortion_model=None):
    """``((x_lo, x_hi), (y_lo, y_hi))`` of the exposure's pixels (pixel edges).

    A full-frame exposure uses the distortion model's own bounding box when
    it has one (real references exclude reference pixels that way); a
    subarray uses its own size, as the established pipeline does.
    """
    from photoncal.datamodels.subarray import is_full_frame

    ny, nx = model.data.shape[-2:]
    if distortion_model is not None and is_full_frame(model.meta):
        try:
            (xlo, xhi), (ylo, yhi) = distortion_model.bounding_box.bounding_box(order="F")
            return (float(xlo), float(xhi)), (float(ylo), float(yhi))
        except (NotImplementedError, AttributeError, TypeError, ValueError):
            pass
    return (-0.5, nx - 0.5), (-0.5, ny - 0.5)


def set_fits_wcsinfo(model, header):
    """Replace the FITS WCS keywords of ``model``'s SCI header by ``header``'s.

    Keywords the schema knows (CRPIX, CRVAL, CTYPE, CUNIT, ...) go to
    ``meta.wcsinfo``; the others (CD matrix, SIP terms, LONPOLE, ...) to the
    SCI header cards kept in ``extra_fits``.  Keywords of a previous
    approximation (PC/CDELT, CD, SIP) are removed first.

    Parameters
    ----------
    model : DataModel
        Updated in place.
    header : astropy.io.fits.Header or mapping
        FITS WCS keywords (``NAXIS*`` are ignored).
    """
    wcsinfo = model.meta.wcsinfo
    for key in _STALE_WCSINFO:
        if getattr(wcsinfo, key, None) is not None:
            setattr(wcsinfo, key, None)
    cards = _sci_extra_cards(model)
    kept = [c for c in cards if not _STALE_CARD.match(str(c[0]).upper())]
    items = header.cards if hasattr(header, "cards") else [(k, v, "") for k, v in header.items()]
    for card in items:
        key, value, comment = (card.keyword, card.value, card.comment) if hasattr(card, "keyword") else card
        key = str(key).upper()
        if key.startswith("NAXIS") or key in ("", "COMMENT", "HISTORY"):
            continue
        path = model.find_fits_keyword(key, return_result=True) if _is_sci_keyword(model, key) else []
        if path:
            model[path[0]] = value
            continue
        kept = [c for c in kept if str(c[0]).upper() != key]
        kept.append([key, value, comment])
    _set_sci_extra_cards(model, kept)


def _is_sci_keyword(model, key):
    """Whether the schema stores ``key`` in the SCI header (meta.wcsinfo)."""
    paths = model.find_fits_keyword(key, return_result=True)
    return bool(paths) and all(p.startswith("meta.wcsinfo.") for p in paths)


def _sci_extra_cards(model):
    """The SCI header cards the schema does not know, as [key, value, comment] lists."""
    model._extra_fits.SCI  # noqa: B018  (makes sure the SCI entry exists)
    header = getattr(model.extra_fits.SCI, "header", None)
    return [list(c) for c in header] if header is not None else []


def _set_sci_extra_cards(model, cards):
    model._extra_fits.SCI  # noqa: B018
    model.extra_fits.SCI.header = [list(c) for c in cards]


def _field(entry, name):
    """``entry[name]`` of a FILTEROFFSET list item (a dict or a model node), or None."""
    if isinstance(entry, dict):
        return entry.get(name)
    return getattr(entry, name, None)


def s_region_of(wcs, shape):
    """``S_REGION`` (``POLYGON ICRS ...``) of the pixel edges of an image."""
    from photoncal.wcs.footprint import image_footprint, s_region_from_footprint

    return s_region_from_footprint(image_footprint(wcs, shape=shape))


class AssignWcsStep(Step):
    """Attach a gwcs (detector -> v2v3 -> world) to an imaging exposure."""

    class_alias = "assign_wcs"

    spec = """
        sip_approx = boolean(default=True)          # write a FITS TAN-SIP approximation of the WCS to the SCI header
        sip_max_pix_error = float(default=0.01)     # largest forward error of the SIP fit, pixels
        sip_degree = integer(max=6, default=None)   # SIP polynomial degree (None: the lowest that meets sip_max_pix_error)
        sip_max_inv_pix_error = float(default=0.01) # largest inverse error of the SIP fit, pixels
        sip_inv_degree = integer(max=6, default=None)  # inverse SIP degree (None: the lowest that meets the error)
        sip_npoints = integer(default=12)           # grid points per axis of the SIP fit
        slit_y_low = float(default=-0.55)           # NIRSpec only (accepted for compatibility)
        slit_y_high = float(default=0.55)           # NIRSpec only (accepted for compatibility)
        nrs_ifu_slice_wcs = boolean(default=False)  # NIRSpec only (accepted for compatibility)
    """

    reference_file_types = [
        "distortion", "filteroffset", "specwcs", "regions", "wavelengthrange", "camera", "chromcorr",
        "collimator", "disperser", "fore", "fpa", "msa", "ote", "ifupost", "ifufore", "ifuslicer",
    ]
    # Only DISTORTION is needed for imaging: an N/A override of another type
    # does not skip the step.
    optional_reference_file_types = [t for t in reference_file_types if t != "distortion"]

    def process(self, step_input):
        model = self.open_model(step_input)
        kind = type(model).__name__
        if kind not in ("ImageModel", "CubeModel"):
            return self.skip_step(model, f"assign_wcs expects an ImageModel or CubeModel, got {kind}")
        exp_type = str(model.meta.exposure.type or "").upper()
        if exp_type not in IMAGING_EXP_TYPES:
            return self.skip_step(
                model, f"EXP_TYPE {exp_type or '(missing)'} of {model.meta.filename} is not an imaging mode;"
                " photoncal builds imaging WCSs only")

        distortion = self.get_reference_file_model(model, "distortion")
        if distortion is None:
            return self.skip_step(model, "no DISTORTION reference (N/A)")
        transform = distortion.model
        if transform is None:
            raise ValueError(f"DISTORTION reference {distortion.meta.filename}: no 'model' in the file")

        filter_offset = self._filter_offset(model)
        wcs = self.build_wcs(model, transform, filter_offset)
        model.meta.wcs = wcs
        shape = model.data.shape[-2:]
        model.meta.wcsinfo.s_region = s_region_of(wcs, shape)
        self.log.info("S_REGION: %s", model.meta.wcsinfo.s_region)
        if self.sip_approx:
            self._write_sip(model, wcs)
        return model

    # ------------------------------------------------------------------
    @staticmethod
    def build_wcs(model, distortion_model, filter_offset=None):
        """The imaging gwcs of ``model`` from a distortion transform.

        Parameters
        ----------
        model : ImageModel or CubeModel
            Supplies ``meta.wcsinfo`` (pointing), ``meta.subarray`` and the
            image shape.
        distortion_model : astropy.modeling.Model
            Full-frame 0-based pixels -> V2/V3 (arcsec).
        filter_offset : (column, row) or None
            FILTEROFFSET shift in pixels.
        """
        from photoncal.wcs.pointing import imaging_wcs

        sub = model.meta.subarray
        origin = (int(sub.xstart or 1), int(sub.ystart or 1))
        bbox = imaging_bounding_box(model, distortion_model)
        try:
            return imaging_wcs(distortion_model, model.meta.wcsinfo, bounding_box=bbox,
                               subarray_origin=origin, filter_offset=filter_offset)
        except ValueError as err:
            raise ValueError(f"{model.meta.filename}: SCI header: {err}") from None

    def _filter_offset(self, model):
        """(column, row) offset of the exposure's filter, or None."""
        from photoncal.stpipe.exceptions import ReferenceFileNotFoundError

        instrument = str(model.meta.instrument.name or "").upper()
        if instrument not in ("MIRI", "NIRCAM"):
            return None
        try:
            ref = self.get_reference_file_model(model, "filteroffset")
        except ReferenceFileNotFoundError:
            if instrument == "MIRI":
                raise
            return None  # NIRCam filter offsets are optional
        if ref is None:
            return None
        obs_filter = str(model.meta.instrument.filter or "").upper()
        obs_pupil = str(model.meta.instrument.pupil or "").upper()
        for entry in ref.filters or []:
            name = str(_field(entry, "filter") or _field(entry, "name") or "").upper()
            pupil = _field(entry, "pupil")
            if name != obs_filter:
                continue
            if pupil is not None and str(pupil).upper() not in ("ANY", "N/A", obs_pupil):
                continue
            col = float(_field(entry, "column_offset") or 0.0)
            row = float(_field(entry, "row_offset") or 0.0)
            self.log.info("Filter offset for %s: column %g, row %g pixels", obs_filter, col, row)
            return col, row
        self.log.info("FILTEROFFSET %s has no entry for filter %s: no offset applied",
                      ref.meta.filename, obs_filter)
        return None

    def _write_sip(self, model, wcs):
        wcsinfo = model.meta.wcsinfo
        crpix = None
        if wcsinfo.crpix1 is not None and wcsinfo.crpix2 is not None:
            crpix = [float(wcsinfo.crpix1), float(wcsinfo.crpix2)]
        degree = range(1, 7) if self.sip_degree is None else self.sip_degree
        inv_degree = range(1, 7) if self.sip_inv_degree is None else self.sip_inv_degree
        try:
            header = wcs.to_fits_sip(max_pix_error=self.sip_max_pix_error, degree=degree,
                                     max_inv_pix_error=self.sip_max_inv_pix_error, inv_degree=inv_degree,
                                     npoints=self.sip_npoints, crpix=crpix, projection="TAN")
        except (ValueError, RuntimeError) as err:
            self.log.warning("Could not fit a FITS SIP approximation of the WCS of %s: %s; the SCI header "
                             "keeps its previous FITS WCS", model.meta.filename, err)
            return
        set_fits_wcsinfo(model, header)
        self.log.info("FITS SIP approximation: A_ORDER %s, AP_ORDER %s, max error %.2g / %.2g pixels",
                      header.get("A_ORDER"), header.get("AP_ORDER"), header.get("SIPMXERR", float("nan")),
                      header.get("SIPIVERR", float("nan")))
