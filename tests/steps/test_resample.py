"""resample / ResampleData: parity with the drizzle package, flux, grid parameters, products."""

from pathlib import Path

import numpy as np
import pytest

from photoncal import datamodels
from photoncal.dqflags import pixel

import stage2_data as data  # tests/steps, on pytest's pythonpath


KERNELS = ["square", "point", "turbo", "gaussian", "lanczos2", "lanczos3"]
BAD = pixel["DO_NOT_USE"] | pixel["NON_SCIENCE"]


@pytest.fixture(scope="module")
def cal():
    return data.cal_exposure(scene="stars")


def _copy(model):
    return model.copy()


def _resample(models, **kwargs):
    from photoncal.resample import ResampleData

    kwargs.setdefault("good_bits", "~DO_NOT_USE+NON_SCIENCE")
    kwargs.setdefault("fillval", "NAN")
    kwargs.setdefault("blendheaders", False)
    return ResampleData(models, **kwargs).resample_many_to_one()


def _flux_jy(image, wcs, ra, dec, sky, pixar_sr, radius=27, area=None, fill=None):
    if fill is not None:  # dead pixels of the input: the truth there
        image = np.where(np.isfinite(image), image, fill)
    x, y = wcs.invert(ra, dec)
    yy, xx = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    near = np.hypot(xx - x, yy - y) < radius
    values = image[near] - sky
    if area is not None:
        values = values * area[near]
    assert np.isfinite(values).all()
    return float(np.sum(values) * pixar_sr * 1e6)


@pytest.mark.filterwarnings("ignore:Kernel .* is not a flux-conserving kernel")
@pytest.mark.parametrize("kernel", KERNELS)
def test_parity_with_drizzle_package(cal, kernel):
    drizzle = pytest.importorskip("drizzle")
    from drizzle.resample import Drizzle as Reference

    from photoncal.wcs.pixmap import calc_pixmap

    model, _ = cal
    pixfrac = 0.8 if kernel in ("square", "turbo", "gaussian") else 1.0
    out = _resample([_copy(model)], kernel=kernel, pixfrac=pixfrac, fillval="NAN")
    # the drizzle package, fed the same pixel map and an independently built weight map
    pixmap = calc_pixmap(model.meta.wcs, out.meta.wcs, model.data.shape)
    with np.errstate(divide="ignore"):
        weight = (1.0 / model.var_rnoise).astype(np.float32)
    weight[~np.isfinite(weight)] = 0.0
    weight[(model.dq & BAD) != 0] = 0.0
    ref = Reference(kernel=kernel, fillval="NaN", out_shape=out.data.shape)
    ny, nx = model.data.shape
    ref.add_image(np.nan_to_num(model.data), exptime=model.meta.exposure.exposure_time, pixmap=pixmap,
                  pixel_scale_ratio=out.meta.resample.pixel_scale_ratio, weight_map=weight, wht_scale=1.0,
                  pixfrac=pixfrac, in_units="cps", xmin=0, xmax=nx - 1, ymin=0, ymax=ny - 1)
    assert drizzle.__version__
    covered = ref.out_wht > 0
    assert covered.sum() > 0.9 * model.data.size
    assert np.array_equal(np.isnan(out.data), np.isnan(ref.out_img))
    assert np.allclose(out.wht, ref.out_wht, rtol=1e-5, atol=0)
    assert np.allclose(out.data[covered], ref.out_img[covered], rtol=1e-5, atol=1e-6 * np.nanmax(ref.out_img))
    assert np.array_equal(out.con, ref.out_ctx)


def test_square_kernel_conserves_flux(cal):
    model, truth = cal
    wcs_in, area = model.meta.wcs, model.area
    for row in truth.sources:
        f_in = _flux_jy(model.data, wcs_in, row["ra"], row["dec"], truth.sky_background,
                        model.meta.photometry.pixelarea_steradians, area=area, fill=truth.surface_brightness)
        assert f_in == pytest.approx(row["flux"], rel=1e-3)
    # uniform weights: the square kernel conserves flux exactly (kernel property)
    out = _resample([_copy(model)], wht_type="exptime")
    # the established default (inverse read-noise weights, which vary from pixel to pixel)
    out_ivm = _resample([_copy(model)])
    for row in truth.sources:
        f = _flux_jy(out.data, out.meta.wcs, row["ra"], row["dec"], truth.sky_background,
                     out.meta.photometry.pixelarea_steradians)
        assert f == pytest.approx(row["flux"], rel=1e-4)
        f = _flux_jy(out_ivm.data, out_ivm.meta.wcs, row["ra"], row["dec"], truth.sky_background,
                     out_ivm.meta.photometry.pixelarea_steradians)
        assert f == pytest.approx(row["flux"], rel=5e-3)
    # half-size output pixels: same fluxes (dead pixels repaired with the truth, so that
    # no half-size output pixel is left without input)
    repaired = _copy(model)
    dead = ~np.isfinite(repaired.data) & ((repaired.dq & pixel["REFERENCE_PIXEL"]) == 0)
    repaired.data[dead] = truth.surface_brightness[dead]
    repaired.dq[dead] = 0
    fine = _resample([repaired], wht_type="exptime", pscale_ratio=0.5)
    assert fine.meta.photometry.pixelarea_steradians == pytest.approx(
        out.meta.photometry.pixelarea_steradians / 4, rel=1e-9)
    for row in truth.sources:
        f = _flux_jy(fine.data, fine.meta.wcs, row["ra"], row["dec"], truth.sky_background,
                     fine.meta.photometry.pixelarea_steradians, radius=54)
        assert f == pytest.approx(row["flux"], rel=1e-3)


def test_output_metadata_and_fits_wcs(cal, tmp_path):
    model, truth = cal
    out = _resample([_copy(model)], output="x_i2d.fits")
    assert out.meta.filename == "x_i2d.fits"
    assert out.meta.cal_step.resample == "COMPLETE"
    assert out.meta.bunit_data == "MJy/sr"
    res = out.meta.resample
    assert (res.pointings, res.kernel, res.pixfrac, res.weight_type, res.fillval) == (1, "square", 1.0, "ivm", "NAN")
    assert res.pixel_scale_ratio == 1.0
    # the output pixel scale is the input's at the reference point
    from photoncal.wcs.footprint import pixel_scale_at

    x0, y0 = model.meta.wcs.invert(model.meta.wcsinfo.ra_ref, model.meta.wcsinfo.dec_ref)
    scale = pixel_scale_at(model.meta.wcs, x0, y0)
    assert out.meta.photometry.pixelarea_steradians == pytest.approx(np.deg2rad(scale) ** 2, rel=1e-9)
    assert out.meta.photometry.pixelarea_arcsecsq == pytest.approx((scale * 3600) ** 2, rel=1e-9)
    # input pointing keywords are gone, the FITS WCS reproduces the gwcs
    assert out.meta.wcsinfo.v2_ref is None and out.meta.wcsinfo.roll_ref is None
    fits_wcs = out.get_fits_wcs()
    ny, nx = out.data.shape
    xs, ys = np.meshgrid(np.linspace(0, nx - 1, 7), np.linspace(0, ny - 1, 7))
    ra, dec = out.meta.wcs(xs, ys)
    ra2, dec2 = fits_wcs.all_pix2world(xs, ys, 0)
    assert np.allclose(ra, ra2, atol=1e-10) and np.allclose(dec, dec2, atol=1e-10)
    # footprint: the input's S_REGION
    assert out.meta.wcsinfo.s_region.startswith("POLYGON ICRS")
    in_pts = np.array(model.meta.wcsinfo.s_region.split()[2:], float)
    out_pts = np.array(out.meta.wcsinfo.s_region.split()[2:], float)
    assert np.allclose(in_pts, out_pts, atol=1e-8)
    # exposure times of one exposure
    assert out.meta.exposure.exposure_time == model.meta.exposure.exposure_time
    assert out.meta.exposure.start_time == model.meta.exposure.start_time
    # arrays and round trip through a file
    assert out.con.shape == (1,) + out.data.shape and out.con.dtype == np.int32
    good = out.wht > 0
    err = np.sqrt(out.var_rnoise + out.var_poisson + out.var_flat)
    assert np.allclose(out.err[good], err[good], rtol=1e-5)
    assert np.all(np.isnan(out.data[~good])) and np.all(np.isnan(out.err[~good]))
    path = out.save(str(tmp_path / "x_i2d.fits"))
    from astropy.io import fits

    with fits.open(path) as hdul:
        names = [h.name for h in hdul]
        for ext in ("SCI", "ERR", "WHT", "CON", "VAR_POISSON", "VAR_RNOISE", "VAR_FLAT"):
            assert ext in names
        assert hdul["SCI"].header["PIXAR_SR"] == pytest.approx(out.meta.photometry.pixelarea_steradians)
        assert hdul["SCI"].header["CTYPE1"] == "RA---TAN"
        assert hdul[0].header["S_RESAMP"] == "COMPLETE"


def test_variance_resampling_matches_weights(cal):
    from photoncal.resample import ResampleData

    model, _ = cal
    rd = ResampleData([_copy(model)], good_bits="~DO_NOT_USE+NON_SCIENCE", fillval="NAN", blendheaders=False)
    out = rd.resample_many_to_one()
    for name in ("var_rnoise", "var_poisson", "var_flat"):
        target = datamodels.ImageModel(out.data.shape)
        rd.resample_variance_array(name, target)
        both = np.isfinite(out[name])
        assert np.array_equal(both, np.isfinite(target[name]))
        assert np.allclose(target[name][both], out[name][both], rtol=1e-6)
    # one image at the native scale: the resampled variance is the input's where a pixel maps onto a pixel
    inside = np.isfinite(out.var_rnoise)
    assert np.nanmedian(out.var_rnoise[inside]) == pytest.approx(np.nanmedian(model.var_rnoise), rel=0.05)


def test_good_bits_and_exptime_weights(cal):
    model, _ = cal
    m = _copy(model)
    yy, xx = np.nonzero(np.isfinite(m.data))
    m.dq[yy[500], xx[500]] |= pixel["JUMP_DET"]
    default = _resample([_copy(m)], wht_type="exptime")
    strict = _resample([_copy(m)], wht_type="exptime", good_bits=0)
    assert np.nansum(strict.wht) < np.nansum(default.wht)
    texp = m.meta.exposure.exposure_time
    inner = default.wht > 0.999 * texp
    assert inner.sum() > 0.5 * default.data.size
    # a weight is the image weight times the summed overlap fractions (~1, by the local pixel-area ratio)
    assert np.all(default.wht[default.wht > 0] <= texp * 1.05)


def _two_exposures():
    a, truth_a = data.cal_exposure(scene="stars", exposure=1)
    b, truth_b = data.cal_exposure(scene="stars", exposure=2, dither_offset=(0.6, 0.4))
    return (a, truth_a), (b, truth_b)


def test_many_to_one_from_disk(tmp_path, monkeypatch):
    (a, truth), (b, _) = _two_exposures()
    paths = [a.save(str(tmp_path / "a_cal.fits")), b.save(str(tmp_path / "b_cal.fits"))]
    container = datamodels.ModelContainer([str(p) for p in paths], on_disk=True)
    open_now = {"n": 0, "max": 0}
    real_open = datamodels.open

    class Tracked:
        def __init__(self, model):
            self.model = model

    def tracking_open(*args, **kwargs):
        model = real_open(*args, **kwargs)
        open_now["n"] += 1
        open_now["max"] = max(open_now["max"], open_now["n"])
        real_close = model.close

        def close():
            open_now["n"] -= 1
            real_close()

        model.close = close
        return model

    monkeypatch.setattr(datamodels, "open", tracking_open)
    import photoncal.datamodels.util as dm_util

    monkeypatch.setattr(dm_util, "open", tracking_open)
    out = _resample(container, wht_type="exptime", blendheaders=True)
    assert open_now["max"] == 1, "more than one input held at a time"
    assert out.meta.resample.pointings == 2
    assert out.meta.exposure.exposure_time == pytest.approx(a.meta.exposure.exposure_time * 2)
    assert out.meta.exposure.start_time == min(a.meta.exposure.start_time, b.meta.exposure.start_time)
    # both images contribute where they overlap: context bits 1 and 2, double weight
    both = out.con[0] == 3
    assert both.sum() > 0.5 * out.data.size
    texp = a.meta.exposure.exposure_time
    assert np.median(out.wht[both]) == pytest.approx(2 * texp, rel=1e-3)
    assert set(np.unique(out.con[0])) <= {0, 1, 2, 3}
    for row in truth.sources:
        f = _flux_jy(out.data, out.meta.wcs, row["ra"], row["dec"], truth.sky_background,
                     out.meta.photometry.pixelarea_steradians)
        assert f == pytest.approx(row["flux"], rel=5e-3)


def test_many_to_many_and_names(tmp_path):
    from photoncal.resample import ResampleData

    (a, _), (b, _) = _two_exposures()
    rd = ResampleData([_copy(a), _copy(b)], single=True, good_bits="~DO_NOT_USE+NON_SCIENCE", fillval="NAN")
    outs = rd.do_drizzle()
    assert len(outs) == 2
    names = [m.meta.filename for m in outs]
    assert names[0] == a.meta.filename.replace("_cal.fits", "_outlier_i2d.fits")
    assert outs[0].data.shape == outs[1].data.shape
    assert np.all(outs[0].con[0][outs[0].wht > 0] == 1)
    # not in memory: written and listed by path
    rd = ResampleData([_copy(a), _copy(b)], single=True, in_memory=False, output=str(tmp_path), fillval="NAN",
                      good_bits="~DO_NOT_USE+NON_SCIENCE")
    outs = rd.do_drizzle()
    assert outs.on_disk and all(Path(p).is_file() for p in outs.member_paths())


def test_grid_parameters(cal, tmp_path):
    model, _ = cal
    north_up = _resample([_copy(model)], rotation=0.0)
    pc = np.array([[north_up.meta.wcsinfo.pc1_1, north_up.meta.wcsinfo.pc1_2],
                   [north_up.meta.wcsinfo.pc2_1, north_up.meta.wcsinfo.pc2_2]])
    assert np.allclose(np.abs(pc), np.eye(2), atol=1e-9)
    ra0, dec0 = north_up.meta.wcs(10.0, 10.0)
    ra1, dec1 = north_up.meta.wcs(10.0, 20.0)
    assert abs(ra1 - ra0) < 1e-8 and dec1 > dec0  # +y is north (TAN: a few microarcsec off the meridian)
    sized = _resample([_copy(model)], output_shape=(120, 100), crpix=(50.0, 40.0), crval=(53.16, -27.79),
                      pscale=0.05)
    assert sized.data.shape == (100, 120)
    ra, dec = sized.meta.wcs(50.0, 40.0)
    assert ra == pytest.approx(53.16, abs=1e-10) and dec == pytest.approx(-27.79, abs=1e-10)
    assert sized.meta.photometry.pixelarea_arcsecsq == pytest.approx(0.05**2)
    assert sized.meta.wcsinfo.crpix1 == pytest.approx(51.0) and sized.meta.wcsinfo.crpix2 == pytest.approx(41.0)
    # a user WCS from an ASDF file: reproduces the grid
    import asdf

    af = asdf.AsdfFile({"wcs": sized.meta.wcs, "pixel_scale": 0.05})
    af.write_to(tmp_path / "grid.asdf")
    custom = _resample([_copy(model)], output_wcs=str(tmp_path / "grid.asdf"))
    assert custom.data.shape == sized.data.shape
    both = np.isfinite(custom.data) & np.isfinite(sized.data)
    assert np.allclose(custom.data[both], sized.data[both], rtol=1e-6)


def test_drizzle_arrays_static_api(cal):
    from photoncal.resample import ResampleData

    model, _ = cal
    out = _resample([_copy(model)], wht_type=None)
    shape = out.data.shape
    sci = np.zeros(shape, np.float32)
    wht = np.zeros(shape, np.float32)
    con = np.zeros(shape, np.int32)
    inwht = ((model.dq & BAD) == 0).astype(np.float32)
    version, nmiss, nskip = ResampleData.drizzle_arrays(
        np.nan_to_num(model.data), inwht, model.meta.wcs, out.meta.wcs, sci, wht, con, uniqid=3,
        pixfrac=1.0, kernel="square", fillval="NaN")
    assert version.startswith("photoncal") and nskip == 0 and isinstance(nmiss, int)
    good = wht > 0
    assert np.allclose(wht, out.wht, rtol=1e-6)
    assert np.allclose(sci[good], out.data[good], rtol=1e-6)
    assert np.all(con[good] == 4)


def test_step_single_file_drizpars_and_names(cal, tmp_path):
    from photoncal.steps.resample import ResampleStep

    model, _ = cal
    path = model.save(str(tmp_path / "jw01_nrca1_cal.fits"))
    out = ResampleStep.call(str(path), reference_dir=data.reference_dir(), save_results=True,
                            output_dir=str(tmp_path))
    assert out.meta.ref_file.drizpars.name.endswith("drizpars.fits")
    assert (tmp_path / "jw01_nrca1_resample.fits").is_file()
    # DRIZPARS values apply to parameters left at their defaults; user values win
    table = np.array([(1, "ANY", 0.7, "turbo", "NAN", "exptime", 10)],
                     dtype=[("numimages", "<i4"), ("filter", "S40"), ("pixfrac", "<f4"), ("kernel", "S40"),
                            ("fillval", "S40"), ("wht_type", "S40"), ("stepsize", "<i4")])
    driz = datamodels.DrizParsModel()
    driz.drizpars_table = table
    driz.meta.instrument.name = "NIRCAM"
    dpath = driz.save(str(tmp_path / "mydrizpars.fits"))
    out = ResampleStep.call(str(path), override_drizpars=str(dpath))
    assert (out.meta.resample.pixfrac, out.meta.resample.kernel, out.meta.resample.weight_type) == (
        pytest.approx(0.7), "turbo", "exptime")
    out = ResampleStep.call(str(path), override_drizpars=str(dpath), kernel="square", pixfrac=1.0)
    assert (out.meta.resample.pixfrac, out.meta.resample.kernel, out.meta.resample.weight_type) == (
        1.0, "square", "exptime")


def test_step_tophat_kernel_is_the_drizzle_kernel(cal):
    """kernel='tophat' (not in drizzle 3.0): the step gives what the kernel gives on its pixel map.

    The kernel itself is checked against drizzle 1.15.3 in tests/kernels/test_drizzle_tophat.py.
    """
    from photoncal.kernels.drizzle import Drizzle
    from photoncal.steps.resample import ResampleStep
    from photoncal.wcs.pixmap import calc_pixmap

    model, _ = cal
    # half-size output pixels: the disc (radius pixfrac / 2 / 0.5 output pixels) leaves no holes
    out = ResampleStep.call(_copy(model), override_drizpars="N/A", kernel="tophat", pixfrac=1.0,
                            pixel_scale_ratio=0.5)
    assert out.meta.resample.kernel == "tophat"
    pixmap = calc_pixmap(model.meta.wcs, out.meta.wcs, model.data.shape)
    with np.errstate(divide="ignore"):
        weight = (1.0 / model.var_rnoise).astype(np.float32)
    weight[~np.isfinite(weight)] = 0.0
    weight[(model.dq & BAD) != 0] = 0.0
    ref = Drizzle(kernel="tophat", fillval="NaN", out_shape=out.data.shape)
    ref.add_image(np.nan_to_num(model.data), exptime=model.meta.exposure.exposure_time, pixmap=pixmap,
                  pixel_scale_ratio=out.meta.resample.pixel_scale_ratio, weight_map=weight, pixfrac=1.0)
    covered = ref.out_wht > 0
    assert covered.sum() > 0.6 * 4 * model.data.size
    assert np.array_equal(np.isnan(out.data), np.isnan(ref.out_img))
    assert np.allclose(out.wht, ref.out_wht, rtol=1e-5, atol=0)
    assert np.allclose(out.data[covered], ref.out_img[covered], rtol=1e-5, atol=1e-6 * np.nanmax(ref.out_img))
    assert np.array_equal(out.con, ref.out_ctx)
    # not weight conserving: a drop of radius 1 output pixel covers about pi output pixels
    ratio = out.wht.sum() / weight.sum()
    assert 2.8 < ratio < 3.5


def test_step_rejects_cubes_and_missing_wcs(cal):
    from photoncal.steps.resample import ResampleStep

    model, _ = cal
    cube = datamodels.CubeModel((2,) + model.data.shape)
    cube.meta.filename = "c_calints.fits"
    with pytest.raises(TypeError, match="2-D images"):
        ResampleStep.call(cube)
    bare = _copy(model)
    bare.meta.wcs = None
    with pytest.raises(ValueError, match="run assign_wcs"):
        ResampleStep.call(bare, override_drizpars="N/A")


def test_fast_imaging_pixmap_matches_gwcs(cal):
    from photoncal.resample import ResampleData
    from photoncal.resample._fast import imaging_pixmap
    from photoncal.wcs.pixmap import calc_pixmap

    model, _ = cal
    rd = ResampleData([_copy(model)], fillval="NAN", rotation=30.0, pscale_ratio=0.7)
    fast = imaging_pixmap(model.meta.wcs, rd.output_wcs, model.data.shape)
    slow = calc_pixmap(model.meta.wcs, rd.output_wcs, model.data.shape)
    assert fast is not None
    assert np.array_equal(np.isnan(fast), np.isnan(slow))
    assert np.nanmax(np.abs(fast - slow)) < 1e-6
    # a WCS of another structure is left to gwcs: a tangent-plane correction after v2v3
    from photoncal.wcs.tpcorr import apply_tweak_correction

    tweaked = apply_tweak_correction(model.meta.wcs, np.array([[1.0, 1e-4], [-1e-4, 1.0]]), [0.05, -0.02],
                                     {"v2_ref": model.meta.wcsinfo.v2_ref, "v3_ref": model.meta.wcsinfo.v3_ref,
                                      "roll_ref": model.meta.wcsinfo.roll_ref})
    assert imaging_pixmap(tweaked, rd.output_wcs, model.data.shape) is None
    # and a non-TAN output grid
    assert imaging_pixmap(model.meta.wcs, model.meta.wcs, model.data.shape) is None


def test_variance_accumulator_matches_combiner():
    from photoncal.kernels.drizzle import VarianceCombiner
    from photoncal.resample._fast import VarianceAccumulator

    rng = np.random.default_rng(5)
    shape = (30, 40)
    ours, ref = VarianceAccumulator(shape), VarianceCombiner(shape)
    for k in range(3):
        var = rng.uniform(0, 2, shape).astype(np.float32)
        var[rng.uniform(size=shape) < 0.1] = np.nan
        var[0, k] = -1.0
        weight = rng.uniform(0, 1, shape) if k != 1 else 2.5
        ours.add(var, weight)
        ref.add(var, weight)
    a, b = ours.result(scaling=0.8), ref.result(scaling=0.8)
    assert np.array_equal(np.isnan(a), np.isnan(b))
    assert np.allclose(a[np.isfinite(a)], b[np.isfinite(b)], rtol=1e-6)


def test_inverse_weighted_accumulation_equals_the_weight_array():
    from photoncal.resample._fast import VarianceAccumulator

    rng = np.random.default_rng(6)
    shape = (25, 33)
    fused, explicit = VarianceAccumulator(shape), VarianceAccumulator(shape)
    for k in range(3):
        var = rng.uniform(0, 2, shape).astype(np.float32)
        var[rng.uniform(size=shape) < 0.1] = np.nan
        rnoise = rng.uniform(0.01, 3, shape).astype(np.float32)
        rnoise[rng.uniform(size=shape) < 0.1] = np.nan
        rnoise[k, :5] = [0.0, -1.0, np.inf, 1e-30, 2.0]
        # the weight array of the ivm weighting: 1 / rnoise (float32) where finite and positive
        weight = np.zeros(shape, np.float64)
        good = np.isfinite(rnoise) & (rnoise > 0)
        weight[good] = 1.0 / rnoise[good]
        fused.add_inverse_weighted(var, rnoise)
        explicit.add(var, weight)
    a, b = fused.result(scaling=0.7), explicit.result(scaling=0.7)
    np.testing.assert_array_equal(a, b)
    assert np.isfinite(a).mean() > 0.9


def test_error_from_variances_is_the_root_of_the_nan_sum():
    from photoncal.resample._fast import error_from_variances

    rng = np.random.default_rng(7)
    shape = (20, 30)
    variances = [rng.uniform(0, 5, shape).astype(np.float32) for _ in range(3)]
    variances[0][rng.uniform(size=shape) < 0.3] = np.nan
    variances[1][rng.uniform(size=shape) < 0.3] = np.nan
    for v in variances:
        v[4, 5:9] = np.nan  # all NaN there
    stack = np.stack(variances)
    expected = np.sqrt(np.nansum(stack, axis=0)).astype(np.float32)
    expected[np.all(np.isnan(stack), axis=0)] = np.nan
    ours = error_from_variances(variances)
    np.testing.assert_array_equal(ours, expected)
    assert np.isnan(ours[4, 5:9]).all() and ours.dtype == np.float32
    np.testing.assert_array_equal(error_from_variances(variances[2:]), np.sqrt(variances[2]))


def test_drizzle_input_and_sigma_planes_are_the_numpy_expressions_bit_for_bit():
    from photoncal.kernels.drizzle import sigma_planes
    from photoncal.resample._fast import drizzle_input

    rng = np.random.default_rng(8)
    values = rng.normal(0, 3, (30, 20)).astype(np.float32) ** 3
    values[0, :8] = [np.nan, -np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-45, -1e-45]
    bits = lambda a: a.view(np.uint32)  # noqa: E731 - NaN payloads and signed zeros count too
    with np.errstate(invalid="ignore"):
        roots = np.stack([np.sqrt(values), np.sqrt(2 * values)])
    np.testing.assert_array_equal(bits(sigma_planes([values, 2 * values])), bits(roots))
    invalid = ~np.isfinite(values)
    for level in (None, 3.25):
        weight = rng.uniform(0.5, 1, values.shape).astype(np.float32)
        expected_weight = np.where(invalid, np.float32(0), weight)
        expected = np.where(invalid, np.float32(0.0), values)
        if level is not None:
            expected = expected - np.float32(level)
        out = np.empty((2,) + values.shape, np.float32)
        result = drizzle_input(values, weight, level, out=out[1])
        assert result is out[1] or np.shares_memory(result, out)
        np.testing.assert_array_equal(bits(out[1]), bits(expected))
        np.testing.assert_array_equal(weight, expected_weight)


def test_nan_without_do_not_use_gets_no_weight(cal):
    model, _ = cal
    m = _copy(model)
    yy, xx = np.nonzero(np.isfinite(m.data) & (m.dq == 0))
    y0, x0 = yy[len(yy) // 2], xx[len(xx) // 2]
    m.data[y0, x0] = np.nan  # not flagged: as a file from elsewhere might have it
    out = _resample([m], wht_type="exptime")
    ref = _resample([_copy(model)], wht_type="exptime")
    xo, yo = out.meta.wcs.invert(*model.meta.wcs(float(x0), float(y0)))
    near = (slice(int(yo) - 1, int(yo) + 2), slice(int(xo) - 1, int(xo) + 2))
    assert np.all(np.isfinite(out.data[near]))
    assert np.all(out.wht[near] < ref.wht[near] + 1e-6) and np.any(out.wht[near] < ref.wht[near] - 1e-3)
