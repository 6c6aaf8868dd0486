"""The registry: default rules, rule files as data, errors that name file and rule."""

from __future__ import annotations

import json
import types

import pytest

from photoncal.associations import (
    AssociationError,
    AssociationPool,
    AssociationRegistry,
    DMS_Level3_Base,
    RegistryMarker,
    generate,
)

from .conftest import write_pool

LEVEL2_RULES = {
    "Asn_Lv2Image", "Asn_Lv2ImageNonScience", "Asn_Lv2ImageSpecial", "Asn_Lv2ImageTSO", "Asn_Lv2FGS",
    "Asn_Lv2WFSC",
}
LEVEL3_RULES = {"Asn_Lv3Image", "Asn_Lv3ImageMosaic", "Asn_Lv3ImageBackground", "Asn_Lv3AMI", "Asn_Lv3MIRCoron"}


def test_default_rules():
    registry = AssociationRegistry()
    assert set(registry) == LEVEL2_RULES | LEVEL3_RULES
    assert registry["Asn_Lv3Image"].rule_name() == "Asn_Lv3Image"
    assert registry["Asn_Lv3Image"]().asn_rule == "Asn_Lv3Image"
    assert set(AssociationRegistry(["level2"], include_default=False)) == LEVEL2_RULES
    assert set(AssociationRegistry(["jwst.associations.lib.rules_level3"], include_default=False)) == LEVEL3_RULES


def test_named_registry_prefixes_keys_but_not_rule_names():
    registry = AssociationRegistry(name="candidate")
    assert "candidate_Asn_Lv2Image" in registry
    rule = registry["candidate_Asn_Lv2Image"]
    assert rule.ruleset == "candidate" and rule().asn_rule == "Asn_Lv2Image"
    merged = AssociationRegistry(name="candidate")
    merged.update(AssociationRegistry(name="discover"))
    assert len(merged) == 2 * len(registry)


def test_include_bases():
    registry = AssociationRegistry(include_bases=True)
    assert "DMSLevel2bBase" in registry and "DMS_Level3_Base" in registry


def test_python_rule_files_are_refused(tmp_path):
    rules = tmp_path / "myrules.py"
    rules.write_text("raise SystemExit('executed!')\n")
    with pytest.raises(AssociationError, match=r"myrules.py.*Python rule files are not loaded"):
        AssociationRegistry([rules])


def test_unknown_rule_set_and_missing_file(tmp_path):
    with pytest.raises(AssociationError, match="'my.module.rules'.*expected a rule file"):
        AssociationRegistry(["my.module.rules"])
    with pytest.raises(AssociationError, match="nothere.yaml.*does not exist"):
        AssociationRegistry([tmp_path / "nothere.yaml"])
    with pytest.raises(AssociationError, match="no rules"):
        AssociationRegistry(include_default=False)


@pytest.mark.parametrize(
    "definition, message",
    [
        ({"base": "DMS_Level3_Base", "asn_type": "image3"}, "missing required key 'constraints'"),
        (
            {"base": "Nope", "asn_type": "image3", "constraints": {"attr": "filter"}},
            "unknown base 'Nope'",
        ),
        (
            {"base": "DMS_Level3_Base", "asn_type": "image3", "constraints": {"attr": "filter", "vlaue": "x"}},
            r"unknown key\(s\) \['vlaue'\]",
        ),
        (
            {"base": "DMS_Level3_Base", "asn_type": "image3", "constraints": {"use": "no_block"}},
            "no constraint block named 'no_block'",
        ),
        (
            {"base": "DMS_Level3_Base", "asn_type": "image3", "constraints": {"attr": "filter", "value": "f0(9"}},
            "not a valid regular expression",
        ),
        (
            {"base": "DMS_Level3_Base", "asn_type": "image3", "constraints": {"computed": "magic"}},
            "unknown computed value 'magic'",
        ),
        (
            {"base": "DMS_Level3_Base", "asn_type": "image3", "color": "red", "constraints": {"attr": "x"}},
            r"unknown key\(s\) \['color'\]",
        ),
    ],
)
def test_bad_rule_definitions_name_file_and_rule(tmp_path, definition, message):
    path = tmp_path / "bad_rules.json"
    path.write_text(json.dumps({"rules": {"Asn_Bad": definition}}))
    with pytest.raises(AssociationError, match=message) as info:
        AssociationRegistry([path], include_default=False)
    assert "bad_rules.json" in str(info.value) and "Asn_Bad" in str(info.value)


def test_user_rule_file_uses_default_blocks(tmp_path):
    rules = tmp_path / "wide.yaml"
    rules.write_text(
        """
rules:
  Asn_AllFilters:
    base: DMS_Level3_Base
    asn_type: image3
    level3_science: true
    description: every filter of an observation in one product
    constraints:
      all:
        - {name: opt_elem, attr: filter, unique: false}
        - {name: subarray, attr: subarray}
        - use: image_exp
"""
    )
    pool = AssociationPool.read(
        write_pool(
            tmp_path / "u_pool.csv",
            [
                "a_cal.fits|42|1|NIRCAM|F090W|FULL|SCIENCE|NRC_IMAGE|1",
                "b_cal.fits|42|1|NIRCAM|F150W|FULL|SCIENCE|NRC_IMAGE|1",
                "c_cal.fits|42|1|MIRI|F770W|FULL|SCIENCE|MIR_IMAGE|1",
            ],
            columns="FILENAME|PROGRAM|OBS_NUM|INSTRUME|FILTER|SUBARRAY|PNTGTYPE|EXP_TYPE|TARGETID",
        )
    )
    registry = AssociationRegistry([rules], include_default=False)
    associations, orphans = generate(pool, registry)
    names = sorted(
        (asn["products"][0]["name"], len(asn["products"][0]["members"])) for asn in associations
    )
    assert names == [
        ("jw00042-a3001_t000_miri_f770w", 1),
        ("jw00042-a3001_t000_nircam_f090w-f150w", 2),
    ]
    assert len(orphans) == 0


def test_populate_from_python_module():
    class Asn_Named(DMS_Level3_Base):
        pass

    @RegistryMarker.rule
    class MyRule(DMS_Level3_Base):
        pass

    class Helper(DMS_Level3_Base):
        pass

    module = types.SimpleNamespace(Asn_Named=Asn_Named, MyRule=MyRule, Helper=Helper)
    registry = AssociationRegistry(include_default=False, include_bases=True)
    registry.populate(module)
    assert {"Asn_Named", "MyRule"} <= set(registry) and "Helper" not in registry
    with pytest.raises(AssociationError, match="not an Association subclass"):
        registry.add_rule("bad", dict)
