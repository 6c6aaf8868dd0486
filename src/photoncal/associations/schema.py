"""Validation of level 2 and level 3 associations against our JSON schemas.

The schemas (``schemas/asn_level2.json``, ``schemas/asn_level3.json``) use a
small subset of JSON Schema: ``type``, ``required``, ``properties``,
``additionalProperties``, ``items``, ``minItems``, ``minLength``, ``enum``,
``pattern`` and ``anyOf``. The checker below implements exactly that subset,
so validation needs nothing beyond the standard library, and every error
names the offending field by its path (``products[0].members[2].expname``).

Beyond the schema, :func:`validate_asn` applies the rules the spec states in
prose: a level 2 product has exactly one ``science`` member, a level 3
association has at least one, and member names should be plain file names
relative to the association (a warning otherwise, as the established
pipeline gives).
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from functools import lru_cache
from pathlib import Path, PurePosixPath, PureWindowsPath

from .exceptions import AssociationNotValidError

__all__ = [
    "LEVEL2_ASN_TYPES",
    "LEVEL3_ASN_TYPES",
    "asn_level",
    "load_schema",
    "schema_errors",
    "validate_asn",
    "member_path_problem",
]

logger = logging.getLogger(__name__)

_SCHEMA_DIR = Path(__file__).parent / "schemas"

#: ``asn_type`` values of level 2 associations (each names a calwebb pipeline).
LEVEL2_ASN_TYPES = frozenset(
    {"image2", "spec2", "tso-image2", "tso-spec2", "nrslamp-spec2", "wfs-image2"}
)
#: ``asn_type`` values of level 3 associations.
LEVEL3_ASN_TYPES = frozenset(
    {"image3", "spec3", "ami3", "coron3", "tso3", "wfs", "ami", "coron", "dither", "nrsifu"}
)

_LEVEL2_RULE = re.compile(r"(lv2|level2|dmslevel2)", re.IGNORECASE)

_JSON_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


@lru_cache(maxsize=None)
def _load_schema_text(level: int) -> str:
    path = _SCHEMA_DIR / f"asn_level{level}.json"
    return path.read_text()


def load_schema(level: int) -> dict:
    """Return the JSON schema of level 2 or level 3 associations (a fresh dict)."""
    if level not in (2, 3):
        raise ValueError(f"association level must be 2 or 3, not {level!r}")
    return json.loads(_load_schema_text(level))


def _type_ok(value, type_name: str) -> bool:
    if type_name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, _JSON_TYPES[type_name])


def _describe(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _join(path: str, key) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def schema_errors(instance, schema: dict, path: str = "") -> list[str]:
    """Check ``instance`` against ``schema``; return one message per problem.

    Parameters
    ----------
    instance : object
        Decoded JSON (dicts, lists, strings, numbers, booleans, None).
    schema : dict
        A schema using the subset of JSON Schema described in the module.
    path : str
        Path of ``instance`` inside the document, used in the messages.

    Returns
    -------
    list of str
        Empty when the instance is valid.
    """
    where = path or "(top level)"
    errors: list[str] = []

    if "anyOf" in schema:
        branches = [schema_errors(instance, sub, path) for sub in schema["anyOf"]]
        if all(branches):
            errors.append(f"{where}: {_describe(instance)} matches none of the allowed forms")
            return errors

    expected = schema.get("type")
    if expected is not None:
        names = [expected] if isinstance(expected, str) else list(expected)
        if not any(_type_ok(instance, name) for name in names):
            errors.append(
                f"{where}: expected {' or '.join(names)}, got "
                f"{type(instance).__name__} {_describe(instance)}"
            )
            return errors

    if "enum" in schema and instance not in schema["enum"]:
        errors.append(f"{where}: {_describe(instance)} is not one of {schema['enum']}")

    if isinstance(instance, str):
        if len(instance) < schema.get("minLength", 0):
            errors.append(f"{where}: must not be empty")
        pattern = schema.get("pattern")
        if pattern is not None and re.search(pattern, instance) is None:
            errors.append(f"{where}: {_describe(instance)} does not match pattern {pattern!r}")

    if isinstance(instance, dict):
        for key in schema.get("required", ()):
            if key not in instance:
                errors.append(f"{where}: missing required field '{key}'")
        properties = schema.get("properties", {})
        for key, value in instance.items():
            if key in properties:
                errors.extend(schema_errors(value, properties[key], _join(path, key)))
            elif schema.get("additionalProperties", True) is False:
                errors.append(f"{_join(path, key)}: field is not allowed here")

    if isinstance(instance, list):
        if len(instance) < schema.get("minItems", 0):
            errors.append(f"{where}: needs at least {schema['minItems']} entries")
        item_schema = schema.get("items")
        if item_schema is not None:
            for index, value in enumerate(instance):
                errors.extend(schema_errors(value, item_schema, _join(path, index)))
    return errors


def asn_level(asn) -> int:
    """Decide whether an association is level 2 or level 3.

    Level 2 when ``asn_type`` is a level 2 type (``image2``, ``spec2``, ...)
    or ``asn_rule`` names a level 2 rule (``Asn_Lv2...``, ``DMSLevel2bBase``);
    otherwise level 3, whose schema is the looser of the two.
    """
    if not isinstance(asn, dict):
        return 3
    asn_type = str(asn.get("asn_type", "")).lower()
    if asn_type in LEVEL2_ASN_TYPES:
        return 2
    if asn_type in LEVEL3_ASN_TYPES:
        return 3
    if _LEVEL2_RULE.search(str(asn.get("asn_rule", ""))):
        return 2
    return 3


def member_path_problem(expname: str) -> str | None:
    """Say what is wrong with a member name as a path, or None when it is a plain name.

    Members are resolved relative to the association file, so a member should
    be a plain file name. Absolute paths and ``..`` make an association break
    when it is moved or shared; sub-directories merely complicate it.
    """
    for flavour in (PurePosixPath, PureWindowsPath):
        parsed = flavour(expname)
        if parsed.is_absolute() or parsed.drive:
            return "is an absolute path"
        if ".." in parsed.parts:
            return "refers to a parent directory ('..')"
    if len(PurePosixPath(expname).parts) > 1 or len(PureWindowsPath(expname).parts) > 1:
        return "contains a directory"
    return None


def validate_asn(asn, level: int | None = None, source: str | None = None) -> int:
    """Validate an association; raise with every problem listed.

    Parameters
    ----------
    asn : dict
        The association (decoded JSON, or an `Association`).
    level : {2, 3} or None
        Which schema to use; None decides with :func:`asn_level`.
    source : str or None
        Where the association came from (a file name), used in messages.

    Returns
    -------
    int
        The level the association was validated as.

    Raises
    ------
    AssociationNotValidError
        Naming the source and each offending field.
    """
    data = getattr(asn, "data", asn)
    if level is None:
        level = asn_level(data)
    label = source or "association"
    errors = schema_errors(data, load_schema(level))
    if not errors:
        errors = _content_errors(data, level)
    if errors:
        lines = "\n  ".join(errors)
        raise AssociationNotValidError(
            f"{label}: not a valid level {level} association:\n  {lines}"
        )
    for iprod, product in enumerate(data["products"]):
        for imem, member in enumerate(product["members"]):
            problem = member_path_problem(member["expname"])
            if problem is not None:
                message = (
                    f"{label}: products[{iprod}].members[{imem}].expname "
                    f"{member['expname']!r} {problem}; members are found relative to the "
                    "association file, so plain file names keep it usable when moved or shared"
                )
                logger.warning(message)
                warnings.warn(message, UserWarning, stacklevel=2)
    return level


def _content_errors(data: dict, level: int) -> list[str]:
    errors = []
    if level == 2:
        for iprod, product in enumerate(data["products"]):
            n_science = sum(
                1 for member in product["members"] if member["exptype"].lower() == "science"
            )
            if n_science != 1:
                errors.append(
                    f"products[{iprod}]: a level 2 product needs exactly one member with "
                    f"exptype 'science', found {n_science}"
                )
    else:
        n_science = sum(
            1
            for product in data["products"]
            for member in product["members"]
            if member["exptype"].lower() == "science"
        )
        if not data["products"]:
            errors.append("products: a level 3 association needs at least one product")
        elif n_science == 0:
            errors.append(
                "products: a level 3 association needs at least one member with exptype 'science'"
            )
    return errors
