"""The association generator.

For each pool item (spec, "Generator: Algorithm"):

1. offer the item to every association already made (``match_item``); it
   joins each one whose constraints it meets;
2. offer it to the rules (``AssociationRegistry.match``), skipping the rules
   whose associations already took it, so no association is created twice;
3. queue any further work the constraints asked for: the copies of an item
   with a list-valued cell (list expansion), or items to offer to the
   existing associations only.

The queue is drained in ``work_over`` order (`ProcessQueueSorted`). Then the
associations are finalised: only valid ones are kept (an incomplete
observation, a level 2 association without its science exposure, a mosaic of
one observation are dropped), duplicates are pruned, and each is numbered per
candidate and type. `generate` returns the associations and the orphans: the
pool rows that ended up in no association.
"""

from __future__ import annotations

import logging
from time import perf_counter

import numpy as np

from .association import make_timestamp
from .pool import AssociationPool, PoolRow
from .process_list import ListCategory, ProcessList, ProcessQueueSorted, workover_filter

__all__ = ["generate", "generate_from_item", "match_item", "orphaned_items"]

logger = logging.getLogger(__name__)


def _pool_items(pool):
    if hasattr(pool, "rows"):
        return list(pool.rows())
    meta = getattr(pool, "meta", {})
    return [
        row if isinstance(row, PoolRow) else PoolRow(row, meta=meta, index=index)
        for index, row in enumerate(pool)
    ]


def generate(pool, rules, version_id=None, finalize=True):
    """Generate the associations of a pool.

    Parameters
    ----------
    pool : AssociationPool or list of dict
        The exposures.
    rules : AssociationRegistry
        The rules.
    version_id : str, True or None
        Version tag of the associations: a string, True for the current
        time (``yyyymmddthhmmss``), or None for none.
    finalize : bool
        Finalise (validity, pruning, numbering); False returns every
        association made, complete or not.

    Returns
    -------
    associations : list of Association
    orphans : AssociationPool
        The pool rows in none of the associations.
    """
    if version_id is True:
        version_id = make_timestamp()
    items = _pool_items(pool)
    associations = []
    queue = ProcessQueueSorted([ProcessList(items=items, rules=list(rules.values()))])
    start = perf_counter()
    n_lists = 0
    for process_list in queue:
        n_lists += 1
        logger.debug("working %r", process_list)
        for item in process_list.items:
            existing, new, to_process = generate_from_item(
                item, version_id, associations, rules, process_list
            )
            associations.extend(new)
            for next_list in to_process:
                kept = workover_filter(next_list, process_list.work_over)
                if kept is not None:
                    queue.append(kept)
    logger.info(
        "%d associations made from %d items (%d process lists) in %.2f s",
        len(associations),
        len(items),
        n_lists,
        perf_counter() - start,
    )
    if finalize:
        associations = rules.finalize(associations)
        logger.info("%d associations after finalisation", len(associations))
    return associations, orphaned_items(pool, associations)


def generate_from_item(item, version_id, associations, rules, process_list):
    """Add an item to the existing associations it matches, and create new ones.

    Returns
    -------
    existing : list of Association
        Existing associations the item joined.
    new : list of Association
        Associations the item created.
    reprocess : list of ProcessList
        Further work.
    """
    allowed = list(rules.values()) if not process_list.rules else process_list.rules
    existing, reprocess = [], []
    if process_list.work_over in (ListCategory.BOTH, ListCategory.EXISTING, ListCategory.NONSCIENCE):
        candidates = [asn for asn in associations if type(asn) in allowed]
        existing, reprocess = match_item(item, candidates)
    new = []
    if process_list.work_over in (ListCategory.BOTH, ListCategory.RULES):
        new, more = rules.match(
            item, version_id=version_id, allow=allowed, ignore={type(asn) for asn in existing}
        )
        reprocess.extend(more)
    return existing, new, reprocess


def match_item(item, associations):
    """Offer ``item`` to each association; return those that took it and further work."""
    joined, reprocess = [], []
    for asn in associations:
        matched, more = asn.add(item)
        reprocess.extend(more)
        if matched:
            joined.append(asn)
    return joined, reprocess


def orphaned_items(pool, associations):
    """The pool rows that are members of none of ``associations``."""
    used = np.zeros(len(pool), dtype=bool)
    filenames = set()
    for asn in associations:
        for source in getattr(asn, "from_items", ()):
            index = getattr(source, "index", None)
            if index is not None and 0 <= index < len(pool):
                used[index] = True
            else:
                filenames.add(source.get("filename"))
    if filenames and "filename" in getattr(pool, "colnames", ()):
        used |= np.isin(np.asarray(pool["filename"], dtype=str), list(filenames))
    if isinstance(pool, AssociationPool) or hasattr(pool, "colnames"):
        orphans = pool[~used]
        orphans.meta["pool_file"] = pool.meta.get("pool_file", "in-memory")
        return orphans
    return [row for row, in_asn in zip(pool, used) if not in_asn]
