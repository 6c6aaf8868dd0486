"""The constraint engine: dynamic definition, required/undefined, groups, list expansion."""

from __future__ import annotations

from photoncal.associations import AttrConstraint, ConstraintGroup, ListCategory, ValueConstraint
from photoncal.associations.pool import PoolRow


def row(**values):
    return PoolRow(values, meta={"pool_file": "test_pool.csv"}, index=0)


def test_wildcard_is_fixed_by_the_first_match():
    constraint = AttrConstraint(name="opt_elem", sources=["filter"])
    assert constraint.check_and_set(row(filter="f090w")) == (True, [])
    assert constraint.found_values == ["f090w"]
    assert constraint.check_and_set(row(filter="f150w")) == (False, [])
    assert constraint.check_and_set(row(filter="F090W")) == (True, [])


def test_force_unique_false_collects_values():
    constraint = AttrConstraint(name="obs_num", sources=["obs_num"], force_unique=False)
    for obs in ("1", "2", "1"):
        assert constraint.check_and_set(row(obs_num=obs))[0]
    assert constraint.found_values == ["1", "2"]


def test_regex_must_match_the_whole_value():
    constraint = AttrConstraint(sources=["exp_type"], value="nrc_image|mir_image")
    assert constraint.check_and_set(row(exp_type="mir_image"))[0]
    constraint = AttrConstraint(sources=["exp_type"], value="nrc_image|mir_image")
    assert not constraint.check_and_set(row(exp_type="nrc_image_extra"))[0]


def test_sources_in_order_and_invalid_values():
    constraint = AttrConstraint(name="opt_elem2", sources=["pupil", "grating"])
    # pupil is "null": the grating is used, and the source becomes fixed
    assert constraint.check_and_set(row(pupil="null", grating="g140m"))[0]
    assert constraint.sources == ["grating"]
    assert not constraint.check_and_set(row(pupil="clear", grating="g235m"))[0]


def test_required_and_force_undefined():
    required = AttrConstraint(sources=["subarray"])
    optional = AttrConstraint(sources=["subarray"], required=False)
    undefined = AttrConstraint(sources=["is_imprt"], force_undefined=True)
    item = row(subarray="null", is_imprt="f")
    assert required.check_and_set(item) == (False, [])
    assert optional.check_and_set(item) == (True, [])
    assert undefined.check_and_set(item) == (True, [])
    assert undefined.check_and_set(row(is_imprt="t")) == (False, [])


def test_list_expansion_without_value():
    constraint = AttrConstraint(name="asn_candidate", sources=["asn_candidate"], evaluate=True)
    item = row(filename="a.fits", asn_candidate="[('o001', 'observation'), ('c1000', 'mosaic')]")
    matched, reprocess = constraint.check_and_set(item)
    assert not matched
    assert len(reprocess) == 1
    copies = reprocess[0].items
    assert [copy["asn_candidate"] for copy in copies] == [
        "('o001', 'observation')",
        "('c1000', 'mosaic')",
    ]
    # copies keep the row's identity and leave the original untouched
    assert all(copy["filename"] == "a.fits" and copy.index == 0 for copy in copies)
    assert item["asn_candidate"].startswith("[")
    assert constraint.found_values == []
    # a copy matches and fixes the constraint to its candidate
    assert constraint.check_and_set(copies[0]) == (True, [])
    assert constraint.found_values == ["('o001', 'observation')"]
    assert not constraint.check_and_set(copies[1])[0]


def test_list_expansion_with_value_takes_first_match_and_expands_the_rest():
    constraint = AttrConstraint(sources=["asn_candidate"], value=".+(o001|c1000).+", evaluate=True)
    item = row(asn_candidate="[('o002', 'observation'), ('o001', 'observation'), ('c1000', 'mosaic')]")
    matched, reprocess = constraint.check_and_set(item)
    assert matched
    assert constraint.found_values == ["('o001', 'observation')"]
    assert [c["asn_candidate"] for c in reprocess[0].items] == [
        "('o002', 'observation')",
        "('c1000', 'mosaic')",
    ]


def test_failed_group_leaves_no_trace():
    group = ConstraintGroup(
        [
            AttrConstraint(name="instrument", sources=["instrume"]),
            AttrConstraint(name="opt_elem", sources=["filter"], value="f090w"),
        ]
    )
    # instrument matches (and would fix itself) but the filter fails
    assert not group.check_and_set(row(instrume="nircam", filter="f150w"))[0]
    assert group["instrument"].value is None and group["instrument"].found_values == []
    assert group.check_and_set(row(instrume="miri", filter="f090w"))[0]
    assert group["instrument"].found_values == ["miri"]


def test_any_notany_notall():
    def leaf(value):
        return AttrConstraint(sources=["exp_type"], value=value, force_unique=False)

    item = row(exp_type="nrc_tacq")
    assert ConstraintGroup([leaf("nrc_image"), leaf("nrc_tacq")], reduce="any").check_and_set(item)[0]
    assert not ConstraintGroup([leaf("nrc_image"), leaf("nrc_tacq")], reduce="notany").check_and_set(item)[0]
    assert ConstraintGroup([leaf("nrc_image"), leaf("mir_image")], reduce="notany").check_and_set(item)[0]
    assert ConstraintGroup([leaf("nrc_tacq"), leaf("nrc_image")], reduce="notall").check_and_set(item)[0]
    assert not ConstraintGroup([leaf("nrc_.*"), leaf("nrc_tacq")], reduce="notall").check_and_set(item)[0]


def test_all_requests_expansion_only_when_nothing_else_fails():
    def group():
        return ConstraintGroup(
            [
                AttrConstraint(sources=["asn_candidate"], evaluate=True),
                AttrConstraint(sources=["exp_type"], value="nrc_image"),
            ]
        )

    cell = "[('o001', 'observation'), ('o002', 'observation')]"
    matched, reprocess = group().check_and_set(row(asn_candidate=cell, exp_type="nrc_image"))
    assert not matched and len(reprocess[0].items) == 2
    matched, reprocess = group().check_and_set(row(asn_candidate=cell, exp_type="nrc_dark"))
    assert not matched and reprocess == []


def test_reprocess_existing_and_onlyif():
    background = AttrConstraint(
        name="background", sources=["bkgdtarg"], force_unique=False, reprocess="existing"
    )
    matched, reprocess = background.check_and_set(row(bkgdtarg="t"))
    assert matched and reprocess[0].work_over == ListCategory.EXISTING
    target = AttrConstraint(
        name="target",
        sources=["targetid"],
        onlyif=ValueConstraint(sources=lambda item: item["bkgdtarg"] == "f", value=True),
    )
    # a background exposure passes whatever its target, and does not fix it
    assert target.check_and_set(row(targetid="2", bkgdtarg="t"))[0]
    assert target.found_values == []
    assert target.check_and_set(row(targetid="1", bkgdtarg="f"))[0]
    assert not target.check_and_set(row(targetid="2", bkgdtarg="f"))[0]


def test_describe_lists_named_constraints():
    group = ConstraintGroup(
        [
            AttrConstraint(name="program", sources=["program"]),
            AttrConstraint(sources=["is_imprt"], force_undefined=True),
            AttrConstraint(name="exp_type", sources=["exp_type"], value="nrc_image"),
        ]
    )
    group.check_and_set(row(program="99009", exp_type="nrc_image"))
    assert group.describe() == "Constraints:\n    program: 99009\n    exp_type: nrc_image"
