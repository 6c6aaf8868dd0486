"""The generator on small imaging pools: names, members, candidates, orphans."""

from __future__ import annotations

import re

import pytest

from photoncal.associations import (
    AssociationPool,
    AssociationRegistry,
    candidate_constraint,
    generate,
    generate_associations,
    load_asn,
    save_associations,
)

from .conftest import exposure_name, imaging_rows, write_pool


def _summary(associations):
    return {
        asn.asn_name: (
            asn["asn_rule"],
            [product["name"] for product in asn["products"]],
            [(m["expname"], m["exptype"]) for p in asn["products"] for m in p["members"]],
        )
        for asn in associations
    }


def _expected_imaging():
    expected = {}
    for obs in (1, 2):
        names = [
            exposure_name(obs, activity, dither, suffix="")
            for activity in ("2101", "2103")
            for dither in (1, 2)
        ]
        for seq, root in enumerate(names, start=1):
            root = root[: -len("_.fits")]
            expected[f"jw99009-o{obs:03d}_image2_{seq:03d}_asn"] = (
                "Asn_Lv2Image",
                [root],
                [(f"{root}_rate.fits", "science")],
            )
        for seq, (activity, filt) in enumerate((("2101", "f090w"), ("2103", "f150w")), start=1):
            expected[f"jw99009-o{obs:03d}_image3_{seq:03d}_asn"] = (
                "Asn_Lv3Image",
                [f"jw99009-o{obs:03d}_t001_nircam_clear-{filt}"],
                [(exposure_name(obs, activity, d, suffix="cal"), "science") for d in (1, 2)],
            )
    for seq, (activity, filt) in enumerate((("2101", "f090w"), ("2103", "f150w")), start=1):
        expected[f"jw99009-c1000_image3_{seq:03d}_asn"] = (
            "Asn_Lv3ImageMosaic",
            [f"jw99009-c1000_t000_nircam_clear-{filt}"],
            [
                (exposure_name(obs, activity, d, suffix="cal"), "science")
                for obs in (1, 2)
                for d in (1, 2)
            ],
        )
    return expected


def test_imaging_pool_gives_the_expected_associations(imaging_pool_path):
    pool = AssociationPool.read(imaging_pool_path)
    associations, orphans = generate_associations(pool)
    assert _summary(associations) == _expected_imaging()
    # the dark is the only orphan
    assert list(orphans["filename"]) == [exposure_name(2, "3101", 1)]
    image3 = next(a for a in associations if a.asn_name == "jw99009-o002_image3_002_asn")
    assert image3["asn_id"] == "o002" and image3["asn_type"] == "image3"
    assert image3["program"] == "99009" and image3["target"] == "t001"
    assert image3["asn_pool"] == imaging_pool_path.name
    assert image3["version_id"] is None
    assert image3["degraded_status"] == "No known degraded exposures in association."
    assert image3["products"][0]["members"][0]["asn_candidate"] == "[('o002', 'observation')]"
    image2 = next(a for a in associations if a.asn_name == "jw99009-o001_image2_001_asn")
    assert image2["target"] == "1" and image2["asn_id"] == "o001"


def test_saved_associations_validate_and_load(imaging_pool_path, tmp_path):
    pool = AssociationPool.read(imaging_pool_path)
    associations, _ = generate_associations(pool, version_id="20240101t120000")
    out = tmp_path / "asns"
    out.mkdir()
    written = save_associations(associations, out)
    assert len(written) == 14
    pattern = re.compile(r"jw99009-(o00[12]|c1000)_20240101t120000_image[23]_\d{3}_asn\.json")
    for path in written:
        name = path.rsplit("/", 1)[-1]
        assert pattern.fullmatch(name), name
        asn = load_asn(path)
        assert asn["version_id"] == "20240101t120000"
        for product in asn["products"]:
            for member in product["members"]:
                assert "/" not in member["expname"] and ".." not in member["expname"]


def test_version_id_true_is_a_timestamp(imaging_pool_path):
    pool = AssociationPool.read(imaging_pool_path)
    associations, _ = generate_associations(pool, candidate_ids=["o001"], version_id=True)
    assert re.fullmatch(r"\d{8}t\d{6}", associations[0]["version_id"])
    assert associations[0].asn_name.startswith(f"jw99009-o001_{associations[0]['version_id']}_")


def test_candidate_selection_and_orphans(imaging_pool_path):
    pool = AssociationPool.read(imaging_pool_path)
    associations, orphans = generate_associations(pool, candidate_ids=["o001"])
    assert sorted(a.asn_name for a in associations) == [
        "jw99009-o001_image2_001_asn",
        "jw99009-o001_image2_002_asn",
        "jw99009-o001_image2_003_asn",
        "jw99009-o001_image2_004_asn",
        "jw99009-o001_image3_001_asn",
        "jw99009-o001_image3_002_asn",
    ]
    assert len(orphans) == 5 and all("jw99009002" in name for name in orphans["filename"])
    mosaic, _ = generate_associations(pool, candidate_ids=["c1000"])
    assert sorted(a.asn_name for a in mosaic) == [
        "jw99009-c1000_image3_001_asn",
        "jw99009-c1000_image3_002_asn",
    ]
    nothing, orphans = generate_associations(pool, candidate_ids=["o042"])
    assert nothing == [] and len(orphans) == 9


def test_discovery_keeps_only_what_candidates_do_not_give(imaging_pool_path, tmp_path):
    pool = AssociationPool.read(imaging_pool_path)
    # the cross-observation associations repeat the c1000 mosaic: none left
    discovered, _ = generate_associations(pool, discover=True)
    assert discovered == []
    # without the mosaic candidate, discovery finds the a3001 associations
    rows = [row.replace(", ('c1000', 'mosaic')", "") for row in imaging_rows()]
    pool = AssociationPool.read(write_pool(tmp_path / "nomosaic_pool.csv", rows))
    discovered, _ = generate_associations(pool, discover=True)
    assert _summary(discovered) == {
        f"jw99009-a3001_image3_{seq:03d}_asn": (
            "Asn_Lv3Image",
            [f"jw99009-a3001_t001_nircam_clear-{filt}"],
            [(exposure_name(o, act, d, suffix="cal"), "science") for o in (1, 2) for d in (1, 2)],
        )
        for seq, (act, filt) in enumerate((("2101", "f090w"), ("2103", "f150w")), start=1)
    }
    everything, _ = generate_associations(pool)
    assert len(everything) == 8 + 4 + 2


def test_per_pool_algorithm_expands_candidate_lists(imaging_pool_path):
    """The spec's generate(): list-valued ASN_CANDIDATE cells expand into mini pools."""
    pool = AssociationPool.read(imaging_pool_path)
    rules = AssociationRegistry(global_constraints=candidate_constraint(), name="candidate")
    associations, orphans = generate(pool, rules)
    assert _summary(associations) == _expected_imaging()
    assert list(orphans["filename"]) == [exposure_name(2, "3101", 1)]
    # unfinalised, the generator also holds the incomplete ones (mosaic rule per observation)
    raw, _ = generate(pool, rules, finalize=False)
    assert len(raw) > len(associations)
    assert any(asn.asn_rule == "Asn_Lv3ImageMosaic" and asn["asn_id"] == "o001" for asn in raw)
    assert not any(asn.is_valid for asn in raw if asn.asn_rule == "Asn_Lv3ImageMosaic" and asn["asn_id"] == "o001")


def test_list_member_expansion_of_any_column(tmp_path):
    """An exposure whose FILTER cell is a list joins the association of each filter."""
    rules_file = tmp_path / "by_filter.yaml"
    rules_file.write_text(
        """
rules:
  Asn_ByFilter:
    base: DMS_Level3_Base
    asn_type: image3
    constraints:
      all:
        - {name: program, attr: program}
        - {name: instrument, attr: instrume}
        - {name: opt_elem, attr: filter, evaluate: true}
        - {name: subarray, attr: subarray}
"""
    )
    pool = AssociationPool.read(
        write_pool(
            tmp_path / "list_pool.csv",
            [
                "a_cal.fits|1|1|NIRCAM|F090W|FULL|SCIENCE|NRC_IMAGE",
                "b_cal.fits|1|1|NIRCAM|F150W|FULL|SCIENCE|NRC_IMAGE",
                "c_cal.fits|1|1|NIRCAM|['f090w', 'f150w', 'f200w']|FULL|SCIENCE|NRC_IMAGE",
            ],
            columns="FILENAME|PROGRAM|OBS_NUM|INSTRUME|FILTER|SUBARRAY|PNTGTYPE|EXP_TYPE",
        )
    )
    rules = AssociationRegistry([rules_file], include_default=False)
    associations, orphans = generate(pool, rules)
    products = {
        asn["products"][0]["name"]: sorted(m["expname"] for m in asn["products"][0]["members"])
        for asn in associations
    }
    assert products == {
        "jw00001-a3001_t000_nircam_f090w": ["a_cal.fits", "c_cal.fits"],
        "jw00001-a3001_t000_nircam_f150w": ["b_cal.fits", "c_cal.fits"],
        "jw00001-a3001_t000_nircam_f200w": ["c_cal.fits"],
    }
    assert len(orphans) == 0


def test_target_acquisition_joins_its_observation(tmp_path):
    rows = imaging_rows()[:4] + [
        "jw99009001001_01101_00001_nrca1_uncal.fits|99009|1|1|1|NRC_TACQ|NIRCAM|NRCA1|F335M|"
        "CLEAR|1|TARGET_ACQUISITION|SUB64P|F|PRIME_TARGETED_FIXED|F|[('o001', 'observation')]"
    ]
    pool = AssociationPool.read(write_pool(tmp_path / "ta_pool.csv", rows))
    associations, orphans = generate_associations(pool, all_candidates=True)
    summary = _summary(associations)
    ta_cal = "jw99009001001_01101_00001_nrca1_cal.fits"
    for name in ("jw99009-o001_image3_001_asn", "jw99009-o001_image3_002_asn"):
        assert summary[name][2][-1] == (ta_cal, "target_acquisition")
    assert summary["jw99009-o001_image2_005_asn"] == (
        "Asn_Lv2ImageNonScience",
        ["jw99009001001_01101_00001_nrca1"],
        [("jw99009001001_01101_00001_nrca1_rate.fits", "science")],
    )
    assert len(orphans) == 0


BACKGROUND_COLUMNS = (
    "FILENAME|PROGRAM|OBS_NUM|EXP_TYPE|INSTRUME|DETECTOR|FILTER|TARGETID|PNTGTYPE|"
    "SUBARRAY|BKGDTARG|ASN_CANDIDATE"
)


def _background_rows():
    rows = []
    for obs, target, background in ((1, 1, "F"), (2, 2, "T")):
        for dither in (1, 2):
            rows.append(
                f"jw99009{obs:03d}001_02101_{dither:05d}_mirimage_uncal.fits|99009|{obs}|MIR_IMAGE|"
                f"MIRI|MIRIMAGE|F770W|{target}|SCIENCE|FULL|{background}|"
                f"[('o{obs:03d}', 'observation'), ('c1001', 'background')]"
            )
    return rows


def test_level2_background_candidate(tmp_path):
    pool = AssociationPool.read(
        write_pool(tmp_path / "bkg_pool.csv", _background_rows(), columns=BACKGROUND_COLUMNS)
    )
    associations, orphans = generate_associations(pool)
    summary = _summary(associations)
    background = [
        ("jw99009002001_02101_00001_mirimage_rate.fits", "background"),
        ("jw99009002001_02101_00002_mirimage_rate.fits", "background"),
    ]
    assert summary == {
        # the science exposures, each with the background exposures of candidate c1001
        "jw99009-c1001_image2_001_asn": (
            "Asn_Lv2Image",
            ["jw99009001001_02101_00001_mirimage"],
            [("jw99009001001_02101_00001_mirimage_rate.fits", "science")] + background,
        ),
        "jw99009-c1001_image2_002_asn": (
            "Asn_Lv2Image",
            ["jw99009001001_02101_00002_mirimage"],
            [("jw99009001001_02101_00002_mirimage_rate.fits", "science")] + background,
        ),
        "jw99009-o001_image3_001_asn": (
            "Asn_Lv3Image",
            ["jw99009-o001_t001_miri_f770w"],
            [(f"jw99009001001_02101_0000{d}_mirimage_cal.fits", "science") for d in (1, 2)],
        ),
        # the background exposures calibrated and combined on their own
        "jw99009-o002_image2_001_asn": (
            "Asn_Lv2ImageSpecial",
            ["jw99009002001_02101_00001_mirimage"],
            [("jw99009002001_02101_00001_mirimage_rate.fits", "science")],
        ),
        "jw99009-o002_image2_002_asn": (
            "Asn_Lv2ImageSpecial",
            ["jw99009002001_02101_00002_mirimage"],
            [("jw99009002001_02101_00002_mirimage_rate.fits", "science")],
        ),
        "jw99009-o002_image3_001_asn": (
            "Asn_Lv3ImageBackground",
            ["jw99009-o002_t002_miri_f770w"],
            [(f"jw99009002001_02101_0000{d}_mirimage_cal.fits", "science") for d in (1, 2)],
        ),
    }
    assert len(orphans) == 0
    merged, _ = generate_associations(pool, merge=True)
    c1001 = [asn for asn in merged if asn["asn_id"] == "c1001"]
    assert len(c1001) == 1 and len(c1001[0]["products"]) == 2


def test_pool_of_rate_files_names_members_by_level(tmp_path):
    rows = [row.replace("_uncal.fits", "_rate.fits") for row in imaging_rows()[:2]]
    pool = AssociationPool.read(write_pool(tmp_path / "rate_pool.csv", rows))
    summary = _summary(generate_associations(pool, candidate_ids=["o001"])[0])
    root = "jw99009001001_02101_00001_nrca1"
    assert summary["jw99009-o001_image2_001_asn"][2] == [(f"{root}_rate.fits", "science")]
    assert summary["jw99009-o001_image3_001_asn"][2][0] == (f"{root}_cal.fits", "science")


@pytest.mark.parametrize("columns_to_drop", [("SUBARRAY",)])
def test_missing_required_column_leaves_level3_out(tmp_path, columns_to_drop):
    # The level 3 optical-path constraint requires SUBARRAY (as the DMS rules do).
    header = [c for c in BACKGROUND_COLUMNS.split("|") if c not in columns_to_drop]
    keep = [i for i, c in enumerate(BACKGROUND_COLUMNS.split("|")) if c not in columns_to_drop]
    rows = ["|".join(r.split("|")[i] for i in keep) for r in _background_rows()[:2]]
    pool = AssociationPool.read(write_pool(tmp_path / "p_pool.csv", rows, columns="|".join(header)))
    associations, _ = generate_associations(pool)
    assert {asn["asn_type"] for asn in associations} == {"image2"}


def test_pool_from_simulated_rate_headers(tmp_path):
    """The simulator's path: _rate file headers -> pool -> image2 and image3 associations."""
    from astropy.io import fits

    from photoncal.associations import pool_from_headers

    headers = []
    for obs in ("001", "002"):
        for filt in ("F090W", "F150W"):
            for dither in (1, 2):
                header = fits.Header()
                activity = "02101" if filt == "F090W" else "02103"
                header["FILENAME"] = f"jw01234{obs}001_{activity}_{dither:05d}_nrcb1_rate.fits"
                header["ORIGIN"] = "PHOTONCAL-SIM"
                header["PROGRAM"] = "01234"
                header["OBSERVTN"] = obs
                header["VISIT"] = "001"
                header["EXPOSURE"] = str(dither)
                header["TARGNAME"] = "SIM-FIELD"
                header["INSTRUME"] = "NIRCAM"
                header["DETECTOR"] = "NRCB1"
                header["FILTER"] = filt
                header["PUPIL"] = "CLEAR"
                header["EXP_TYPE"] = "NRC_IMAGE"
                header["SUBARRAY"] = "SUB400P"
                header["TSOVISIT"] = False
                header["BKGDTARG"] = False
                headers.append(header)
    pool = pool_from_headers(headers, asn_candidates=[("c1000", "mosaic")], pool_file="sim_pool.csv")
    pool.write(tmp_path / "sim_pool.csv")
    associations, orphans = generate_associations(AssociationPool.read(tmp_path / "sim_pool.csv"))
    names = {asn.asn_name: asn for asn in associations}
    assert sorted(names) == sorted(
        [f"jw01234-o{o:03d}_image2_{i:03d}_asn" for o in (1, 2) for i in (1, 2, 3, 4)]
        + [f"jw01234-o{o:03d}_image3_{i:03d}_asn" for o in (1, 2) for i in (1, 2)]
        + ["jw01234-c1000_image3_001_asn", "jw01234-c1000_image3_002_asn"]
    )
    image3 = names["jw01234-o002_image3_002_asn"]
    assert image3["products"][0]["name"] == "jw01234-o002_t001_nircam_clear-f150w-sub400p"
    assert [m["expname"] for m in image3["products"][0]["members"]] == [
        "jw01234002001_02103_00001_nrcb1_cal.fits",
        "jw01234002001_02103_00002_nrcb1_cal.fits",
    ]
    image2 = names["jw01234-o001_image2_001_asn"]
    assert image2["products"][0]["members"] == [
        {"expname": "jw01234001001_02101_00001_nrcb1_rate.fits", "exptype": "science", "exposerr": None}
    ]
    assert image2["asn_pool"] == "sim_pool.csv"
    assert len(orphans) == 0


def test_file_name_classification():
    from photoncal.associations.naming import LEVEL3_PRODUCT_REGEX, classify_filename

    assert classify_filename("jw99009001001_02101_00001_nrca1_cal.fits") == "exposure"
    assert classify_filename("jw99009-o001_t001_nircam_clear-f090w_i2d.fits") == "target"
    assert classify_filename("jw99009-c1000_t000_nircam_clear-f090w_i2d.fits") == "target"
    assert classify_filename("my_mosaic_i2d.fits") is None
    assert LEVEL3_PRODUCT_REGEX.fullmatch("jw99009-a3001_t001_miri_f770w_i2d.fits")
