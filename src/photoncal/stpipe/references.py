"""Reference-file resolution: override, local directories, CRDS, simulated set.

For each reference type a step asks for (:meth:`Step.get_reference_file`),
the file is found in this order:

1. the step's ``override_<reftype>`` parameter (a path, a model, or
   ``N/A``) - handled by the step;
2. local reference directories: the step's ``reference_dir`` parameter,
   then ``$PHOTONCAL_REFDIR`` (both ``os.pathsep``-separated lists),
   searched recursively, in that order; the first directory holding a
   matching file wins;
3. CRDS, only when configured (``CRDS_SERVER_URL``, ``CRDS_PATH`` or
   ``CRDS_CONTEXT`` set) - ``crds`` is imported only then, and given the
   model's metadata as the established pipeline does;
4. the default simulated reference directory
   (:func:`photoncal.config.default_reference_dir`), only for exposures
   whose ``meta.origin`` is ``PHOTONCAL-SIM``, so simulated references never
   calibrate real data.

Selection in a local directory uses each file's own header keywords (the
primary header of a FITS file, the ``meta`` tree of an ASDF file):
``REFTYPE`` must be the type asked for, ``INSTRUME`` (and ``TELESCOP``) must
match, and the keywords :data:`SELECTION_KEYWORDS` lists for the type are
compared with the exposure's.  A keyword the reference does not carry, or
whose value is ``ANY`` or ``N/A``, matches anything; the ``P_`` pattern
keywords (``P_READPA = 'NIS|NRSRAPID|'``) list several accepted values.  A
reference whose ``SUBARRAY`` is ``FULL`` may serve a subarray exposure (the
step cuts it with ``photoncal.datamodels.subarray``).  Among the matching
files whose ``USEAFTER`` is not after the observation (``DATE-OBS`` and
``TIME-OBS``), the most specific match wins (an exact value scores 2, a
wildcard 1, a FULL fallback 0), then the latest ``USEAFTER``, then the
greatest file name (``_0002`` over ``_0001``).  The reasons are logged at
DEBUG level.

A directory is indexed once per process (headers only, cached by its path
and modification time); hundreds of files take a fraction of a second.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import logging
import os
from dataclasses import dataclass, field

from .exceptions import ReferenceFileNotFoundError

__all__ = [
    "SELECTION_KEYWORDS",
    "ROMAN_SELECTION_KEYWORDS",
    "ReferenceFile",
    "ResolvedReference",
    "index_directory",
    "read_reference_keywords",
    "selection_values",
    "observation_time",
    "select_reference",
    "find_reference",
    "crds_configured",
    "reference_dirs",
]

log = logging.getLogger("photoncal.stpipe.references")

REFERENCE_EXTENSIONS = (".fits", ".fit", ".fits.gz", ".asdf")
CRDS_ENV = ("CRDS_SERVER_URL", "CRDS_PATH", "CRDS_CONTEXT")
REFDIR_ENV = "PHOTONCAL_REFDIR"

_DETECTOR_ARRAY = ("DETECTOR", "SUBARRAY")
_WCS = ("EXP_TYPE", "DETECTOR", "CHANNEL", "BAND", "FILTER", "PUPIL", "GRATING", "MODULE")

#: Exposure keywords compared for each reference type, besides INSTRUME and
#: TELESCOP (seed 002: the "CRDS Selection Criteria" of each step and of the
#: reference-file formats chapter).
SELECTION_KEYWORDS: dict[str, tuple[str, ...]] = {
    # stage 1
    "mask": ("DETECTOR", "SUBARRAY", "READPATT"),
    "saturation": _DETECTOR_ARRAY,
    "superbias": ("DETECTOR", "READPATT", "SUBARRAY"),
    "refpix": ("DETECTOR", "READPATT"),
    "sirskernel": ("DETECTOR",),
    "linearity": _DETECTOR_ARRAY,
    "inverselinearity": _DETECTOR_ARRAY,
    "ipc": _DETECTOR_ARRAY,
    "persat": _DETECTOR_ARRAY,
    "trapdensity": _DETECTOR_ARRAY,
    "trappars": ("DETECTOR",),
    "dark": ("DETECTOR", "READPATT", "SUBARRAY", "MA_TABLE_NUMBER"),
    "gain": _DETECTOR_ARRAY,
    "readnoise": _DETECTOR_ARRAY,
    "rscd": ("DETECTOR",),
    "reset": ("DETECTOR", "READPATT", "SUBARRAY"),
    # stage 2
    "flat": ("DETECTOR", "FILTER", "PUPIL", "BAND", "READPATT", "SUBARRAY"),
    "dflat": ("EXP_TYPE", "DETECTOR", "FILTER", "GRATING"),
    "fflat": ("EXP_TYPE", "DETECTOR", "FILTER", "GRATING"),
    "sflat": ("EXP_TYPE", "DETECTOR", "FILTER", "GRATING"),
    "photom": ("EXP_TYPE", "DETECTOR"),
    "area": ("EXP_TYPE", "DETECTOR", "FILTER", "PUPIL"),
    "bkg": ("EXP_TYPE", "DETECTOR", "FILTER", "PUPIL"),
    "wavelengthrange": ("EXP_TYPE",),
    "distortion": _WCS,
    "filteroffset": ("EXP_TYPE", "DETECTOR", "CHANNEL", "MODULE", "SUBARRAY"),
    "specwcs": _WCS + ("SUBARRAY",),
    "regions": _WCS,
    "v2v3": _WCS,
    "camera": ("EXP_TYPE",),
    "collimator": ("EXP_TYPE",),
    "disperser": ("EXP_TYPE", "GRATING"),
    "fore": ("EXP_TYPE", "FILTER"),
    "fpa": ("EXP_TYPE",),
    "ifufore": ("EXP_TYPE",),
    "ifupost": ("EXP_TYPE",),
    "ifuslicer": ("EXP_TYPE",),
    "msa": ("EXP_TYPE",),
    "ote": ("EXP_TYPE",),
    # stage 3
    "apcorr": ("EXP_TYPE",),
    "abvegaoffset": (),
    "drizpars": (),
    "epsf": ("DETECTOR", "FILTER"),
    "matable": (),
}
#: Roman WFI exposures (``TELESCOP = ROMAN``): the Roman reference types and
#: the keywords compared for each.  ``SUBARRAY`` is photoncal's own: small
#: simulated cutouts carry it (``meta.subarray.name``) so their reference files
#: are kept apart from full-detector ones; real Roman files carry none.
ROMAN_SELECTION_KEYWORDS: dict[str, tuple[str, ...]] = {
    "mask": ("DETECTOR", "SUBARRAY"),
    "saturation": ("DETECTOR", "SUBARRAY"),
    "refpix": ("DETECTOR", "SUBARRAY"),
    "linearity": ("DETECTOR", "SUBARRAY"),
    "inverselinearity": ("DETECTOR", "SUBARRAY"),
    "integralnonlinearity": ("DETECTOR", "SUBARRAY"),
    "gain": ("DETECTOR", "SUBARRAY"),
    "readnoise": ("DETECTOR", "EXP_TYPE", "SUBARRAY"),
    "dark": ("DETECTOR", "EXP_TYPE", "MA_TABLE_NUMBER", "SUBARRAY"),
    "flat": ("DETECTOR", "FILTER", "SUBARRAY"),
    "area": ("DETECTOR", "FILTER", "SUBARRAY"),
    "distortion": ("DETECTOR", "FILTER", "SUBARRAY"),
    "photom": ("DETECTOR",),
    "apcorr": ("DETECTOR", "FILTER"),
    "epsf": ("DETECTOR", "FILTER"),
}

#: For a reference type not in the table, every one of these the reference
#: carries is compared (strict rather than wrong).
DEFAULT_SELECTION = ("DETECTOR", "EXP_TYPE", "READPATT", "SUBARRAY", "FILTER", "PUPIL", "CHANNEL", "BAND",
                     "MODULE", "GRATING")

# exposure metadata of each selection keyword (first one set wins)
_MODEL_PATHS = {
    "TELESCOP": ("telescope",),
    "INSTRUME": ("instrument.name",),
    "DETECTOR": ("instrument.detector",),
    "FILTER": ("instrument.filter", "instrument.optical_element"),
    "PUPIL": ("instrument.pupil",),
    "CHANNEL": ("instrument.channel",),
    "BAND": ("instrument.band",),
    "MODULE": ("instrument.module",),
    "GRATING": ("instrument.grating",),
    "EXP_TYPE": ("exposure.type",),
    "READPATT": ("exposure.readpatt",),
    "SUBARRAY": ("subarray.name",),
    "MA_TABLE_NUMBER": ("exposure.ma_table_number",),
}
# where an ASDF reference file keeps each keyword in its meta tree
_ASDF_PATHS = {
    **_MODEL_PATHS,
    "REFTYPE": ("reftype",),
    "USEAFTER": ("useafter",),
    "P_DETECT": ("instrument.p_detector",),
    "P_FILTER": ("instrument.p_filter",),
    "P_PUPIL": ("instrument.p_pupil",),
    "P_CHANNE": ("instrument.p_channel",),
    "P_BAND": ("instrument.p_band",),
    "P_MODULE": ("instrument.p_module",),
    "P_GRATIN": ("instrument.p_grating",),
    "P_EXP_TY": ("exposure.p_exptype",),
    "P_READPA": ("exposure.p_readpatt",),
    "P_SUBARR": ("subarray.p_subarray",),
}
_WILDCARDS = {"ANY", "N/A"}


def _pattern_keyword(keyword: str) -> str:
    """The CRDS pattern keyword of a selection keyword: ``P_READPA``."""
    return "P_" + keyword[:6]


# ----------------------------------------------------------------------
# reading reference headers
# ----------------------------------------------------------------------
def _parse_card_value(text: str):
    text = text.strip()
    if text.startswith("'"):
        out = []
        index = 1
        while index < len(text):
            char = text[index]
            if char == "'":
                if index + 1 < len(text) and text[index + 1] == "'":
                    out.append("'")
                    index += 2
                    continue
                break
            out.append(char)
            index += 1
        return "".join(out).rstrip()
    value = text.split("/", 1)[0].strip()
    if value == "T":
        return True
    if value == "F":
        return False
    return value


def _read_fits_primary_header(path: str) -> dict:
    """The primary header's keywords (string values, quotes removed).

    A small reader of our own: only 2880-byte blocks up to END are read, so
    indexing large reference files costs a few kilobytes each.
    """
    opener = gzip.open if path.lower().endswith(".gz") else open
    cards: dict = {}
    last_string_key = None
    with opener(path, "rb") as handle:
        first = True
        while True:
            block = handle.read(2880)
            if len(block) < 2880:
                raise ValueError("truncated FITS header (no END card)")
            if first and not block.startswith(b"SIMPLE  ="):
                raise ValueError("not a FITS file (no SIMPLE card)")
            first = False
            for start in range(0, 2880, 80):
                card = block[start : start + 80].decode("ascii", "replace")
                key = card[:8].strip()
                if key == "END":
                    return cards
                if key == "CONTINUE" and last_string_key:
                    piece = _parse_card_value(card[8:])
                    previous = cards[last_string_key]
                    if isinstance(previous, str) and previous.endswith("&"):
                        cards[last_string_key] = previous[:-1] + (piece if isinstance(piece, str) else "")
                    continue
                if card[8:10] != "= " or not key:
                    continue
                value = _parse_card_value(card[10:])
                cards.setdefault(key, value)
                last_string_key = key if isinstance(value, str) and card[10:].strip().startswith("'") else None


def _dig(tree, dotted: str):
    node = tree
    for part in dotted.split("."):
        if isinstance(node, dict):
            node = node.get(part)
        else:
            return None
        if node is None:
            return None
    if isinstance(node, dict) and "value" in node:  # tagged times read as mappings
        node = node["value"]
    return node


def _read_asdf_keywords(path: str) -> dict:
    from ._asdf_tree import read_meta

    meta = read_meta(path)
    keywords = {}
    for keyword, paths in _ASDF_PATHS.items():
        for dotted in paths:
            value = _dig(meta, dotted)
            if value is not None:
                keywords[keyword] = value
                break
    return keywords


def read_reference_keywords(path) -> dict:
    """The selection keywords of one reference file (FITS or ASDF), as
    upper-case keyword names mapped to values."""
    path = os.fspath(path)
    with open(path, "rb") as handle:
        head = handle.read(5)
    if head.startswith(b"#ASDF"):
        return _read_asdf_keywords(path)
    return _read_fits_primary_header(path)


# ----------------------------------------------------------------------
# dates
# ----------------------------------------------------------------------
_OLD_FORMATS = ("%b %d %Y %H:%M:%S", "%b %d %Y", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d")


def parse_date(value) -> _dt.datetime | None:
    """Parse a USEAFTER or observation date; None when it cannot be read."""
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, _dt.date):
        return _dt.datetime(value.year, value.month, value.day)
    isot = getattr(value, "isot", None)  # astropy Time
    if isinstance(isot, str):
        value = isot
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if 30000 < value < 100000:  # a Modified Julian Date
            return _dt.datetime(1858, 11, 17) + _dt.timedelta(days=float(value))
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        return _dt.datetime.fromisoformat(text.replace("Z", "")).replace(tzinfo=None)
    except ValueError:
        pass
    for fmt in _OLD_FORMATS:
        try:
            return _dt.datetime.strptime(" ".join(text.split()), fmt)
        except ValueError:
            continue
    return None


# ----------------------------------------------------------------------
# the index
# ----------------------------------------------------------------------
@dataclass
class ReferenceFile:
    """One indexed reference file."""

    path: str
    keywords: dict
    reftype: str = ""
    useafter: _dt.datetime | None = None

    def allowed(self, keyword: str) -> set[str] | None:
        """The values the file accepts for ``keyword``, or None for any."""
        raw = self.keywords.get(_pattern_keyword(keyword))
        if raw in (None, ""):
            raw = self.keywords.get(keyword)
        if raw is None:
            return None
        values = {str(v).strip().upper() for v in str(raw).split("|")}
        values.discard("")
        if not values or values & _WILDCARDS:
            return None
        return values


@dataclass
class _DirectoryIndex:
    mtime_ns: int
    files: list = field(default_factory=list)
    subdirs: list = field(default_factory=list)


_INDEX_CACHE: dict[str, _DirectoryIndex] = {}


def _is_reference_name(name: str) -> bool:
    lower = name.lower()
    return not name.startswith(".") and lower.endswith(REFERENCE_EXTENSIONS)


def _index_one_directory(directory: str) -> _DirectoryIndex:
    stat = os.stat(directory)
    cached = _INDEX_CACHE.get(directory)
    if cached is not None and cached.mtime_ns == stat.st_mtime_ns:
        return cached
    index = _DirectoryIndex(stat.st_mtime_ns)
    with os.scandir(directory) as listing:
        for entry in sorted(listing, key=lambda e: e.name):
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                index.subdirs.append(entry.path)
            elif entry.is_file() and _is_reference_name(entry.name):
                try:
                    keywords = read_reference_keywords(entry.path)
                except (OSError, ValueError) as err:
                    log.debug("reference index: skipping %s: %s", entry.path, err)
                    continue
                reftype = str(keywords.get("REFTYPE", "")).strip().lower()
                if not reftype:
                    log.debug("reference index: skipping %s: no REFTYPE keyword", entry.path)
                    continue
                index.files.append(
                    ReferenceFile(entry.path, keywords, reftype, parse_date(keywords.get("USEAFTER")))
                )
    _INDEX_CACHE[directory] = index
    return index


def index_directory(directory) -> list[ReferenceFile]:
    """Every reference file under ``directory`` (recursively), from the cache
    when the directories have not changed."""
    root = os.path.abspath(os.path.expanduser(os.fspath(directory)))
    if not os.path.isdir(root):
        raise ReferenceFileNotFoundError(f"reference directory {root!r} does not exist")
    files: list[ReferenceFile] = []
    pending = [root]
    seen = set()
    while pending:
        current = pending.pop(0)
        real = os.path.realpath(current)
        if real in seen:
            continue
        seen.add(real)
        index = _index_one_directory(current)
        files.extend(index.files)
        pending.extend(index.subdirs)
    return files


# ----------------------------------------------------------------------
# the exposure's side
# ----------------------------------------------------------------------
def _meta_get(model, dotted: str):
    node = getattr(model, "meta", None)
    for part in dotted.split("."):
        if node is None:
            return None
        try:
            node = node[part] if isinstance(node, dict) else getattr(node, part)
        except (AttributeError, KeyError, TypeError):
            return None
    return node


def selection_values(model) -> dict:
    """The exposure's value of every selection keyword (None when unset)."""
    values = {}
    for keyword, paths in _MODEL_PATHS.items():
        value = None
        for dotted in paths:
            value = _meta_get(model, dotted)
            # only scalars count: an unset branch of a schema tree is a node
            if isinstance(value, (str, int, float)) and not isinstance(value, bool) and str(value).strip():
                break
            value = None
        values[keyword] = None if value is None else str(value).strip()
    return values


def observation_time(model) -> _dt.datetime | None:
    """DATE-OBS/TIME-OBS of the exposure (Roman: ``meta.exposure.start_time``)."""
    date = _meta_get(model, "observation.date")
    if date is not None:
        time = _meta_get(model, "observation.time")
        parsed = parse_date(f"{date}T{time}" if time else date)
        if parsed is None:
            parsed = parse_date(date)
        if parsed is not None:
            return parsed
    for dotted in ("exposure.start_time", "observation.date_beg", "exposure.start_time_mjd"):
        parsed = parse_date(_meta_get(model, dotted))
        if parsed is not None:
            return parsed
    return None


def _selection_table(values: dict) -> dict:
    """The selection table for the exposure (Roman or JWST)."""
    return ROMAN_SELECTION_KEYWORDS if (values.get("TELESCOP") or "").upper() == "ROMAN" else SELECTION_KEYWORDS


def _describe(values: dict, keywords) -> str:
    return " ".join(f"{k}={values.get(k)!r}" for k in keywords)


def select_reference(files, reftype: str, values: dict, when: _dt.datetime | None):
    """Choose the best file of ``reftype`` for an exposure.

    Returns
    -------
    best : ReferenceFile or None
    report : list of str
        One line per candidate: why it was rejected or its rank.
    """
    reftype = reftype.lower()
    keywords = ("TELESCOP", "INSTRUME", *_selection_table(values).get(reftype, DEFAULT_SELECTION))
    report = []
    ranked = []
    for ref in files:
        if ref.reftype != reftype:
            continue
        name = os.path.basename(ref.path)
        score = 0
        reason = None
        for keyword in keywords:
            allowed = ref.allowed(keyword)
            if allowed is None:
                score += 1
                continue
            science = values.get(keyword)
            if science is None:
                if keyword == "TELESCOP":
                    continue
                reason = f"{keyword}: the exposure has none, the reference requires {'|'.join(sorted(allowed))}"
                break
            if science.upper() in allowed:
                score += 2
            elif keyword == "SUBARRAY" and allowed & {"FULL", "GENERIC"}:
                score += 0  # a full-frame reference, cut to the subarray by the step
            else:
                reason = f"{keyword}: {science} not in {'|'.join(sorted(allowed))}"
                break
        if reason is None and when is not None and ref.useafter is not None and ref.useafter > when:
            reason = f"USEAFTER {ref.useafter.isoformat()} is after the observation {when.isoformat()}"
        if reason is not None:
            report.append(f"{name}: rejected, {reason}")
            continue
        if ref.useafter is None and ref.keywords.get("USEAFTER") not in (None, ""):
            report.append(f"{name}: USEAFTER {ref.keywords.get('USEAFTER')!r} cannot be read; treated as oldest")
        ranked.append(((score, ref.useafter or _dt.datetime.min, name), ref))
    ranked.sort(key=lambda item: item[0], reverse=True)
    for rank, (key, ref) in enumerate(ranked, start=1):
        useafter = key[1].isoformat() if key[1] != _dt.datetime.min else "none"
        report.append(f"{key[2]}: candidate {rank}, specificity {key[0]}, USEAFTER {useafter}")
    return (ranked[0][1] if ranked else None), report


# ----------------------------------------------------------------------
# CRDS
# ----------------------------------------------------------------------
def crds_configured() -> bool:
    """Whether the user configured CRDS (``CRDS_SERVER_URL``, ``CRDS_PATH``
    or ``CRDS_CONTEXT`` in the environment)."""
    return any(os.environ.get(name) for name in CRDS_ENV)


def _flatten(node, prefix: str, out: dict, depth: int = 0):
    if depth > 8 or node is None:
        return
    if isinstance(node, (str, int, float, bool)):
        out[prefix] = node
        return
    if isinstance(node, dict):
        items = node.items()
    elif hasattr(node, "items") and callable(node.items):
        try:
            items = list(node.items())
        except Exception:  # noqa: BLE001 - any tree-like object
            return
    elif hasattr(node, "__dict__"):
        items = [(k, v) for k, v in vars(node).items() if not k.startswith("_")]
    else:
        return
    for key, value in items:
        _flatten(value, f"{prefix}.{key}", out, depth + 1)


def crds_parameters(model) -> dict:
    """The model's metadata as CRDS wants it (``meta.instrument.name`` ->
    value), from the model's own ``get_crds_parameters`` when it has one."""
    if hasattr(model, "get_crds_parameters"):
        return dict(model.get_crds_parameters())
    if hasattr(model, "to_flat_dict"):
        flat = model.to_flat_dict()
        return {k: v for k, v in flat.items() if k.startswith(("meta.", "roman.meta.")) and
                isinstance(v, (str, int, float, bool))}
    out: dict = {}
    _flatten(getattr(model, "meta", None), "meta", out)
    return out


def _observatory(values: dict) -> str:
    telescope = (values.get("TELESCOP") or "").upper()
    instrument = (values.get("INSTRUME") or "").upper()
    return "roman" if telescope == "ROMAN" or instrument == "WFI" else "jwst"


def crds_bestref(model, reftype: str, values: dict) -> tuple[str | None, str]:
    """Ask CRDS for the best reference; returns (path or "N/A" or None, note)."""
    try:
        import crds
    except ImportError:
        return None, "CRDS is configured but the 'crds' package is not installed (pip install crds)"
    parameters = crds_parameters(model)
    observatory = _observatory(values)
    kwargs = {"reftypes": [reftype], "observatory": observatory}
    if os.environ.get("CRDS_CONTEXT"):
        kwargs["context"] = os.environ["CRDS_CONTEXT"]
    try:
        refs = crds.getreferences(parameters, **kwargs)
    except Exception as err:  # noqa: BLE001 - crds raises its own error classes
        return None, f"CRDS found no {reftype.upper()} file: {err}"
    path = refs.get(reftype) if isinstance(refs, dict) else None
    if not path:
        return None, f"CRDS returned no {reftype.upper()} file"
    if str(path).upper().startswith("NOT FOUND"):
        if "N/A" in str(path).upper():
            return "N/A", f"CRDS: {reftype.upper()} does not apply (N/A)"
        return None, f"CRDS: {path}"
    return str(path), "CRDS"


# ----------------------------------------------------------------------
# the resolution chain
# ----------------------------------------------------------------------
@dataclass(frozen=True)
class ResolvedReference:
    """The outcome of :func:`find_reference`.

    ``path`` is the file (or ``"N/A"`` when CRDS says the type does not
    apply), ``origin`` says where it was found and ``recorded_name`` is what
    goes into ``meta.ref_file.<reftype>.name``.
    """

    path: str
    origin: str
    recorded_name: str


def reference_dirs(extra=None) -> list[str]:
    """The local reference directories: ``extra`` (a parameter), then
    ``$PHOTONCAL_REFDIR``; each may hold several ``os.pathsep``-separated
    directories."""
    dirs = []
    for value in (extra, os.environ.get(REFDIR_ENV)):
        if not value:
            continue
        parts = value if isinstance(value, (list, tuple)) else str(value).split(os.pathsep)
        for part in parts:
            part = os.fspath(part).strip() if part is not None else ""
            if part:
                path = os.path.abspath(os.path.expanduser(part))
                if path not in dirs:
                    dirs.append(path)
    return dirs


def _is_simulated(model) -> bool:
    from photoncal.config import SIMULATED_ORIGIN

    origin = _meta_get(model, "origin")
    return origin is not None and str(origin).strip() == SIMULATED_ORIGIN


def find_reference(model, reftype: str, *, reference_dir=None, logger: logging.Logger | None = None) -> ResolvedReference:
    """Find the reference file of ``reftype`` for ``model`` (steps 2-4 of the
    module docstring; the override is the step's business).

    Raises
    ------
    ReferenceFileNotFoundError
        Nothing fits; the message names the type, the exposure's selection
        values and every place searched.
    """
    logger = logger or log
    reftype = reftype.lower()
    values = selection_values(model)
    when = observation_time(model)
    keywords = ("INSTRUME", *_selection_table(values).get(reftype, DEFAULT_SELECTION))
    searched = []

    def from_directory(directory: str, origin: str):
        if not os.path.isdir(directory):
            searched.append(f"{directory} (does not exist)")
            return None
        files = index_directory(directory)
        best, report = select_reference(files, reftype, values, when)
        count = sum(1 for f in files if f.reftype == reftype)
        logger.debug(
            "%s reference selection in %s for %s (%d candidates):%s",
            reftype.upper(), directory, _describe(values, keywords), count,
            "".join("\n    " + line for line in report) or " none",
        )
        if best is None:
            rejected = [line for line in report if ": rejected, " in line]
            detail = f": {'; '.join(rejected[:3])}{'; ...' if len(rejected) > 3 else ''}" if rejected else ""
            searched.append(
                f"{directory} ({count} {reftype.upper()} file{'s' if count != 1 else ''}, none matched{detail})"
            )
            return None
        path = os.path.abspath(best.path)
        return ResolvedReference(path, origin, path)

    for directory in reference_dirs(reference_dir):
        if not os.path.isdir(directory):
            raise ReferenceFileNotFoundError(
                f"reference directory {directory!r} (from the reference_dir parameter or ${REFDIR_ENV})"
                " does not exist"
            )
        found = from_directory(directory, f"local reference directory {directory}")
        if found:
            return found

    if crds_configured():
        path, note = crds_bestref(model, reftype, values)
        if path == "N/A":
            return ResolvedReference("N/A", "CRDS", "N/A")
        if path:
            return ResolvedReference(path, "CRDS", "crds://" + os.path.basename(path))
        searched.append(note)
    else:
        searched.append("CRDS (not configured: set CRDS_SERVER_URL and CRDS_PATH to use it)")

    from photoncal.config import default_reference_dir

    default_dir = os.fspath(default_reference_dir())
    hint = ""
    if _is_simulated(model):
        found = from_directory(default_dir, "default simulated references")
        if found:
            return found
        detector = _meta_get(model, "instrument.detector") or "<detector>"
        hint = (f" The simulator writes the default set: photoncal simulate --references-only "
                f"--detector {detector} (add --subarray/--readpatt as the exposure's).")
    else:
        searched.append(f"default simulated references {default_dir} (not used: the exposure is not simulated)")

    when_text = when.isoformat(timespec="seconds") if when else "unknown"
    raise ReferenceFileNotFoundError(
        f"no {reftype.upper()} reference file for {_describe(values, keywords)} observed {when_text}; searched: "
        + "; ".join(searched)
        + f". Give one with override_{reftype}=<path>, or a directory with reference_dir or ${REFDIR_ENV}."
        + hint
    )
