"""The Roman WFI data-quality flags.

Roman uses the JWST master table of :mod:`photoncal.dqflags` with two bits
renamed: bit 4 is ``GW_AFFECTED_DATA`` (pixels read while the guide window
was read; JWST's ``OUTLIER``) and bit 7 is ``OUTLIER`` (JWST's
``CHARGELOSS``).  Bits 14 (``RC``) and 26-29 (NIRSpec MSA) are reserved.
The resultant (group) DQ uses bits 0-7, with bit 7 ``WFI18_TRANSIENT``.

These are the values roman_datamodels writes, so DQ arrays move between the
two packages unchanged.  Kernels take flag values as arguments; steps pass
them from here.
"""

from __future__ import annotations

from photoncal import dqflags as _master

__all__ = ["pixel", "group", "DO_NOT_USE", "SATURATED", "JUMP_DET", "GW_AFFECTED_DATA",
           "REFERENCE_PIXEL", "NO_FLAT_FIELD", "BAD_REF_PIXEL", "NO_GAIN_VALUE", "NO_LIN_CORR",
           "NO_SAT_CHECK", "AD_FLOOR", "OUTLIER"]

_RENAMED = {1 << 4: "GW_AFFECTED_DATA", 1 << 7: "OUTLIER", 1 << 14: "RESERVED_4",
            1 << 26: "RESERVED_5", 1 << 27: "RESERVED_6", 1 << 29: "RESERVED_7"}

#: Roman pixel flags, name -> value.
pixel: dict[str, int] = {_RENAMED.get(value, name): value for name, value in _master.pixel.items()}

#: Roman resultant (GROUPDQ) flags.
group: dict[str, int] = {
    "GOOD": 0,
    "DO_NOT_USE": pixel["DO_NOT_USE"],
    "SATURATED": pixel["SATURATED"],
    "JUMP_DET": pixel["JUMP_DET"],
    "DROPOUT": pixel["DROPOUT"],
    "AD_FLOOR": pixel["AD_FLOOR"],
    "WFI18_TRANSIENT": 1 << 7,
}

DO_NOT_USE = pixel["DO_NOT_USE"]
SATURATED = pixel["SATURATED"]
JUMP_DET = pixel["JUMP_DET"]
GW_AFFECTED_DATA = pixel["GW_AFFECTED_DATA"]
AD_FLOOR = pixel["AD_FLOOR"]
OUTLIER = pixel["OUTLIER"]
REFERENCE_PIXEL = pixel["REFERENCE_PIXEL"]
NO_FLAT_FIELD = pixel["NO_FLAT_FIELD"]
BAD_REF_PIXEL = pixel["BAD_REF_PIXEL"]
NO_GAIN_VALUE = pixel["NO_GAIN_VALUE"]
NO_LIN_CORR = pixel["NO_LIN_CORR"]
NO_SAT_CHECK = pixel["NO_SAT_CHECK"]
