"""The rules that combine the values of one metadata attribute over several inputs.

A schema names a rule with ``blend_rule: <name>``; attributes without one
take the ``first`` value.  The names are those of the spec (``first``,
``last``, ``float_one``, ``int_one``, ``zero``, ``multi``, ``multi?``,
``mean``, ``sum``, ``max``, ``min``, ``stddev``) and of the established
schemas (``mindate``, ``maxdate``, ``mintime``, ``maxtime``,
``mindatetime``, ``maxdatetime`` - ISO 8601 strings, whose lexical and
chronological orders agree - and ``wheeltol``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["RULES", "AttributeBlender", "make_blender"]

#: The value the MIRI/NIRCam wheel-tolerance keywords take when any input is out of tolerance.
WHEEL_OUT_OF_TOLERANCE = "outside calibration tolerance"
WHEEL_IN_TOLERANCE = "within commanded tolerance"


def first(values):
    """The first value, in input order."""
    return values[0]


def last(values):
    """The last value, in input order."""
    return values[-1]


def float_one(values):
    """Always 1.0."""
    return 1.0


def int_one(values):
    """Always 1."""
    return 1


def zero(values):
    """Always 0."""
    return 0


def _common_or(values, other):
    distinct = list(dict.fromkeys(values))
    return distinct[0] if len(distinct) == 1 else other


def multi(values):
    """The common value, or ``'MULTIPLE'`` when the inputs differ."""
    return _common_or(values, "MULTIPLE")


def multi_question(values):
    """The common value, or ``'?'`` when the inputs differ."""
    return _common_or(values, "?")


def _numeric(func):
    def rule(values):
        return func(np.asarray(values, dtype=np.float64)).item()

    rule.__name__ = func.__name__
    rule.__doc__ = f"numpy.{func.__name__} of the values (as float64)."
    return rule


def _ordered(func):
    def rule(values):
        return func(values)

    rule.__name__ = func.__name__
    rule.__doc__ = f"Python {func.__name__}() of the values (strings compare lexically)."
    return rule


def wheeltol(values):
    """``'outside calibration tolerance'`` if any input is, else ``'within commanded tolerance'``."""
    if any(v == WHEEL_OUT_OF_TOLERANCE for v in values):
        return WHEEL_OUT_OF_TOLERANCE
    return WHEEL_IN_TOLERANCE


RULES = {
    "first": first,
    "last": last,
    "float_one": float_one,
    "int_one": int_one,
    "zero": zero,
    "multi": multi,
    "multi?": multi_question,
    "mean": _numeric(np.mean),
    "sum": _numeric(np.sum),
    "max": _ordered(max),
    "min": _ordered(min),
    "stddev": _numeric(np.std),
    "mindate": _ordered(min),
    "maxdate": _ordered(max),
    "mintime": _ordered(min),
    "maxtime": _ordered(max),
    "mindatetime": _ordered(min),
    "maxdatetime": _ordered(max),
    "wheeltol": wheeltol,
}


class AttributeBlender:
    """Collects the values of one attribute, one input at a time, and blends them.

    Parameters
    ----------
    rule : str
        A key of :data:`RULES`.
    """

    def __init__(self, rule: str):
        try:
            self.function = RULES[rule]
        except KeyError:
            raise ValueError(
                f"unknown blend_rule {rule!r}; known rules: {', '.join(sorted(RULES))}"
            ) from None
        self.rule = rule
        self.values = []

    def accumulate(self, value):
        """Add one input's value (``None`` values are left out)."""
        if value is not None:
            self.values.append(value)

    def finalize(self):
        """The blended value, or ``None`` when no input had one."""
        if not self.values:
            return None
        return self.function(self.values)


def make_blender(rule: str) -> AttributeBlender:
    """An :class:`AttributeBlender` for the rule ``rule``."""
    return AttributeBlender(rule)
