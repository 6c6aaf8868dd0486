"""Parity of photoncal's drizzle with the established ``drizzle`` package.

Same inputs, pixel maps and parameters must give the same SCI/WHT (to 1e-5
relative; in practice bit-identical), identical context bits and the same
miss/skip counts, for every kernel.
"""

import warnings

import numpy as np
import pytest

drizzle = pytest.importorskip("drizzle")
from drizzle.resample import Drizzle as ReferenceDrizzle  # noqa: E402

from photoncal.kernels.drizzle import Drizzle, drizzle_add, resample_variance  # noqa: E402
from photoncal.sim.analytic import affine_pixmap, rotation  # noqa: E402

KERNELS = ["square", "point", "turbo", "gaussian", "lanczos2", "lanczos3"]
IN_SHAPE = (36, 44)
OUT_SHAPE = (52, 60)


MAPS = {
    "shift": affine_pixmap(IN_SHAPE, rotation(0), (5.3, 6.7)),
    "rotation": affine_pixmap(IN_SHAPE, rotation(23), (22.2, 3.1)),
    "scale": affine_pixmap(IN_SHAPE, rotation(0, 0.62), (4.1, 3.6)),
    "distorted": affine_pixmap(IN_SHAPE, rotation(-12, 1.07), (8.2, 11.4), distortion=0.12),
    # partly off the output: exercises the bounding polygon and the edge rules
    "overhang": affine_pixmap(IN_SHAPE, rotation(31, 1.2), (25.5, -9.7)),
}


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(42)
    data = rng.normal(10.0, 3.0, IN_SHAPE).astype(np.float32)
    weights = rng.uniform(0.5, 2.0, IN_SHAPE).astype(np.float32)
    return data, weights


def assert_same(ours, ref):
    np.testing.assert_allclose(ours.out_img, ref.out_img, rtol=1e-5, atol=1e-6, equal_nan=True)
    np.testing.assert_allclose(ours.out_wht, ref.out_wht, rtol=1e-5, atol=0)
    np.testing.assert_array_equal(ours.out_ctx, ref.out_ctx)


def run_both(kernel, add_kwargs, n_images=1, init_kwargs=None, images=None):
    init_kwargs = init_kwargs or {}
    ours = Drizzle(kernel=kernel, out_shape=OUT_SHAPE, **init_kwargs)
    ref = ReferenceDrizzle(kernel=kernel, out_shape=OUT_SHAPE, **init_kwargs)
    counts = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in range(n_images):
            kw = add_kwargs if images is None else {**add_kwargs, **images[k]}
            counts.append((ours.add_image(**kw), ref.add_image(**kw)))
    return ours, ref, counts


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("map_name", list(MAPS))
@pytest.mark.parametrize("pixfrac", [1.0, 0.5, 0.1])
def test_parity_kernels_maps_pixfrac(image, kernel, map_name, pixfrac):
    data, weights = image
    kwargs = dict(data=data, exptime=2.0, pixmap=MAPS[map_name], weight_map=weights, pixfrac=pixfrac)
    ours, ref, counts = run_both(kernel, kwargs)
    assert_same(ours, ref)
    (ours_counts, ref_counts), = counts
    assert ours_counts == ref_counts
    assert np.nansum(ours.out_wht) > 0


@pytest.mark.parametrize("kernel", ["turbo", "gaussian", "lanczos2", "lanczos3"])
@pytest.mark.parametrize("pscale", [0.7, 1.6, None])
def test_parity_pixel_scale_ratio(image, kernel, pscale):
    data, weights = image
    kwargs = dict(data=data, exptime=1.0, pixmap=MAPS["distorted"], weight_map=weights,
                  pixel_scale_ratio=pscale, pixfrac=0.8)
    ours, ref, _ = run_both(kernel, kwargs)
    assert_same(ours, ref)


@pytest.mark.parametrize("kernel", KERNELS)
def test_parity_many_images_context_planes(kernel):
    """35 images: context bits cross into a second plane, running means agree."""
    rng = np.random.default_rng(7)
    shape = (14, 16)
    images = []
    for k in range(35):
        images.append(dict(
            data=rng.normal(5.0, 1.0, shape).astype(np.float32),
            pixmap=affine_pixmap(shape, rotation(rng.uniform(-20, 20), rng.uniform(0.9, 1.1)),
                                 (rng.uniform(2, 6), rng.uniform(2, 6))),
            weight_map=rng.uniform(0.5, 1.5, shape).astype(np.float32),
            exptime=float(rng.uniform(1, 3)),
        ))
    ours = Drizzle(kernel=kernel, out_shape=(22, 24))
    ref = ReferenceDrizzle(kernel=kernel, out_shape=(22, 24))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for kw in images:
            assert ours.add_image(**kw) == ref.add_image(**kw)
    assert ours.out_ctx.shape == ref.out_ctx.shape == (2, 22, 24)
    np.testing.assert_array_equal(ours.out_ctx, ref.out_ctx)
    np.testing.assert_allclose(ours.out_img, ref.out_img, rtol=1e-5, atol=1e-6, equal_nan=True)
    np.testing.assert_allclose(ours.out_wht, ref.out_wht, rtol=1e-5)
    assert ours.total_exptime == pytest.approx(ref.total_exptime)
    assert np.any(ours.out_ctx[1] != 0)


@pytest.mark.parametrize("kernel", KERNELS)
def test_parity_squared_weights_and_dq(image, kernel):
    data, weights = image
    rng = np.random.default_rng(3)
    var = rng.uniform(1.0, 4.0, IN_SHAPE).astype(np.float32)
    var2 = rng.uniform(0.1, 0.5, IN_SHAPE).astype(np.float32)
    dq = rng.integers(0, 64, IN_SHAPE).astype(np.uint32)
    images = [dict(pixmap=MAPS["rotation"]), dict(pixmap=MAPS["distorted"])]
    kwargs = dict(data=data, exptime=1.5, data2=[var, var2, None], dq=dq, weight_map=weights,
                  iscale=1.3, pixfrac=0.7)
    ours, ref, counts = run_both(kernel, kwargs, n_images=2, images=images)
    assert_same(ours, ref)
    assert len(ours.out_img2) == 3
    for a, b in zip(ours.out_img2, ref.out_img2):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7, equal_nan=True)
    np.testing.assert_array_equal(ours.out_dq, ref.out_dq)


@pytest.mark.parametrize("fillval", [None, "INDEF", 0, -7.5, "nan", "3.25"])
def test_parity_fill_values(image, fillval):
    data, weights = image
    kwargs = dict(data=data, exptime=1.0, pixmap=MAPS["overhang"], weight_map=weights)
    ours, ref, _ = run_both("square", kwargs, init_kwargs=dict(fillval=fillval))
    assert_same(ours, ref)


def test_parity_counts_units_box_and_weight_scale(image):
    data, weights = image
    kwargs = dict(data=data, exptime=3.0, pixmap=MAPS["distorted"], weight_map=weights,
                  in_units="counts", iscale=0.8, wht_scale=2.5, xmin=3, xmax=37, ymin=2, ymax=30)
    ours, ref, counts = run_both("square", kwargs)
    assert_same(ours, ref)
    assert counts[0][0] == counts[0][1]


@pytest.mark.parametrize("kernel", KERNELS)
def test_parity_nan_holes_in_pixmap(image, kernel):
    data, weights = image
    pixmap = MAPS["distorted"].copy()
    pixmap[:3] = np.nan           # invalid first rows (the valid box shrinks)
    pixmap[:, -2:] = np.nan       # and last columns
    pixmap[15:18, 10:14] = np.nan  # a hole
    kwargs = dict(data=data, exptime=1.0, pixmap=pixmap, weight_map=weights)
    ours, ref, counts = run_both(kernel, kwargs)
    assert_same(ours, ref)
    assert counts[0][0] == counts[0][1]


def test_parity_functional_api_matches_reference_tdriz(image):
    """drizzle_add is the tdriz operation: same arguments, same results."""
    data, weights = image
    refc = drizzle.cdrizzle
    outs = [np.zeros(OUT_SHAPE, np.float32) for _ in range(2)]
    whts = [np.zeros(OUT_SHAPE, np.float32) for _ in range(2)]
    ctxs = [np.zeros(OUT_SHAPE, np.int32) for _ in range(2)]
    kw = dict(uniqid=5, xmin=1, xmax=40, ymin=0, ymax=0, iscale=1.1, pixfrac=0.9, kernel="square",
              in_units="cps", expscale=1.0, wtscale=1.0)
    ref_counts = refc.tdriz(data, weights, MAPS["rotation"], outs[0], whts[0], ctxs[0], fillstr="-1", **kw)
    kw["wt_scl"] = kw.pop("wtscale")
    ours_counts = drizzle_add(data, MAPS["rotation"], outs[1], whts[1], ctxs[1], weight_map=weights,
                              fillval="-1", **kw)
    assert tuple(ours_counts) == tuple(ref_counts)[-2:]
    np.testing.assert_array_equal(outs[1], outs[0])
    np.testing.assert_array_equal(whts[1], whts[0])
    np.testing.assert_array_equal(ctxs[1], ctxs[0])
    assert np.all(ctxs[1][whts[1] > 0] == 1 << 4)


def test_resample_variance_matches_pipeline_recipe(image):
    """sqrt(var) drizzled onto a NaN grid, then squared (the JWST/stcal recipe)."""
    _, weights = image
    var = np.random.default_rng(9).uniform(1, 9, IN_SHAPE).astype(np.float32)
    ours = resample_variance(var, MAPS["rotation"], OUT_SHAPE, weight_map=weights, pixfrac=0.8)
    ref = ReferenceDrizzle(out_shape=OUT_SHAPE, kernel="square", fillval=np.nan, disable_ctx=True)
    ref.add_image(np.sqrt(var), exptime=1.0, pixmap=MAPS["rotation"], weight_map=weights, pixfrac=0.8)
    np.testing.assert_allclose(ours, ref.out_img ** 2, rtol=1e-6, equal_nan=True)
    assert np.isnan(ours).any() and np.isfinite(ours).any()


def random_case(rng):
    """A random small drizzle problem: rotation, flip, scale, distortion, NaN holes, box."""
    ny, nx = (int(n) for n in rng.integers(3, 30, 2))
    out_shape = tuple(int(n) for n in rng.integers(3, 40, 2))
    y, x = np.indices((ny, nx), dtype=float)
    t = np.deg2rad(rng.uniform(-180, 180))
    scale = rng.uniform(0.3, 2.5)
    flip = rng.choice([1, -1])
    xo = scale * (np.cos(t) * x - np.sin(t) * y) * flip + rng.uniform(-10, out_shape[1] + 10)
    yo = scale * (np.sin(t) * x + np.cos(t) * y) + rng.uniform(-10, out_shape[0] + 10)
    if rng.random() < 0.5:
        xo += rng.uniform(-0.05, 0.05) * (x - nx / 2) ** 2
        yo += rng.uniform(-0.05, 0.05) * (x - nx / 2) * (y - ny / 2)
    if rng.random() < 0.3:  # half-integer maps: edges fall on pixel boundaries
        xo = np.round(xo * 2) / 2
        yo = np.round(yo * 2) / 2
    pixmap = np.dstack([xo, yo])
    if rng.random() < 0.3:
        pixmap[rng.random((ny, nx)) < 0.1] = np.nan
    kwargs = dict(
        data=rng.normal(0, 1, (ny, nx)).astype(np.float32), exptime=1.0, pixmap=pixmap,
        weight_map=rng.uniform(0, 2, (ny, nx)).astype(np.float32),
        pixfrac=float(rng.choice([1.0, 0.7, 0.3, 0.05])),
        pixel_scale_ratio=None if rng.random() < 0.3 else float(rng.uniform(0.5, 2)))
    if rng.random() < 0.3:
        kwargs.update(xmin=int(rng.integers(0, nx // 2 + 1)), ymin=int(rng.integers(0, ny // 2 + 1)),
                      xmax=int(rng.integers(nx // 2, nx)), ymax=int(rng.integers(ny // 2, ny)))
    return KERNELS[rng.integers(0, len(KERNELS))], out_shape, kwargs


def test_parity_random_geometries():
    """Random (often degenerate) geometries: same images and context as the reference.

    The miss/skip counts are not compared here: for polygons that degenerate
    to a line the reference reads uninitialised memory or rounds NaN.
    """
    rng = np.random.default_rng(2024)
    compared = 0
    for _ in range(120):
        kernel, out_shape, kwargs = random_case(rng)
        ours = Drizzle(kernel=kernel, out_shape=out_shape)
        ref = ReferenceDrizzle(kernel=kernel, out_shape=out_shape)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                ref.add_image(**kwargs)
            except ValueError:
                with pytest.raises(ValueError):
                    ours.add_image(**kwargs)
                continue
            ours.add_image(**kwargs)
        np.testing.assert_array_equal(ours.out_ctx, ref.out_ctx)
        np.testing.assert_allclose(ours.out_img, ref.out_img, rtol=1e-5, atol=1e-6, equal_nan=True)
        np.testing.assert_allclose(ours.out_wht, ref.out_wht, rtol=1e-5, atol=0)
        compared += 1
    assert compared > 100
