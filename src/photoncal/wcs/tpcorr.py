"""The tangent-plane correction (TPCorr) that tweakreg inserts into an imaging WCS.

An imaging gwcs runs ``detector -> v2v3 [-> v2v3vacorr] -> world``.  The
correction acts on the telescope's (V2, V3) angles, in arcsec, just before
they are pointed on the sky:

1. (V2, V3) -> unit vector on the sphere;
2. rotate so that the aperture's reference point (``v2_ref``, ``v3_ref``)
   lands on the +x axis and the roll is undone (a Z-Y-X rotation by
   ``v2_ref``, ``-v3_ref``, ``roll_ref``);
3. gnomonic projection onto the tangent plane at that point:
   ``(t1, t2) = (y / x, z / x)`` (radians);
4. the linear correction ``t' = M . t + s``;
5. back onto the sphere and through the inverse rotation to (V2, V3).

The inverse is the same chain with ``M^-1`` and ``-M^-1 . s``, so the
round trip is exact to rounding.  Everything is a plain astropy model
(``Scale``, gwcs's ``SphericalToCartesian``/``CartesianToSpherical``,
``RotationSequence3D``, ``Mapping``, ``Const1D``, ``Identity``,
``AffineTransformation2D``) so asdf-astropy and gwcs serialise it.

The compound model and its parts carry the names the established pipeline
gives them (``tp_affine``, ``det_to_optic_axis``, ...), so its tools can find
and extend a correction that photoncal wrote, and the other way round.

Tangent-plane coordinates used by tweakreg are in **arcsec**: the tangent
plane of an image is the plane of step 3 for the V2/V3 angles that are
pointed on the sky (after any existing correction), scaled to arcsec.
"""

from __future__ import annotations

import copy
import math

import numpy as np
from astropy.modeling import CompoundModel
from astropy.modeling.models import (
    AffineTransformation2D,
    Const1D,
    Identity,
    Mapping,
    RotationSequence3D,
    Scale,
)

__all__ = [
    "TPCORR_NAME",
    "ROMAN_TPCORR_NAME",
    "RAD2ARCSEC",
    "tpcorr_model",
    "tpcorr_parameters",
    "find_tpcorr",
    "ref_angles_from_wcs",
    "TangentPlane",
    "apply_tweak_correction",
    "corrected_wcsinfo",
]

#: Name of a JWST correction model (the established pipeline's, so its tools recognise ours).
TPCORR_NAME = "JWST tangent-plane linear correction. v1"
#: Name the Roman pipeline gives the same model.
ROMAN_TPCORR_NAME = "Roman V2-V3 tangent-plane linear correction. v1"

RAD2ARCSEC = 3600.0 * 180.0 / math.pi

_V2V3_NAMES = ("v2v3vacorr", "v2v3")
_CORR_FRAME = "v2v3corr"


def _geometry():
    from gwcs.geometry import CartesianToSpherical, SphericalToCartesian

    return SphericalToCartesian, CartesianToSpherical


def _projection_pieces():
    """(x, y, z) -> (y/x, z/x) and (t1, t2) -> (1, t1, t2)."""
    to_plane = (Mapping((0, 1, 2), name="xyz") / Mapping((0, 0, 0), n_inputs=3, name="xxx")) | Mapping(
        (1, 2), name="xtyt"
    )
    to_plane.name = "Cartesian 3D to TAN"
    from_plane = Mapping((0, 0, 1), n_inputs=2, name="xtyt2xyz") | (
        Const1D(1, name="one") & Identity(2, name="I(2D)")
    )
    from_plane.name = "TAN to cartesian 3D"
    return to_plane, from_plane


def _chain(v2_ref, v3_ref, roll_ref, affine):
    """(V2, V3) arcsec -> tangent plane -> affine -> (V2, V3) arcsec."""
    s2c_cls, c2s_cls = _geometry()
    arcsec_to_deg = Scale(1.0 / 3600.0, name="arcsec_to_deg_1D")
    arcsec_to_deg = arcsec_to_deg & Scale(1.0 / 3600.0, name="arcsec_to_deg_1D")
    arcsec_to_deg.name = "arcsec_to_deg_2D"
    deg_to_arcsec = Scale(3600.0, name="deg_to_arcsec_1D") & Scale(3600.0, name="deg_to_arcsec_1D")
    deg_to_arcsec.name = "deg_to_arcsec_2D"
    rot = RotationSequence3D(
        [v2_ref / 3600.0, -v3_ref / 3600.0, roll_ref], axes_order="zyx", name="det_to_optic_axis"
    )
    rot_inv = rot.inverse
    rot_inv.name = "optic_axis_to_det"
    to_plane, from_plane = _projection_pieces()
    return (
        arcsec_to_deg
        | s2c_cls(name="s2c", wrap_lon_at=180)
        | rot
        | to_plane
        | affine
        | from_plane
        | rot_inv
        | c2s_cls(name="c2s", wrap_lon_at=180)
        | deg_to_arcsec
    )


def tpcorr_model(v2_ref, v3_ref, roll_ref, matrix=None, shift=None, name=TPCORR_NAME):
    """The correction model ``(v2, v3) -> (v2', v3')`` with its exact inverse.

    Parameters
    ----------
    v2_ref, v3_ref : float
        Reference point of the aperture in arcsec (``meta.wcsinfo``).
    roll_ref : float
        Roll angle in degrees (``meta.wcsinfo.roll_ref``).
    matrix : (2, 2) array-like, optional
        Linear part of the correction in the tangent plane (default identity).
    shift : (2,) array-like, optional
        Shift in the tangent plane, **arcsec** (default zero), applied after
        ``matrix``.
    name : str
        Model name (:data:`TPCORR_NAME`, or :data:`ROMAN_TPCORR_NAME` for Roman).

    Returns
    -------
    astropy.modeling.CompoundModel
        ``model.inverse`` is the exact inverse.
    """
    matrix = np.eye(2) if matrix is None else np.asarray(matrix, dtype=np.float64)
    shift = np.zeros(2) if shift is None else np.asarray(shift, dtype=np.float64)
    if matrix.shape != (2, 2) or shift.shape != (2,):
        raise ValueError(
            f"tpcorr_model: matrix must be 2x2 and shift of length 2, got {matrix.shape} and {shift.shape}"
        )
    if not np.all(np.isfinite(matrix)) or not np.all(np.isfinite(shift)):
        raise ValueError("tpcorr_model: matrix and shift must be finite")
    det = np.linalg.det(matrix)
    if det == 0:
        raise ValueError("tpcorr_model: the correction matrix is singular")
    shift_rad = shift / RAD2ARCSEC
    inv_m = np.linalg.inv(matrix)
    forward = _chain(
        v2_ref, v3_ref, roll_ref, AffineTransformation2D(matrix, shift_rad, name="tp_affine")
    )
    backward = _chain(
        v2_ref,
        v3_ref,
        roll_ref,
        AffineTransformation2D(inv_m, -inv_m @ shift_rad, name="tp_affine_inv"),
    )
    forward.name = name
    backward.name = f"Inverse {name}"
    forward.inverse = backward
    return forward


def tpcorr_parameters(model):
    """``(v2_ref, v3_ref, roll_ref, matrix, shift)`` of a correction model.

    ``v2_ref``/``v3_ref`` and ``shift`` in arcsec, ``roll_ref`` in degrees.
    """
    try:
        rot = model["det_to_optic_axis"]
        aff = model["tp_affine"]
    except (KeyError, IndexError, TypeError) as err:
        raise ValueError(f"model {getattr(model, 'name', model)!r} is not a tangent-plane correction") from err
    v2, nv3, roll = (float(a) for a in np.ravel(rot.angles.value))
    return (
        v2 * 3600.0,
        -nv3 * 3600.0,
        roll,
        np.array(aff.matrix.value, dtype=np.float64),
        np.array(aff.translation.value, dtype=np.float64) * RAD2ARCSEC,
    )


def _frame_names(wcs):
    return list(wcs.available_frames)


def find_tpcorr(wcs):
    """The correction model of a WCS, or ``None`` when it has none."""
    names = _frame_names(wcs)
    if _CORR_FRAME not in names:
        return None
    idx = names.index(_CORR_FRAME)
    return wcs.pipeline[idx - 1].transform


def _v2v3_frame(wcs):
    """Name of the frame whose transform points (V2, V3) at the sky (before any correction)."""
    names = _frame_names(wcs)
    for name in _V2V3_NAMES:
        if name in names:
            return name
    raise ValueError(
        f"the WCS has no 'v2v3' frame (frames: {', '.join(names)}); a tangent-plane "
        "correction needs an imaging WCS running detector -> v2v3 -> world"
    )


def _iter_leaves(model):
    if isinstance(model, CompoundModel):
        for leaf in model.traverse_postorder():
            if not isinstance(leaf, CompoundModel):
                yield leaf
    else:
        yield model


def ref_angles_from_wcs(wcs):
    """Reference angles of an imaging WCS.

    Read from an existing correction when there is one, else from the
    5-angle ``RotationSequence3D`` (``zyxyz``: ``v2_ref, -v3_ref, roll_ref,
    dec_ref, -ra_ref`` in degrees) of the V2/V3-to-sky transform.

    Returns
    -------
    dict
        ``v2_ref``, ``v3_ref`` (arcsec), ``roll_ref``, ``ra_ref``,
        ``dec_ref`` (degrees).  ``ra_ref``/``dec_ref`` are the pointing of
        the uncorrected reference point.

    Raises
    ------
    ValueError
        When the WCS has no such rotation.
    """
    names = _frame_names(wcs)
    last_v2v3 = names[-2]
    to_sky = wcs.get_transform(last_v2v3, names[-1])
    out = None
    for leaf in _iter_leaves(to_sky):
        if isinstance(leaf, RotationSequence3D) and np.size(leaf.angles.value) == 5:
            v2, nv3, roll, dec, nra = (float(a) for a in np.ravel(leaf.angles.value))
            out = {"v2_ref": v2 * 3600.0, "v3_ref": -nv3 * 3600.0, "roll_ref": roll,
                   "ra_ref": (-nra) % 360.0, "dec_ref": dec}
            break
    if out is None:
        raise ValueError(
            "cannot read v2_ref/v3_ref/roll_ref from the WCS: its v2v3 -> world transform "
            "has no 5-angle RotationSequence3D; pass the reference angles (meta.wcsinfo) explicitly"
        )
    corr = find_tpcorr(wcs)
    if corr is not None:
        v2, v3, roll, _, _ = tpcorr_parameters(corr)
        out.update(v2_ref=v2, v3_ref=v3, roll_ref=roll)
    return out


def _checked_angles(ref_angles):
    try:
        return float(ref_angles["v2_ref"]), float(ref_angles["v3_ref"]), float(ref_angles["roll_ref"])
    except (KeyError, TypeError) as err:
        raise ValueError(
            "ref_angles must give v2_ref and v3_ref (arcsec) and roll_ref (degrees), "
            f"got {ref_angles!r}"
        ) from err


def _projection_model(v2_ref, v3_ref, roll_ref):
    """(V2, V3) arcsec -> tangent plane in arcsec, with its inverse."""
    s2c_cls, c2s_cls = _geometry()
    rot = RotationSequence3D([v2_ref / 3600.0, -v3_ref / 3600.0, roll_ref], axes_order="zyx")
    to_plane, from_plane = _projection_pieces()
    fwd = (
        (Scale(1 / 3600.0) & Scale(1 / 3600.0))
        | s2c_cls(wrap_lon_at=180)
        | rot
        | to_plane
        | (Scale(RAD2ARCSEC) & Scale(RAD2ARCSEC))
    )
    inv = (
        (Scale(1 / RAD2ARCSEC) & Scale(1 / RAD2ARCSEC))
        | from_plane
        | rot.inverse
        | c2s_cls(wrap_lon_at=180)
        | (Scale(3600.0) & Scale(3600.0))
    )
    fwd.inverse = inv
    return fwd


class TangentPlane:
    """The tangent plane of one image, in arcsec, and the ways into and out of it.

    Parameters
    ----------
    wcs : gwcs.WCS
        Imaging WCS with a ``v2v3`` frame (and possibly a correction).
    ref_angles : dict, optional
        ``v2_ref``, ``v3_ref`` (arcsec), ``roll_ref`` (deg); read from the
        WCS when not given.
    """

    def __init__(self, wcs, ref_angles=None):
        self.wcs = wcs
        if ref_angles is None:
            ref_angles = ref_angles_from_wcs(wcs)
        self.v2_ref, self.v3_ref, self.roll_ref = _checked_angles(ref_angles)
        names = _frame_names(wcs)
        # the V2/V3 angles that are pointed on the sky (after any correction)
        self._pointed = _CORR_FRAME if _CORR_FRAME in names else _v2v3_frame(wcs)
        self._detector = names[0]
        self._world = names[-1]
        self._project = _projection_model(self.v2_ref, self.v3_ref, self.roll_ref)
        self._det_to_v23 = wcs.get_transform(self._detector, self._pointed)
        self._v23_to_world = wcs.get_transform(self._pointed, self._world)
        self._world_to_v23 = self._v23_to_world.inverse

    @property
    def ref_angles(self):
        return {"v2_ref": self.v2_ref, "v3_ref": self.v3_ref, "roll_ref": self.roll_ref}

    def det_to_world(self, x, y):
        """Pixel -> (ra, dec) in degrees, ignoring the bounding box."""
        return self.wcs(x, y, with_bounding_box=False)

    def world_to_det(self, ra, dec):
        return self.wcs.invert(ra, dec, with_bounding_box=False)

    def det_to_tanp(self, x, y):
        """Pixel -> tangent plane (arcsec)."""
        v2, v3 = self._det_to_v23(x, y)
        return self._project(v2, v3)

    def world_to_tanp(self, ra, dec):
        """(ra, dec) degrees -> tangent plane (arcsec)."""
        v2, v3 = self._world_to_v23(ra, dec)
        return self._project(v2, v3)

    def tanp_to_world(self, tx, ty):
        """Tangent plane (arcsec) -> (ra, dec) degrees."""
        v2, v3 = self._project.inverse(tx, ty)
        return self._v23_to_world(v2, v3)

    def center_pixel(self):
        """Centre of the WCS bounding box (or image) in pixels."""
        from .footprint import _bounding_box_of

        bb = _bounding_box_of(self.wcs)
        if bb is not None:
            return 0.5 * (bb[0][0] + bb[0][1]), 0.5 * (bb[1][0] + bb[1][1])
        shape = getattr(self.wcs, "array_shape", None)
        if shape is not None:
            return 0.5 * (shape[1] - 1), 0.5 * (shape[0] - 1)
        return 0.0, 0.0

    def pixel_scale(self, x=None, y=None):
        """Size of a pixel in the tangent plane (arcsec), sqrt of the Jacobian determinant."""
        if x is None or y is None:
            x, y = self.center_pixel()
        tx, ty = self.det_to_tanp(np.array([x - 0.5, x + 0.5, x - 0.5]), np.array([y - 0.5, y - 0.5, y + 0.5]))
        jac = np.array([[tx[1] - tx[0], tx[2] - tx[0]], [ty[1] - ty[0], ty[2] - ty[0]]])
        return float(math.sqrt(abs(np.linalg.det(jac))))


def _sample_grid(plane, n=5):
    from .footprint import _bounding_box_of

    bb = _bounding_box_of(plane.wcs)
    if bb is None:
        shape = getattr(plane.wcs, "array_shape", None)
        if shape is None:
            cx, cy = plane.center_pixel()
            bb = ((cx - 512, cx + 512), (cy - 512, cy + 512))
        else:
            bb = ((-0.5, shape[1] - 0.5), (-0.5, shape[0] - 0.5))
    xs = np.linspace(bb[0][0] + 0.5, bb[0][1] - 0.5, n)
    ys = np.linspace(bb[1][0] + 0.5, bb[1][1] - 0.5, n)
    gx, gy = np.meshgrid(xs, ys)
    return gx.ravel(), gy.ravel()


def _fit_affine(src, dst):
    """Least-squares ``dst = M . src + s`` for (N, 2) arrays."""
    a = np.column_stack([src, np.ones(len(src))])
    coef, *_ = np.linalg.lstsq(a, dst, rcond=None)
    return coef[:2].T, coef[2]


def _transfer_correction(matrix, shift, fit_plane: TangentPlane, plane: TangentPlane):
    """Express a correction measured in ``fit_plane`` in ``plane``'s tangent plane.

    The two gnomonic planes differ by a projective map; the correction is
    transferred by a least-squares affine fit over a 5x5 grid of the
    image's pixels, exact for the affine part and accurate to far below a
    milli-arcsecond for detector-sized images.
    """
    gx, gy = _sample_grid(plane)
    ra, dec = plane.det_to_world(gx, gy)
    p1 = np.column_stack(fit_plane.world_to_tanp(ra, dec))
    p1c = p1 @ np.asarray(matrix, float).T + np.asarray(shift, float)
    ra_c, dec_c = fit_plane.tanp_to_world(p1c[:, 0], p1c[:, 1])
    q = np.column_stack(plane.world_to_tanp(ra, dec))
    qc = np.column_stack(plane.world_to_tanp(ra_c, dec_c))
    good = np.all(np.isfinite(q), axis=1) & np.all(np.isfinite(qc), axis=1)
    if good.sum() < 3:
        raise ValueError("cannot transfer the correction: the image and fit planes do not overlap")
    return _fit_affine(q[good], qc[good])


def apply_tweak_correction(wcs, matrix, shift, ref_angles=None, *, fit_plane=None, name=TPCORR_NAME):
    """A copy of an imaging WCS with a tangent-plane correction applied.

    The correction maps tangent-plane coordinates ``t`` (arcsec) of the
    image to ``M . t + s``: a source seen at ``t`` is moved to where the
    fit says it belongs.  When the WCS already has a correction the two
    are combined into one (the established behaviour), otherwise a
    ``v2v3corr`` frame is inserted between the (last) ``v2v3`` frame and
    ``world``.

    Parameters
    ----------
    wcs : gwcs.WCS
        The imaging WCS (``detector -> v2v3 [-> v2v3vacorr] -> world``).
    matrix : (2, 2) array-like
        Linear part (rotation, scale, skew) of the correction.
    shift : (2,) array-like
        Shift in arcsec, applied after ``matrix``.
    ref_angles : dict, optional
        ``v2_ref``, ``v3_ref`` (arcsec), ``roll_ref`` (deg) of the image
        (``meta.wcsinfo``); read from the WCS when not given.
    fit_plane : TangentPlane, optional
        The tangent plane in which ``matrix`` and ``shift`` were fitted when
        it is not this image's own (e.g. the plane of the first image of an
        exposure group); the correction is transferred to this image's plane.
    name : str
        Name of a new correction model (an existing one keeps its name).

    Returns
    -------
    gwcs.WCS
        A new WCS; the input is not modified.
    """
    import gwcs

    plane = TangentPlane(wcs, ref_angles)
    matrix = np.asarray(matrix, dtype=np.float64)
    shift = np.asarray(shift, dtype=np.float64)
    if fit_plane is not None:
        matrix, shift = _transfer_correction(matrix, shift, fit_plane, plane)

    names = _frame_names(wcs)
    steps = [(copy.deepcopy(s.frame), copy.deepcopy(s.transform)) for s in wcs.pipeline]
    if _CORR_FRAME in names:
        idx = names.index(_CORR_FRAME) - 1
        old = steps[idx][1]
        v2, v3, roll, old_m, old_s = tpcorr_parameters(old)
        new_m = matrix @ old_m
        new_s = matrix @ old_s + shift
        steps[idx] = (steps[idx][0], tpcorr_model(v2, v3, roll, new_m, new_s, name=old.name or name))
    else:
        # the correction goes after the last V2/V3 frame (after velocity aberration)
        idx = names.index(_v2v3_frame(wcs))
        frame, to_sky = steps[idx]
        corr_frame = copy.deepcopy(frame)
        corr_frame.name = _CORR_FRAME
        corr = tpcorr_model(plane.v2_ref, plane.v3_ref, plane.roll_ref, matrix, shift, name=name)
        steps[idx] = (frame, corr)
        steps.insert(idx + 1, (corr_frame, to_sky))

    new = gwcs.WCS(steps, name=getattr(wcs, "name", None))
    if getattr(wcs, "bounding_box", None) is not None:
        try:
            new.bounding_box = wcs.bounding_box
        except Exception:  # noqa: BLE001 - a bounding box that cannot be copied is left as it came
            pass
    if getattr(wcs, "pixel_shape", None) is not None:
        new.pixel_shape = wcs.pixel_shape
    return new


def corrected_wcsinfo(wcs, ref_angles=None):
    """Where a corrected WCS points its reference point.

    Returns
    -------
    dict
        ``ra_ref``, ``dec_ref`` (deg): the sky position of (``v2_ref``,
        ``v3_ref``) through the corrected WCS, and ``roll_ref`` (deg): the
        position angle of V3 there, both as tweakreg reports them in
        ``meta.wcsinfo``.
    """
    plane = TangentPlane(wcs, ref_angles)
    names = _frame_names(wcs)
    v23 = _v2v3_frame(wcs)
    if "v2v3vacorr" in names:
        v23 = "v2v3vacorr"
    to_sky = wcs.get_transform(v23, names[-1])
    v2, v3 = plane.v2_ref, plane.v3_ref
    ra, dec = to_sky(v2, v3)
    ra_n, dec_n = to_sky(v2, v3 + 1.0)  # one arcsec along +V3
    # position angle of +V3, east of north
    from .footprint import sky_to_tangent_plane

    xi, eta = sky_to_tangent_plane(ra_n, dec_n, float(ra), float(dec))
    roll = math.degrees(math.atan2(float(xi), float(eta))) % 360.0
    return {"ra_ref": float(ra) % 360.0, "dec_ref": float(dec), "roll_ref": roll}
