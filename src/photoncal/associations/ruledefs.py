"""Rules as data: reading rule files and building rule classes from them.

A rule file is YAML or JSON (never Python: rule files are inputs, and inputs
are data). Its layout::

    constraints:            # optional: named constraint blocks
      mode:
        all:
          - {name: instrument, attr: instrume}
          - {name: opt_elem, attr: [filter, band]}
    rules:
      Asn_MyImage:
        base: DMS_Level3_Base         # or DMSLevel2bBase
        asn_type: image3
        description: Images of one target and filter.
        level3_science: true          # level 3 science structure (see DMS_Level3_Base)
        constraints:
          all:
            - use: mode
            - {name: exp_type, attr: exp_type, value: "nrc_image|mir_image"}

A constraint is one of:

``{attr: COLUMNS, ...}``
    a pool column test (`AttrConstraint`). Keys: ``name``, ``value``
    (regular expression, or a list of them; absent = any valid value),
    ``unique`` (``force_unique``, default true), ``required`` (default true),
    ``undefined`` (match only items without a valid value), ``evaluate``
    (read the cell as a Python literal: list expansion), ``reprocess``
    (``existing``: also offer the item to existing associations),
    ``onlyif`` (a constraint; test only items meeting it), ``acid`` (the
    candidate-id constraint), ``value_from`` (the value is any of the values
    found so far by the named constraint).
``{computed: NAME, ...}``
    a value computed by the rule set (`ValueConstraint`):
    ``exposure_type``, ``has_science``, ``is_tso``. Keys ``name``,
    ``value``, ``unique``.
``{const: VALUE, name: NAME}``
    a constant (names a product-name field, e.g. the ``000`` target of
    direct-image candidates).
``{all: [...]}``, ``{any: [...]}``, ``{notany: [...]}``, ``{notall: [...]}``
    groups, with an optional ``name``.
``{use: BLOCK}``
    a named block of this file or of the default rule files.

Rule options: ``base`` and ``asn_type`` (required), ``constraints``
(required), ``description``, ``level3_science``, ``exposure_type_as_science``
(count every member as science: rules for background or target-acquisition
exposures processed on their own), ``candidate_types`` (valid only for
these candidate types, e.g. ``[mosaic]``), ``required_exptypes`` (members
that must be present, e.g. ``[psf]``).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import yaml

from .constraint import AttrConstraint, ConstraintGroup, ValueConstraint
from .exceptions import AssociationError

__all__ = [
    "RULES_DIR",
    "DEFAULT_RULE_FILES",
    "build_node",
    "compile_node",
    "load_rule_file",
    "make_rule_class",
]

RULES_DIR = Path(__file__).parent / "rules"
#: The default rule set: level 2 then level 3.
DEFAULT_RULE_FILES = (RULES_DIR / "level2.yaml", RULES_DIR / "level3.yaml")

_GROUP_KEYS = ("all", "any", "notany", "notall")
_ATTR_KEYS = {
    "attr", "name", "value", "unique", "required", "undefined", "evaluate", "reprocess",
    "onlyif", "acid", "value_from", "invalid",
}  # fmt: skip
_COMPUTED_KEYS = {"computed", "name", "value", "unique"}
_CONST_KEYS = {"const", "name"}
_RULE_KEYS = {
    "base", "asn_type", "description", "constraints", "level3_science",
    "exposure_type_as_science", "candidate_types", "required_exptypes",
}  # fmt: skip
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _fail(where, message):
    raise AssociationError(f"{where}: {message}")


def _check_keys(spec, allowed, where):
    unknown = set(spec) - set(allowed)
    if unknown:
        _fail(where, f"unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")


def _as_list(value, where, what):
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    _fail(where, f"{what} must be a string or a list of strings, not {value!r}")


def _as_bool(spec, key, default, where):
    value = spec.get(key, default)
    if not isinstance(value, bool):
        _fail(where, f"{key!r} must be true or false, not {value!r}")
    return value


def _pattern(value, where):
    if value is None:
        return None
    patterns = value if isinstance(value, list) else [value]
    for pattern in patterns:
        if isinstance(pattern, bool):
            continue
        if not isinstance(pattern, (str, int, float)):
            _fail(where, f"value must be a regular expression string, not {pattern!r}")
        try:
            re.compile(str(pattern))
        except re.error as error:
            _fail(where, f"value {pattern!r} is not a valid regular expression: {error}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


def build_node(spec, association, library, where="rule"):
    """Build a constraint tree from its data form.

    Parameters
    ----------
    spec : dict
        The constraint (see the module documentation).
    association : DMSBase
        The association the tree belongs to (computed values read it).
    library : dict
        Named blocks for ``use``.
    where : str
        Location for error messages.

    Returns
    -------
    AttrConstraint, ValueConstraint or ConstraintGroup
    """
    return compile_node(spec, library, where)(association)


def compile_node(spec, library, where="rule", _using=()):
    """Check a constraint's data form once; return ``make(association) -> tree``.

    Every rule instance needs its own tree (constraints fix themselves as
    members arrive), so the definition is validated and resolved here, and
    the returned factory only builds the objects.
    """
    if not isinstance(spec, dict):
        _fail(where, f"a constraint must be a mapping, not {type(spec).__name__} {spec!r}")

    groups = [key for key in _GROUP_KEYS if key in spec]
    if "use" in spec:
        _check_keys(spec, {"use"}, where)
        block = spec["use"]
        if block in _using:
            _fail(where, f"constraint block {block!r} uses itself")
        if block not in library:
            _fail(where, f"no constraint block named {block!r}; known: {sorted(library)}")
        return compile_node(library[block], library, f"{where} > {block}", (*_using, block))

    if groups:
        if len(groups) > 1:
            _fail(where, f"a group has exactly one of {_GROUP_KEYS}, found {groups}")
        reduce = groups[0]
        _check_keys(spec, {reduce, "name"}, where)
        children = spec[reduce]
        if not isinstance(children, list) or not children:
            _fail(where, f"{reduce!r} needs a non-empty list of constraints")
        makers = [
            compile_node(child, library, f"{where} > {reduce}[{i}]", _using)
            for i, child in enumerate(children)
        ]
        name = spec.get("name")

        def make_group(association):
            return ConstraintGroup([make(association) for make in makers], reduce=reduce, name=name)

        return make_group

    if "attr" in spec:
        _check_keys(spec, _ATTR_KEYS, where)
        sources = _as_list(spec["attr"], where, "attr")
        value = _pattern(spec.get("value"), where)
        value_from = spec.get("value_from")
        if value_from is not None and value is not None:
            _fail(where, "give either 'value' or 'value_from', not both")
        make_onlyif = None
        if spec.get("onlyif") is not None:
            make_onlyif = compile_node(spec["onlyif"], library, f"{where} > onlyif", _using)
        reprocess = spec.get("reprocess")
        if reprocess not in (None, "existing", "rules", "both", "nonscience"):
            _fail(where, f"reprocess must be existing, rules, both or nonscience, not {reprocess!r}")
        options = dict(
            name=spec.get("name"),
            force_unique=_as_bool(spec, "unique", True, where),
            required=_as_bool(spec, "required", True, where),
            force_undefined=_as_bool(spec, "undefined", False, where),
            evaluate=_as_bool(spec, "evaluate", False, where),
            reprocess=reprocess,
            is_acid=_as_bool(spec, "acid", False, where),
        )
        if "invalid" in spec:
            options["invalid_values"] = _as_list(spec["invalid"], where, "invalid")

        def make_attr(association):
            leaf_value = value
            if value_from is not None:

                def leaf_value():
                    found = association.constraints[value_from].found_values
                    return "(" + "|".join(re.escape(v) for v in found) + ")"

            onlyif = make_onlyif(association) if make_onlyif is not None else None
            return AttrConstraint(sources=sources, value=leaf_value, onlyif=onlyif, **options)

        return make_attr

    if "computed" in spec:
        _check_keys(spec, _COMPUTED_KEYS, where)
        computed = spec["computed"]
        value = _pattern(spec.get("value"), where)
        name = spec.get("name")
        force_unique = _as_bool(spec, "unique", True, where)

        def make_computed(association):
            return ValueConstraint(
                name=name,
                sources=association.computed_source(computed),
                value=value,
                force_unique=force_unique,
            )

        return make_computed

    if "const" in spec:
        _check_keys(spec, _CONST_KEYS, where)
        constant = str(spec["const"])
        name = spec.get("name")

        def make_const(association):
            return ValueConstraint(name=name, sources=lambda item: constant)

        return make_const

    _fail(
        where,
        "a constraint needs one of 'attr', 'computed', 'const', 'use', "
        f"{', '.join(repr(k) for k in _GROUP_KEYS)}; got keys {sorted(spec)}",
    )


def load_rule_file(path):
    """Read a rule file (YAML or JSON).

    Returns
    -------
    blocks : dict
        Named constraint blocks.
    rules : dict
        ``{rule name: definition}``, in file order.
    """
    path = Path(path)
    if path.suffix.lower() == ".py":
        raise AssociationError(
            f"rule file {str(path)!r}: Python rule files are not loaded; rules are data. "
            "Write the rules as YAML or JSON (see docs/associations.md), or register "
            "rule classes from Python with AssociationRegistry.add_rule"
        )
    if not path.is_file():
        raise AssociationError(f"rule file {str(path)!r} does not exist")
    stat = path.stat()
    return _load_rule_file(str(path), stat.st_mtime_ns, stat.st_size)


_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@lru_cache(maxsize=64)
def _load_rule_file(name, mtime_ns, size):
    # Cached by name, modification time and size: registries are built often
    # (one per generation mode) and the parsed definitions are only read.
    path = Path(name)
    text = path.read_text()
    try:
        if path.suffix.lower() == ".json":
            content = json.loads(text)
        else:
            content = yaml.load(text, Loader=_SAFE_LOADER)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise AssociationError(f"rule file {str(path)!r} is not valid YAML/JSON: {error}") from error
    where = f"rule file {str(path)!r}"
    if not isinstance(content, dict):
        _fail(where, "expected a mapping with 'rules' (and optionally 'constraints')")
    _check_keys(content, {"rules", "constraints", "description"}, where)
    blocks = content.get("constraints") or {}
    rules = content.get("rules") or {}
    if not isinstance(blocks, dict):
        _fail(where, "'constraints' must map block names to constraints")
    if not isinstance(rules, dict) or not rules:
        _fail(where, "'rules' must map rule names to their definitions, and name at least one")
    for rule_name, definition in rules.items():
        rule_where = f"{where}, rule {rule_name!r}"
        if not isinstance(rule_name, str) or not _NAME.match(rule_name):
            _fail(rule_where, "a rule name must be a Python identifier such as Asn_Lv3MyImage")
        if not isinstance(definition, dict):
            _fail(rule_where, "the definition must be a mapping")
        _check_keys(definition, _RULE_KEYS, rule_where)
        for key in ("base", "asn_type", "constraints"):
            if key not in definition:
                _fail(rule_where, f"missing required key {key!r}")
    return blocks, rules


def make_rule_class(name, definition, library, bases, source="rules"):
    """Build the rule class of one definition.

    Parameters
    ----------
    name : str
        Rule name.
    definition : dict
        The rule's definition (see the module documentation).
    library : dict
        Named constraint blocks available to it.
    bases : dict
        ``{base name: class}`` the definition's ``base`` may name.
    source : str
        Where the definition comes from, for error messages.
    """
    where = f"{source}, rule {name!r}"
    base_name = definition["base"]
    if base_name not in bases:
        _fail(where, f"unknown base {base_name!r}; expected one of {sorted(bases)}")
    base = bases[base_name]
    attributes = {
        "__doc__": definition.get("description", f"Association rule {name}."),
        "__module__": __name__,
        "_definition": definition["constraints"],
        "_library": library,
        "ASN_TYPE": str(definition["asn_type"]),
        "EXPOSURE_TYPE_AS_SCIENCE": _as_bool(definition, "exposure_type_as_science", False, where),
        "REQUIRED_EXPTYPES": tuple(
            _as_list(definition.get("required_exptypes", []), where, "required_exptypes")
        ),
        "_source": source,
    }
    if "candidate_types" in definition:
        attributes["CANDIDATE_TYPES"] = tuple(
            _as_list(definition["candidate_types"], where, "candidate_types")
        )
    if "level3_science" in definition:
        if not hasattr(base, "LEVEL3_SCIENCE"):
            _fail(where, f"'level3_science' applies to level 3 rules, not to {base_name}")
        attributes["LEVEL3_SCIENCE"] = _as_bool(definition, "level3_science", False, where)
    return type(name, (base,), attributes)
