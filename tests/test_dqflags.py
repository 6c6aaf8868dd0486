import numpy as np
import pytest

from photoncal import dqflags


def test_master_table_values():
    assert dqflags.pixel["DO_NOT_USE"] == 1
    assert dqflags.pixel["SATURATED"] == 2
    assert dqflags.pixel["JUMP_DET"] == 4
    assert dqflags.pixel["NON_SCIENCE"] == 512
    assert dqflags.pixel["NO_FLAT_FIELD"] == 262144
    assert dqflags.pixel["OTHER_BAD_PIXEL"] == 1073741824
    assert set(dqflags.group) >= {"GOOD", "DO_NOT_USE", "SATURATED", "JUMP_DET", "DROPOUT"}
    assert max(dqflags.group.values()) < 256


def test_bit_value_and_errors():
    assert dqflags.bit_value("saturated") == 2
    assert dqflags.bit_value("RESERVED_1") == 16
    with pytest.raises(KeyError, match="NOT_A_FLAG"):
        dqflags.bit_value("NOT_A_FLAG")


@pytest.mark.parametrize(
    "spec, expected",
    [
        (None, None),
        ("None", None),
        (0, 0),
        (6, 6),
        ("4+2", 6),
        ("DO_NOT_USE, JUMP_DET", 5),
        ([1, "SATURATED"], 3),
        ("~DO_NOT_USE", ~1),
    ],
)
def test_interpret_bit_flags(spec, expected):
    assert dqflags.interpret_bit_flags(spec) == expected


def test_interpret_bit_flags_rejects_unknown():
    with pytest.raises(ValueError, match="BOGUS"):
        dqflags.interpret_bit_flags("BOGUS")


def test_mnemonics_round_trip():
    value = dqflags.pixel["HOT"] | dqflags.pixel["DO_NOT_USE"]
    assert dqflags.dqflags_to_mnemonics(value) == {"HOT", "DO_NOT_USE"}


def test_dq_from_dqdef_translates_local_bits():
    # An 8-bit reference DQ whose bit 1 means HOT and bit 2 means an unknown name.
    dq_def = np.array(
        [(0, 1, b"DO_NOT_USE", b""), (1, 2, b"HOT", b""), (2, 4, b"WEIRD", b"")],
        dtype=[("BIT", "<i4"), ("VALUE", "<u4"), ("NAME", "S40"), ("DESCRIPTION", "S80")],
    )
    ref = np.array([[0, 1, 2, 3, 4]], dtype=np.uint8)
    out = dqflags.dq_from_dqdef(ref, dq_def)
    assert out.dtype == np.uint32
    hot, dnu, other = 2048, 1, dqflags.pixel["OTHER_BAD_PIXEL"]
    np.testing.assert_array_equal(out, [[0, dnu, hot, hot | dnu, other]])
    # Without a table the values are already master values.
    np.testing.assert_array_equal(dqflags.dq_from_dqdef(ref), ref.astype(np.uint32))


def test_dqdef_table():
    table = dqflags.dqdef_table([1, 2048])
    assert list(table["BIT"]) == [0, 11]
    assert list(table["NAME"]) == [b"DO_NOT_USE", b"HOT"]
    with pytest.raises(ValueError, match="3"):
        dqflags.dqdef_table([3])


def test_flux_estimated_alias_is_bit_28():
    assert dqflags.bit_value("FLUX_ESTIMATED") == dqflags.pixel["UNRELIABLE_RESET"] == 1 << 28
