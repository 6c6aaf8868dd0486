"""calwebb_image3 end to end on a simulated dither set with a known truth."""

import os
import shutil
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.table import QTable, Table

from photoncal import datamodels
from photoncal.dqflags import pixel
from photoncal.pipeline.image3 import Image3Pipeline

import stage3_data as S3  # tests/steps, on pytest's pythonpath


@pytest.fixture(scope="module")
def calset():
    return S3.cal_set()


@pytest.fixture(scope="module")
def run(calset, tmp_path_factory):
    """One on-disk run with every product saved, aligned to the truth catalog (as to Gaia)."""
    out = tmp_path_factory.mktemp("image3")
    mosaic = Image3Pipeline.call(
        calset.image3_asn, output_dir=str(out), save_results=True, in_memory=False,
        reference_dir=S3.reference_dir(),
        steps={"tweakreg": {"abs_refcat": calset.catalog}, "skymatch": {"skystat": "median"}})
    return out, mosaic


def _product(calset):
    return calset.product_name


def test_products_are_named_from_the_association(run, calset):
    out, mosaic = run
    names = sorted(os.listdir(out))
    product = _product(calset)
    expected = [f"{product}_cat.ecsv", f"{product}_i2d.fits", f"{product}_segm.fits"]
    expected += [Path(p).name.replace("_cal.fits", "_o001_crf.fits") for p in calset.exposures]
    assert names == sorted(expected)
    assert mosaic.meta.filename == f"{product}_i2d.fits"


def test_exposures_are_aligned_to_5_mas(run, calset):
    out, _ = run
    for path, truth in zip(calset.exposures, calset.truths):
        crf = out / Path(path).name.replace("_cal.fits", "_o001_crf.fits")
        with datamodels.open(crf) as model:
            assert model.meta.cal_step.tweakreg == "COMPLETE"
            on = truth.sources[truth.sources["on_image"] & (truth.sources["type"] == "point")]
            ra, dec = model.meta.wcs(on["x"], on["y"])
            east = (ra - on["ra"]) * np.cos(np.deg2rad(on["dec"])) * 3.6e6
            north = (dec - on["dec"]) * 3.6e6
            assert np.sqrt(np.mean(east**2 + north**2)) < 5.0


def test_sky_offsets_recovered_to_1_percent(run, calset):
    out, _ = run
    levels, injected = [], []
    for path, truth in zip(calset.exposures, calset.truths):
        with datamodels.open(out / Path(path).name.replace("_cal.fits", "_o001_crf.fits")) as model:
            assert model.meta.cal_step.skymatch == "COMPLETE"
            assert model.meta.background.method == "match"
            levels.append(model.meta.background.level)
        injected.append(truth.sky_offset)
    levels, injected = np.array(levels), np.array(injected)
    sky = calset.truths[0].sky_background
    np.testing.assert_allclose(levels - levels[0], injected - injected[0], atol=0.01 * sky)


def test_cosmic_rays_flagged(run, calset):
    out, _ = run
    hits = total = false = good_total = 0
    for path, truth in zip(calset.exposures, calset.truths):
        with datamodels.open(out / Path(path).name.replace("_cal.fits", "_o001_crf.fits")) as crf, \
                datamodels.open(path) as cal:
            flagged = (crf.dq & pixel["OUTLIER"]) != 0
            cr = truth.cosmic_rays
            primary = cr[cr["primary"]]
            hits += flagged[primary["y"], primary["x"]].sum()
            total += len(primary)
            affected = np.zeros(flagged.shape, bool)
            affected[cr["y"], cr["x"]] = True
            good = (cal.dq == 0) & ~affected
            false += (flagged & good).sum()
            good_total += good.sum()
    assert hits / total >= 0.95
    assert false / good_total < 1e-3


def test_catalog_completeness_positions_and_fluxes(run, calset):
    out, mosaic = run
    cat = QTable.read(out / f"{_product(calset)}_cat.ecsv")
    truth = Table.read(calset.catalog)
    x, y = mosaic.meta.wcs.invert(np.asarray(truth["ra"]), np.asarray(truth["dec"]), with_bounding_box=False)
    ny, nx = mosaic.data.shape
    inside = np.isfinite(x) & (x > 10) & (x < nx - 10) & (y > 10) & (y < ny - 10)
    xi, yi = np.where(inside, np.round(x), 0).astype(int), np.where(inside, np.round(y), 0).astype(int)
    covered = inside & (mosaic.wht[yi, xi] > 0)
    noise = np.nanmedian(cat["aper_total_flux_err"].to_value(u.Jy))
    bright = covered & (truth["flux"] / noise > 10)
    ra, dec = cat["sky_centroid"].ra.deg, cat["sky_centroid"].dec.deg
    sep = np.hypot((ra[None] - truth["ra"][:, None]) * np.cos(np.deg2rad(truth["dec"][:, None])),
                   dec[None] - truth["dec"][:, None]) * 3.6e6
    nearest, dist = sep.argmin(axis=1), sep.min(axis=1)
    assert bright.sum() >= 30
    assert (dist[bright] < 100).mean() >= 0.95
    tt = np.hypot((truth["ra"][None] - truth["ra"][:, None]) * np.cos(np.deg2rad(truth["dec"][:, None])),
                  truth["dec"][None] - truth["dec"][:, None]) * 3600
    np.fill_diagonal(tt, 99)
    stars = bright & (truth["type"] == "point") & (tt.min(axis=1) > 1.5) & (dist < 100)
    assert stars.sum() >= 8
    assert dist[stars].max() < 10.0                          # mas
    ratio = cat["aper_total_flux"].to_value(u.Jy)[nearest[stars]] / truth["flux"][stars]
    assert abs(np.median(ratio) - 1) < 0.02
    assert np.all(np.abs(ratio - 1) < 0.05)


def test_mosaic_metadata_is_blended(run, calset):
    _, mosaic = run
    exptime = [datamodels.open(p).meta.exposure.exposure_time for p in calset.exposures]
    assert mosaic.meta.exposure.exposure_time == pytest.approx(sum(exptime))
    assert len(mosaic.hdrtab) == len(calset.exposures)
    assert list(mosaic.hdrtab["FILENAME"]) == [Path(p).name for p in calset.exposures]
    assert mosaic.meta.instrument.detector == "NRCA1"
    assert mosaic.meta.cal_step.resample == "COMPLETE"
    assert mosaic.meta.cal_step.outlier_detection == "COMPLETE"
    assert mosaic.meta.resample.pointings == len(calset.exposures)
    with datamodels.open(calset.exposures[0]) as first:
        start = min(datamodels.open(p).meta.exposure.start_time for p in calset.exposures)
        assert mosaic.meta.exposure.start_time == pytest.approx(start)
        assert mosaic.meta.observation.date == first.meta.observation.date


def test_a_single_exposure_is_resampled_and_cataloged(calset, tmp_path):
    mosaic = Image3Pipeline.call(calset.exposures[0], output_dir=str(tmp_path), save_results=True,
                                 reference_dir=S3.reference_dir())
    stem = Path(calset.exposures[0]).name.replace("_cal.fits", "")
    assert sorted(os.listdir(tmp_path)) == sorted([f"{stem}_i2d.fits", f"{stem}_cat.ecsv", f"{stem}_segm.fits"])
    assert mosaic.meta.cal_step.tweakreg is None
    assert mosaic.meta.cal_step.outlier_detection is None
    assert mosaic.meta.cal_step.resample == "COMPLETE"


def test_bad_inputs_are_refused(tmp_path):
    bad = tmp_path / "x.txt"
    bad.write_text("hello")
    with pytest.raises(ValueError, match="neither an association"):
        Image3Pipeline.call(str(bad))


@pytest.fixture(scope="module")
def small_set():
    return S3.cal_set(n_exposures=2, subarray="SUB320", n_stars=30, n_galaxies=5, cosmic_rays=10, seed=21)


def test_asn_from_list_output_drives_the_pipeline(small_set, tmp_path):
    from photoncal.associations import load_asn
    from photoncal.cli.asn_from_list import main as asn_from_list

    for path in small_set.exposures:
        shutil.copyfile(path, tmp_path / Path(path).name)
    names = [str(tmp_path / Path(p).name) for p in small_set.exposures]
    asn_path = tmp_path / "l3_asn.json"
    assert asn_from_list(["-o", str(asn_path), "--product-name", "l3_results", *names]) == 0
    assert load_asn(str(asn_path))["products"][0]["name"] == "l3_results"
    Image3Pipeline.call(str(asn_path), save_results=True, output_dir=str(tmp_path / "out"),
                        reference_dir=S3.reference_dir(), steps={"tweakreg": {"minobj": 5}})
    products = sorted(os.listdir(tmp_path / "out"))
    assert "l3_results_i2d.fits" in products and "l3_results_cat.ecsv" in products
    assert sum(n.endswith("_crf.fits") for n in products) == 2


def test_asn_generate_output_drives_the_pipeline(small_set, tmp_path):
    from astropy.io import fits

    from photoncal.associations import load_asn, pool_from_headers
    from photoncal.cli.asn_generate import main as asn_generate

    for path in small_set.exposures:
        shutil.copyfile(path, tmp_path / Path(path).name)
    headers = [fits.getheader(tmp_path / Path(p).name) for p in small_set.exposures]
    pool = pool_from_headers(headers)
    pool_path = tmp_path / "jw01234_pool.csv"
    pool.write(str(pool_path))
    assert asn_generate([str(pool_path), "-p", str(tmp_path)]) == 0
    image3 = [n for n in os.listdir(tmp_path) if "image3" in n and n.endswith("_asn.json")]
    assert len(image3) == 1
    asn = load_asn(str(tmp_path / image3[0]))
    assert sorted(m["expname"] for m in asn["products"][0]["members"]) == \
        sorted(Path(p).name for p in small_set.exposures)
    mosaic = Image3Pipeline.call(str(tmp_path / image3[0]), save_results=True,
                                 output_dir=str(tmp_path / "out"), reference_dir=S3.reference_dir(),
                                 steps={"tweakreg": {"minobj": 5}})
    assert mosaic.meta.filename == asn["products"][0]["name"] + "_i2d.fits"
    assert os.path.exists(tmp_path / "out" / mosaic.meta.filename)


def test_in_memory_and_on_disk_give_the_same_mosaic(small_set):
    kwargs = {"reference_dir": S3.reference_dir(), "steps": {"tweakreg": {"minobj": 5}}}
    disk = Image3Pipeline.call(small_set.image3_asn, in_memory=False, **kwargs)
    memory = Image3Pipeline.call(small_set.image3_asn, in_memory=True, **kwargs)
    np.testing.assert_allclose(memory.data, disk.data, rtol=1e-6, atol=1e-7, equal_nan=True)
    np.testing.assert_array_equal(memory.wht > 0, disk.wht > 0)
    assert memory.meta.cal_step.outlier_detection == disk.meta.cal_step.outlier_detection == "COMPLETE"


def test_strun_runs_the_pipeline(small_set, tmp_path):
    from photoncal.cli.strun import main as strun

    for path in small_set.exposures:
        shutil.copyfile(path, tmp_path / Path(path).name)
    shutil.copyfile(small_set.image3_asn, tmp_path / "asn.json")
    status = strun(["calwebb_image3", str(tmp_path / "asn.json"), f"--output_dir={tmp_path / 'out'}",
                    f"--reference_dir={S3.reference_dir()}", "--steps.tweakreg.minobj=5",
                    "--steps.outlier_detection.snr=6.0 5.0"])
    assert status == 0
    assert f"{small_set.product_name}_i2d.fits" in os.listdir(tmp_path / "out")
