"""Parameter specs: the ConfigObj "configspec" syntax steps declare.

A step's ``spec`` class attribute is a string of lines such as::

    rejection_threshold = float(default=4.0)   # sigma threshold for jumps
    kernel = option('square', 'point', default='square')  # drizzle kernel
    output_shape = int_list(min=2, max=2, default=None)     # [x, y] order

Each line declares one parameter: its check (type) with positional and
keyword arguments, an optional ``default=`` and, after ``#``, the help text.
``[name]`` lines open a group of parameters that is passed to the step as a
dict (ConfigObj sections).  This module parses that syntax (with :mod:`ast`,
so the argument grammar is Python's) and converts and validates values that
come from config files and the command line (strings) or from Python
(any type).
"""

from __future__ import annotations

import ast
import os
import textwrap
from dataclasses import dataclass, field
from typing import Any

from .exceptions import ParameterError

__all__ = ["ParamSpec", "Spec", "parse_spec", "MISSING", "Source"]


class _Missing:
    """Marker of a parameter that has no default."""

    def __repr__(self):
        return "<no default>"


MISSING = _Missing()

_TRUE_WORDS = {"true", "yes", "on", "1", "t", "y"}
_FALSE_WORDS = {"false", "no", "off", "0", "f", "n"}

_SCALAR_TYPES = {
    "string",
    "boolean",
    "integer",
    "float",
    "option",
    "input_file",
    "output_file",
    "is_string_or_datamodel",
    "is_datamodel",
    "is_string_or_none",
    "any",
    "pass",
}
_LIST_TYPES = {
    "list": None,
    "tuple": None,
    "mixed_list": None,
    "force_list": None,
    "string_list": "string",
    "int_list": "integer",
    "float_list": "float",
    "bool_list": "boolean",
}
_TYPE_ALIASES = {"bool": "boolean", "int": "integer", "str": "string"}


@dataclass(frozen=True)
class Source:
    """Where a parameter value came from.

    ``label`` is shown by ``strun --print-config`` ("default", a cfg file's
    path, "command line", ...); ``root_dir`` is the directory relative
    ``input_file``/``output_file`` values are resolved against (a cfg file's
    directory for values read from that file).
    """

    label: str
    root_dir: str | None = None

    def __str__(self):
        return self.label


DEFAULT_SOURCE = Source("default")


def _is_model(value) -> bool:
    # A data model is anything with a meta tree that can be saved; duck typing
    # keeps this module free of data-model imports.
    return hasattr(value, "meta") and hasattr(value, "save")


def _split_comment(line: str) -> tuple[str, str]:
    """Split ``line`` at the first ``#`` outside quotes and brackets."""
    quote = None
    depth = 0
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "#" and depth <= 0:
            return line[:index], line[index + 1 :].strip()
    return line, ""


def _literal(node: ast.AST, where: str):
    """Evaluate one argument of a check: a literal, a bare word or list()."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        # ConfigObj accepts unquoted words as strings: option(square, point)
        return node.id
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _literal(node.operand, where)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(item, where) for item in node.elts]
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("list", "tuple")
        and not node.keywords
    ):
        return [_literal(item, where) for item in node.args]
    raise ParameterError(f"{where}: cannot read argument {ast.unparse(node)!r}")


@dataclass
class ParamSpec:
    """One declared parameter.

    Attributes
    ----------
    name : str
        Parameter name.
    check : str
        The check (type) name: ``string``, ``boolean``, ``integer``,
        ``float``, ``option``, ``list``, ``force_list``, ``int_list``,
        ``float_list``, ``bool_list``, ``string_list``, ``input_file``,
        ``output_file``, ``is_string_or_datamodel``, ... or ``section``.
    args : tuple
        Positional arguments of the check (the choices of ``option``, or
        ``min``/``max`` of numbers and lists).
    kwargs : dict
        Keyword arguments of the check other than ``default``.
    default : object
        The default value (converted), or :data:`MISSING`.
    help : str
        The help text (the line's trailing comment).
    section : Spec or None
        The nested spec of a ``[section]`` parameter.
    """

    name: str
    check: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    default: Any = MISSING
    help: str = ""
    section: Spec | None = None

    # ------------------------------------------------------------------
    @property
    def allows_none(self) -> bool:
        """True when ``None`` is a valid value (the default is None)."""
        if self.default is None:
            return True
        if self.check == "option" and None in self.args:
            return True
        return self.check in ("any", "pass", "is_string_or_none")

    @property
    def is_list(self) -> bool:
        return self.check in _LIST_TYPES

    def _bounds(self):
        lo = self.kwargs.get("min", self.args[0] if len(self.args) > 0 else None)
        hi = self.kwargs.get("max", self.args[1] if len(self.args) > 1 else None)
        return lo, hi

    def describe(self) -> str:
        """A short human description: ``float, default 4.0``."""
        if self.check == "section":
            return "group of parameters"
        if self.check == "option":
            kind = "one of " + ", ".join(repr(a) for a in self.args)
        else:
            kind = self.check
            lo, hi = self._bounds() if self.check in ("integer", "float") or self.is_list else (None, None)
            if lo is not None or hi is not None:
                kind += f" [{'' if lo is None else lo}..{'' if hi is None else hi}]"
        if self.default is MISSING:
            return f"{kind}, required"
        return f"{kind}, default {format_value(self.default)}"

    def spec_line(self) -> str:
        """This parameter as a configspec line."""
        parts = [repr(a) for a in self.args]
        parts += [f"{k}={v!r}" for k, v in self.kwargs.items()]
        if self.default is not MISSING:
            default = self.default
            if isinstance(default, list):
                default = "list(" + ", ".join(repr(v) for v in default) + ")"
            else:
                default = repr(default)
            parts.append(f"default={default}")
        line = f"{self.name} = {self.check}({', '.join(parts)})"
        if self.help:
            line += f"  # {self.help}"
        return line

    # ------------------------------------------------------------------
    def convert(self, value, source: Source = DEFAULT_SOURCE):
        """Convert and validate ``value``; raise :class:`ParameterError`.

        Strings (from config files and the command line) are parsed into the
        declared type; Python values are checked.  The string ``"None"`` is
        ``None`` for a parameter whose default is ``None``.
        """
        where = f"parameter {self.name!r}"
        if source.label not in ("default",):
            where += f" (from {source.label})"
        if isinstance(value, str) and value.strip() == "None" and self.allows_none:
            value = None
        if value is None:
            if self.allows_none:
                return None
            raise ParameterError(f"{where}: None is not allowed; expected {self.describe()}")
        try:
            return self._convert(value, source)
        except ParameterError as err:
            raise ParameterError(f"{where}: {err}") from None

    def _convert(self, value, source: Source):
        check = self.check
        if check == "section":
            if not isinstance(value, dict):
                raise ParameterError(f"expected a group of parameters, got {value!r}")
            return self.section.convert_all(value, {}, default_source=source)
        if check in ("any", "pass"):
            return value
        if check == "is_string_or_none":
            if isinstance(value, str):
                return value
            raise ParameterError(f"expected a string, got {value!r}")
        if check in ("is_string_or_datamodel", "is_datamodel"):
            if _is_model(value):
                return value
            if check == "is_string_or_datamodel" and isinstance(value, (str, os.PathLike)):
                return os.fspath(value)
            raise ParameterError(f"expected a file path or a data model, got {value!r}")
        if check in ("string", "input_file", "output_file"):
            if isinstance(value, os.PathLike):
                value = os.fspath(value)
            if isinstance(value, bool) or isinstance(value, (int, float)):
                value = str(value)
            if not isinstance(value, str):
                raise ParameterError(f"expected a string, got {value!r}")
            if check == "string":
                lo, hi = self._bounds()
                if lo is not None and len(value) < lo or hi is not None and len(value) > hi:
                    raise ParameterError(f"string length must be in [{lo}, {hi}], got {value!r}")
                return value
            path = value
            if source.root_dir and not os.path.isabs(os.path.expanduser(path)):
                path = os.path.join(source.root_dir, path)
            path = os.path.abspath(os.path.expanduser(path))
            if check == "input_file" and not os.path.exists(path):
                raise ParameterError(f"input file {path!r} does not exist")
            return path
        if check == "boolean":
            return _to_bool(value)
        if check == "integer":
            return self._check_range(_to_int(value))
        if check == "float":
            return self._check_range(_to_float(value))
        if check == "option":
            return self._to_option(value)
        if check in _LIST_TYPES:
            return self._to_list(value)
        raise ParameterError(f"unknown check {check!r}")  # pragma: no cover - caught at parse

    def _check_range(self, number):
        lo, hi = self._bounds()
        if lo is not None and number < lo:
            raise ParameterError(f"{number} is below the minimum {lo}")
        if hi is not None and number > hi:
            raise ParameterError(f"{number} is above the maximum {hi}")
        return number

    def _to_option(self, value):
        for option in self.args:
            if value == option and type(value) is type(option):
                return option
        text = str(value).strip()
        for option in self.args:
            if option is not None and text == str(option):
                return option
        for option in self.args:
            # numbers given as strings or as other numeric types: option(4, 8)
            if isinstance(option, (int, float)) and not isinstance(option, bool):
                try:
                    if float(text) == option:
                        return option
                except ValueError:
                    pass
        choices = ", ".join(repr(a) for a in self.args)
        raise ParameterError(f"{value!r} is not one of {choices}")

    def _to_list(self, value):
        item_check = _LIST_TYPES[self.check]
        if isinstance(value, str):
            # "a, b" and "[a, b]" are lists; a single word is a one-item list
            items = split_list(value)
        elif isinstance(value, (list, tuple)):
            items = list(value)
        else:
            items = [value]
        if item_check == "string":
            items = [str(v) for v in items]
        elif item_check == "integer":
            items = [_to_int(v) for v in items]
        elif item_check == "float":
            items = [_to_float(v) for v in items]
        elif item_check == "boolean":
            items = [_to_bool(v) for v in items]
        lo, hi = self._bounds()
        if lo is not None and len(items) < lo:
            raise ParameterError(f"needs at least {lo} items, got {len(items)}")
        if hi is not None and len(items) > hi:
            raise ParameterError(f"takes at most {hi} items, got {len(items)}")
        return items


def _to_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    raise ParameterError(f"expected a boolean (True/False), got {value!r}")


def _to_int(value) -> int:
    if isinstance(value, bool):
        raise ParameterError(f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    try:  # numpy integers
        import operator

        return operator.index(value)
    except TypeError:
        pass
    raise ParameterError(f"expected an integer, got {value!r}")


def _to_float(value) -> float:
    if isinstance(value, bool):
        raise ParameterError(f"expected a number, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"expected a number, got {value!r}") from None


def split_list(text: str) -> list[str]:
    """Split ``"a, 'b c', d"`` (optionally in brackets) into its items."""
    text = text.strip()
    if len(text) >= 2 and text[0] + text[-1] in ("[]", "()"):
        text = text[1:-1]
    raw, current, quote = [], [], None
    for char in text:
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == ",":
            raw.append("".join(current))
            current = []
            continue
        current.append(char)
    raw.append("".join(current))
    items = []
    for item in raw:
        item = item.strip()
        if len(item) >= 2 and item[0] == item[-1] and item[0] in "'\"":
            items.append(item[1:-1])
        elif item:
            items.append(item)
    return items


def format_value(value) -> str:
    """Write a Python value the way a configspec or cfg file shows it."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if _is_model(value):
        name = getattr(getattr(value, "meta", None), "filename", None)
        return f"<{type(value).__name__} {name}>" if name else f"<{type(value).__name__}>"
    return repr(value)


class Spec:
    """An ordered set of :class:`ParamSpec`, merged over a class hierarchy."""

    def __init__(self, params: dict[str, ParamSpec] | None = None):
        self.params: dict[str, ParamSpec] = dict(params or {})

    def __contains__(self, name):
        return name in self.params

    def __getitem__(self, name) -> ParamSpec:
        return self.params[name]

    def __iter__(self):
        return iter(self.params)

    def __len__(self):
        return len(self.params)

    def copy(self) -> Spec:
        return Spec(self.params)

    def update(self, other: Spec) -> Spec:
        """Add or replace parameters from ``other`` (a subclass's spec)."""
        for name, param in other.params.items():
            previous = self.params.get(name)
            if previous is not None and not param.help and previous.help:
                # a subclass changing a default keeps the help text
                param = ParamSpec(param.name, param.check, param.args, param.kwargs, param.default,
                                  previous.help, param.section)
            self.params[name] = param
        return self

    def defaults(self) -> dict:
        """The default value of every parameter that has one."""
        return {
            name: (p.section.defaults() if p.check == "section" else p.default)
            for name, p in self.params.items()
            if p.check == "section" or p.default is not MISSING
        }

    def convert_all(self, values: dict, sources: dict, *, owner: str = "", default_source=DEFAULT_SOURCE) -> dict:
        """Convert ``values``, fill defaults, refuse unknown and missing names.

        Parameters
        ----------
        values : dict
            Parameter values by name (strings or Python values).
        sources : dict
            :class:`Source` of each value by name; missing ones use
            ``default_source``.
        owner : str
            Named in error messages ("step 'jump'").
        """
        result = {}
        unknown = [name for name in values if name not in self.params]
        if unknown:
            known = ", ".join(sorted(self.params))
            prefix = f"{owner}: " if owner else ""
            raise ParameterError(
                f"{prefix}unknown parameter {unknown[0]!r}"
                f" (from {sources.get(unknown[0], default_source)}); known parameters: {known}"
            )
        for name, param in self.params.items():
            if name in values:
                try:
                    result[name] = param.convert(values[name], sources.get(name, default_source))
                except ParameterError as err:
                    prefix = f"{owner}: " if owner else ""
                    raise ParameterError(f"{prefix}{err}") from None
            elif param.check == "section":
                result[name] = param.section.defaults()
            elif param.default is MISSING:
                prefix = f"{owner}: " if owner else ""
                raise ParameterError(f"{prefix}parameter {name!r} has no default and was not given")
            else:
                result[name] = _copy_default(param.default)
        return result

    def format(self) -> str:
        """The spec as configspec text."""
        lines = []
        sections = []
        for param in self.params.values():
            if param.check == "section":
                sections.append(param)
            else:
                lines.append(param.spec_line())
        for param in sections:
            lines.append(f"[{param.name}]")
            lines.extend("    " + line for line in param.section.format().splitlines())
        return "\n".join(lines)


def _copy_default(value):
    return list(value) if isinstance(value, list) else value


def parse_spec(text: str, source: str = "spec") -> Spec:
    """Parse configspec text into a :class:`Spec`.

    Raises :class:`ParameterError` naming ``source`` and the line for syntax
    it cannot read, so a step author sees the mistake at class definition.
    """
    root = Spec()
    stack: list[tuple[int, Spec]] = [(0, root)]
    for lineno, raw in enumerate(textwrap.dedent(text or "").splitlines(), start=1):
        body, comment = _split_comment(raw)
        line = body.strip()
        if not line:
            continue
        where = f"{source}, line {lineno}"
        if line.startswith("["):
            depth = len(line) - len(line.lstrip("["))
            if not line.endswith("]" * depth):
                raise ParameterError(f"{where}: bad section header {line!r}")
            name = line[depth:-depth].strip().strip("'\"")
            while stack and stack[-1][0] >= depth:
                stack.pop()
            if not stack or stack[-1][0] != depth - 1:
                raise ParameterError(f"{where}: section {name!r} is nested too deeply")
            section = Spec()
            stack[-1][1].params[name] = ParamSpec(name, "section", help=comment, section=section)
            stack.append((depth, section))
            continue
        if "=" not in line:
            raise ParameterError(f"{where}: expected 'name = check(...)', got {line!r}")
        name, _, check_text = line.partition("=")
        name = name.strip()
        if not name.isidentifier():
            raise ParameterError(f"{where}: expected 'name = check(...)', got {line!r}")
        stack[-1][1].params[name] = _parse_check(name, check_text.strip(), comment, where)
    return root


def _parse_check(name: str, text: str, comment: str, where: str) -> ParamSpec:
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        raise ParameterError(f"{where}: cannot parse the check {text!r} of {name!r}") from None
    if isinstance(node, ast.Name):
        check, args, keywords = node.id, [], []
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        check, args, keywords = node.func.id, node.args, node.keywords
    else:
        raise ParameterError(f"{where}: cannot parse the check {text!r} of {name!r}")
    check = _TYPE_ALIASES.get(check, check)
    if check not in _SCALAR_TYPES and check not in _LIST_TYPES:
        raise ParameterError(f"{where}: unknown check {check!r} for parameter {name!r}")
    pos = tuple(_literal(a, where) for a in args)
    kwargs = {}
    default = MISSING
    for keyword in keywords:
        value = _literal(keyword.value, where)
        if keyword.arg == "default":
            default = value
        else:
            kwargs[keyword.arg] = value
    param = ParamSpec(name, check, pos, kwargs, MISSING, comment)
    if default is not MISSING:
        if isinstance(default, str) and default == "None" and check != "string":
            default = None
        if default is not None:
            try:
                default = param._convert(default, DEFAULT_SOURCE) if check not in ("input_file", "output_file") else default
            except ParameterError as err:
                raise ParameterError(f"{where}: default of {name!r}: {err}") from None
        param.default = default
    return param
