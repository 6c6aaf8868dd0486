"""Output file names: the one naming function of photoncal.

Seed 002 (user manual, "Output File Names"): a file name is
``<basename>_<suffix>.<ext>``.  The base name comes from ``output_file``,
the association product name, or the input file name; whichever it is, a
*known* suffix at its end (``_uncal``, ``_rate``, ``_dq_init``, ...) is
replaced by the product's suffix rather than stacked on it::

    >>> output_filename("jw00017001001_01101_00001_nrca1_uncal.fits", "dq_init")
    'jw00017001001_01101_00001_nrca1_dq_init.fits'

Known suffixes are the seed's product suffix table, the other suffixes the
established pipeline writes, and every registered step and pipeline alias
(so ``x_dq_init.fits`` through saturation gives ``x_saturation.fits``).
Only one suffix is removed, and ``-`` is accepted as separator as well
as ``_`` (the established pipeline does the same).
"""

from __future__ import annotations

import os
import re
from functools import lru_cache

__all__ = [
    "PRODUCT_SUFFIXES",
    "known_suffixes",
    "remove_suffix",
    "replace_suffix",
    "output_filename",
]

#: The seed's table of product suffixes (seed 002, "Pipeline/Step Suffix Definitions").
PRODUCT_SUFFIXES = (
    "uncal",
    "ramp",
    "rate",
    "rateints",
    "fitopt",
    "bsub",
    "bsubints",
    "cal",
    "calints",
    "crf",
    "crfints",
    "x1d",
    "x1dints",
    "i2d",
    "s2d",
    "s3d",
    "cat",
    "phot",
    "whtlt",
    "psfstack",
    "psfalign",
    "psfsub",
    "ami",
    "amiavg",
    "aminorm",
)

# Other suffixes of the established pipeline's products and intermediate
# files (its suffix list), and of the Roman pipeline.
_OTHER_SUFFIXES = (
    "ami-oi",
    "aminorm-oi",
    "blot",
    "c1d",
    "contrast",
    "dark",
    "mbsub",
    "median",
    "residual_fringe",
    "segm",
    "snr",
    "trapsfilled",
    "wfscmb",
)


def _registered_names() -> set[str]:
    from . import registry

    names: set[str] = set()
    for entry in registry.entries():
        names.add(entry.alias)
        names.update(entry.aliases)
        names.add(entry.class_name.lower())
        names.add(entry.cfg_name.rsplit(".", 1)[0])
    return names


@lru_cache(maxsize=1)
def _static_suffixes() -> frozenset:
    return frozenset(PRODUCT_SUFFIXES) | frozenset(_OTHER_SUFFIXES) | frozenset(_registered_names())


_extra_suffixes: set[str] = set()


def add_known_suffix(suffix: str) -> None:
    """Register one more known suffix (the framework adds each step class's
    ``class_alias`` and default suffix when the class is defined)."""
    if suffix and suffix not in _extra_suffixes and suffix not in _static_suffixes():
        _extra_suffixes.add(suffix)
        _regex.cache_clear()


def known_suffixes() -> frozenset:
    """Every suffix :func:`remove_suffix` removes."""
    return _static_suffixes() | frozenset(_extra_suffixes)


@lru_cache(maxsize=1)
def _regex():
    # Longest alternatives first so "rateints" is not read as "rate".
    alternatives = "|".join(re.escape(s) for s in sorted(known_suffixes(), key=len, reverse=True))
    return re.compile(rf"^(?P<root>.+?)(?:(?P<sep>[_-])(?P<suffix>{alternatives}))?$")


def remove_suffix(stem: str) -> tuple[str, str]:
    """Remove one known suffix from a file name stem (no extension).

    Returns
    -------
    root, separator : str, str
        The stem without the suffix and the separator that preceded it
        (``"_"`` when there was no suffix).
    """
    match = _regex().match(stem)
    if match is None:  # empty stem
        return stem, "_"
    return match.group("root"), match.group("sep") or "_"


def replace_suffix(stem: str, suffix: str) -> str:
    """``stem`` with its known suffix (if any) replaced by ``suffix``."""
    root, sep = remove_suffix(stem)
    return f"{root}{sep}{suffix}" if suffix else root


_COMPOUND_EXTENSIONS = (".fits.gz", ".fits.fz", ".fits.bz2")


def split_extension(name: str) -> tuple[str, str]:
    """Split a file name into stem and extension (``.fits.gz`` kept whole)."""
    lower = name.lower()
    for ext in _COMPOUND_EXTENSIONS:
        if lower.endswith(ext):
            return name[: -len(ext)], name[-len(ext) :]
    stem, ext = os.path.splitext(name)
    # A product name such as "jw001-o001_t001_nircam_clear-f200w" has no
    # extension; only treat short alphanumeric endings as one.
    if ext and not re.fullmatch(r"\.[A-Za-z][A-Za-z0-9]{0,5}", ext):
        return name, ""
    return stem, ext


def output_filename(
    base,
    suffix: str | None = None,
    *,
    ext: str | None = None,
    output_dir=None,
    components=(),
) -> str:
    """Compose an output path from a base name and a product suffix.

    Parameters
    ----------
    base : str or path-like
        A file name or path (input file, ``output_file``) or an
        association product name.  When it has a directory part and
        ``output_dir`` is not given, the file goes to that directory.
    suffix : str or None
        The product suffix; it replaces a known suffix at the end of the
        base name.  ``None`` or ``""`` keeps the base name as it is.
    ext : str or None
        Extension, with or without the dot; default: the base name's own
        extension, else ``.fits``.
    output_dir : str or None
        Directory of the output (created by the caller).
    components : sequence
        Extra name parts inserted before the suffix (``idx`` of one of
        several results): ``base_0_suffix.fits``.

    Returns
    -------
    str
        The output path.
    """
    base = os.fspath(base)
    directory, name = os.path.split(base)
    stem, base_ext = split_extension(name)
    if ext is None or ext == "":
        ext = base_ext or ".fits"
    if not ext.startswith("."):
        ext = "." + ext
    parts = [str(c) for c in components if c is not None and str(c) != ""]
    if suffix:
        root, sep = remove_suffix(stem)
        stem = sep.join([root, *parts, suffix]) if parts else f"{root}{sep}{suffix}"
    elif parts:
        stem = "_".join([stem, *parts])
    filename = stem + ext
    target_dir = os.path.expandvars(os.path.expanduser(os.fspath(output_dir))) if output_dir else directory
    return os.path.join(target_dir, filename) if target_dir else filename
