"""Parity of photoncal's ``tophat`` drizzle kernel with the ``drizzle`` package.

drizzle 3.0 (the reference of the other parity tests) no longer has this
kernel: it was deprecated in drizzle 1.15.2 and removed in 2.0, so
``drizzle.resample.Drizzle(kernel="tophat")`` raises there. The reference is
therefore the last release that had it, drizzle 1.15.3 (its C function
``cdrizzle.tdriz``). Its outputs for the cases below are stored in
``data/drizzle_tophat_reference.npz``, written by
``data/make_drizzle_tophat_reference.py``; when the installed ``drizzle`` is a
1.x release the same cases are also run live against it.

drizzle 1.x's single ``scale`` argument both sized the kernel and multiplied
the data by ``scale**2``; in drizzle 3.0's terms (and photoncal's) that is
``pixel_scale_ratio=scale`` and ``iscale=scale**2``.

As in the other parity tests, SCI and WHT must agree to 1e-5 relative (in
practice they are bit-identical), context bits and miss/skip counts exactly.
"""

import pathlib
import warnings

import numpy as np
import pytest

from photoncal.kernels.drizzle import Drizzle, drizzle_add
from photoncal.sim.analytic import affine_pixmap, rotation

REFERENCE_FILE = pathlib.Path(__file__).parent / "data" / "drizzle_tophat_reference.npz"
IN_SHAPE = (24, 28)
OUT_SHAPE = (32, 36)


MAPS = {
    # every centre 0.566 px from the nearest output centre: misses all at radius 0.5
    "shift": affine_pixmap(IN_SHAPE, rotation(0), (3.4, 4.4)),
    "rotation": affine_pixmap(IN_SHAPE, rotation(23), (13.2, 1.1)),
    "scale": affine_pixmap(IN_SHAPE, rotation(0, 0.62), (4.1, 3.6)),
    "distorted": affine_pixmap(IN_SHAPE, rotation(-12, 1.07), (5.2, 7.4), distortion=0.12),
    # partly off the output: exercises the bounding polygon and the edge rules
    "overhang": affine_pixmap(IN_SHAPE, rotation(31, 1.2), (15.5, -6.7)),
}

_IMAGE = dict(map="rotation", pixfrac=1.0, scale=1.0, uniqid=1, xmin=0, xmax=0, ymin=0, ymax=0,
              in_units="cps", expscale=1.0, wtscale=1.0)
# each case drizzles one or more images (in order) onto fresh outputs
CASES = {
    "rotation_pixfrac1": [_IMAGE],
    "rotation_pixfrac2": [{**_IMAGE, "pixfrac": 2.0}],
    "scale_ratio": [{**_IMAGE, "map": "scale", "scale": 0.62}],
    "distorted_pixfrac1.5": [{**_IMAGE, "map": "distorted", "pixfrac": 1.5}],
    "overhang_large": [{**_IMAGE, "map": "overhang", "pixfrac": 3.3, "scale": 1.6}],
    "all_miss": [{**_IMAGE, "map": "shift"}],
    # (not in_units="counts": drizzle 1.15.3 divides by an uninitialised exposure time; the
    # units conversion is shared with the other kernels and tested against drizzle 3.0)
    "box_uniqid_wtscale": [{**_IMAGE, "map": "distorted", "pixfrac": 1.8, "uniqid": 5, "xmin": 2,
                            "xmax": 20, "ymin": 1, "wtscale": 0.5}],
    "two_images": [{**_IMAGE, "pixfrac": 1.6},
                   {**_IMAGE, "map": "distorted", "pixfrac": 1.2, "uniqid": 2, "scale": 0.9}],
}


def case_inputs(k):
    """Data and weights of image ``k`` of a case (deterministic)."""
    rng = np.random.default_rng(2026 + k)
    data = rng.uniform(2.0, 20.0, IN_SHAPE).astype(np.float32)
    weights = rng.uniform(0.5, 2.0, IN_SHAPE).astype(np.float32)
    return data, weights


def run_case(images, tdriz=None):
    """Drizzle a case's images; with ``tdriz`` (drizzle 1.x's) run the reference instead.

    Returns ``(sci, wht, ctx, counts)`` with ``counts`` a list of (nmiss, nskip).
    """
    sci = np.zeros(OUT_SHAPE, np.float32)
    wht = np.zeros(OUT_SHAPE, np.float32)
    ctx = np.zeros(OUT_SHAPE, np.int32)
    counts = []
    for k, image in enumerate(images):
        data, weights = case_inputs(k)
        pixmap = MAPS[image["map"]]
        box = dict(xmin=image["xmin"], xmax=image["xmax"], ymin=image["ymin"], ymax=image["ymax"])
        scale = image["scale"]
        if tdriz is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # its deprecation warning for this kernel
                _, nmiss, nskip = tdriz(data, weights, pixmap, sci, wht, ctx, uniqid=image["uniqid"],
                                        scale=scale, pixfrac=image["pixfrac"], kernel="tophat",
                                        in_units=image["in_units"], expscale=image["expscale"],
                                        wtscale=image["wtscale"], fillstr="INDEF", **box)
        else:
            nmiss, nskip = drizzle_add(data, pixmap, sci, wht, ctx, weight_map=weights,
                                       uniqid=image["uniqid"], iscale=float(np.float32(scale * scale)),
                                       pixel_scale_ratio=scale, pixfrac=image["pixfrac"],
                                       kernel="tophat", in_units=image["in_units"],
                                       expscale=image["expscale"], wt_scl=image["wtscale"], **box)
        counts.append((int(nmiss), int(nskip)))
    return sci, wht, ctx, counts


def assert_same(ours, ref):
    sci, wht, ctx, counts = ours
    ref_sci, ref_wht, ref_ctx, ref_counts = ref
    np.testing.assert_allclose(sci, ref_sci, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(wht, ref_wht, rtol=1e-5, atol=0)
    np.testing.assert_array_equal(ctx, ref_ctx)
    assert [tuple(c) for c in counts] == [tuple(c) for c in ref_counts]


@pytest.fixture(scope="module")
def reference():
    stored = np.load(REFERENCE_FILE)
    return {name: (stored[f"{name}/sci"], stored[f"{name}/wht"], stored[f"{name}/ctx"],
                   stored[f"{name}/counts"]) for name in CASES}


@pytest.mark.parametrize("name", list(CASES))
def test_tophat_matches_drizzle_1_15(reference, name):
    ours = run_case(CASES[name])
    assert_same(ours, reference[name])
    if name == "all_miss":
        # every pixel missed, counted with drizzle's xmax - xmin per row
        assert np.all(ours[1] == 0) and ours[3] == [(IN_SHAPE[0] * (IN_SHAPE[1] - 1), 0)]
    else:
        assert ours[1].sum() > 0


def test_tophat_through_the_drizzle_class(reference):
    """The Drizzle accumulator gives the reference through its own arguments."""
    images = CASES["two_images"]
    driz = Drizzle(kernel="tophat", out_shape=OUT_SHAPE)
    for k, image in enumerate(images):
        data, weights = case_inputs(k)
        scale = image["scale"]
        driz.add_image(data, exptime=1.0, pixmap=MAPS[image["map"]], weight_map=weights,
                       pixfrac=image["pixfrac"], iscale=float(np.float32(scale * scale)),
                       pixel_scale_ratio=scale)
    sci, wht, ctx, _ = reference["two_images"]
    np.testing.assert_allclose(np.nan_to_num(driz.out_img), sci, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(driz.out_wht, wht, rtol=1e-5, atol=0)
    np.testing.assert_array_equal(driz.out_ctx[0], ctx)


def _legacy_tdriz():
    try:
        import drizzle
        from drizzle import cdrizzle
    except ImportError:
        return None
    major = int(str(getattr(drizzle, "__version__", "0")).split(".")[0] or 0)
    return cdrizzle.tdriz if major == 1 else None


@pytest.mark.skipif(_legacy_tdriz() is None, reason="needs drizzle 1.x, the last with 'tophat'")
@pytest.mark.parametrize("name", list(CASES))
def test_tophat_matches_drizzle_1_15_live(name):
    assert_same(run_case(CASES[name]), run_case(CASES[name], tdriz=_legacy_tdriz()))
