"""Level 2 and level 3 formats: round trips, load_asn, schema validation errors."""

from __future__ import annotations

import copy
import io
import json
import warnings

import pytest
import yaml

from photoncal.associations import (
    AssociationError,
    AssociationNotValidError,
    AssociationRegistry,
    load_asn,
    validate_asn,
)
from photoncal.associations.schema import asn_level, schema_errors, load_schema

LEVEL2 = {
    "asn_rule": "Asn_Lv2Spec",
    "asn_pool": "jw82600_001_20160304T145416_pool",
    "program": "82600",
    "asn_type": "spec2",
    "products": [
        {"name": "test_lrs1", "members": [{"expname": "test_lrs1_rate.fits", "exptype": "science"}]},
        {
            "name": "test_lrs2",
            "members": [
                {"expname": "test_lrs2_rate.fits", "exptype": "science"},
                {"expname": "test_lrs2bkg_rate.fits", "exptype": "background"},
            ],
        },
    ],
}

LEVEL3 = {
    "degraded_status": "No known degraded exposures in association.",
    "version_id": "20160826t131159",
    "asn_type": "image3",
    "asn_id": "c3001",
    "constraints": "Constraints:\n    opt_elem: F090W",
    "asn_pool": "mega_pool",
    "asn_rule": "Asn_Image",
    "target": "1",
    "program": "99009",
    "products": [
        {
            "name": "jw99009-a3001_t001_nircam_f090w",
            "members": [
                {
                    "exposerr": None,
                    "expname": "jw_00001_cal.fits",
                    "asn_candidate": "[('o001', 'observation')]",
                    "exptype": "science",
                },
                {"expname": "jw_00002_cal.fits", "exptype": "psf"},
            ],
        }
    ],
}


@pytest.mark.parametrize("asn, level", [(LEVEL2, 2), (LEVEL3, 3)])
def test_json_round_trip_through_a_file(tmp_path, asn, level):
    path = tmp_path / f"level{level}_asn.json"
    path.write_text(json.dumps(asn, indent=4))
    assert asn_level(asn) == level
    loaded = load_asn(path)
    assert loaded == asn
    assert isinstance(loaded, dict)
    # string path, open file and text give the same
    assert load_asn(str(path)) == asn
    with open(path) as stream:
        assert load_asn(stream) == asn
    assert load_asn(path.read_text()) == asn
    assert loaded["products"][0]["members"][0]["expname"] == asn["products"][0]["members"][0]["expname"]


@pytest.mark.parametrize("asn", [LEVEL2, LEVEL3])
def test_yaml_round_trip(tmp_path, asn):
    path = tmp_path / "asn.yaml"
    path.write_text(yaml.safe_dump(asn))
    assert load_asn(path) == asn
    assert load_asn(path, format="yaml") == asn


def test_registry_validation_accepts_both_levels():
    registry = AssociationRegistry()
    assert load_asn(io.StringIO(json.dumps(LEVEL3)), registry=registry) == LEVEL3
    assert load_asn(json.dumps(LEVEL2), registry=registry) == LEVEL2


def _bad(asn, mutate):
    broken = copy.deepcopy(asn)
    mutate(broken)
    return broken


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda a: a.pop("products"), r"\(top level\): missing required field 'products'"),
        (
            lambda a: a["products"][0]["members"][1].pop("exptype"),
            r"products\[0\]\.members\[1\]: missing required field 'exptype'",
        ),
        (
            lambda a: a["products"][0]["members"][0].__setitem__("expname", 17),
            r"products\[0\]\.members\[0\]\.expname: expected string, got int 17",
        ),
        (lambda a: a.__setitem__("version_id", 5), r"version_id: expected string or null, got int"),
        (lambda a: a["products"][0].__setitem__("members", []), r"members: needs at least 1"),
        (lambda a: a.__setitem__("products", {}), r"products: expected array, got dict"),
        (
            lambda a: [m.__setitem__("exptype", "psf") for m in a["products"][0]["members"]],
            r"at least one member with exptype 'science'",
        ),
    ],
)
def test_level3_errors_name_file_and_field(tmp_path, mutate, message):
    path = tmp_path / "broken_asn.json"
    path.write_text(json.dumps(_bad(LEVEL3, mutate)))
    with pytest.raises(AssociationNotValidError, match=message) as info:
        load_asn(path)
    assert "broken_asn.json" in str(info.value)
    assert "level 3" in str(info.value)


def test_level2_product_needs_exactly_one_science(tmp_path):
    def two_science(asn):
        asn["products"][1]["members"][1]["exptype"] = "science"

    path = tmp_path / "l2_asn.json"
    path.write_text(json.dumps(_bad(LEVEL2, two_science)))
    with pytest.raises(
        AssociationNotValidError, match=r"(?s)l2_asn.json.*products\[1\]: a level 2 product needs exactly one"
    ):
        load_asn(path)


def test_every_problem_is_reported():
    asn = _bad(LEVEL3, lambda a: (a.pop("asn_type"), a["products"][0]["members"][0].pop("expname"),
                                  a["products"][0]["members"][1].pop("exptype")))
    with pytest.raises(AssociationNotValidError) as info:
        validate_asn(asn, source="x_asn.json")
    text = str(info.value)
    assert "members[0]: missing required field 'expname'" in text
    assert "members[1]: missing required field 'exptype'" in text


def test_not_json_names_file_and_position(tmp_path):
    path = tmp_path / "trailing_asn.json"
    path.write_text('{"products": [}\n')
    with pytest.raises(AssociationNotValidError, match=r"trailing_asn.json: .*line 1, column 15"):
        load_asn(path, format="json")
    with pytest.raises(AssociationNotValidError, match=r"trailing_asn.json"):
        load_asn(path)


def test_missing_file():
    with pytest.raises(AssociationError, match="no_such_asn.json.*does not exist"):
        load_asn("no_such_asn.json")


@pytest.mark.parametrize(
    "expname, problem",
    [("/abs/path/a_cal.fits", "absolute"), ("../a_cal.fits", "parent directory"), ("sub/a_cal.fits", "directory")],
)
def test_member_paths_warn(expname, problem):
    asn = copy.deepcopy(LEVEL3)
    asn["products"][0]["members"][0]["expname"] = expname
    with pytest.warns(UserWarning, match=problem):
        validate_asn(asn, source="paths_asn.json")


def test_plain_names_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert validate_asn(LEVEL3) == 3
        assert validate_asn(LEVEL2) == 2


def test_schema_subset_checker():
    schema = load_schema(2)
    assert schema_errors(LEVEL2, schema) == []
    assert schema_errors({"products": [{"name": ""}]}, schema) == [
        "products[0]: missing required field 'members'",
        "products[0].name: must not be empty",
    ]
    any_of = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert schema_errors(None, any_of) == []
    assert "matches none" in schema_errors(3, any_of)[0]
