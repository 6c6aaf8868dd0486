"""DMS naming conventions: candidate ids, association file names, member file names.

Association files::

    jwPPPPP-TNNNN_YYYYMMDDtHHMMSS_ATYPE_MMM_asn.json

``PPPPP`` the program, ``TNNNN`` the candidate id (``oNNN`` observation,
``c1NNN`` association candidate, ``a3NNN`` discovered, ``rNNNN`` reserved),
the version id (only when one is given), the association type, and ``MMM``
a counter per candidate and type. The spec writes the counter with three
digits, and so do we; the established generator of recent years writes five
(``_00001_``); nothing reads the counter back.

Level 3 products::

    jwPPPPP-TNNNN_tNNN_<instrument>_<optical elements>[-<subarray>]

Members are named from the pool's ``FILENAME`` by replacing the product
suffix: level 2 associations list ``_rate`` (``_rateints`` for time series,
coronagraphy and AMI), level 3 associations ``_cal`` (``_calints``), so a
pool made from ``_uncal`` or from ``_rate`` files gives the same members.
"""

from __future__ import annotations

import logging
import re
from ast import literal_eval

from photoncal.stpipe.naming import remove_suffix, split_extension

__all__ = [
    "ACID",
    "ASN_NAME_TEMPLATE",
    "ASN_NAME_TEMPLATE_STAMP",
    "exposure_root",
    "member_name",
    "candidate_sort_key",
    "classify_filename",
]

logger = logging.getLogger(__name__)

ASN_NAME_TEMPLATE_STAMP = "jw{program}-{acid}_{stamp}_{type}_{sequence:03d}_asn"
ASN_NAME_TEMPLATE = "jw{program}-{acid}_{type}_{sequence:03d}_asn"

# The spec's "field guide to file names" writes the quantifiers as {3:4},
# which is not a regular expression quantifier; {3,4} is meant.
#: Files made by a level 3 pipeline.
LEVEL3_PRODUCT_REGEX = re.compile(r".+[aocr][0-9]{3,4}.+")
#: Files of exposure-centric data.
EXPOSURE_FILE_REGEX = re.compile(r"jw[0-9]{11}_[0-9]{5}_[0-9]{5}_.+\.fits")
#: Files of target-centric data (combinations of exposures).
TARGET_FILE_REGEX = re.compile(r"jw[0-9]{5}-[aocr][0-9]{3,4}_.+")


def classify_filename(name: str) -> str | None:
    """``'exposure'`` or ``'target'`` for DMS file names, else None (spec, field guide)."""
    if EXPOSURE_FILE_REGEX.fullmatch(name):
        return "exposure"
    if TARGET_FILE_REGEX.fullmatch(name):
        return "target"
    return None


#: First id of discovered (whole-program) associations.
DISCOVERED_ID_START = 3001


def exposure_root(filename: str) -> tuple[str, str | None, str]:
    """Split a file name into ``(root, suffix, extension)``.

    The known suffixes are the framework's (:mod:`photoncal.stpipe.naming`),
    so associations and output names agree.  ``suffix`` is None when the name
    ends in no known product suffix; then ``root`` is the name without its
    extension.
    """
    stem, ext = split_extension(filename)
    root, sep = remove_suffix(stem)
    if root == stem:
        return stem, None, ext
    return root, stem[len(root) + len(sep):], ext


def member_name(filename: str, suffix: str) -> str:
    """The name of ``filename`` with its product suffix replaced by ``suffix``.

    A name with no known suffix is kept as it is (with a warning), as the
    established generator does.
    """
    root, old_suffix, ext = exposure_root(filename)
    if old_suffix is None:
        logger.warning(
            "FILENAME %r ends in no known product suffix; the member keeps this name",
            filename,
        )
        return filename
    return f"{root}_{suffix}{ext}"


def candidate_sort_key(asn_id: str) -> int:
    """Preference of a candidate level when duplicates are pruned: o < c < a < r."""
    order = {"o": 0, "c": 1, "a": 2, "r": 3}
    return order.get(str(asn_id)[:1].lower(), 4)


class ACID:
    """Association candidate identifier: an id (``o001``, ``c1000``, ``a3001``) and a type.

    Parameters
    ----------
    init : str or tuple
        ``('o001', 'observation')``, or its string form as found in the pool's
        ``ASN_CANDIDATE`` column.
    """

    def __init__(self, init):
        if isinstance(init, str):
            try:
                init = literal_eval(init)
            except (ValueError, SyntaxError) as error:
                raise ValueError(
                    f"candidate {init!r} is not an (id, type) pair like ('o001', 'observation')"
                ) from error
        if isinstance(init, list) and len(init) == 1:
            init = init[0]
        try:
            candidate_id, candidate_type = init
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"candidate {init!r} is not an (id, type) pair like ('o001', 'observation')"
            ) from error
        self.id = str(candidate_id).lower()
        self.type = str(candidate_type).lower()

    def __str__(self):
        return self.id

    def __repr__(self):
        return f"ACID(({self.id!r}, {self.type!r}))"

    def __eq__(self, other):
        return isinstance(other, ACID) and (self.id, self.type) == (other.id, other.type)

    def __hash__(self):
        return hash((self.id, self.type))
