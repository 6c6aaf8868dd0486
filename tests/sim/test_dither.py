"""Dithered observations: commanded vs true pointing, sky offsets, catalog, associations."""

import json
import math

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from photoncal.associations import load_asn
from photoncal.sim import Attitude, Effects, simulate_dither_set
from photoncal.sim.instruments import get_detector


@pytest.fixture(scope="module")
def dither(tmp_path_factory, photoncal_cache):
    out = tmp_path_factory.mktemp("dither")
    return simulate_dither_set(3, detectors=["NRCA1", "NRCA3"], subarray="SUB160", ngroups=3,
                               effects=Effects(cosmic_rays=True), pointing_error=0.08,
                               roll_error=0.002, seed=3, output_dir=out, write_references=False,
                               n_stars=10, n_galaxies=10)


def test_files_and_numbering(dither):
    assert len(dither.exposures) == 6
    names = [p.split("/")[-1] for p in dither.exposures]
    assert names[0] == "jw01234001001_01101_00001_nrca1_uncal.fits"
    assert names[1] == "jw01234001001_01101_00001_nrca3_uncal.fits"
    assert names[5] == "jw01234001001_01101_00003_nrca3_uncal.fits"
    for k, path in enumerate(dither.exposures):
        header = fits.getheader(path)
        assert header["PATT_NUM"] == k // 2 + 1
        assert header["NUMDTHPT"] == 3


def test_commanded_pointing_follows_the_dither_and_true_pointing_has_small_errors(dither):
    truths = dither.truths
    det = get_detector("NRCA1")
    base = Attitude(**truths[0].commanded_pointing)
    for k in range(0, 6, 2):
        truth = truths[k]
        header = fits.getheader(dither.exposures[k], "SCI")
        cmd = truth.commanded_pointing
        assert header["RA_REF"] == pytest.approx(cmd["ra_ref"], abs=1e-12)
        assert header["ROLL_REF"] == pytest.approx(cmd["roll_ref"], abs=1e-12)
        dx, dy = truth.dither_offset
        assert fits.getval(dither.exposures[k], "XOFFSET") == pytest.approx(dx)
        # The sky moved by the dither offset: a source at the base reference point
        # now sits at V2/V3 = reference + offset (ideal -> V2/V3 rotation).
        ang = math.radians(det.v3_idl_yang)
        dv2 = det.vparity * dx * math.cos(ang) + dy * math.sin(ang)
        dv3 = -det.vparity * dx * math.sin(ang) + dy * math.cos(ang)
        v2, v3 = Attitude(**cmd).v2v3(base.ra_ref, base.dec_ref)
        assert v2 - cmd["v2_ref"] == pytest.approx(dv2, abs=1e-6)
        assert v3 - cmd["v3_ref"] == pytest.approx(dv3, abs=1e-6)
        err = truth.pointing_error
        assert math.hypot(err["d_east"], err["d_north"]) <= 0.08
        assert abs(err["d_roll"]) <= 0.002
        true = truth.true_pointing
        d_north = (true["dec_ref"] - cmd["dec_ref"]) * 3600
        d_east = (true["ra_ref"] - cmd["ra_ref"]) * 3600 * math.cos(math.radians(true["dec_ref"]))
        assert (d_east, d_north) == pytest.approx((err["d_east"], err["d_north"]), abs=1e-6)
    offsets = [t.dither_offset for t in truths[::2]]
    assert len(set(offsets)) == 3


def test_detectors_of_one_exposure_share_the_attitude(dither):
    a, b = dither.truths[2], dither.truths[3]
    for key in ("commanded_pointing", "true_pointing"):
        ma = Attitude(**getattr(a, key)).matrix
        mb = Attitude(**getattr(b, key)).matrix
        np.testing.assert_allclose(ma, mb, atol=1e-12)
    assert a.pointing_error == b.pointing_error
    assert a.sky_offset == b.sky_offset


def test_sky_offsets_are_recorded(dither):
    skies = [t.sky_background for t in dither.truths[::2]]
    offsets = [t.sky_offset for t in dither.truths[::2]]
    assert offsets[0] == 0.0
    assert any(o != 0.0 for o in offsets[1:])
    base = skies[0]
    for sky, off in zip(skies, offsets):
        assert sky == pytest.approx(base + off)
        assert abs(off) <= 0.05 * base + 1e-12


def test_truth_catalog(dither):
    table = Table.read(dither.catalog, format="ascii.ecsv")
    for column in ("id", "ra", "dec", "flux", "abmag", "type"):
        assert column in table.colnames
    assert str(table["flux"].unit) == "Jy"
    np.testing.assert_allclose(table["abmag"], -2.5 * np.log10(table["flux"] / 3631.0))
    assert set(table["type"]) == {"point", "sersic"}
    assert len(table) == 40
    # Every source a truth places on an image is in the catalog, at its position.
    by_id = {int(r["id"]): r for r in table}
    seen = 0
    for truth in dither.truths:
        for s in truth.sources[truth.sources["on_image"]]:
            row = by_id[int(s["id"])]
            assert s["ra"] == pytest.approx(row["ra"], abs=1e-12)
            seen += 1
    assert seen > 10


def test_associations(dither):
    with open(dither.image2_asn) as handle:
        asn2 = load_asn(handle)
    with open(dither.image3_asn) as handle:
        asn3 = load_asn(handle)
    assert asn2["asn_type"] == "image2"
    assert len(asn2["products"]) == 6
    member = asn2["products"][0]["members"][0]
    assert member["expname"] == "jw01234001001_01101_00001_nrca1_rate.fits"
    assert member["exptype"] == "science"
    assert asn3["asn_type"] == "image3"
    (product,) = asn3["products"]
    assert product["name"] == "jw01234-o001_t001_nircam_clear-f200w"
    assert [m["expname"] for m in product["members"]] == [
        p.split("/")[-1].replace("_uncal", "_cal") for p in dither.exposures]
    assert json.load(open(dither.image3_asn))["program"] == "01234"
