"""Read the YAML tree of an ASDF file without the asdf library.

The framework reads two kinds of ASDF files only for their metadata: step
parameter files and reference files (whose ``meta`` tree selects them).
Opening them with :mod:`asdf` would import its extensions (gwcs,
astropy.modeling) and convert every tagged object; here the YAML text before
the first binary block is parsed with a loader that turns every tag into
plain mappings, sequences and scalars.  That keeps ``strun`` fast and lets a
directory of hundreds of reference files be indexed in well under a second.
"""

from __future__ import annotations

import re

__all__ = ["read_tree", "read_meta"]

_BLOCK_MAGIC = b"\xd3BLK"
_END_OF_DOCUMENT = re.compile(rb"^\.\.\.\s*$", re.M)


def _loader_class():
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class PermissiveLoader(base):
        """A safe loader that accepts any tag and builds plain Python data."""

    def construct_any(loader, tag_suffix, node):
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node, deep=True)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_scalar(node)

    PermissiveLoader.add_multi_constructor("", construct_any)
    PermissiveLoader.add_multi_constructor("!", construct_any)
    PermissiveLoader.add_multi_constructor("tag:", construct_any)
    return PermissiveLoader


_LOADER = None


def _yaml_text(path: str) -> bytes:
    """The YAML document of an ASDF file, read in chunks up to its end so
    that the binary blocks of a large file are never read."""
    chunks = []
    with open(path, "rb") as handle:
        data = b""
        while True:
            chunk = handle.read(1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
            # look for the end only near the new data (plus an overlap)
            data = b"".join(chunks)
            if not data.startswith(b"#ASDF"):
                raise ValueError(f"{path}: not an ASDF file (no '#ASDF' header)")
            if _BLOCK_MAGIC in chunk or _END_OF_DOCUMENT.search(data, max(0, len(data) - len(chunk) - 8)):
                break
    if not data.startswith(b"#ASDF"):
        raise ValueError(f"{path}: not an ASDF file (no '#ASDF' header)")
    block = data.find(_BLOCK_MAGIC)
    if block >= 0:
        data = data[:block]
    end = _END_OF_DOCUMENT.search(data)
    if end:
        data = data[: end.start()]
    return data


def read_tree(path: str) -> dict:
    """Return the whole YAML tree of the ASDF file at ``path`` as plain data."""
    import yaml

    global _LOADER
    if _LOADER is None:
        _LOADER = _loader_class()
    text = _yaml_text(path)
    try:
        tree = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader subclass
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: cannot parse the ASDF tree: {err}") from None
    if not isinstance(tree, dict):
        raise ValueError(f"{path}: the ASDF tree is not a mapping")
    return tree


def read_meta(path: str) -> dict:
    """Return the top-level ``meta`` mapping of the ASDF file (Roman files
    keep it under ``roman.meta``), parsing only that part of the tree."""
    import yaml

    global _LOADER
    if _LOADER is None:
        _LOADER = _loader_class()
    text = _yaml_text(path)
    # Cut out the meta block (and the Roman wrapper) to avoid parsing large
    # serialized transforms; fall back to the whole tree when that fails.
    lines = text.split(b"\n")
    wanted = []
    keep = False
    for line in lines:
        if line[:1] not in (b" ", b"\t", b"-", b"") and not line.startswith(b"#") and not line.startswith(b"%"):
            keep = line.startswith(b"meta:") or line.startswith(b"roman:")
        if keep:
            wanted.append(line)
    tree = None
    if wanted:
        try:
            tree = yaml.load(b"\n".join(wanted), Loader=_LOADER)  # noqa: S506
        except yaml.YAMLError:
            tree = None
    if not isinstance(tree, dict):
        tree = read_tree(path)
    meta = tree.get("meta")
    if meta is None and isinstance(tree.get("roman"), dict):
        meta = tree["roman"].get("meta")
    return meta if isinstance(meta, dict) else {}
