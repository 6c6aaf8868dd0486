"""The .cfg parser and writer, step config_file delegation, ASDF parameter files."""

import pytest

from photoncal.stpipe.config_file import (
    format_cfg,
    load_config_file,
    parse_cfg,
    write_config_file,
)
from photoncal.stpipe.exceptions import ConfigFileError

SEED_PIPELINE_CFG = """\
name = "TestPipeline"
class = "stpipe.test.test_pipeline.TestPipeline"

science_filename = "science.fits"
flat_filename = flat.fits   # a comment
output_filename = 'output.fits'

[steps]
  [[flat_field]]
    config_file = "flat_field.cfg"
    threshold = 42.0

  [[combine]]
    skip = True
    post_hooks = "ds9 {0}",
    weights = 1, 2, 3
    empty = ,
    nothing = None
"""


def test_parse_the_seed_example():
    tree = parse_cfg(SEED_PIPELINE_CFG)
    assert tree["name"] == "TestPipeline"
    assert tree["class"] == "stpipe.test.test_pipeline.TestPipeline"
    assert tree["flat_filename"] == "flat.fits"
    assert tree["output_filename"] == "output.fits"
    assert tree["steps"]["flat_field"] == {"config_file": "flat_field.cfg", "threshold": "42.0"}
    combine = tree["steps"]["combine"]
    assert combine["skip"] == "True"
    assert combine["post_hooks"] == ["ds9 {0}"]
    assert combine["weights"] == ["1", "2", "3"]
    assert combine["empty"] == []
    assert combine["nothing"] is None


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("a = 1\na = 2\n", "line 2: duplicate parameter 'a'"),
        ("[s]\n[s]\n", "line 2: duplicate section 's'"),
        ("[[s]]\n", "line 1: section"),
        ("[s\n", "line 1: unbalanced section header"),
        ("just words\n", "line 1: expected 'name = value'"),
        ("a = 'open\n", "line 1: unterminated quote"),
    ],
)
def test_syntax_errors_name_file_and_line(text, fragment):
    with pytest.raises(ConfigFileError) as info:
        parse_cfg(text, "my.cfg")
    assert "my.cfg" in str(info.value) and fragment in str(info.value)


def test_write_then_parse_round_trip():
    config = {
        "name": "jump",
        "class": "photoncal.steps.jump.JumpStep",
        "rejection_threshold": 4.5,
        "flag": True,
        "nothing": None,
        "hooks": ["one"],
        "shape": [1, 2],
        "empty": [],
        "quote": 'say "hi"',
        "steps": {"a": {"x": 1, "sub": {"y": "z"}}, "b": {}},
    }
    text = format_cfg(config, {"rejection_threshold": "command line"}, header="made by a test")
    assert text.startswith("# made by a test\n")
    assert 'rejection_threshold = 4.5  # command line' in text
    back = parse_cfg(text)
    assert back["rejection_threshold"] == "4.5"
    assert back["flag"] == "True" and back["nothing"] is None
    assert back["hooks"] == ["one"] and back["shape"] == ["1", "2"] and back["empty"] == []
    assert back["quote"] == 'say "hi"'
    assert back["steps"] == {"a": {"x": "1", "sub": {"y": "z"}}, "b": {}}


def test_config_file_delegation_relative_to_the_including_file(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "pipe.cfg").write_text(
        'name = "P"\nclass = "x"\n[steps]\n  [[flat_field]]\n    config_file = flats/my_flat.cfg\n'
        "    threshold = 42.0\n"
    )
    (sub / "flats").mkdir()
    (sub / "flats" / "my_flat.cfg").write_text(
        'name = "flat_field"\nthreshold = 1.0\nmultiplier = 2.0\n'
    )
    values, sources = load_config_file(sub / "pipe.cfg")
    flat = values["steps"]["flat_field"]
    # the section's own values override the delegated file
    assert flat["threshold"] == "42.0"
    assert flat["multiplier"] == "2.0"
    assert "config_file" not in flat
    assert str(sources["steps"]["flat_field"]["threshold"]) == str(sub / "pipe.cfg")
    assert str(sources["steps"]["flat_field"]["multiplier"]) == str(sub / "flats" / "my_flat.cfg")
    assert sources["steps"]["flat_field"]["multiplier"].root_dir == str(sub / "flats")


def test_missing_delegated_file_is_a_clear_error(tmp_path):
    (tmp_path / "pipe.cfg").write_text("[steps]\n[[dark]]\nconfig_file = nope.cfg\n")
    with pytest.raises(ConfigFileError, match=r"steps.dark.config_file 'nope.cfg' not found"):
        load_config_file(tmp_path / "pipe.cfg")
    with pytest.raises(ConfigFileError, match="not found"):
        load_config_file(tmp_path / "absent.cfg")


def test_asdf_parameter_files_both_layouts(tmp_path):
    values = {
        "name": "ProperPipeline",
        "class": "photoncal.pipeline.detector1.Detector1Pipeline",
        "save_calibrated_ramp": True,
        "steps": {"jump": {"rejection_threshold": 5.0, "skip": False}, "ipc": {"skip": True}},
    }
    path = write_config_file(tmp_path / "pars.asdf", values)
    back, sources = load_config_file(path)
    assert back == values
    assert str(sources["steps"]["jump"]["rejection_threshold"]) == str(path)

    import asdf

    legacy = tmp_path / "legacy.asdf"
    asdf.AsdfFile(
        {"parameters": {"class": "jwst.jump.JumpStep", "name": "jump", "rejection_threshold": 6.0}}
    ).write_to(legacy)
    back, _ = load_config_file(legacy)
    assert back == {"class": "jwst.jump.JumpStep", "name": "jump", "rejection_threshold": 6.0}

    bad = tmp_path / "bad.asdf"
    asdf.AsdfFile({"something": 1}).write_to(bad)
    with pytest.raises(ConfigFileError, match="not a step parameter file"):
        load_config_file(bad)
