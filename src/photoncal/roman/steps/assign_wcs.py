"""Assign the detector -> sky WCS of a Roman exposure."""

from __future__ import annotations

from photoncal.roman.stpipe import RomanStep

__all__ = ["AssignWcsStep", "roman_wcs"]


def _va_correction(scale, v2_ref, v3_ref):
    """Differential velocity aberration: a scale about the reference point (identity for 1)."""
    from astropy.modeling import models

    if scale is None or scale == 1 or scale <= 0:
        return models.Identity(2)
    corr = models.Scale(scale, name="dva_scale_v2") & models.Scale(scale, name="dva_scale_v3")
    v2_ref = v2_ref or 0.0
    v3_ref = v3_ref or 0.0
    if v2_ref == 0 and v3_ref == 0:
        return corr
    corr = corr | (models.Shift((1 - scale) * v2_ref, name="dva_v2_shift")
                   & models.Shift((1 - scale) * v3_ref, name="dva_v3_shift"))
    corr.name = "DVA_Correction"
    return corr


def roman_wcs(distortion, wcsinfo, shape, va_scale=None):
    """The imaging gwcs of a Roman exposure: ``detector -> v2v3 -> v2v3vacorr -> world``.

    Parameters
    ----------
    distortion : astropy.modeling.Model
        DISTORTION transform: science pixels (0-based) -> V2, V3 (arcsec).
    wcsinfo : mapping or node
        ``v2_ref``, ``v3_ref``, ``roll_ref``, ``ra_ref``, ``dec_ref``.
    shape : (ny, nx)
        Image shape (the bounding box when the transform has none).
    va_scale : float, optional
        Velocity-aberration scale factor.
    """
    import copy

    import gwcs.coordinate_frames as cf
    from astropy import coordinates as coord
    from astropy import units as u
    from astropy.modeling import bind_bounding_box
    from gwcs import WCS

    from photoncal.wcs.pointing import v2v3_to_sky

    def value(key):
        v = wcsinfo[key] if isinstance(wcsinfo, dict) else getattr(wcsinfo, key)
        if v is None or v == -999999:
            raise ValueError(f"meta.wcsinfo.{key} is not set; the WCS needs v2_ref, v3_ref, roll_ref, ra_ref, dec_ref")
        return float(v)

    v2_ref, v3_ref = value("v2_ref"), value("v3_ref")
    transform = copy.deepcopy(distortion)
    try:
        box = transform.bounding_box.bounding_box(order="F")
    except NotImplementedError:
        box = None
    ny, nx = shape
    bind_bounding_box(transform, box if box is not None else ((-0.5, nx - 0.5), (-0.5, ny - 0.5)), order="F")
    transform.inputs = ("x", "y")
    transform.outputs = ("v2", "v3")
    va = _va_correction(va_scale, v2_ref, v3_ref)
    va.inputs = ("v2", "v3")
    va.outputs = ("v2", "v3")
    tel2sky = v2v3_to_sky(v2_ref, v3_ref, value("roll_ref"), value("ra_ref"), value("dec_ref"))
    tel2sky.inputs = ("v2", "v3")
    tel2sky.outputs = ("ra", "dec")
    detector = cf.Frame2D(name="detector", axes_order=(0, 1), unit=(u.pix, u.pix))
    v2v3 = cf.Frame2D(name="v2v3", axes_order=(0, 1), axes_names=("v2", "v3"), unit=(u.arcsec, u.arcsec))
    v2v3va = cf.Frame2D(name="v2v3vacorr", axes_order=(0, 1), axes_names=("v2", "v3"), unit=(u.arcsec, u.arcsec))
    world = cf.CelestialFrame(reference_frame=coord.ICRS(), name="world")
    wcs = WCS([(detector, transform), (v2v3, va), (v2v3va, tel2sky), (world, None)])
    if wcs.bounding_box is None:
        wcs.bounding_box = ((-0.5, nx - 0.5), (-0.5, ny - 0.5))
    return wcs


def s_region(wcs, shape):
    """The S_REGION of an image: its pixel-edge corners on the sky."""
    from photoncal.wcs.footprint import s_region_from_footprint

    ny, nx = shape
    x = [-0.5, nx - 0.5, nx - 0.5, -0.5]
    y = [-0.5, -0.5, ny - 0.5, ny - 0.5]
    ra, dec = wcs(x, y, with_bounding_box=False)
    import numpy as np

    ra = np.mod(ra, 360.0)
    return s_region_from_footprint(np.column_stack([ra, dec]))


class AssignWcsStep(RomanStep):
    """Attach the WCS: DISTORTION (science pixels -> V2/V3), velocity aberration, V2/V3 -> sky.

    Every exposure type gets one.  ``meta.wcsinfo.s_region`` is updated.
    """

    class_alias = "roman_assign_wcs"
    cal_step = "assign_wcs"
    reference_file_types = ["distortion"]

    def default_suffix(self):
        return "assignwcs" if self.parent is None else super().default_suffix()

    def process(self, step_input):
        model = self.open_model(step_input)
        ref = self.get_reference_file_model(model, "distortion")
        transform = ref.coordinate_distortion_transform
        wcs = roman_wcs(transform, model.meta.wcsinfo, model.data.shape,
                        va_scale=model.meta.velocity_aberration.scale_factor)
        ref.close()
        model.meta.wcs = wcs
        region = s_region(wcs, model.data.shape)
        if "nan" in region.lower():
            self.log.info("The footprint has NaNs: S_REGION not updated")
        else:
            model.meta.wcsinfo.s_region = region
            self.log.info("S_REGION: %s", region)
        return model
