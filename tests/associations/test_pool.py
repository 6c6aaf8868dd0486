"""Pools: reading and writing the DMS table format, and pools from headers."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from photoncal.associations import AssociationError, AssociationPool, pool_from_headers


def test_read_lowercases_names_and_values(imaging_pool_path):
    pool = AssociationPool.read(imaging_pool_path)
    assert len(pool) == 9
    assert pool.colnames[:3] == ["filename", "program", "obs_num"]
    assert pool["exp_type"][0] == "nrc_image"
    assert pool["filter"][3] == "f150w"
    # every value is a string, numbers included
    assert pool["program"][0] == "99009" and pool["obs_num"].dtype.kind == "U"
    assert pool["asn_candidate"][0] == "[('o001', 'observation'), ('c1000', 'mosaic')]"
    assert pool.meta["pool_file"] == str(imaging_pool_path)


def test_read_keeps_filename_case_and_fills_empty_cells(tmp_path):
    path = tmp_path / "pool.csv"
    path.write_text("FILENAME|EXP_TYPE|FILTER\nMixed_Case_rate.fits|NRC_IMAGE|\nb_rate.fits||F090W\n")
    pool = AssociationPool.read(path)
    assert list(pool["filename"]) == ["Mixed_Case_rate.fits", "b_rate.fits"]
    assert list(pool["filter"]) == ["null", "f090w"]
    assert list(pool["exp_type"]) == ["nrc_image", "null"]


def test_write_read_round_trip(imaging_pool_path, tmp_path):
    pool = AssociationPool.read(imaging_pool_path)
    out = tmp_path / "copy_pool.csv"
    pool.write(out)
    text = out.read_text()
    assert text.splitlines()[0].startswith("filename|program|obs_num")
    again = AssociationPool.read(out)
    assert again.colnames == pool.colnames
    for name in pool.colnames:
        assert list(again[name]) == list(pool[name])
    # no temporary files left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [imaging_pool_path.name, "copy_pool.csv"]
    )


def test_read_errors_name_the_file(tmp_path):
    with pytest.raises(AssociationError, match="no_such_pool.csv.*does not exist"):
        AssociationPool.read(tmp_path / "no_such_pool.csv")
    bad = tmp_path / "bad_pool.csv"
    bad.write_text("PROGRAM|EXP_TYPE\n99009|NRC_IMAGE\n")
    with pytest.raises(AssociationError, match="bad_pool.csv.*no FILENAME column"):
        AssociationPool.read(bad)
    comma = tmp_path / "comma_pool.csv"
    comma.write_text("FILENAME,EXP_TYPE\na.fits,NRC_IMAGE\n")
    with pytest.raises(AssociationError, match="comma_pool.csv.*1 column"):
        AssociationPool.read(comma)


def _header(filename, observation, filt, target="NGC-1", **extra):
    header = {
        "FILENAME": filename,
        "PROGRAM": "01234",
        "OBSERVTN": observation,
        "VISIT": "001",
        "EXPOSURE": "1",
        "INSTRUME": "NIRCAM",
        "DETECTOR": "NRCA1",
        "FILTER": filt,
        "PUPIL": "CLEAR",
        "EXP_TYPE": "NRC_IMAGE",
        "SUBARRAY": "FULL",
        "TARGNAME": target,
        "TSOVISIT": False,
    }
    header.update(extra)
    return header


def test_pool_from_headers_fills_non_header_columns():
    headers = [
        _header("/data/sim/jw01234001001_02101_00001_nrca1_rate.fits", "001", "F090W"),
        _header("jw01234002001_02101_00001_nrca1_rate.fits", "002", "F150W", target="NGC-2"),
        _header("jw01234002001_02101_00002_nrca1_rate.fits", "002", "F150W"),
    ]
    pool = pool_from_headers(headers, asn_candidates=[("c1000", "mosaic")], pool_file="sim_pool.csv")
    assert pool.colnames[0] == "filename"
    assert list(pool["filename"]) == [
        "jw01234001001_02101_00001_nrca1_rate.fits",
        "jw01234002001_02101_00001_nrca1_rate.fits",
        "jw01234002001_02101_00002_nrca1_rate.fits",
    ]
    assert list(pool["asn_candidate"]) == [
        "[('o001', 'observation'), ('c1000', 'mosaic')]",
        "[('o002', 'observation'), ('c1000', 'mosaic')]",
        "[('o002', 'observation'), ('c1000', 'mosaic')]",
    ]
    assert list(pool["obs_num"]) == ["001", "002", "002"]
    # targets numbered in order of first appearance of TARGNAME
    assert list(pool["targetid"]) == ["1", "2", "1"]
    assert list(pool["pntgtype"]) == ["science"] * 3
    assert list(pool["tsovisit"]) == ["f"] * 3
    assert list(pool["filter"]) == ["f090w", "f150w", "f150w"]
    assert pool.meta["pool_file"] == "sim_pool.csv"


def test_pool_from_headers_accepts_fits_headers_and_missing_keywords():
    header = fits.Header()
    header["FILENAME"] = "a_rate.fits"
    header["OBSERVTN"] = "7"
    header["EXP_TYPE"] = "NRC_IMAGE"
    header["BKGDTARG"] = True
    other = {"FILENAME": "b_rate.fits", "OBSERVTN": "7", "EXP_TYPE": "NRC_IMAGE", "IS_PSF": True}
    pool = pool_from_headers([header, other])
    assert list(pool["bkgdtarg"]) == ["t", "null"]
    assert list(pool["is_psf"]) == ["null", "t"]
    assert pool["asn_candidate"][0] == "[('o007', 'observation')]"
    assert np.all(pool["targetid"] == "1")


def test_pool_from_headers_errors():
    with pytest.raises(AssociationError, match="header 1 has no FILENAME"):
        pool_from_headers([_header("a_rate.fits", "001", "F090W"), {"OBSERVTN": "1"}])
    with pytest.raises(AssociationError, match=r"header 0 \(a_rate.fits\) has neither OBSERVTN"):
        pool_from_headers([{"FILENAME": "a_rate.fits"}])
    with pytest.raises(AssociationError, match="not an \\(id, type\\) pair"):
        pool_from_headers([_header("a_rate.fits", "001", "F090W")], asn_candidates=["c1000"])
    with pytest.raises(AssociationError, match="at least one header"):
        pool_from_headers([])
