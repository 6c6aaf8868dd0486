"""The one data-quality flag table of photoncal.

The master list of seed 002 (the reference-file formats chapter, "Data
Quality Flags"): PIXELDQ/DQ arrays are 32-bit, GROUPDQ arrays are 8-bit and
only use the first eight bits.  Every module that needs a flag value takes it
from here; kernels receive the values they need as plain integer arguments.

Reference files may carry their own (often 8-bit) DQ arrays whose meaning is
given by a DQ_DEF table; :func:`dq_from_dqdef` maps such an array onto this
master table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

__all__ = [
    "pixel",
    "group",
    "bit_value",
    "interpret_bit_flags",
    "dqflags_to_mnemonics",
    "dq_from_dqdef",
    "dqdef_table",
]

#: Every flag of the master table, name -> value (bit = log2(value)).
pixel: dict[str, int] = {
    "GOOD": 0,
    "DO_NOT_USE": 1 << 0,
    "SATURATED": 1 << 1,
    "JUMP_DET": 1 << 2,
    "DROPOUT": 1 << 3,
    "OUTLIER": 1 << 4,
    "PERSISTENCE": 1 << 5,
    "AD_FLOOR": 1 << 6,
    "CHARGELOSS": 1 << 7,
    "UNRELIABLE_ERROR": 1 << 8,
    "NON_SCIENCE": 1 << 9,
    "DEAD": 1 << 10,
    "HOT": 1 << 11,
    "WARM": 1 << 12,
    "LOW_QE": 1 << 13,
    "RC": 1 << 14,
    "TELEGRAPH": 1 << 15,
    "NONLINEAR": 1 << 16,
    "BAD_REF_PIXEL": 1 << 17,
    "NO_FLAT_FIELD": 1 << 18,
    "NO_GAIN_VALUE": 1 << 19,
    "NO_LIN_CORR": 1 << 20,
    "NO_SAT_CHECK": 1 << 21,
    "UNRELIABLE_BIAS": 1 << 22,
    "UNRELIABLE_DARK": 1 << 23,
    "UNRELIABLE_SLOPE": 1 << 24,
    "UNRELIABLE_FLAT": 1 << 25,
    "OPEN": 1 << 26,
    "ADJ_OPEN": 1 << 27,
    "UNRELIABLE_RESET": 1 << 28,
    "MSA_FAILED_OPEN": 1 << 29,
    "OTHER_BAD_PIXEL": 1 << 30,
    "REFERENCE_PIXEL": 1 << 31,
}

#: The GROUPDQ subset (bits 0-7).
group: dict[str, int] = {
    name: value for name, value in pixel.items() if value < 256
}

# The seed names bits 4-7 RESERVED; the established pipeline has since given
# them meanings (OUTLIER, PERSISTENCE, AD_FLOOR, CHARGELOSS) and bit 31
# REFERENCE_PIXEL.  We keep those names so files interoperate, and accept
# RESERVED_1..4 as aliases of the seed's reserved bits.
_ALIASES: dict[str, int] = {
    "RESERVED_1": 1 << 4,
    "RESERVED_2": 1 << 5,
    "RESERVED_3": 1 << 6,
    "RESERVED_4": 1 << 7,
    # The established pipeline renamed bit 28 (UNRELIABLE_RESET in the seed).
    "FLUX_ESTIMATED": 1 << 28,
}

_DESCRIPTIONS: dict[str, str] = {
    "GOOD": "Good pixel",
    "DO_NOT_USE": "Bad pixel. Do not use.",
    "SATURATED": "Pixel saturated during exposure",
    "JUMP_DET": "Jump detected during exposure",
    "DROPOUT": "Data lost in transmission",
    "OUTLIER": "Flagged by outlier detection",
    "PERSISTENCE": "High persistence",
    "AD_FLOOR": "Below A/D floor",
    "CHARGELOSS": "Charge migration",
    "UNRELIABLE_ERROR": "Uncertainty exceeds quoted error",
    "NON_SCIENCE": "Pixel not on science portion of detector",
    "DEAD": "Dead pixel",
    "HOT": "Hot pixel",
    "WARM": "Warm pixel",
    "LOW_QE": "Low quantum efficiency",
    "RC": "RC pixel",
    "TELEGRAPH": "Telegraph pixel",
    "NONLINEAR": "Pixel highly nonlinear",
    "BAD_REF_PIXEL": "Reference pixel cannot be used",
    "NO_FLAT_FIELD": "Flat field cannot be measured",
    "NO_GAIN_VALUE": "Gain cannot be measured",
    "NO_LIN_CORR": "Linearity correction not available",
    "NO_SAT_CHECK": "Saturation check not available",
    "UNRELIABLE_BIAS": "Bias variance large",
    "UNRELIABLE_DARK": "Dark variance large",
    "UNRELIABLE_SLOPE": "Slope variance large (i.e., noisy pixel)",
    "UNRELIABLE_FLAT": "Flat variance large",
    "OPEN": "Open pixel (counts move to adjacent pixels)",
    "ADJ_OPEN": "Adjacent to open pixel",
    "UNRELIABLE_RESET": "Sensitive to reset anomaly",
    "MSA_FAILED_OPEN": "Pixel sees light from failed-open shutter",
    "OTHER_BAD_PIXEL": "A catch-all flag",
    "REFERENCE_PIXEL": "Pixel is a reference pixel",
}


def bit_value(name: str) -> int:
    """Return the value of one flag given its mnemonic (case-insensitive).

    Raises
    ------
    KeyError
        If the name is not a flag of the master table; the message lists
        the known names.
    """
    key = name.strip().upper()
    if key in pixel:
        return pixel[key]
    if key in _ALIASES:
        return _ALIASES[key]
    raise KeyError(
        f"unknown DQ flag name {name!r}; expected one of {', '.join(pixel)}"
    )


def interpret_bit_flags(
    flags: int | str | Iterable[int | str] | None,
    flip_bits: bool | None = None,
    mnemonic_map: Mapping[str, int] | None = None,
) -> int | None:
    """Turn a bit-flag specification into one integer mask.

    Accepts what the established pipeline's ``good_bits``/``dqbits``
    parameters accept: ``None`` (no mask), an integer, a list of integers or
    names, or a string of integers or names joined by ``,`` or ``+``.  A
    leading ``~`` on a string (or ``flip_bits=True``) inverts the result.

    Parameters
    ----------
    flags : int, str, iterable or None
        The specification.
    flip_bits : bool, optional
        Invert the mask (only for integers and lists).
    mnemonic_map : mapping, optional
        Name -> value table; defaults to the master table.

    Returns
    -------
    int or None
        The combined mask, ``None`` when ``flags`` is ``None`` or ``"None"``.
    """
    names = dict(pixel) if mnemonic_map is None else dict(mnemonic_map)
    if mnemonic_map is None:
        names.update(_ALIASES)

    def one(token):
        if isinstance(token, (int, np.integer)):
            if token < 0:
                raise ValueError(f"bit flag value must be non-negative, got {token}")
            return int(token)
        text = str(token).strip()
        if not text:
            raise ValueError("empty bit flag in specification")
        if text.lstrip("-").isdigit():
            return one(int(text))
        key = text.upper()
        if key not in names:
            raise ValueError(
                f"unknown DQ flag name {text!r}; expected an integer or one of "
                f"{', '.join(names)}"
            )
        return names[key]

    if flags is None:
        return None
    if isinstance(flags, str):
        text = flags.strip()
        if text.upper() in ("NONE", "INDEF", ""):
            return None
        flip = text.startswith("~")
        if flip:
            if flip_bits is not None:
                raise TypeError("use either '~' or flip_bits, not both")
            text = text[1:].strip().strip("()")
        tokens = [t for t in text.replace("+", ",").split(",")]
        value = 0
        for t in tokens:
            value |= one(t)
        return ~value if flip else value
    if isinstance(flags, (int, np.integer)):
        value = one(flags)
    else:
        value = 0
        for t in flags:
            value |= one(t)
    return ~value if flip_bits else value


def dqflags_to_mnemonics(value: int, mnemonic_map: Mapping[str, int] | None = None) -> set[str]:
    """Return the names of the flags set in ``value``."""
    table = pixel if mnemonic_map is None else mnemonic_map
    return {name for name, bit in table.items() if bit and (int(value) & bit)}


def dq_from_dqdef(dq: np.ndarray, dq_def=None) -> np.ndarray:
    """Translate a reference file's DQ array into master-table values.

    Parameters
    ----------
    dq : ndarray
        The reference file's DQ array (any integer type).
    dq_def : table-like or None
        Its DQ_DEF table: rows with ``VALUE`` and ``NAME`` (``BIT`` and
        ``DESCRIPTION`` are not needed).  ``None`` or an empty table means
        the array already uses master-table values.

    Returns
    -------
    ndarray of uint32
        The same flags expressed with the master table's bits.  Names that
        are not in the master table map to ``OTHER_BAD_PIXEL``; rows with
        value 0 (``GOOD``) carry no bits.
    """
    dq = np.asarray(dq)
    if dq_def is None or len(dq_def) == 0:
        return dq.astype(np.uint32, copy=False)
    out = np.zeros(dq.shape, dtype=np.uint32)
    src = dq.astype(np.uint32, copy=False)
    for row in dq_def:
        value = int(row["VALUE"])
        name = row["NAME"]
        if isinstance(name, bytes):
            name = name.decode("ascii")
        name = str(name).strip().upper()
        if value == 0:
            continue
        target = pixel.get(name, _ALIASES.get(name, pixel["OTHER_BAD_PIXEL"]))
        hit = (src & np.uint32(value)) != 0
        out[hit] |= np.uint32(target)
    return out


def dqdef_table(values: Iterable[int] | None = None) -> np.ndarray:
    """Build a DQ_DEF table (BIT, VALUE, NAME, DESCRIPTION) as a record array.

    Parameters
    ----------
    values : iterable of int, optional
        The flag values to describe; default: every flag of the master table.
    """
    dtype = [("BIT", "<i4"), ("VALUE", "<u4"), ("NAME", "S40"), ("DESCRIPTION", "S80")]
    by_value = {v: n for n, v in pixel.items() if v}
    chosen = sorted(by_value) if values is None else sorted(set(int(v) for v in values))
    rows = []
    for v in chosen:
        if v not in by_value:
            raise ValueError(f"{v} is not a single flag of the master DQ table")
        name = by_value[v]
        rows.append((v.bit_length() - 1, v, name, _DESCRIPTIONS[name]))
    return np.array(rows, dtype=dtype)
