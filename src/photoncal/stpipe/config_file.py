"""Step configuration files: the ``.cfg`` format and ASDF parameter files.

``.cfg`` files are the ConfigObj/INI dialect of seed 002::

    name = "Detector1Pipeline"
    class = "jwst.pipeline.Detector1Pipeline"
    save_calibrated_ramp = True

        [steps]
          [[dark_current]]
            config_file = my_dark_current.cfg
          [[ipc]]
            skip = True

Values are strings (quoted or not), ``None``, or comma-separated lists
(``post_hooks = "a",`` is a one-item list); ``[name]``/``[[name]]`` open
(nested) sections; ``#`` starts a comment.  A step section's
``config_file`` names another cfg, resolved relative to the including file,
whose values the section's own values override.  The parser is our own
(ConfigObj is not a dependency); types come later from each step's spec.

ASDF parameter files hold the same information as a tree in the established
layout: ``class``, ``name``, ``parameters`` and a ``steps`` list of
``{class, name, parameters}`` (the older layout with everything under
``parameters`` and ``steps`` as a mapping is read too).

Loading returns ``(values, sources)``: nested dicts of raw values and the
parallel tree of :class:`~photoncal.stpipe.spec.Source` saying which file
each value came from.
"""

from __future__ import annotations

import os

from .exceptions import ConfigFileError
from .spec import Source, format_value

__all__ = [
    "parse_cfg",
    "format_cfg",
    "load_config_file",
    "write_config_file",
    "merge_config",
    "resolve_step_config_files",
    "tag_sources",
]

_MAX_DELEGATION_DEPTH = 16


# ----------------------------------------------------------------------
# .cfg parsing
# ----------------------------------------------------------------------
def _unquote_scalar(text: str, where: str):
    """Parse one scalar: quoted string, bare ``None`` or bare word."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if text and text[0] in "'\"":
        raise ConfigFileError(f"{where}: unterminated quote in {text!r}")
    if text == "None":
        return None
    return text


def _split_value(text: str, where: str):
    """Split a value into (value, comment): list, scalar or None."""
    items: list[str] = []
    current = []
    quote = None
    saw_comma = False
    index = 0
    comment = ""
    while index < len(text):
        char = text[index]
        if quote:
            current.append(char)
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
            current.append(char)
        elif char == "#":
            comment = text[index + 1 :].strip()
            break
        elif char == ",":
            saw_comma = True
            items.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    if quote:
        raise ConfigFileError(f"{where}: unterminated quote in {text.strip()!r}")
    last = "".join(current)
    if not saw_comma:
        return _unquote_scalar(last, where), comment
    if last.strip():
        items.append(last)
    values = [_unquote_scalar(item, where) for item in items if item.strip()]
    return values, comment


def parse_cfg(text: str, path: str = "<string>") -> dict:
    """Parse ``.cfg`` text into nested dicts of raw values.

    Raises :class:`ConfigFileError` naming ``path`` and the line for anything
    it cannot read (a missing ``=``, an unbalanced section header, a
    duplicate key, an unterminated quote).
    """
    root: dict = {}
    stack: list[tuple[int, dict]] = [(0, root)]
    lines = text.splitlines()
    lineno = 0
    while lineno < len(lines):
        raw = lines[lineno]
        lineno += 1
        where = f"{path}, line {lineno}"
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            body = line.split("#", 1)[0].strip() if "#" in line else line
            depth = len(body) - len(body.lstrip("["))
            closing = len(body) - len(body.rstrip("]"))
            if closing != depth:
                raise ConfigFileError(f"{where}: unbalanced section header {line!r}")
            name = body[depth:-depth].strip().strip("'\"")
            if not name:
                raise ConfigFileError(f"{where}: empty section name")
            while stack[-1][0] >= depth:
                stack.pop()
            if stack[-1][0] != depth - 1:
                raise ConfigFileError(
                    f"{where}: section [{'[' * (depth - 1)}{name}{']' * (depth - 1)}] is nested "
                    f"deeper than its parent section"
                )
            parent = stack[-1][1]
            if name in parent:
                raise ConfigFileError(f"{where}: duplicate section {name!r}")
            section: dict = {}
            parent[name] = section
            stack.append((depth, section))
            continue
        if "=" not in line:
            raise ConfigFileError(f"{where}: expected 'name = value', got {line!r}")
        key, _, value_text = line.partition("=")
        key = key.strip().strip("'\"")
        if not key:
            raise ConfigFileError(f"{where}: missing parameter name before '='")
        value_text = value_text.strip()
        for triple in ('"""', "'''"):
            if value_text.startswith(triple):
                # multi-line string
                body = value_text[3:]
                while triple not in body:
                    if lineno >= len(lines):
                        raise ConfigFileError(f"{where}: unterminated {triple} string")
                    body += "\n" + lines[lineno]
                    lineno += 1
                value = body[: body.index(triple)]
                break
        else:
            value, _ = _split_value(value_text, where)
        target = stack[-1][1]
        if key in target:
            raise ConfigFileError(f"{where}: duplicate parameter {key!r}")
        target[key] = value
    return root


# ----------------------------------------------------------------------
# .cfg writing
# ----------------------------------------------------------------------
def _format_scalar(value) -> str:
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        # models (reference overrides) are written as their file name
        name = getattr(getattr(value, "meta", None), "filename", None)
        value = str(name) if name else format_value(value)
    if "\n" in value:
        return '"""' + value + '"""'
    if '"' not in value:
        return f'"{value}"'
    if "'" not in value:
        return f"'{value}'"
    return '"""' + value + '"""'


def _format_item(value) -> str:
    if isinstance(value, (list, tuple)):
        if not value:
            return ","
        text = ", ".join(_format_scalar(v) for v in value)
        return text + "," if len(value) == 1 else text
    return _format_scalar(value)


def format_cfg(config: dict, comments: dict | None = None, *, header: str = "") -> str:
    """Write nested dicts as ``.cfg`` text that :func:`parse_cfg` reads back.

    ``comments`` (same nesting, optional) adds a trailing ``# comment`` to
    values, e.g. the source of each value for ``strun --print-config``.
    """
    out = []
    if header:
        out.extend("# " + line if line else "#" for line in header.splitlines())

    def emit(section: dict, notes: dict, depth: int):
        indent = "    " * depth
        scalars = [(k, v) for k, v in section.items() if not isinstance(v, dict)]
        subsections = [(k, v) for k, v in section.items() if isinstance(v, dict)]
        for key, value in scalars:
            line = f"{indent}{key} = {_format_item(value)}"
            note = notes.get(key) if isinstance(notes, dict) else None
            if note and not isinstance(note, dict):
                line += f"  # {note}"
            out.append(line)
        for key, value in subsections:
            out.append(f"{indent}{'[' * (depth + 1)}{key}{']' * (depth + 1)}")
            sub_notes = notes.get(key, {}) if isinstance(notes, dict) else {}
            emit(value, sub_notes if isinstance(sub_notes, dict) else {}, depth + 1)

    # ConfigObj reads every value after a section header as part of that
    # section, so top-level values must come first: emit() does that.
    emit(config, comments or {}, 0)
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------
# loading, merging, delegation
# ----------------------------------------------------------------------
def tag_sources(values: dict, source: Source) -> dict:
    """The source tree of ``values`` with every leaf set to ``source``."""
    return {k: tag_sources(v, source) if isinstance(v, dict) else source for k, v in values.items()}


def merge_config(values: dict, sources: dict, new_values: dict, new_sources: dict) -> None:
    """Merge ``new_values`` (and their sources) into ``values`` in place.

    Sections merge recursively; any other value replaces the old one.
    """
    for key, value in new_values.items():
        source = new_sources.get(key) if isinstance(new_sources, dict) else new_sources
        if isinstance(value, dict) and not _is_model(value):
            if not isinstance(values.get(key), dict):
                values[key] = {}
                sources[key] = {}
            if not isinstance(sources.get(key), dict):
                sources[key] = {}
            merge_config(values[key], sources[key], value, source if isinstance(source, dict) else {})
        else:
            values[key] = value
            sources[key] = source if isinstance(source, Source) else Source(str(source or "argument"))


def _is_model(value) -> bool:
    return hasattr(value, "meta") and hasattr(value, "save")


def _read_asdf_config(path: str) -> dict:
    from ._asdf_tree import read_tree

    try:
        tree = read_tree(path)
    except (OSError, ValueError) as err:
        raise ConfigFileError(f"{path}: cannot read the ASDF parameter file: {err}") from None

    def from_new(node: dict, where: str) -> dict:
        if not isinstance(node, dict):
            raise ConfigFileError(f"{path}: {where} is not a mapping")
        params = node.get("parameters") or {}
        if not isinstance(params, dict):
            raise ConfigFileError(f"{path}: {where}.parameters is not a mapping")
        result = {}
        if node.get("name") is not None:
            result["name"] = node["name"]
        if node.get("class") is not None:
            result["class"] = node["class"]
        result.update(params)
        steps = node.get("steps")
        if steps:
            if not isinstance(steps, list):
                raise ConfigFileError(f"{path}: {where}.steps must be a list of step configurations")
            result["steps"] = {}
            for index, step in enumerate(steps):
                sub = from_new(step, f"{where}.steps[{index}]")
                step_name = sub.pop("name", None)
                if not step_name:
                    raise ConfigFileError(f"{path}: {where}.steps[{index}] has no name")
                result["steps"][step_name] = sub
        return result

    if "class" in tree or ("parameters" in tree and "name" in tree):
        return from_new(tree, "the tree")
    params = tree.get("parameters")
    if isinstance(params, dict):  # the older layout
        return dict(params)
    raise ConfigFileError(
        f"{path}: not a step parameter file: expected 'class', 'name' and 'parameters' at the top of the tree"
    )


def load_config_file(path, *, label: str | None = None, _depth: int = 0) -> tuple[dict, dict]:
    """Read a ``.cfg`` or ASDF parameter file.

    Step sections' ``config_file`` entries are resolved (relative to this
    file) and merged under the section's own values.

    Returns
    -------
    values, sources : dict, dict
        Raw values (``name`` and ``class`` included) and their sources.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ConfigFileError(f"config file {path!r} not found")
    with open(path, "rb") as handle:
        head = handle.read(5)
    if head.startswith(b"#ASDF"):
        values = _read_asdf_config(path)
    else:
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except UnicodeDecodeError:
            raise ConfigFileError(f"{path}: not a text .cfg file nor an ASDF parameter file") from None
        values = parse_cfg(text, path)
    root_dir = os.path.dirname(os.path.abspath(path))
    sources = tag_sources(values, Source(label or path, root_dir))
    resolve_step_config_files(values, sources, root_dir, _depth=_depth, where=path)
    return values, sources


def resolve_step_config_files(values: dict, sources: dict, base_dir: str | None, *, _depth: int = 0, where: str = "") -> None:
    """Replace ``steps.<name>.config_file`` by the contents of that file.

    The referenced file is loaded (relative to ``base_dir`` unless absolute),
    its ``name``/``class`` are kept for checking, and the section's own
    values override it, as seed 002 describes.
    """
    steps = values.get("steps")
    if not isinstance(steps, dict):
        return
    step_sources = sources.setdefault("steps", {})
    for step_name, section in list(steps.items()):
        if not isinstance(section, dict) or section.get("config_file") in (None, ""):
            continue
        if _depth >= _MAX_DELEGATION_DEPTH:
            raise ConfigFileError(f"{where}: config_file delegation nested more than {_MAX_DELEGATION_DEPTH} deep")
        ref = os.path.expanduser(os.fspath(section["config_file"]))
        if base_dir and not os.path.isabs(ref):
            ref = os.path.join(base_dir, ref)
        if not os.path.isfile(ref):
            raise ConfigFileError(
                f"{where or 'configuration'}: steps.{step_name}.config_file {section['config_file']!r}"
                f" not found (looked for {ref})"
            )
        sub_values, sub_sources = load_config_file(ref, _depth=_depth + 1)
        own_sources = step_sources.get(step_name, {}) if isinstance(step_sources.get(step_name), dict) else {}
        own = {k: v for k, v in section.items() if k != "config_file"}
        own_sources = {k: v for k, v in own_sources.items() if k != "config_file"}
        merge_config(sub_values, sub_sources, own, own_sources)
        steps[step_name] = sub_values
        step_sources[step_name] = sub_sources


def write_config_file(path, values: dict, *, comments: dict | None = None, header: str = "") -> str:
    """Write ``values`` as a ``.cfg`` file, or as an ASDF parameter file when
    ``path`` ends in ``.asdf``; returns the path.  Written atomically."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        if path.lower().endswith(".asdf"):
            _write_asdf_config(tmp, values)
        else:
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.write(format_cfg(values, comments, header=header))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    name = getattr(getattr(value, "meta", None), "filename", None)
    return str(name) if name else repr(value)


def _to_asdf_layout(values: dict) -> dict:
    params = {k: _plain(v) for k, v in values.items() if k not in ("name", "class", "steps")}
    tree = {"class": values.get("class"), "name": values.get("name"), "parameters": params}
    steps = values.get("steps")
    if steps:
        tree["steps"] = [_to_asdf_layout({"name": name, **section}) for name, section in steps.items()]
    return tree


def _write_asdf_config(path: str, values: dict) -> None:
    import asdf

    asdf.AsdfFile(_to_asdf_layout(values)).write_to(path)
