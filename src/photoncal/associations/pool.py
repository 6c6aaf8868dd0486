"""Association pools: tables of exposures, one row per exposure.

A pool is an astropy `~astropy.table.Table`. The DMS pool format is an ASCII
table with ``|`` between columns, one header line of column names (FITS
keyword names such as ``FILENAME``, ``PROGRAM``, ``OBS_NUM``, ``EXP_TYPE``,
``ASN_CANDIDATE``) and ``#`` comment lines. Whatever the file says, every
value is read as a string and lower-cased, and so are the column names;
empty cells read as ``"null"``.

`pool_from_headers` builds a pool from exposure headers, filling the columns
that no header carries (``ASN_CANDIDATE``, ``PNTGTYPE``, ``TARGETID``, ...)
the way the established ``mkpool`` tool does.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
from astropy.io.ascii import convert_numpy
from astropy.table import Table

from photoncal.fileio import atomic_write

from .exceptions import AssociationError

__all__ = ["AssociationPool", "PoolRow", "pool_from_headers", "NULL"]

DEFAULT_DELIMITER = "|"
DEFAULT_FORMAT = "ascii.basic"

#: The value of an empty pool cell.
NULL = "null"

# Header keywords that never become pool columns.
_IGNORED_KEYWORDS = frozenset({"", "COMMENT", "HISTORY", "SIMPLE", "EXTEND", "BITPIX", "NAXIS"})

# Columns whose values keep their case.
_KEEP_CASE = frozenset({"filename"})

# Pool columns no exposure header carries, with the values ``mkpool`` gives them.
_NON_HEADER_DEFAULTS = {
    "dms_note": "",
    "is_imprt": "f",
    "pntgtype": "science",
    "mostilno": "1",
    "dithptin": "1",
}


class PoolRow(dict):
    """One pool row as a plain ``dict`` of lower-case strings.

    Attributes
    ----------
    meta : dict
        The pool's meta data (``meta['pool_file']`` names the pool).
    index : int or None
        Row number in the originating pool; copies made by list expansion keep
        it, so the generator can tell which exposures ended up in no
        association.
    """

    def __init__(self, init=(), meta=None, index=None):
        super().__init__(init)
        if meta is None:
            meta = getattr(init, "meta", {})
        if index is None:
            index = getattr(init, "index", None)
        self.meta = meta
        self.index = index

    def copy(self):
        """Return a copy that keeps ``meta`` and ``index``."""
        return PoolRow(self, meta=self.meta, index=self.index)


def _lower_strings(values) -> list[str]:
    return [str(value).lower() for value in values]


class AssociationPool(Table):
    """A table of exposures that the association generator works over.

    Read with :meth:`read`, write with :meth:`write`; ``meta['pool_file']``
    holds the file the pool came from (``'in-memory'`` otherwise).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.meta.setdefault("pool_file", "in-memory")

    @classmethod
    def read(cls, filename, delimiter=DEFAULT_DELIMITER, format=DEFAULT_FORMAT, **kwargs):  # noqa: A002
        """Read a pool file: every value a lower-case string, empty cells ``'null'``.

        Parameters
        ----------
        filename : str or Path
            The pool file.
        delimiter : str
            Column separator, ``|`` for DMS pools.
        format : str
            Any astropy ASCII format; ``ascii.basic`` (one header line of
            column names, ``#`` comments) by default.
        **kwargs
            Passed to `astropy.table.Table.read`.

        Returns
        -------
        AssociationPool
        """
        filename = os.fspath(filename)
        if not os.path.exists(filename):
            raise AssociationError(f"pool file {filename!r} does not exist")
        converters = {"*": [convert_numpy(str)]}
        fmt = kwargs.pop("fmt", None) or format
        try:
            table = Table.read(
                filename, format=fmt, delimiter=delimiter, converters=converters, **kwargs
            )
        except Exception as error:
            raise AssociationError(
                f"pool file {filename!r} could not be read as a {fmt!r} table with "
                f"delimiter {delimiter!r}: {error}"
            ) from error
        if len(table.colnames) < 2:
            raise AssociationError(
                f"pool file {filename!r} has {len(table.colnames)} column(s); expected a "
                f"{delimiter!r}-separated table with columns such as FILENAME|PROGRAM|EXP_TYPE"
            )
        if table.has_masked_values:
            table = table.filled(NULL)
        pool = cls.from_columns(
            {name: list(table[name]) for name in table.colnames}, pool_file=filename
        )
        if "filename" not in pool.colnames:
            raise AssociationError(
                f"pool file {filename!r} has no FILENAME column (columns: "
                f"{', '.join(pool.colnames[:12])}{', ...' if len(pool.colnames) > 12 else ''})"
            )
        return pool

    @classmethod
    def from_columns(cls, columns: Mapping[str, Iterable], pool_file="in-memory"):
        """Build a pool from ``{column: values}``, lower-casing names and values.

        ``FILENAME`` keeps its spelling: it names a file on a case-sensitive
        file system. (The established reader lower-cases it too; DMS file
        names are lower case, so this differs only for other names.)
        """
        names = [str(name).lower() for name in columns]
        if len(set(names)) != len(names):
            raise AssociationError(f"pool columns differ only in case: {list(columns)}")
        data = []
        for name, values in zip(names, columns.values()):
            if name in _KEEP_CASE:
                strings = [str(value).strip() for value in values]
            else:
                strings = _lower_strings(values)
            data.append(np.array(strings, dtype=str) if strings else np.array([], dtype="U1"))
        pool = cls(data, names=names)
        pool.meta["pool_file"] = str(pool_file)
        return pool

    def rows(self):
        """Yield every row as a `PoolRow` (plain strings, with ``index`` and ``meta``)."""
        names = self.colnames
        columns = [self[name] for name in names]
        for index in range(len(self)):
            yield PoolRow(
                {name: str(column[index]) for name, column in zip(names, columns)},
                meta=self.meta,
                index=index,
            )

    def write(self, filename, delimiter=DEFAULT_DELIMITER, format=DEFAULT_FORMAT, overwrite=True, **kwargs):  # noqa: A002
        """Write the pool as a ``|``-separated table, atomically.

        Parameters
        ----------
        filename : str or Path
            Destination; written under a temporary name in the same
            directory, then renamed.
        delimiter, format : str
            As for :meth:`read`.
        overwrite : bool
            Replace an existing file.
        """
        path = Path(filename)
        if path.exists() and not overwrite:
            raise AssociationError(f"pool file {str(path)!r} exists and overwrite is False")
        fmt = kwargs.pop("fmt", None) or format
        table = Table(self)
        atomic_write(path, lambda tmp: table.write(tmp, format=fmt, delimiter=delimiter, overwrite=True, **kwargs),
                     error=AssociationError)
        return str(path)


def _header_items(header, position: int):
    """Return ``(KEYWORD, value)`` pairs of one header (a Mapping or astropy Header)."""
    try:
        items = list(header.items())
    except AttributeError as error:
        raise AssociationError(
            f"header {position} is a {type(header).__name__}, expected a mapping of FITS "
            "keywords to values (a dict or an astropy.io.fits.Header)"
        ) from error
    return [(str(key).upper(), value) for key, value in items]


def _pool_string(value) -> str:
    """A header value as the pool spells it: booleans ``t``/``f``, None ``null``."""
    if value is None:
        return NULL
    if isinstance(value, (bool, np.bool_)):
        return "t" if value else "f"
    text = str(value).strip()
    return text.lower() if text else NULL


def pool_from_headers(headers, asn_candidates=None, pool_file="in-memory", pntgtype="science"):
    """Build an association pool from exposure headers.

    Every FITS keyword of every header becomes a (lower-case) column; a
    keyword absent from some headers reads ``null`` there. The columns no
    header carries are filled as the established ``mkpool`` does:

    - ``asn_candidate``: the observation candidate ``[('oNNN', 'observation')]``
      from ``OBSERVTN`` (or ``OBS_NUM``), followed by ``asn_candidates``;
      a header that has ``ASN_CANDIDATE`` keeps its own value.
    - ``obs_num``: from ``OBSERVTN`` when absent (the level 3 rules read it).
    - ``targetid``: when absent, numbered 1, 2, ... in order of first
      appearance of each ``TARGNAME`` (or ``TARGPROP``).
    - ``pntgtype`` (``science``), ``is_imprt`` (``f``), ``mostilno`` and
      ``dithptin`` (``1``), ``dms_note`` (empty).
    - ``filename``: the header's ``FILENAME``, reduced to its base name.

    Parameters
    ----------
    headers : iterable of mapping
        One mapping of FITS keywords per exposure (dicts, or
        `astropy.io.fits.Header` objects, e.g. the primary headers of the
        ``_rate`` files).
    asn_candidates : list of (str, str) or str or None
        Candidates added to every exposure, e.g. ``[('c1000', 'mosaic')]``,
        or the string form of such a list.
    pool_file : str
        Name recorded as ``meta['pool_file']`` (it becomes ``asn_pool``).
    pntgtype : str
        Pointing type of exposures whose header has no ``PNTGTYPE``.

    Returns
    -------
    AssociationPool
    """
    extra_candidates = _parse_candidate_list(asn_candidates)
    rows: list[dict[str, str]] = []
    target_ids: dict[str, str] = {}
    for position, header in enumerate(headers):
        row: dict[str, str] = {}
        for keyword, value in _header_items(header, position):
            if keyword in _IGNORED_KEYWORDS or keyword.startswith("NAXIS"):
                continue
            if isinstance(value, (list, tuple, dict, np.ndarray)) and not isinstance(value, str):
                continue
            row[keyword.lower()] = _pool_string(value)
        filename = next(
            (str(v).strip() for k, v in _header_items(header, position) if k == "FILENAME"), ""
        )
        if not filename:
            raise AssociationError(
                f"header {position} has no FILENAME keyword; every exposure in a pool needs "
                "its file name"
            )
        row["filename"] = os.path.basename(filename)

        observation = row.get("observtn", row.get("obs_num", NULL))
        if observation == NULL:
            raise AssociationError(
                f"header {position} ({row['filename']}) has neither OBSERVTN nor OBS_NUM; "
                "the observation number names the observation candidate"
            )
        if "obs_num" not in row:
            row["obs_num"] = observation
        if "asn_candidate" not in row or row["asn_candidate"] == NULL:
            candidates = [(f"o{int(observation):03d}", "observation")] if observation.isdigit() else [
                (f"o{observation}", "observation")
            ]
            row["asn_candidate"] = str(candidates + extra_candidates)

        if "targetid" not in row or row["targetid"] == NULL:
            target_name = row.get("targname", row.get("targprop", NULL))
            if target_name not in target_ids:
                target_ids[target_name] = str(len(target_ids) + 1)
            row["targetid"] = target_ids[target_name]
        for column, default in _NON_HEADER_DEFAULTS.items():
            row.setdefault(column, default if column != "pntgtype" else pntgtype.lower())
        rows.append(row)
    if not rows:
        raise AssociationError("pool_from_headers needs at least one header")

    columns: list[str] = []
    for row in rows:
        for name in row:
            if name not in columns:
                columns.append(name)
    # FILENAME first, the way DMS pools are laid out.
    columns.remove("filename")
    columns.insert(0, "filename")
    return AssociationPool.from_columns(
        {name: [row.get(name, NULL) for row in rows] for name in columns}, pool_file=pool_file
    )


def _parse_candidate_list(candidates) -> list[tuple[str, str]]:
    if candidates is None:
        return []
    if isinstance(candidates, str):
        from ast import literal_eval

        try:
            candidates = literal_eval(candidates)
        except (ValueError, SyntaxError) as error:
            raise AssociationError(
                f"asn_candidates {candidates!r} is not a list of (id, type) pairs such as "
                "[('c1000', 'mosaic')]"
            ) from error
    result = []
    for entry in candidates:
        if not (isinstance(entry, (tuple, list)) and len(entry) == 2):
            raise AssociationError(
                f"asn_candidates entry {entry!r} is not an (id, type) pair such as ('c1000', 'mosaic')"
            )
        result.append((str(entry[0]).lower(), str(entry[1]).lower()))
    return result
