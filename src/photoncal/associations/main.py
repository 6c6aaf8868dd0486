"""Candidate-aware generation and saving: what ``asn_generate`` runs.

`generate_associations` runs the generator in the three modes of the DMS
tool:

- candidates (``-i o001 c1000``): only the associations of those candidates;
- all candidates (``--all-candidates``): every candidate listed in the
  pool's ``ASN_CANDIDATE`` column, each association belonging to one;
- discovery (``--discover``): associations found by the rules alone, across
  candidates (ids ``a3NNN``), except those that repeat a candidate
  association;

and by default both of the last two.
"""

from __future__ import annotations

import logging
from pathlib import Path

from photoncal.fileio import atomic_write_text

from .association import make_timestamp
from .constraint import evaluate
from .dms import finalize, merge_level2, resequence
from .exceptions import AssociationError, AssociationNotValidError
from .generator import generate, orphaned_items
from .registry import AssociationRegistry, candidate_constraint

__all__ = ["generate_associations", "save_associations", "write_text_atomic", "pool_candidates"]

logger = logging.getLogger(__name__)

CANDIDATE_RULESET = "candidate"
DISCOVER_RULESET = "discover"


def pool_candidates(pool) -> dict[str, str]:
    """``{candidate id: candidate type}`` of every candidate in the pool's ``asn_candidate``."""
    found = {}
    if "asn_candidate" not in pool.colnames:
        return found
    for cell in pool["asn_candidate"]:
        value = evaluate(str(cell))
        if isinstance(value, tuple):
            value = [value]
        if not isinstance(value, list):
            continue
        for entry in value:
            if isinstance(entry, (tuple, list)) and len(entry) == 2:
                found.setdefault(str(entry[0]).lower(), str(entry[1]).lower())
    return found


def generate_associations(
    pool,
    rule_defs=None,
    candidate_ids=None,
    all_candidates=False,
    discover=False,
    version_id=None,
    ignore_default=False,
    finalize_asns=True,
    merge=False,
    dms_enabled=False,
):
    """Generate a pool's associations by candidate and/or by discovery.

    Parameters
    ----------
    pool : AssociationPool
        The exposures.
    rule_defs : list of str or None
        Extra rule files (YAML/JSON) or rule-set names.
    candidate_ids : list of str or None
        Only these candidates.
    all_candidates, discover : bool
        The modes; neither (and no ``candidate_ids``) means both.
    version_id : str, True or None
        Version tag (True: the current time).
    ignore_default : bool
        Do not use the default level 2 and level 3 rules.
    finalize_asns : bool
        Keep only complete associations, pruned and numbered.
    merge : bool
        Merge level 2 associations of one type and candidate.
    dms_enabled : bool
        DMS workflow: with ``candidate_ids``, also generate the background
        candidates those exposures belong to, keeping only the requested
        candidates' associations.

    Returns
    -------
    associations : list of Association
    orphans : AssociationPool
    """
    if version_id is True:
        version_id = make_timestamp()
    if candidate_ids is None and not all_candidates and not discover:
        all_candidates = discover = True
    if candidate_ids is not None:
        candidate_ids = [str(cid).lower() for cid in candidate_ids]
        known = pool_candidates(pool)
        for cid in candidate_ids:
            if cid not in known:
                logger.warning("candidate %s is not in the pool's ASN_CANDIDATE column", cid)
        requested = list(candidate_ids)
        if dms_enabled:
            for row in pool.rows():
                cell = row.get("asn_candidate", "")
                if any(cid in cell for cid in requested):
                    for cid, ctype in pool_candidates(pool[[row.index]]).items():
                        if ctype == "background" and cid not in candidate_ids:
                            candidate_ids.append(cid)
        discover = False

    # Candidate associations are made in every mode: discovery keeps only the
    # discovered associations that repeat none of them.
    rules = AssociationRegistry(
        rule_defs,
        include_default=not ignore_default,
        global_constraints=candidate_constraint(),
        name=CANDIDATE_RULESET,
    )
    associations = []
    # One candidate at a time: an item only ever meets its candidate's
    # associations, and only the rules that can be valid for its type run.
    for (_, candidate_type), items in candidate_items(pool, candidate_ids).items():
        allowed = rules.subset(
            lambda rule: not hasattr(rule, "accepts_candidate_type")
            or rule.accepts_candidate_type(candidate_type)
        )
        if allowed:
            associations.extend(generate(items, allowed, version_id=version_id, finalize=False)[0])
    if discover:
        rules = AssociationRegistry(
            rule_defs, include_default=not ignore_default, name=DISCOVER_RULESET
        ).subset(
            lambda rule: not hasattr(rule, "accepts_candidate_type")
            or rule.accepts_candidate_type("discovered")
        )
        if rules:
            associations.extend(
                generate(list(pool.rows()), rules, version_id=version_id, finalize=False)[0]
            )
    if finalize_asns:
        associations = finalize(associations)
    if candidate_ids is None:
        if not all_candidates and finalize_asns:
            associations = [asn for asn in associations if asn.ruleset == DISCOVER_RULESET]
    elif dms_enabled:
        associations = [asn for asn in associations if asn["asn_id"] in requested]
    if merge:
        associations = merge_level2(associations)
    resequence(associations)
    logger.info("%d associations generated", len(associations))
    return associations, orphaned_items(pool, associations)


def candidate_items(pool, candidate_ids=None):
    """The pool split by candidate: for each candidate, copies of its rows.

    Each copy's ``asn_candidate`` holds that one candidate, ``('o001',
    'observation')``, so the candidate constraint gives one association per
    candidate. Candidates come in order of first appearance, rows in pool
    order (an exposure that joins existing associations, such as a target
    acquisition, meets the associations its candidate made before it). The
    copies keep their pool row index.

    Parameters
    ----------
    pool : AssociationPool
    candidate_ids : list of str or None
        Only these candidates (None: all).

    Returns
    -------
    dict
        ``{(id, type): [PoolRow, ...]}``.
    """
    rows = list(pool.rows())
    order = []
    members = {}
    for row in rows:
        value = evaluate(row.get("asn_candidate", "null"))
        if isinstance(value, tuple):
            value = [value]
        if not isinstance(value, list):
            continue
        for entry in value:
            if not (isinstance(entry, (tuple, list)) and len(entry) == 2):
                logger.debug("ignored candidate %r of %s", entry, row.get("filename"))
                continue
            candidate = (str(entry[0]).lower(), str(entry[1]).lower())
            if candidate_ids is not None and candidate[0] not in candidate_ids:
                continue
            if candidate not in members:
                order.append(candidate)
                members[candidate] = []
            members[candidate].append(row)
    items = {}
    for candidate in order:
        copies = []
        for row in members[candidate]:
            copy = row.copy()
            copy["asn_candidate"] = str(candidate)
            copies.append(copy)
        items[candidate] = copies
    return items


def write_text_atomic(path, text) -> str:
    """Write ``text`` to ``path`` through a temporary file in the same directory."""
    return atomic_write_text(path, text, error=AssociationError)


def save_associations(associations, path=".", format="json", skip_invalid=False):  # noqa: A002
    """Write each association to ``path`` under its DMS name; return the file paths.

    Parameters
    ----------
    associations : list of Association
    path : str or Path
        Output directory.
    format : {'json', 'yaml'}
    skip_invalid : bool
        Skip (with a warning) associations that do not validate, instead of
        raising; for unfinalised lists.
    """
    written = []
    names = set()
    for asn in associations:
        try:
            name, text = asn.dump(format=format)
        except AssociationNotValidError as error:
            if not skip_invalid:
                raise
            logger.warning("not written: %s", error)
            continue
        if name in names:
            raise AssociationError(f"two associations would both be written as {name!r}")
        names.add(name)
        written.append(write_text_atomic(Path(path) / name, text))
    return written
