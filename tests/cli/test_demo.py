"""The demo end to end: simulate, stages 1-3, and its accuracy against the truth."""

import json

import pytest

from photoncal.cli.main import main


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PHOTONCAL_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_demo_runs_every_stage_and_meets_the_truth(private_cache, capsys):
    out = private_cache / "demo"
    assert main(["demo", "-o", str(out), "--seed", "2"]) == 0
    printed = capsys.readouterr().out
    assert "Catalog:" in printed and "Pipeline log:" in printed
    names = sorted(p.name for p in out.iterdir())
    for suffix in ("_uncal.fits", "_rate.fits", "_cal.fits", "_crf.fits", "_i2d.fits", "_cat.ecsv",
                   "_segm.fits", "_asn.json"):
        assert any(n.endswith(suffix) for n in names), suffix
    assert sum(n.endswith("_cal.fits") for n in names) == 4
    log = (out / "demo.log").read_text()
    assert "Step calwebb_image3 done" in log and "Traceback" not in log

    result = json.loads((out / "demo_summary.json").read_text())
    rate, crs, cat = result["rate"], result["cosmic_rays"], result["catalog"]
    assert rate["pixels"] > 1_000_000
    assert abs(rate["median_relative_error"]) < 0.01
    assert abs(rate["mean_difference"]) < 5e-4 and 0 < rate["mean_difference_error"] < 1e-4  # DN/s, sky ~0.08
    assert 0.95 < rate["normalized_scatter"] < 1.1
    assert crs["n_above_10_sigma"] > 1000 and crs["found_fraction"] > 0.99
    assert cat["n_truth"] >= 30 and cat["completeness"] >= 0.9
    assert cat["astrometric_rms_mas"] < 5.0
    assert abs(cat["flux_ratio_median"] - 1.0) < 0.03
    assert set(result["times"]) == {"simulate", "stage 1", "stage 2", "stage 3"}


def test_demo_reports_bad_options_in_one_line(private_cache, capsys):
    assert main(["demo", "-o", str(private_cache / "bad"), "--detector", "NRCZ9"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("photoncal demo: error:") and "NRCZ9" in err[0]


def test_roman_demo(private_cache, capsys):
    out = private_cache / "roman"
    assert main(["demo", "--roman", "--size", "248", "-o", str(out), "--seed", "4"]) == 0
    assert "Catalog:" in capsys.readouterr().out
    result = json.loads((out / "demo_summary.json").read_text())
    assert {"uncal.asdf", "cal.asdf", "cat.ecsv", "segm.asdf"} <= set(result["products"])
    assert result["rate"]["pixels"] > 50_000
    assert abs(result["rate"]["median_relative_error"]) < 0.005
    assert 0.95 < result["rate"]["normalized_scatter"] < 1.1
    assert result["cosmic_rays"]["n_above_10_sigma"] > 20 and result["cosmic_rays"]["found_fraction"] > 0.95
