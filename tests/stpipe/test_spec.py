"""Parameter specs: parsing the configspec syntax and converting values."""

import pytest

from photoncal.stpipe.exceptions import ParameterError
from photoncal.stpipe.spec import MISSING, Source, parse_spec, split_list

SPEC = """
    rejection_threshold = float(default=4.0)  # sigma threshold for jumps
    flag_4_neighbors = boolean(default=True)   # flag the 4 neighbours
    maximum_cores = string(default='1')         # accepted for compatibility
    n_iter = integer(1, 100, default=10)
    kernel = option('square', 'point', default='square')  # kernel # with hash
    connectivity = option(4, 8, default=8)
    source_type = option('POINT','EXTENDED', default=None)
    output_shape = int_list(min=2, max=2, default=None)  # [x, y]
    crval = float_list(min=2, max=2, default=None)
    pre_hooks = list(default=list())
    slit_names = force_list(default=None)
    flags = bool_list(default=list(True, False))
    names = string_list(default=None)
    author = string()
    factor = float(min=0)
    [red]
    offset = float(default=0.5)
    scale = float(default=2.0)
"""


def test_parse_types_defaults_and_help():
    spec = parse_spec(SPEC)
    assert spec["rejection_threshold"].default == 4.0
    assert spec["rejection_threshold"].help == "sigma threshold for jumps"
    assert spec["flag_4_neighbors"].default is True
    assert spec["maximum_cores"].default == "1"
    assert spec["n_iter"].args == (1, 100)
    assert spec["kernel"].args == ("square", "point")
    assert spec["kernel"].help == "kernel # with hash"
    assert spec["connectivity"].default == 8
    assert spec["source_type"].default is None
    assert spec["output_shape"].kwargs == {"min": 2, "max": 2}
    assert spec["pre_hooks"].default == []
    assert spec["flags"].default == [True, False]
    assert spec["author"].default is MISSING
    assert spec["red"].check == "section"
    assert spec.defaults()["red"] == {"offset": 0.5, "scale": 2.0}
    assert "author" not in spec.defaults()


def test_convert_strings_from_cfg_and_command_line():
    spec = parse_spec(SPEC)
    assert spec["rejection_threshold"].convert("5.5") == 5.5
    assert spec["flag_4_neighbors"].convert("false") is False
    assert spec["flag_4_neighbors"].convert("Yes") is True
    assert spec["n_iter"].convert("7") == 7
    assert spec["connectivity"].convert("4") == 4
    assert spec["kernel"].convert("point") == "point"
    assert spec["source_type"].convert("None") is None
    assert spec["output_shape"].convert("100, 200") == [100, 200]
    assert spec["output_shape"].convert("[100,200]") == [100, 200]
    assert spec["crval"].convert(["1.5", 2]) == [1.5, 2.0]
    assert spec["slit_names"].convert("S200A1") == ["S200A1"]
    assert spec["pre_hooks"].convert("a, 'b c'") == ["a", "b c"]
    assert spec["flags"].convert("on,off") == [True, False]
    assert spec["maximum_cores"].convert(4) == "4"
    assert spec["red"].convert({"offset": "1"}) == {"offset": 1.0, "scale": 2.0}


@pytest.mark.parametrize(
    "name, value, fragment",
    [
        ("rejection_threshold", "four", "expected a number"),
        ("flag_4_neighbors", "maybe", "expected a boolean"),
        ("n_iter", "0", "below the minimum 1"),
        ("n_iter", "101", "above the maximum 100"),
        ("n_iter", "2.5", "expected an integer"),
        ("kernel", "gaussian", "not one of 'square', 'point'"),
        ("output_shape", "1,2,3", "at most 2 items"),
        ("output_shape", "1", "at least 2 items"),
        ("rejection_threshold", None, "None is not allowed"),
        ("factor", "-1", "below the minimum 0"),
    ],
)
def test_bad_values_name_the_parameter(name, value, fragment):
    spec = parse_spec(SPEC)
    with pytest.raises(ParameterError, match=name) as info:
        spec[name].convert(value, Source("my.cfg"))
    assert fragment in str(info.value)
    assert "my.cfg" in str(info.value)


def test_convert_all_fills_defaults_and_refuses_unknown_and_missing():
    spec = parse_spec(SPEC)
    values = spec.convert_all({"author": "me", "factor": "3"}, {})
    assert values["rejection_threshold"] == 4.0
    assert values["author"] == "me" and values["factor"] == 3.0
    with pytest.raises(ParameterError, match="unknown parameter 'rejection'"):
        spec.convert_all({"author": "x", "factor": 1, "rejection": 1}, {}, owner="step 'jump'")
    with pytest.raises(ParameterError, match="'author' has no default"):
        spec.convert_all({"factor": 1}, {})


def test_defaults_are_not_shared_between_instances():
    spec = parse_spec("hooks = list(default=list())")
    first = spec.convert_all({}, {})["hooks"]
    first.append("x")
    assert spec.convert_all({}, {})["hooks"] == []


def test_input_file_resolved_against_the_cfg_directory(tmp_path):
    (tmp_path / "flat.fits").write_text("x")
    spec = parse_spec("flat = input_file(default=None)\nout = output_file(default=None)")
    assert spec["flat"].convert("flat.fits", Source("a.cfg", str(tmp_path))) == str(tmp_path / "flat.fits")
    with pytest.raises(ParameterError, match="does not exist"):
        spec["flat"].convert("missing.fits", Source("a.cfg", str(tmp_path)))
    assert spec["out"].convert("o.fits", Source("a.cfg", str(tmp_path))) == str(tmp_path / "o.fits")


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("x = nonsense(default=1)", "unknown check 'nonsense'"),
        ("x float(default=1)", "expected 'name = check(...)'"),
        ("x = float(default='abc')", "default of 'x'"),
        ("x = float(default=", "cannot parse"),
        ("[[deep]]\nx = float()", "nested too deeply"),
    ],
)
def test_spec_syntax_errors(text, fragment):
    with pytest.raises(ParameterError, match="line"):
        parse_spec(text, source="MyStep.spec")
    with pytest.raises(ParameterError) as info:
        parse_spec(text, source="MyStep.spec")
    assert fragment in str(info.value) and "MyStep.spec" in str(info.value)


def test_format_round_trips():
    spec = parse_spec(SPEC)
    again = parse_spec(spec.format())
    assert again.defaults() == spec.defaults()
    assert [p.check for p in again.params.values()] == [p.check for p in spec.params.values()]


def test_split_list():
    assert split_list("a, b ,c") == ["a", "b", "c"]
    assert split_list("'a,b', c") == ["a,b", "c"]
    assert split_list("[]") == []
    assert split_list("") == []
    assert split_list("x,") == ["x"]
