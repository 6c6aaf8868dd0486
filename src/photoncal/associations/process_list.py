"""Work lists of the generator: items to (re)consider, and against what.

The generator starts with one `ProcessList` holding the whole pool. Matching
an item can ask for more work: the copies made from a list-valued pool cell
(list expansion), or an item that must be offered to the associations that
already exist (a background exposure joining the science associations of
its mode). Such requests are new process lists. `ProcessQueueSorted` hands
them out by their ``work_over`` category, in this order:

``RULES``
    only create new associations from the rules;
``BOTH``
    add to existing associations, then create new ones;
``EXISTING``
    only add to the associations that exist;
``NONSCIENCE``
    like ``EXISTING``, for items that are not science.

Within a category lists come first-in first-out; a list asking for the same
rules and category as one already waiting is merged into it.
"""

from __future__ import annotations

from collections import OrderedDict
from enum import IntEnum

__all__ = ["ListCategory", "ProcessList", "ProcessQueueSorted", "workover_filter"]


class ListCategory(IntEnum):
    """What a process list is matched against; the value is its priority."""

    RULES = 0
    BOTH = 1
    EXISTING = 2
    NONSCIENCE = 3

    @classmethod
    def from_name(cls, name) -> "ListCategory":
        """Return the category named ``name`` (case-insensitive), or ``name`` if already one."""
        if isinstance(name, ListCategory):
            return name
        try:
            return cls[str(name).upper()]
        except KeyError:
            raise ValueError(
                f"unknown work_over category {name!r}; expected one of "
                f"{', '.join(c.name.lower() for c in cls)}"
            ) from None


class ProcessList:
    """Items to process, the rules they may create, and what they are matched against.

    Parameters
    ----------
    items : list of dict
        Pool rows (or copies of them).
    rules : list of type or None
        Rules allowed to create associations from these items; None for all.
    work_over : ListCategory
        What the items are matched against.
    trigger_constraints, trigger_rules : iterable
        What asked for this list (for the debug log).
    """

    def __init__(
        self,
        items=None,
        rules=None,
        work_over=ListCategory.BOTH,
        trigger_constraints=None,
        trigger_rules=None,
    ):
        self.items = list(items) if items is not None else []
        self.rules = list(rules) if rules is not None else None
        self.work_over = ListCategory.from_name(work_over)
        self.trigger_constraints = set(trigger_constraints or ())
        self.trigger_rules = set(trigger_rules or ())

    @property
    def key(self):
        """Lists with equal keys are merged in a queue."""
        rules = tuple(sorted(id(rule) for rule in self.rules)) if self.rules else None
        return (rules, self.work_over)

    def absorb(self, other: "ProcessList") -> None:
        """Append the items (and triggers) of a list with the same key."""
        self.items.extend(other.items)
        self.trigger_constraints.update(other.trigger_constraints)
        self.trigger_rules.update(other.trigger_rules)

    def __len__(self):
        return len(self.items)

    def __repr__(self):
        rules = None if self.rules is None else [rule.__name__ for rule in self.rules]
        return (
            f"ProcessList(n_items={len(self.items)}, work_over={self.work_over.name}, "
            f"rules={rules}, triggers={sorted(self.trigger_constraints)})"
        )


class ProcessQueueSorted:
    """Queue of process lists, served by ``work_over`` priority, FIFO within one.

    Lists may be added while the queue is being iterated; a newly added list
    of higher priority is served next.
    """

    def __init__(self, init=None):
        self._queues = {category: OrderedDict() for category in ListCategory}
        if init is not None:
            self.extend(init)

    def append(self, process_list: ProcessList) -> None:
        """Queue a list, merging it into a waiting list with the same key."""
        queue = self._queues[process_list.work_over]
        waiting = queue.get(process_list.key)
        if waiting is None:
            queue[process_list.key] = process_list
        else:
            waiting.absorb(process_list)

    def extend(self, process_lists) -> None:
        """Queue several lists."""
        for process_list in process_lists:
            self.append(process_list)

    def __len__(self):
        return sum(len(queue) for queue in self._queues.values())

    def __iter__(self):
        while True:
            for category in ListCategory:
                queue = self._queues[category]
                if queue:
                    _, process_list = queue.popitem(last=False)
                    yield process_list
                    break
            else:
                return


def workover_filter(process_list: ProcessList, work_over: ListCategory) -> ProcessList | None:
    """Decide whether a list requested while working ``work_over`` is kept.

    A list made while working over existing associations must not create new
    ones (this is what keeps generation finite); a list asking for rules while
    rules are being worked becomes ``BOTH``.

    Returns
    -------
    ProcessList or None
        The (possibly re-categorised) list, or None to drop it.
    """
    creating = (ListCategory.RULES, ListCategory.BOTH)
    if process_list.work_over in creating:
        if work_over in creating:
            process_list.work_over = ListCategory.BOTH
            return process_list
        return None
    if work_over not in creating:
        return None
    return process_list
