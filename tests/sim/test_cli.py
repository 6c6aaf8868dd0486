"""The ``photoncal simulate`` command (add_arguments / run)."""

import argparse

import numpy as np
from astropy.io import fits

from photoncal.cli import simulate


def _run(argv):
    parser = simulate.add_arguments(argparse.ArgumentParser(prog="photoncal simulate"))
    return simulate.run(parser.parse_args(argv))


def test_single_exposure(tmp_path, capsys, photoncal_cache):
    code = _run(["--detector", "NRCB1", "--subarray", "SUB64P", "--ngroups", "3", "--seed", "4",
                 "--effects", "noiseless", "--without", "ipc", "--no-references", "-o", str(tmp_path)])
    assert code == 0
    (path,) = capsys.readouterr().out.split()
    assert path.endswith("_nrcb1_uncal.fits")
    header = fits.getheader(path)
    assert (header["NGROUPS"], header["SUBARRAY"]) == (3, "SUB64P")
    assert (tmp_path / path.split("/")[-1].replace("_uncal.fits", "_truth.asdf")).exists()
    from photoncal.sim import load_truth

    truth = load_truth(path)
    assert truth.effects["ipc"] is False and truth.effects["poisson"] is False
    assert truth.rate_ipc is None
    assert len(truth.cosmic_rays) == 0


def test_dither_and_references_only(tmp_path, capsys):
    code = _run(["--detector", "MIRIMAGE", "--subarray", "SUB64", "--ngroups", "4", "--dither", "2",
                 "--stars", "3", "--galaxies", "2", "--no-references", "-o", str(tmp_path)])
    assert code == 0
    lines = capsys.readouterr().out.split()
    assert len(lines) == 5 and lines[2].endswith(".ecsv") and lines[4].endswith("image3_00001_asn.json")
    with fits.open(lines[0]) as a, fits.open(lines[1]) as b:
        assert a[0].header["PATT_NUM"] == 1 and b[0].header["PATT_NUM"] == 2
        assert not np.array_equal(a["SCI"].data, b["SCI"].data)
    code = _run(["--references-only", "--detector", "MIRIMAGE", "--subarray", "SUB64", "--ngroups", "2",
                 "--reference-dir", str(tmp_path / "refs")])
    assert code == 0
    out = capsys.readouterr().out
    assert "photoncal_sim_v1_mirimage_mask.fits" in out
    assert "photoncal_sim_v1_mirimage_dark_sub64_fast.fits" in out


def test_bad_input_is_a_clear_error(tmp_path, capsys):
    assert _run(["--detector", "NRCX9", "-o", str(tmp_path)]) == 1
    assert "unknown detector 'NRCX9'" in capsys.readouterr().err
    assert _run(["--detector", "NRCA1", "--without", "sparkles", "-o", str(tmp_path)]) == 1
    assert "unknown effect 'sparkles'" in capsys.readouterr().err
    assert _run(["--detector", "NRCA1", "--readpatt", "DEEP8", "--ngroups", "40", "-o", str(tmp_path)]) == 1
    assert "at most 20 groups" in capsys.readouterr().err
