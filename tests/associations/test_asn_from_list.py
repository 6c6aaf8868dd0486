"""asn_from_list: level 2 and level 3 associations from files, API and command."""

from __future__ import annotations

import json

import pytest

from photoncal.associations import (
    AssociationError,
    AssociationNotValidError,
    asn_from_list,
    load_asn,
    validate_asn,
)
from photoncal.cli.asn_from_list import main


def test_level3_api():
    asn = asn_from_list(["a_cal.fits", "b_cal.fits"], product_name="l3_results")
    name, text = asn.dump()
    data = json.loads(text)
    assert data["asn_rule"] == "DMS_Level3_Base"
    assert data["products"] == [
        {
            "name": "l3_results",
            "members": [
                {"expname": "a_cal.fits", "exptype": "science"},
                {"expname": "b_cal.fits", "exptype": "science"},
            ],
        }
    ]
    assert validate_asn(data) == 3
    with pytest.raises(AssociationNotValidError, match="needs a product name"):
        asn_from_list(["a_cal.fits"])


def test_level3_with_exptypes():
    asn = asn_from_list(
        [("sci_calints.fits", "science"), ("ref_calints.fits", "psf")],
        product_name="jw99999-o001_t14_nircam_f182m-mask210r",
        with_exptype=True,
    )
    members = asn["products"][0]["members"]
    assert [(m["expname"], m["exptype"]) for m in members] == [
        ("sci_calints.fits", "science"),
        ("ref_calints.fits", "psf"),
    ]


def test_level2_api():
    asn = asn_from_list(
        ["jw99999001001_011001_00001_nirspec_rate.fits", "b_rate.fits"], rule="DMSLevel2bBase"
    )
    data = json.loads(asn.dump()[1])
    assert [p["name"] for p in data["products"]] == ["jw99999001001_011001_00001_nirspec", "b"]
    assert [p["members"] for p in data["products"]] == [
        [{"expname": "jw99999001001_011001_00001_nirspec_rate.fits", "exptype": "science"}],
        [{"expname": "b_rate.fits", "exptype": "science"}],
    ]
    assert data["asn_id"] == "o999"
    assert validate_asn(data) == 2
    background = asn_from_list(["a_rate.fits"], rule="DMSLevel2bBase", acid="c1001")
    assert background["asn_id"] == "c1001"
    with pytest.raises(AssociationError, match="invalid association candidate id 'x12'"):
        asn_from_list(["a_rate.fits"], rule="DMSLevel2bBase", acid="x12")
    with pytest.raises(AssociationError, match="unknown rule 'Nope'"):
        asn_from_list(["a_rate.fits"], rule="Nope")


def test_cli_level3_and_level2(tmp_path, capsys):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    files = [str(data_dir / f"jw0000{i}_cal.fits") for i in (1, 2, 3)]
    out = data_dir / "l3_asn.json"
    assert main(["-o", str(out), "--product-name", "l3_results", *files]) == 0
    asn = load_asn(out)
    assert asn["products"][0]["name"] == "l3_results"
    # members are plain names, relative to the association
    assert [m["expname"] for m in asn["products"][0]["members"]] == [
        "jw00001_cal.fits",
        "jw00002_cal.fits",
        "jw00003_cal.fits",
    ]
    assert "wrote" in capsys.readouterr().out

    out2 = data_dir / "l2_asn.json"
    rates = [str(data_dir / "x_rate.fits"), str(data_dir / "y_rate.fits")]
    assert main(["-o", str(out2), "-r", "DMSLevel2bBase", "-i", "o003", *rates]) == 0
    asn2 = load_asn(out2)
    assert [p["name"] for p in asn2["products"]] == ["x", "y"]
    assert asn2["asn_id"] == "o003"

    out3 = data_dir / "l3_asn.yaml"
    assert main(["-o", str(out3), "--format", "yaml", "--product-name", "p", *files[:1]]) == 0
    assert load_asn(out3)["products"][0]["name"] == "p"
    # nothing but the three association files was written
    assert sorted(p.name for p in data_dir.iterdir()) == ["l2_asn.json", "l3_asn.json", "l3_asn.yaml"]


def test_cli_member_outside_the_association_directory(tmp_path, caplog):
    out_dir = tmp_path / "asn"
    out_dir.mkdir()
    elsewhere = tmp_path / "elsewhere" / "a_cal.fits"
    assert main(["-o", str(out_dir / "x_asn.json"), "--product-name", "x", str(elsewhere)]) == 0
    asn = load_asn(out_dir / "x_asn.json")
    assert asn["products"][0]["members"][0]["expname"] == "a_cal.fits"


def test_cli_errors(tmp_path, capsys):
    assert main(["-o", str(tmp_path / "x_asn.json"), "a_cal.fits"]) == 1
    assert "needs --product-name" in capsys.readouterr().err
    assert main(["-o", str(tmp_path / "x_asn.json"), "-r", "Nope", "a.fits"]) == 1
    assert "unknown rule 'Nope'" in capsys.readouterr().err
    assert main(["-o", str(tmp_path / "no_dir" / "x_asn.json"), "--product-name", "p", "a.fits"]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main([]) == 2  # usage error from argparse
    assert main(["--help"]) == 0
    assert not (tmp_path / "x_asn.json").exists()
