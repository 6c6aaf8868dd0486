"""asn_generate: the command via main([...]) in a temporary directory."""

from __future__ import annotations

import re

from photoncal.associations import AssociationPool, load_asn
from photoncal.cli.asn_generate import main

from .conftest import exposure_name, imaging_rows, write_pool


def _written(path):
    return sorted(p.name for p in path.iterdir() if p.name.endswith("_asn.json"))


def test_generate_writes_the_associations(imaging_pool_path, tmp_path, capsys):
    out = tmp_path / "out"
    status = main([str(imaging_pool_path), "-p", str(out), "--version-id", "20240101t000000", "--save-orphans"])
    assert status == 0
    names = _written(out)
    assert len(names) == 14
    assert "jw99009-o001_20240101t000000_image2_001_asn.json" in names
    assert "jw99009-c1000_20240101t000000_image3_002_asn.json" in names
    asn = load_asn(out / "jw99009-o002_20240101t000000_image3_001_asn.json")
    assert asn["products"][0]["name"] == "jw99009-o002_t001_nircam_clear-f090w"
    orphans = AssociationPool.read(out / "orphaned.csv")
    assert list(orphans["filename"]) == [exposure_name(2, "3101", 1)]
    text = capsys.readouterr().out
    assert "14 associations, 1 orphaned exposures" in text


def test_dry_run_writes_nothing(imaging_pool_path, tmp_path, capsys):
    out = tmp_path / "dry"
    out.mkdir()
    assert main([str(imaging_pool_path), "-p", str(out), "--dry-run", "-i", "o001"]) == 0
    assert list(out.iterdir()) == []
    text = capsys.readouterr().out
    assert text.count("would write") == 6
    assert "jw99009-o001_image3_002_asn.json" in text


def test_dms_names_carry_a_timestamp(imaging_pool_path, tmp_path):
    out = tmp_path / "dms"
    assert main([str(imaging_pool_path), "-p", str(out), "--DMS", "-i", "c1000"]) == 0
    names = _written(out)
    assert len(names) == 2
    for name in names:
        assert re.fullmatch(r"jw99009-c1000_\d{8}t\d{6}_image3_00[12]_asn\.json", name), name


def test_user_rules_with_ignore_default(imaging_pool_path, tmp_path):
    rules = tmp_path / "one_rule.yaml"
    rules.write_text(
        """
rules:
  Asn_Lv3FilterOnly:
    base: DMS_Level3_Base
    asn_type: image3
    level3_science: true
    constraints:
      all:
        - use: optical_path
        - use: image_exp
"""
    )
    out = tmp_path / "user"
    assert main([str(imaging_pool_path), "-p", str(out), "-r", str(rules), "--ignore-default", "--all-candidates"]) == 0
    names = _written(out)
    # only level 3 associations: per observation and filter, and per mosaic filter
    assert names == [
        "jw99009-c1000_image3_001_asn.json",
        "jw99009-c1000_image3_002_asn.json",
        "jw99009-o001_image3_001_asn.json",
        "jw99009-o001_image3_002_asn.json",
        "jw99009-o002_image3_001_asn.json",
        "jw99009-o002_image3_002_asn.json",
    ]
    assert load_asn(out / names[0])["asn_rule"] == "Asn_Lv3FilterOnly"


def test_per_pool_algorithm_option(imaging_pool_path, tmp_path):
    out = tmp_path / "perpool"
    assert main([str(imaging_pool_path), "-p", str(out), "--per-pool-algorithm"]) == 0
    assert len(_written(out)) == 14


def test_errors(tmp_path, capsys):
    assert main([str(tmp_path / "missing_pool.csv")]) == 1
    assert "missing_pool.csv' does not exist" in capsys.readouterr().err
    pool = tmp_path / "p_pool.csv"
    pool.write_text("FILENAME|EXP_TYPE\na.fits|NRC_IMAGE\n")
    assert main([str(pool), "-r", str(tmp_path / "rules.py")]) == 1
    assert "Python rule files are not loaded" in capsys.readouterr().err
    assert main([str(pool), "--discover", "--all-candidates"]) == 2
    assert main(["--version"]) == 0


def test_no_finalize_writes_only_what_validates(tmp_path, capsys):
    # A background candidate without a background exposure: its level 2
    # associations never become valid.
    rows = [row.replace("('c1000', 'mosaic')", "('c1001', 'background')") for row in imaging_rows()]
    pool = write_pool(tmp_path / "nobkg_pool.csv", rows)
    out = tmp_path / "raw"
    assert main([str(pool), "-p", str(out), "--no-finalize", "--all-candidates"]) == 0
    names = _written(out)
    assert "jw99009-o001_image3_001_asn.json" in names
    assert not any(name.startswith("jw99009-c1001_image2") for name in names)
    assert "not written" in capsys.readouterr().err
    finalized = tmp_path / "final"
    assert main([str(pool), "-p", str(finalized), "--all-candidates"]) == 0
    assert "not written" not in capsys.readouterr().err
