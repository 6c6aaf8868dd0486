"""Constraints: the conditions a pool item must meet to join an association.

A rule's constraints form a tree. Leaves test one thing about an item:

`AttrConstraint`
    a pool column (the first of ``sources`` the item has with a valid
    value) against a regular expression;
`ValueConstraint`
    a value computed from the item by the association (its member exposure
    type, whether the association already has its science member, ...).

`ConstraintGroup` combines children with ``all``, ``any``, ``notany`` or
``notall``.

*Dynamic definition.* A leaf whose ``value`` is None accepts any valid value,
and (with ``force_unique``) then fixes itself to the value of the first item
it accepted: the first member's filter becomes the filter every further
member must have. Checking an item therefore changes the tree; a check that
fails leaves no trace (each group restores the state it had before).

*List expansion.* With ``evaluate``, a cell such as ``[('o001',
'observation'), ('c1000', 'mosaic')]`` is read as a Python literal. A leaf
without a value meeting a list does not match; instead it asks for a mini
pool: copies of the item, each with the column set to one element of the
list, to be processed again. A leaf with a value takes the first matching
element and asks for the copies of the others.

Pool values compare case-insensitively; a regular expression must match the
whole value.
"""

from __future__ import annotations

import re
import threading
from ast import literal_eval
from functools import lru_cache

from .exceptions import AssociationNotAConstraint
from .process_list import ListCategory, ProcessList

__all__ = [
    "AttrConstraint",
    "ConstraintGroup",
    "EMPTY_VALUES",
    "ValueConstraint",
    "evaluate",
    "is_empty",
    "meets_conditions",
]

#: Pool values that mean "not specified" (compared in lower case).
EMPTY_VALUES = frozenset({"", "null", "--", "n", "f", "false", "n/a", "none"})


def is_empty(value) -> bool:
    """True when a pool value means "not specified"."""
    return value is None or str(value).strip().lower() in EMPTY_VALUES


def evaluate(value):
    """Read a pool value as a Python literal when it is one, else return it unchanged."""
    if not isinstance(value, str):
        return value
    evaled = _evaluate_text(value)
    # The cache shares results: hand out a copy of a list, never the cached one.
    return list(evaled) if isinstance(evaled, list) else evaled


@lru_cache(maxsize=65536)
def _evaluate_text(value: str):
    try:
        return literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return value


def _is_list(value) -> bool:
    # A tuple is one candidate ('o001', 'observation'), not a list of values.
    return isinstance(value, (list, set, frozenset))


def _normal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@lru_cache(maxsize=4096)
def _compiled(pattern: str):
    return re.compile(pattern, flags=re.IGNORECASE)


def meets_conditions(value, conditions) -> bool:
    """True if ``value`` fully matches any of the regular expressions ``conditions``."""
    if isinstance(conditions, (list, tuple, set, frozenset)):
        patterns = conditions
    else:
        patterns = [conditions]
    text = _normal(value)
    return any(_compiled(_normal(pattern)).fullmatch(text) is not None for pattern in patterns)


class _Journal(threading.local):
    """Undo log of leaf changes made during a check.

    A leaf records its previous state before it changes; a group notes the
    log's length when it starts and, when it fails, undoes the changes made
    since. Only leaves that change pay anything.
    """

    def __init__(self):
        self.entries = []

    def mark(self) -> int:
        return len(self.entries)

    def record(self, leaf) -> None:
        self.entries.append((leaf, leaf._state()))

    def rollback(self, mark: int) -> None:
        entries = self.entries
        while len(entries) > mark:
            leaf, state = entries.pop()
            leaf._restore(state)

    def commit(self, mark: int) -> None:
        del self.entries[mark:]


_JOURNAL = _Journal()


def _expansion(item, source, values, constraint) -> ProcessList:
    """The mini pool of copies of ``item``, one per element of a list-valued cell."""
    copies = []
    for value in values:
        copy = item.copy() if hasattr(item, "copy") else dict(item)
        copy[source] = str(value)
        copies.append(copy)
    return ProcessList(items=copies, trigger_constraints=[constraint.id])


class _Node:
    """Behaviour shared by leaves and groups."""

    name: str | None = None

    @property
    def id(self) -> str:
        return f"{type(self).__name__}:{self.name}"

    def leaves(self):
        yield self

    def nodes(self):
        yield self

    def get_state(self):
        return [leaf._state() for leaf in self.leaves()]

    def set_state(self, state) -> None:
        for leaf, leaf_state in zip(self.leaves(), state):
            leaf._restore(leaf_state)

    def test(self, item) -> bool:
        """Check ``item`` without changing the tree."""
        mark = _JOURNAL.mark()
        try:
            matched, _ = self.check_and_set(item)
        finally:
            _JOURNAL.rollback(mark)
        return matched

    def check(self, item):
        """Check and set ``item`` as the root of a tree: changes are kept only on a match.

        Returns
        -------
        matched : bool
        reprocess : list of ProcessList
        """
        mark = _JOURNAL.mark()
        try:
            matched, reprocess = self.check_and_set(item)
        except BaseException:
            _JOURNAL.rollback(mark)
            raise
        if matched:
            _JOURNAL.commit(mark)
        else:
            _JOURNAL.rollback(mark)
        return matched, reprocess

    def __getitem__(self, name):
        for node in self.nodes():
            if node.name == name:
                return node
        raise AssociationNotAConstraint(f"no constraint named {name!r}")

    def get(self, name, default=None):
        try:
            return self[name]
        except KeyError:
            return default

    def __iter__(self):
        return self.leaves()

    def describe(self) -> str:
        """The named leaves and their current values, one per line."""
        lines = ["Constraints:"]
        for leaf in self.leaves():
            if leaf.name is not None:
                lines.append(f"    {leaf.name}: {leaf.value_text()}")
        return "\n".join(lines)

    def __str__(self):
        return self.describe()


class _Leaf(_Node):
    value = None
    force_unique = True

    def __init__(self, name=None, value=None, force_unique=True):
        self.name = name
        self.value = value
        self.force_unique = force_unique
        self.found_values: list[str] = []
        self.matched = False

    def _state(self):
        return (self.value, self.force_unique, list(self.found_values))

    def _restore(self, state):
        self.value, self.force_unique, found = state
        self.found_values = list(found)

    def _found(self, value: str, fix=None) -> None:
        """Record a matched value; with ``fix``, also fix the constraint to ``fix``."""
        if value in self.found_values and fix is None:
            return
        _JOURNAL.record(self)
        if value not in self.found_values:
            self.found_values.append(value)
        if fix is not None:
            self.value = fix
            self.force_unique = False

    def current_pattern(self):
        return self.value() if callable(self.value) else self.value

    def value_text(self) -> str:
        if self.found_values:
            return ", ".join(self.found_values)
        pattern = self.current_pattern()
        return "(any valid value)" if pattern is None else _normal(pattern)


class AttrConstraint(_Leaf):
    """Constrain a pool column.

    Parameters
    ----------
    name : str or None
        Name to look the constraint up by (``asn.constraints['opt_elem']``);
        named constraints appear in the association's ``constraints`` text
        and feed the product name.
    sources : list of str
        Pool columns to read, the first one holding a valid value is used.
    value : str, list of str, callable or None
        Regular expression(s) the value must fully match; a callable
        returns them at check time; None accepts any valid value.
    force_unique : bool
        After the first match, require exactly the matched value.
    required : bool
        When no source holds a valid value: fail if True, pass if False.
    force_undefined : bool
        Match only items that have no valid value for the sources.
    evaluate : bool
        Read the value as a Python literal (list expansion, candidates).
    invalid_values : collection of str
        Values meaning "not specified" (lower case).
    reprocess : ListCategory, str or None
        On a match, also queue the item for this category (e.g. offer a
        background exposure to the existing associations).
    onlyif : constraint or None
        Check only when the item meets ``onlyif``; otherwise pass (and
        still queue ``reprocess``).
    is_acid : bool
        This constraint holds the association candidate id.
    """

    def __init__(
        self,
        name=None,
        sources=(),
        value=None,
        force_unique=True,
        required=True,
        force_undefined=False,
        evaluate=False,
        invalid_values=EMPTY_VALUES,
        reprocess=None,
        onlyif=None,
        is_acid=False,
    ):
        super().__init__(name=name, value=value, force_unique=force_unique)
        if isinstance(sources, str):
            sources = [sources]
        if not sources:
            raise ValueError(f"constraint {name!r} needs at least one source column")
        self.sources = [str(source).lower() for source in sources]
        self.required = required
        self.force_undefined = force_undefined
        self.evaluate = evaluate
        self.invalid_values = frozenset(str(value).lower() for value in invalid_values)
        self.reprocess = None if reprocess is None else ListCategory.from_name(reprocess)
        self.onlyif = onlyif
        self.is_acid = is_acid

    def _state(self):
        return (*super()._state(), list(self.sources))

    def _restore(self, state):
        super()._restore(state[:-1])
        self.sources = list(state[-1])

    def source_value(self, item):
        """Return ``(column, value)`` of the first source holding a valid value.

        Raises
        ------
        KeyError
            When none does.
        """
        for source in self.sources:
            try:
                value = item[source]
            except KeyError:
                continue
            if value is None or str(value).strip().lower() in self.invalid_values:
                continue
            return source, value
        raise KeyError(f"item has no valid value in {self.sources}")

    def _requeue(self, item):
        return [
            ProcessList(items=[item], work_over=self.reprocess, trigger_constraints=[self.id])
        ]

    def check_and_set(self, item):
        """Check ``item``; on a match, fix the value (see ``force_unique``).

        Returns
        -------
        matched : bool
        reprocess : list of ProcessList
        """
        if self.onlyif is not None and not self.onlyif.test(item):
            self.matched = True
            return True, self._requeue(item) if self.reprocess else []

        try:
            source, raw = self.source_value(item)
        except KeyError:
            self.matched = self.force_undefined or not self.required
            return self.matched, []
        if self.force_undefined:
            self.matched = False
            return False, []

        evaled = evaluate(raw) if self.evaluate else raw
        pattern = self.current_pattern()
        reprocess = []
        if pattern is None:
            if _is_list(evaled):
                self.matched = False
                return False, [_expansion(item, source, evaled, self)]
            chosen = evaled
        else:
            candidates = list(evaled) if _is_list(evaled) else [evaled]
            for candidate in candidates:
                if meets_conditions(str(candidate), pattern):
                    chosen = candidate
                    break
            else:
                self.matched = False
                return False, []
            others = [candidate for candidate in candidates if candidate != chosen]
            if others:
                reprocess.append(_expansion(item, source, others, self))

        value = str(chosen)
        if self.force_unique:
            self._found(value, fix=re.escape(value))
            self.sources = [source]
        else:
            self._found(value)
        if self.reprocess:
            reprocess.extend(self._requeue(item))
        self.matched = True
        return True, reprocess

    def __repr__(self):
        return f"AttrConstraint(name={self.name!r}, sources={self.sources}, value={self.value!r})"


class ValueConstraint(_Leaf):
    """Constrain a value computed from the item.

    Parameters
    ----------
    name : str or None
        As for `AttrConstraint`.
    sources : callable
        ``sources(item)`` returns the value to test.
    value : str, bool, list or None
        Regular expression(s) (booleans compare as ``true``/``false``), or
        None to accept anything and (with ``force_unique``) fix the value.
    force_unique : bool
        After the first match, require exactly that value.
    """

    def __init__(self, name=None, sources=None, value=None, force_unique=True):
        super().__init__(name=name, value=value, force_unique=force_unique)
        if not callable(sources):
            raise ValueError(f"value constraint {name!r} needs a callable source")
        self.sources = sources

    def check_and_set(self, item):
        """Check ``item``; see `AttrConstraint.check_and_set`."""
        computed = self.sources(item)
        pattern = self.current_pattern()
        if pattern is not None and not meets_conditions(computed, pattern):
            self.matched = False
            return False, []
        text = _normal(computed)
        self._found(text, fix=re.escape(text) if self.force_unique else None)
        self.matched = True
        return True, []

    def __repr__(self):
        return f"ValueConstraint(name={self.name!r}, value={self.value!r})"


class ConstraintGroup(_Node):
    """Combine constraints.

    Parameters
    ----------
    constraints : list
        The children (leaves or groups).
    reduce : {'all', 'any', 'notany', 'notall'}
        How the children's results combine.
    name : str or None
        Name to look the group up by.
    """

    REDUCTIONS = ("all", "any", "notany", "notall")

    def __init__(self, constraints=(), reduce="all", name=None):
        if reduce not in self.REDUCTIONS:
            raise ValueError(f"reduce must be one of {self.REDUCTIONS}, not {reduce!r}")
        self.constraints = list(constraints)
        self.reduce = reduce
        self.name = name
        self.matched = False

    def append(self, constraint) -> None:
        """Add a child."""
        self.constraints.append(constraint)

    def leaves(self):
        for child in self.constraints:
            yield from child.leaves()

    def nodes(self):
        yield self
        for child in self.constraints:
            yield from child.nodes()

    def _all(self, item):
        # A child that fails outright ends the check; a child that fails only
        # because it asked for list expansion lets the check go on, so that
        # the expansion is requested only for items that could match.
        if not self.constraints:
            return False, []
        matched_reprocess = []
        failed_reprocess = None
        all_match = True
        for child in self.constraints:
            matched, reprocess = child.check_and_set(item)
            if matched:
                if all_match:
                    matched_reprocess.extend(reprocess)
                continue
            all_match = False
            if not reprocess:
                failed_reprocess = None
                break
            if failed_reprocess is None:
                failed_reprocess = reprocess
        if all_match:
            return True, matched_reprocess
        return False, failed_reprocess or []

    def _any(self, item):
        if not self.constraints:
            return False, []
        collected = []
        for child in self.constraints:
            matched, reprocess = child.check_and_set(item)
            if matched:
                return True, reprocess
            collected.extend(reprocess)
        return False, collected

    def check_and_set(self, item):
        """Check ``item`` against the children; on failure the tree is left unchanged.

        Returns
        -------
        matched : bool
        reprocess : list of ProcessList
        """
        mark = _JOURNAL.mark()
        if self.reduce == "all":
            matched, reprocess = self._all(item)
        elif self.reduce == "any":
            matched, reprocess = self._any(item)
        elif self.reduce == "notany":
            matched, reprocess = self._any(item)
            matched = not matched
        else:
            matched, reprocess = self._all(item)
            matched = not matched
        if not matched:
            _JOURNAL.rollback(mark)
        self.matched = matched
        return matched, reprocess

    def __repr__(self):
        return f"ConstraintGroup({self.reduce}, name={self.name!r}, {self.constraints!r})"
