"""The `Association` base class: a dict that knows how it was made.

An association rule is a subclass of `Association`; an association is an
instance of a rule. It behaves as the dict it serialises to (``asn['products']``),
and also carries what the generator needs: its constraints (``constraints``),
auxiliary information (``meta``), and the ``create`` / ``add`` protocol:

- ``Rule.create(item)`` makes a new association from a pool item when the
  item meets the rule, and returns ``(association or None, reprocess)``;
- ``asn.add(item)`` tries to add an item to an existing association and
  returns ``(matched, reprocess)``;

where ``reprocess`` is a list of `~photoncal.associations.process_list.ProcessList`
asking the generator to consider more items (list expansion).

Once dumped (``asn.dump()``) and loaded again (`load_asn`) an association is
just its dict: the rule instance is not serialised.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import MutableMapping
from datetime import datetime, timezone

from .. import __version__
from .constraint import _JOURNAL, ConstraintGroup
from .exceptions import AssociationError, AssociationNotValidError
from .schema import validate_asn

__all__ = ["Association", "make_timestamp", "dump_data", "parse_serialized"]

logger = logging.getLogger(__name__)

#: strftime format of DMS version ids (``yyyymmddthhmmss``).
TIMESTAMP_TEMPLATE = "%Y%m%dt%H%M%S"

#: Serialisation formats ``dump`` and ``load`` know.
FORMATS = ("json", "yaml")


def make_timestamp() -> str:
    """The current UTC time as a DMS version id, e.g. ``20240101t120000``."""
    return datetime.now(timezone.utc).strftime(TIMESTAMP_TEMPLATE)


def dump_data(data, fmt: str = "json") -> str:
    """Serialise an association dict as JSON (indent 4) or YAML."""
    fmt = (fmt or "json").lower()
    if fmt == "json":
        return json.dumps(data, indent=4, separators=(",", ": ")) + "\n"
    if fmt in ("yaml", "yml"):
        import yaml

        # Members are dict subclasses; YAML's safe dumper wants plain types.
        plain = json.loads(json.dumps(data))
        return yaml.safe_dump(plain, default_flow_style=False, sort_keys=False)
    raise AssociationError(f"unknown association format {fmt!r}; expected one of {FORMATS}")


def parse_serialized(text: str, fmt: str | None = None, source: str = "association"):
    """Decode the text of an association; JSON first, then YAML unless ``fmt`` says.

    Raises
    ------
    AssociationNotValidError
        Naming ``source`` when the text is neither.
    """
    fmt = fmt.lower() if fmt else None
    if fmt not in (None, "json", "yaml", "yml"):
        raise AssociationError(f"unknown association format {fmt!r}; expected one of {FORMATS}")
    json_error = None
    if fmt in (None, "json"):
        try:
            return json.loads(text), "json"
        except json.JSONDecodeError as error:
            json_error = error
            if fmt == "json":
                raise AssociationNotValidError(
                    f"{source}: not valid JSON (line {error.lineno}, column {error.colno}: "
                    f"{error.msg})"
                ) from error
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        detail = (
            f"JSON error at line {json_error.lineno}, column {json_error.colno}: {json_error.msg}"
            if json_error is not None
            else str(error)
        )
        raise AssociationNotValidError(f"{source}: neither JSON nor YAML ({detail})") from error
    if not isinstance(data, dict):
        if json_error is not None:
            raise AssociationNotValidError(
                f"{source}: not valid JSON (line {json_error.lineno}, column {json_error.colno}: "
                f"{json_error.msg})"
            )
        raise AssociationNotValidError(
            f"{source}: expected a mapping with 'products', got {type(data).__name__}"
        )
    if fmt is None:
        logger.warning(
            "%s: read as YAML; JSON is the standard association format (YAML is accepted "
            "for compatibility)",
            source,
        )
    return data, "yaml"


class Association(MutableMapping):
    """Base class of association rules.

    Parameters
    ----------
    version_id : str or None
        Version tag written into the association (and its file name).

    Attributes
    ----------
    data : dict
        The association itself, as it will be serialised.
    meta : dict
        Auxiliary information about how it was made.
    constraints : ConstraintGroup
        The rule's constraints, fixed further by each member added.
    """

    #: Registry the rule was placed in (set by the registry).
    registry = None
    #: Name of the rule set the rule belongs to (set by the registry).
    ruleset = None
    #: Constraint appended to every instance (set by the registry).
    GLOBAL_CONSTRAINT = None
    #: Level (2 or 3) of the association schema; None for no schema.
    schema_level: int | None = None

    def __init__(self, version_id=None):
        self.data = {}
        self.meta = {}
        self.version_id = version_id
        self.run_init_hook = True
        self.data.update(
            {
                "asn_type": "None",
                "asn_rule": self.asn_rule,
                "version_id": version_id,
                "code_version": __version__,
            }
        )
        constraints = self.build_constraints()
        if self.GLOBAL_CONSTRAINT is not None:
            # First, so that an item of another candidate is turned away at once.
            constraints = ConstraintGroup(
                [self.GLOBAL_CONSTRAINT(self), constraints], name="global"
            )
        self.constraints = constraints

    # -- construction -------------------------------------------------------
    def build_constraints(self) -> ConstraintGroup:
        """Return this instance's constraint tree (rules override)."""
        return ConstraintGroup([], name="rule")

    @classmethod
    def rule_name(cls) -> str:
        """The rule's name (the class name)."""
        return getattr(cls, "_rule_name", cls.__name__)

    @property
    def asn_rule(self) -> str:
        """Name of the rule that made this association."""
        return self.rule_name()

    @property
    def asn_name(self) -> str:
        """Suggested base name of the association file."""
        return "unnamed_association"

    @classmethod
    def create(cls, item, version_id=None):
        """Make an association from ``item`` if the item meets the rule.

        Returns
        -------
        association : Association or None
        reprocess : list of ProcessList
        """
        # Most items meet few rules: check them on a pristine instance kept for
        # the purpose (its changes rolled back) before building a new one.
        probe = cls.__dict__.get("_probe_instance")
        if probe is None:
            probe = cls(version_id=None)
            cls._probe_instance = probe
        matched, reprocess = probe.check_constraints_only(item)
        if not matched:
            return None, reprocess
        asn = cls(version_id=version_id)
        matched, reprocess = asn.add(item)
        return (asn if matched else None), reprocess

    def add(self, item, check_constraints=True):
        """Add ``item`` if it meets the constraints.

        Parameters
        ----------
        item : dict
            A pool row.
        check_constraints : bool
            False adds the item without checking.

        Returns
        -------
        matched : bool
        reprocess : list of ProcessList
        """
        if self.is_item_member(item):
            return True, []
        reprocess = []
        matched = True
        if check_constraints:
            matched, reprocess = self.check_and_set_constraints(item)
        if matched:
            if self.run_init_hook:
                self._init_hook(item)
                self.run_init_hook = False
            self._add(item)
        return matched, reprocess

    def check_and_set_constraints(self, item):
        """Check ``item`` against the constraints, fixing them on a match.

        Reprocess lists made here are restricted to this rule unless the
        constraint chose the rules itself.
        """
        matched, reprocess = self.constraints.check(item)
        for process_list in reprocess:
            process_list.trigger_rules.add(type(self))
            if process_list.rules is None:
                process_list.rules = [type(self)]
        return matched, reprocess

    def check_constraints_only(self, item):
        """Check ``item`` as `check_and_set_constraints` does, leaving the constraints unchanged."""
        mark = _JOURNAL.mark()
        try:
            matched, reprocess = self.constraints.check_and_set(item)
        finally:
            _JOURNAL.rollback(mark)
        for process_list in reprocess:
            process_list.trigger_rules.add(type(self))
            if process_list.rules is None:
                process_list.rules = [type(self)]
        return matched, reprocess

    def is_item_member(self, item) -> bool:
        """True if ``item`` is already a member (rules define this)."""
        raise NotImplementedError(f"{type(self).__name__} must define is_item_member")

    def _init_hook(self, item):
        """Initialise a new association from its first item (rules may extend)."""

    def _add(self, item):
        """Insert ``item`` (rules define this)."""
        raise NotImplementedError(f"{type(self).__name__} must define _add")

    def _add_items(self, items, **kwargs):
        """Insert items without checks (used by `asn_from_list`)."""
        self.data.setdefault("members", []).extend(items)

    # -- validity, finalisation --------------------------------------------
    @classmethod
    def validate(cls, asn, source=None) -> bool:
        """Validate ``asn`` against the rule's schema.

        Raises
        ------
        AssociationNotValidError
        """
        if cls.schema_level is None:
            logger.debug("%s has no schema; not validated", cls.rule_name())
            return True
        data = asn.data if isinstance(asn, Association) else asn
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            validate_asn(data, level=cls.schema_level, source=source)
        return True

    @property
    def is_valid(self) -> bool:
        """True if the association validates."""
        try:
            type(self).validate(self)
        except AssociationNotValidError:
            return False
        return True

    def finalize(self):
        """Return the list of complete associations this one stands for, or None."""
        return [self] if self.is_valid else None

    # -- serialisation -----------------------------------------------------
    def dump(self, format="json", **kwargs):  # noqa: A002
        """Serialise the association.

        Parameters
        ----------
        format : {'json', 'yaml'}
            The serialisation.

        Returns
        -------
        (str, str)
            Suggested file name (``asn_name`` plus ``.json``/``.yaml``) and the text.

        Raises
        ------
        AssociationNotValidError
            When the association does not validate.
        """
        fmt = (kwargs.pop("fmt", None) or format or "json").lower()
        type(self).validate(self, source=self.asn_name)
        extension = ".json" if fmt == "json" else ".yaml"
        name = self.asn_name
        if not name.endswith(extension):
            name += extension
        return name, dump_data(self.data, fmt)

    @classmethod
    def load(cls, serialized, format=None, validate=True, source=None):  # noqa: A002
        """Decode a serialised association (a string or an open file) to a dict.

        The result is a plain dict, validated against the rule's schema.
        """
        if hasattr(serialized, "read"):
            source = source or getattr(serialized, "name", None)
            if hasattr(serialized, "seek"):
                serialized.seek(0)
            serialized = serialized.read()
        if isinstance(serialized, bytes):
            serialized = serialized.decode("utf-8")
        data, _ = parse_serialized(serialized, format, source or "association")
        if validate:
            cls.validate(data, source=source)
        return data

    # -- MutableMapping ----------------------------------------------------
    def __getitem__(self, key):
        return self.data[key]

    def __setitem__(self, key, value):
        self.data[key] = value

    def __delitem__(self, key):
        del self.data[key]

    def __iter__(self):
        return iter(self.data)

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        return f"<{type(self).__name__} {self.asn_name}>"
