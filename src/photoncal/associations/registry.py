"""The association registry: the rules the generator and `load_asn` use.

An `AssociationRegistry` is a dict ``{rule name: rule class}``. It is made
from rule files, which are data (YAML or JSON, see
`photoncal.associations.ruledefs`), or from built-in rule-set names; the
default rules are the level 2 and level 3 rule files of this package. Rule
classes written in Python can be added with `AssociationRegistry.add_rule`
or `AssociationRegistry.populate` (classes whose name starts with ``Asn_``
and classes marked with `RegistryMarker.rule`), but a registry never
imports or executes a file named on a command line.
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path

from .association import Association
from .constraint import AttrConstraint
from .dms import DMS_Level3_Base, DMSLevel2bBase, finalize
from .exceptions import AssociationError, AssociationNotValidError
from .ruledefs import DEFAULT_RULE_FILES, RULES_DIR, load_rule_file, make_rule_class

__all__ = ["AssociationRegistry", "RegistryMarker", "candidate_constraint", "BUILTIN_RULE_SETS"]

logger = logging.getLogger(__name__)

#: Base classes a rule definition may name, and that ``include_bases`` adds as rules.
BASE_CLASSES = {"DMSLevel2bBase": DMSLevel2bBase, "DMS_Level3_Base": DMS_Level3_Base}

#: Names accepted in place of rule files: ours, and the established module names.
BUILTIN_RULE_SETS = {
    "level2": (RULES_DIR / "level2.yaml",),
    "level3": (RULES_DIR / "level3.yaml",),
    "dms": DEFAULT_RULE_FILES,
    "rules_level2b": (RULES_DIR / "level2.yaml",),
    "rules_level3": (RULES_DIR / "level3.yaml",),
    "association_rules": DEFAULT_RULE_FILES,
    "jwst.associations.lib.rules_level2b": (RULES_DIR / "level2.yaml",),
    "jwst.associations.lib.rules_level3": (RULES_DIR / "level3.yaml",),
    "jwst.associations.lib.association_rules": DEFAULT_RULE_FILES,
}


class RegistryMarker:
    """Mark Python classes as rules for `AssociationRegistry.populate`.

    >>> @RegistryMarker.rule
    ... class MyRule(DMS_Level3_Base):
    ...     ...
    """

    @staticmethod
    def rule(obj):
        """Mark ``obj`` as a rule (its name need not start with ``Asn_``)."""
        obj._asnreg_role = "rule"
        return obj

    @staticmethod
    def is_marked(obj) -> bool:
        """True if ``obj`` was marked as a rule."""
        return getattr(obj, "_asnreg_role", None) == "rule" and "_asnreg_role" in vars(obj)


def candidate_constraint(candidate_ids=None):
    """The global constraint on ``ASN_CANDIDATE`` used for candidate-based generation.

    Each pool cell is a list of ``(id, type)`` candidates; the constraint
    expands it so that every association belongs to one candidate, which
    then names it (``asn_id``).

    Parameters
    ----------
    candidate_ids : list of str or None
        Only these candidates; None for all.

    Returns
    -------
    callable
        ``factory(association)`` returning a fresh constraint.
    """
    value = None
    if candidate_ids:
        value = ".+(" + "|".join(str(cid).lower() for cid in candidate_ids) + ").+"

    def factory(association):
        return AttrConstraint(
            name="asn_candidate",
            sources=["asn_candidate"],
            value=value,
            force_unique=True,
            evaluate=True,
            is_acid=True,
        )

    factory.candidate_ids = candidate_ids
    return factory


def _resolve(definition) -> list[Path]:
    """Rule files named by one ``definition_files`` entry."""
    key = str(definition)
    if key in BUILTIN_RULE_SETS:
        return list(BUILTIN_RULE_SETS[key])
    path = Path(definition)
    if path.suffix.lower() not in (".yaml", ".yml", ".json", ".py"):
        raise AssociationError(
            f"rule definitions {key!r}: expected a rule file (.yaml, .yml or .json) or one of "
            f"the rule-set names {', '.join(sorted(BUILTIN_RULE_SETS)[:4])}, ..."
        )
    return [path]


def _default_library() -> dict:
    library = {}
    for path in DEFAULT_RULE_FILES:
        blocks, _ = load_rule_file(path)
        library.update(blocks)
    return library


class AssociationRegistry(dict):
    """The rules to match pool items against: ``{rule name: rule class}``.

    Parameters
    ----------
    definition_files : list of str or Path, or None
        Rule files (YAML/JSON) or rule-set names (``level2``, ``level3``,
        and the established module names such as
        ``jwst.associations.lib.rules_level3``).
    include_default : bool
        Start with the default level 2 and level 3 rules.
    global_constraints : callable or None
        ``factory(association)`` returning a constraint appended to every
        rule instance (see `candidate_constraint`).
    name : str or None
        Rule-set name: prefixes the registry keys (``candidate_Asn_Lv3Image``)
        and is recorded as each rule's ``ruleset``.
    include_bases : bool
        Also register the base classes (``DMSLevel2bBase``,
        ``DMS_Level3_Base``), as `asn_from_list` needs.
    """

    def __init__(
        self,
        definition_files=None,
        include_default=True,
        global_constraints=None,
        name=None,
        include_bases=False,
    ):
        super().__init__()
        self.name = name
        self.global_constraints = global_constraints
        files: list[Path] = []
        if include_default:
            files.extend(DEFAULT_RULE_FILES)
        if isinstance(definition_files, (str, Path)):
            definition_files = [definition_files]
        for definition in definition_files or ():
            for path in _resolve(definition):
                if path not in files:
                    files.append(path)
        if not files and not include_bases:
            raise AssociationError(
                "no rules: give rule files, or do not ignore the default rules"
            )
        library = _default_library()
        for path in files:
            blocks, rules = load_rule_file(path)
            file_library = {**library, **blocks}
            # Rules are tried in name order (as the established registry does);
            # of duplicate associations, the one of the rule tried last is kept.
            for rule_name, definition in sorted(rules.items()):
                rule = make_rule_class(rule_name, definition, file_library, BASE_CLASSES, str(path))
                self.add_rule(rule_name, rule)
        if include_bases:
            for base_name, base in BASE_CLASSES.items():
                self.add_rule(base_name, base, check=False)

    @property
    def rule_set(self):
        """The registered rule classes."""
        return set(self.values())

    def add_rule(self, name, rule, global_constraints=None, check=True):
        """Register a rule class.

        A subclass is registered, carrying this registry's global constraint
        and rule-set name, so one rule can sit in several registries.

        Parameters
        ----------
        name : str
            Rule name (written as ``asn_rule``).
        rule : type
            A subclass of `Association`.
        global_constraints : callable or None
            Overrides the registry's.
        check : bool
            Instantiate the rule once, so that a bad definition fails here,
            naming its file and rule.
        """
        if not (inspect.isclass(rule) and issubclass(rule, Association)):
            raise AssociationError(f"rule {name!r} is not an Association subclass: {rule!r}")
        key = f"{self.name}_{name}" if self.name else name
        constraint = global_constraints or self.global_constraints
        registered = type(
            key,
            (rule,),
            {
                "_rule_name": name,
                "GLOBAL_CONSTRAINT": staticmethod(constraint) if constraint else None,
                "registry": self,
                "ruleset": self.name,
                "__doc__": rule.__doc__,
                "__module__": rule.__module__,
            },
        )
        if check:
            registered()
        self[key] = registered
        return registered

    def populate(self, module, include_bases=False):
        """Register the rules of an already imported Python module.

        Classes whose name starts with ``Asn_`` and classes marked with
        `RegistryMarker.rule` are rules.
        """
        for obj_name, obj in vars(module).items():
            if not (inspect.isclass(obj) and issubclass(obj, Association)):
                continue
            if obj_name.startswith("Asn_") or RegistryMarker.is_marked(obj) or (
                include_bases and obj in BASE_CLASSES.values()
            ):
                self.add_rule(obj_name, obj)

    def subset(self, keep):
        """A registry of the rules for which ``keep(rule)`` is true (same classes)."""
        selected = AssociationRegistry.__new__(AssociationRegistry)
        dict.__init__(selected, {key: rule for key, rule in self.items() if keep(rule)})
        selected.name = self.name
        selected.global_constraints = self.global_constraints
        return selected

    def update(self, other=(), **kwargs):
        """Merge another registry's rules into this one."""
        super().update(other, **kwargs)

    def match(self, item, version_id=None, allow=None, ignore=None):
        """Create the new associations ``item`` starts.

        Parameters
        ----------
        item : dict
            A pool row.
        version_id : str or None
            Version tag of the associations.
        allow : collection of type or None
            Only these rules (None: all).
        ignore : collection of type or None
            Not these rules (those whose associations already took the item).

        Returns
        -------
        associations : list of Association
        reprocess : list of ProcessList
        """
        allow = self.rule_set if allow is None else set(allow)
        ignore = set(ignore or ())
        associations, reprocess = [], []
        for rule in self.values():
            if rule in ignore or rule not in allow:
                continue
            asn, more = rule.create(item, version_id)
            reprocess.extend(more)
            if asn is not None:
                associations.append(asn)
        return associations, reprocess

    def validate(self, association, source=None):
        """Return the rules an association validates against.

        Raises
        ------
        AssociationNotValidError
            Naming the first rule's errors when none validates.
        """
        valid, first_error = [], None
        for rule in self.values():
            try:
                rule.validate(association, source=source)
            except AssociationNotValidError as error:
                first_error = first_error or error
                continue
            valid.append(rule)
        if not valid:
            raise first_error or AssociationNotValidError(f"{source}: no rules to validate against")
        return valid

    def load(self, serialized, format=None, validate=True, first=True, source=None):  # noqa: A002
        """Decode a serialised association, validated by the registry's rules."""
        from .load import load_asn

        return load_asn(serialized, format=format, validate=validate, registry=self, source=source)

    def finalize(self, associations):
        """Finalise the associations the generator made with these rules."""
        return finalize(associations)

    def rule_names(self):
        """Rule names without the rule-set prefix."""
        return [rule.rule_name() for rule in self.values()]
