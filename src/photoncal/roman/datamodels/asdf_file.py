"""Reading and writing Roman ASDF files.

A Roman file is an ASDF document whose tree holds one tagged mapping under
``roman`` (``!<asdf://stsci.edu/datamodels/roman/tags/ramp-2.1.0>``): the
``meta`` tree, arrays as ``!core/ndarray`` references to binary blocks, and
times as ``!time/time`` values.  Such files are read and written here with
the YAML library and a small block reader/writer of our own, so opening a
raw exposure neither loads the ``asdf`` library with its extensions (seconds)
nor copies the ramp: arrays are memory-mapped and converted plane by plane
into their final dtype on first access.

Values of other tags (a gwcs in ``meta.wcs``, astropy transforms, tables)
are read through ``asdf`` when first used (:class:`DeferredAsdfValue`) and
written by serialising them with ``asdf`` into YAML nodes spliced into our
document; the ``roman`` mapping itself is never handed to ``asdf``, so
installing roman_datamodels changes nothing here.

The format (ASDF standard 1.6): the YAML document ends with ``...``; each
block is ``\\xd3BLK``, a big-endian header (size 48: flags u4, compression
4 bytes, allocated u8, used u8, data u8, md5 16 bytes) and the data; an
optional block index follows the last block.
"""

from __future__ import annotations

import io
import os
import re
import struct
import warnings

import numpy as np

from photoncal.datamodels.errors import DataModelError

__all__ = ["ROMAN_TAG_PREFIX", "RomanAsdf", "read_roman_asdf", "write_roman_asdf", "DeferredAsdfValue",
           "BlockArray", "CompressedBlockArray"]

ROMAN_TAG_PREFIX = "asdf://stsci.edu/datamodels/roman/tags/"
_CORE = "tag:stsci.edu:asdf/core/"
_TIME = "tag:stsci.edu:asdf/time/time-"
_NDARRAY_TAG = _CORE + "ndarray-1.1.0"
_TIME_TAG = "tag:stsci.edu:asdf/time/time-1.2.0"
_BLOCK_MAGIC = b"\xd3BLK"
_HEADER = struct.Struct(">IIQQQ16s")  # after the 6 bytes of magic + header size
_PLAIN_CORE = ("asdf-", "software-", "extension_metadata-", "history_entry-")
_END = re.compile(rb"^\.\.\.\r?$", re.M)

_NUMERIC = {
    "int8": "i1", "uint8": "u1", "int16": "i2", "uint16": "u2", "int32": "i4", "uint32": "u4",
    "int64": "i8", "uint64": "u8", "float16": "f2", "float32": "f4", "float64": "f8",
    "complex64": "c8", "complex128": "c16", "bool8": "b1",
}


# ----------------------------------------------------------------------
# values standing for tagged nodes while the YAML is parsed
# ----------------------------------------------------------------------
class _NDArrayNode:
    """An ``!core/ndarray`` mapping: where and how an array is stored."""

    __slots__ = ("source", "datatype", "byteorder", "shape", "offset", "strides", "data")

    def __init__(self, mapping):
        self.source = mapping.get("source")
        self.datatype = mapping.get("datatype")
        self.byteorder = mapping.get("byteorder", "little")
        self.shape = mapping.get("shape")
        self.offset = int(mapping.get("offset", 0) or 0)
        self.strides = mapping.get("strides")
        self.data = mapping.get("data")

    def dtype(self):
        return _dtype_of(self.datatype, self.byteorder)


class _Deferred:
    """A node of a tag we leave to ``asdf``."""

    __slots__ = ("tag",)

    def __init__(self, tag):
        self.tag = tag


class _TimeNode:
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


def _dtype_of(datatype, byteorder="little"):
    order = ">" if byteorder == "big" else "<"
    if isinstance(datatype, str):
        code = _NUMERIC.get(datatype)
        if code is None:
            raise DataModelError(f"unsupported ASDF array datatype {datatype!r}")
        return np.dtype(order + code if code[1:] != "1" else code)
    if isinstance(datatype, list) and len(datatype) == 2 and datatype[0] in ("ascii", "ucs4"):
        return np.dtype(f"S{datatype[1]}" if datatype[0] == "ascii" else f"{order}U{datatype[1]}")
    if isinstance(datatype, list):
        fields = []
        for column in datatype:
            sub = _dtype_of(column["datatype"], column.get("byteorder", byteorder))
            shape = tuple(column.get("shape", ()))
            fields.append((column.get("name", ""), sub, shape) if shape else (column.get("name", ""), sub))
        return np.dtype(fields)
    raise DataModelError(f"unsupported ASDF array datatype {datatype!r}")


def _asdf_datatype(dtype):
    """(datatype, byteorder) of a numpy dtype in ASDF notation."""
    if dtype.names is not None:
        columns = []
        for name in dtype.names:
            sub = dtype.fields[name][0]
            base, order = _asdf_datatype(sub.base)
            column = {"name": name, "datatype": base, "byteorder": order}
            if sub.shape:
                column["shape"] = list(sub.shape)
            columns.append(column)
        return columns, "big" if dtype.byteorder == ">" else "little"
    order = "big" if dtype.byteorder == ">" else "little"
    if dtype.kind == "S":
        return ["ascii", dtype.itemsize], order
    if dtype.kind == "U":
        return ["ucs4", dtype.itemsize // 4], order
    if dtype.kind == "b":
        return "bool8", order
    return {"i": "int", "u": "uint", "f": "float", "c": "complex"}[dtype.kind] + str(dtype.itemsize * 8), order


_loader_class = None


def _loader():
    global _loader_class
    if _loader_class is None:
        import yaml

        base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

        class Loader(base):
            pass

        def construct(loader, tag, node):
            if tag.startswith(_CORE + "ndarray-"):
                if isinstance(node, yaml.SequenceNode):  # inline data without a mapping
                    return _NDArrayNode({"data": loader.construct_sequence(node, deep=True)})
                return _NDArrayNode(loader.construct_mapping(node, deep=True))
            if tag.startswith(_CORE + "complex-") and isinstance(node, yaml.ScalarNode):
                text = loader.construct_scalar(node).strip()
                if text[-1:] in ("i", "I", "J"):  # the imaginary unit may be any of i, I, j, J
                    text = text[:-1] + "j"
                try:
                    return complex(text)
                except ValueError:
                    return _Deferred(tag)
            if tag.startswith(_TIME):
                if isinstance(node, yaml.MappingNode):
                    return _TimeNode(loader.construct_mapping(node, deep=True))
                return _TimeNode(loader.construct_scalar(node))
            if tag.startswith(ROMAN_TAG_PREFIX) or (
                    tag.startswith(_CORE) and tag[len(_CORE):].startswith(_PLAIN_CORE)):
                # Roman tags (including the per-node tags of older files) are plain mappings to us.
                if isinstance(node, yaml.MappingNode):
                    value = loader.construct_mapping(node, deep=True)
                    if tag.startswith(ROMAN_TAG_PREFIX):
                        value["__roman_tag__"] = tag
                    return value
                if isinstance(node, yaml.SequenceNode):
                    return loader.construct_sequence(node, deep=True)
                return loader.construct_scalar(node)
            return _Deferred(tag)

        Loader.add_multi_constructor("", construct)
        Loader.add_multi_constructor("!", construct)
        _loader_class = Loader
    return _loader_class


# ----------------------------------------------------------------------
# reading
# ----------------------------------------------------------------------
def _time_value(node):
    from astropy.time import Time

    value = node.value
    if isinstance(value, dict):
        base = value.get("value")
        fmt = value.get("base_format") or value.get("format")
        scale = value.get("scale", "utc")
        if isinstance(base, _NDArrayNode):
            raise _NeedsAsdf("array-valued time")
        if fmt in (None, "isot", "iso", "datetime", "fits", "yday"):
            return Time(str(base), scale=scale)
        return Time(base, format=fmt, scale=scale)
    return Time(str(value), scale="utc")


class _NeedsAsdf(Exception):
    pass


class BlockArray:
    """One array in a binary block of an open file (memory-mapped on access)."""

    __slots__ = ("path", "fileobj", "offset", "dtype", "shape", "strides", "name")

    def __init__(self, path, fileobj, offset, dtype, shape, strides, name):
        self.path, self.fileobj, self.offset = path, fileobj, offset
        self.dtype, self.shape, self.strides, self.name = dtype, tuple(shape), strides, name

    def raw(self, memmap=True, mode="r"):
        """The stored array: a memory map of the file (``mode`` ``r`` or copy-on-write ``c``),
        or a copy when reading from a file object."""
        count = int(np.prod(self.shape, dtype=np.int64)) if self.strides is None else None
        if self.path is not None and memmap:
            if count == 0:
                return np.zeros(self.shape, dtype=self.dtype)
            if self.strides is None:
                return np.memmap(self.path, dtype=self.dtype, mode=mode, offset=self.offset, shape=self.shape)
            span = self._span()
            base = np.memmap(self.path, dtype=np.uint8, mode=mode, offset=self.offset, shape=(span,))
            return np.ndarray(self.shape, self.dtype, buffer=base, strides=self.strides)
        handle = self.fileobj if self.fileobj is not None else open(self.path, "rb")
        try:
            handle.seek(self.offset)
            if self.strides is None:
                data = handle.read(count * self.dtype.itemsize)
                return np.frombuffer(data, dtype=self.dtype).reshape(self.shape).copy()
            data = handle.read(self._span())
            return np.ndarray(self.shape, self.dtype, buffer=data, strides=self.strides).copy()
        finally:
            if self.fileobj is None:
                handle.close()

    def _span(self):
        span = self.dtype.itemsize
        for n, s in zip(self.shape, self.strides):
            span += (n - 1) * abs(s)
        return span

    def load(self, target=None, memmap=False):
        """The array, converted to ``target`` (a dtype) plane by plane.

        Peak memory is the final array plus one plane: a uint16 ramp becomes
        a float32 ramp without a whole uint16 copy in memory.
        """
        target = np.dtype(target) if target is not None else self.dtype.newbyteorder("=")
        if memmap and target == self.dtype:
            return self.raw(memmap=True, mode="c")
        raw = self.raw(memmap=True)
        out = np.empty(raw.shape, dtype=target)
        if raw.ndim == 3 and raw.size >= (1 << 22) and raw.dtype.isnative and raw.dtype.kind in "uif" \
                and target.kind == "f":
            from photoncal.roman.kernels.convert import convert_into

            convert_into(raw, out)  # on every core, plane by plane
        elif raw.ndim >= 3:
            for index in range(raw.shape[0]):
                out[index] = raw[index]
        else:
            out[...] = raw
        del raw
        return out


def _blocks(handle, start):
    """Data offsets, used sizes and compressions of the blocks from ``start``."""
    blocks = []
    handle.seek(start)
    window = handle.read(256)
    found = window.find(_BLOCK_MAGIC)
    if found < 0:
        return blocks
    handle.seek(start + found)
    while True:
        head = handle.read(6)
        if len(head) < 6 or head[:4] != _BLOCK_MAGIC:
            break
        (size,) = struct.unpack(">H", head[4:6])
        header = handle.read(size)
        flags, compression, allocated, used, data_size, _md5 = _HEADER.unpack(header[:48])
        data_offset = handle.tell()
        compression = struct.pack(">I", compression)
        if flags & 1:  # streamed: runs to the end of the file
            handle.seek(0, os.SEEK_END)
            used = handle.tell() - data_offset
            blocks.append((data_offset, used, compression))
            break
        blocks.append((data_offset, used, compression))
        handle.seek(data_offset + allocated)
    return blocks


class RomanAsdf:
    """A parsed Roman ASDF file: the ``roman`` tree with arrays as :class:`BlockArray`."""

    def __init__(self, tree, tag, path, extra):
        self.tree = tree
        self.tag = tag
        self.path = path
        self.extra = extra


def _yaml_text(handle):
    chunks = []
    total = b""
    while True:
        chunk = handle.read(1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
        total = b"".join(chunks)
        if _BLOCK_MAGIC in chunk or _END.search(total, max(0, len(total) - len(chunk) - 8)):
            break
    if not total.startswith(b"#ASDF"):
        raise DataModelError("not an ASDF file (no '#ASDF' header)")
    match = _END.search(total)
    if match is None:
        block = total.find(_BLOCK_MAGIC)
        if block < 0:
            raise DataModelError("the ASDF document has no end marker ('...')")
        return total[:block], block
    end = match.end()
    # Blocks start after the end marker (and its newline).
    rest = total.find(_BLOCK_MAGIC, end)
    return total[:end], (rest if rest >= 0 else len(total))


def read_roman_asdf(source, name=None) -> RomanAsdf:
    """Parse a Roman ASDF file (path or binary file object) without ``asdf``.

    Returns
    -------
    RomanAsdf
        ``tree``: the mapping under ``roman`` with arrays as
        :class:`BlockArray` (or numpy arrays for inline data), times as
        ``astropy.time.Time`` and other tagged values as
        :class:`DeferredAsdfValue`; ``tag``: the Roman tag; ``extra``: the
        other top-level keys (the ``photoncal`` marker).
    """
    import yaml

    path = os.fspath(source) if isinstance(source, (str, os.PathLike)) else None
    name = name or path or getattr(source, "name", "<asdf>")
    handle = open(path, "rb") if path is not None else source
    try:
        if path is None:
            handle.seek(0)
        try:
            text, block_start = _yaml_text(handle)
        except DataModelError as exc:
            raise DataModelError(f"{name}: {exc}") from None
        try:
            document = yaml.load(text, Loader=_loader())  # noqa: S506 - a safe loader subclass
        except yaml.YAMLError as exc:
            raise DataModelError(f"{name}: cannot parse the ASDF tree: {exc}") from None
        if not isinstance(document, dict) or not isinstance(document.get("roman"), dict):
            raise DataModelError(
                f"{name}: not a Roman data file (the ASDF tree has no 'roman' mapping; keys: "
                f"{sorted(document) if isinstance(document, dict) else type(document).__name__})"
            )
        blocks = _blocks(handle, block_start)
        fileobj = None
        if path is None:
            handle.seek(0)
            fileobj = io.BytesIO(handle.read())
    finally:
        if path is not None:
            handle.close()

    deferred = _DeferredDocument(path if path is not None else fileobj, name)

    def convert(node, keys):
        if isinstance(node, _NDArrayNode):
            if node.data is not None:
                return np.asarray(node.data, dtype=node.dtype() if node.datatype else None)
            if not isinstance(node.source, int):
                raise DataModelError(f"{name}: array {'.'.join(map(str, keys))} is stored outside the file "
                                     f"(source {node.source!r}); only internal blocks are supported")
            if node.source >= len(blocks):
                raise DataModelError(f"{name}: array {'.'.join(map(str, keys))} refers to block {node.source}, "
                                     f"the file has {len(blocks)}")
            offset, _used, compression = blocks[node.source]
            if compression not in (b"\0\0\0\0", b"    "):
                # Compressed (roman_datamodels writes lz4): asdf decompresses it when first used.
                return CompressedBlockArray(deferred, keys, node.dtype(), node.shape,
                                            f"{name}[{'.'.join(map(str, keys))}]")
            return BlockArray(path, fileobj, offset + node.offset, node.dtype(), node.shape,
                              tuple(node.strides) if node.strides else None, f"{name}[{'.'.join(map(str, keys))}]")
        if isinstance(node, _TimeNode):
            try:
                return _time_value(node)
            except (_NeedsAsdf, ValueError):
                return DeferredAsdfValue(deferred, keys)
        if isinstance(node, _Deferred):
            return DeferredAsdfValue(deferred, keys)
        if isinstance(node, dict):
            return {k: convert(v, keys + (k,)) for k, v in node.items() if k != "__roman_tag__"}
        if isinstance(node, list):
            return [convert(v, keys + (i,)) for i, v in enumerate(node)]
        return node

    tag = document["roman"].get("__roman_tag__")
    tree = convert(document["roman"], ("roman",))
    extra = {k: v for k, v in document.items() if k not in ("roman", "asdf_library", "history")}
    return RomanAsdf(tree, tag, path, extra)


class CompressedBlockArray:
    """An array in a compressed block, read through ``asdf`` on first use."""

    __slots__ = ("document", "keys", "dtype", "shape", "name")

    def __init__(self, document, keys, dtype, shape, name):
        self.document, self.keys, self.dtype, self.shape, self.name = document, tuple(keys), dtype, tuple(shape), name

    def load(self, target=None, memmap=False):
        array = np.asarray(self.document.value_at(self.keys))
        target = np.dtype(target) if target is not None else array.dtype.newbyteorder("=")
        return array if array.dtype == target else array.astype(target)


class _DeferredDocument:
    """The whole file read by ``asdf`` once, for the values only it can convert.

    The Roman extensions of roman_datamodels (when installed) are switched
    off while reading, so the ``roman`` mapping stays a plain tagged dict and
    only its tagged children (gwcs, transforms, tables, times) are converted.
    """

    def __init__(self, source, name):
        self.source = source
        self.name = name
        self._tree = None
        self._file = None

    def value_at(self, keys):
        if self._tree is None:
            import asdf

            try:
                with asdf.config_context() as config:
                    config.validate_on_read = False
                    for extension in list(config.extensions):
                        uri = getattr(extension, "extension_uri", None) or ""
                        if uri.startswith("asdf://stsci.edu/datamodels/roman/"):
                            config.remove_extension(extension)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        source = self.source
                        if hasattr(source, "seek"):
                            source.seek(0)
                            source = io.BytesIO(source.read())
                        # lazy_load: blocks are read (decompressed) only for the arrays asked for
                        self._file = asdf.open(source, lazy_load=True, memmap=False)
                        self._tree = self._file.tree
            except Exception as exc:
                raise DataModelError(f"{self.name}: cannot read with asdf: {exc}") from exc
        node = self._tree
        for key in keys:
            node = node[key]
        if type(node).__name__ == "NDArrayType":
            node = np.asarray(node)
        return _plain(node)


def _plain(node):
    """Tagged containers of asdf as plain dicts and lists."""
    kind = type(node).__name__
    if kind == "TaggedDict" or (isinstance(node, dict) and type(node) is not dict):
        return {k: _plain(v) for k, v in node.items()}
    if kind == "TaggedList":
        return [_plain(v) for v in node]
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if type(node).__name__ == "NDArrayType":
        return np.asarray(node)
    return node


class DeferredAsdfValue:
    """A tagged value converted by ``asdf`` on first use (see :class:`_DeferredDocument`)."""

    __slots__ = ("document", "path")

    def __init__(self, document, path):
        self.document = document
        self.path = tuple(path)

    def load(self):
        return self.document.value_at(self.path)

    def __repr__(self):
        return f"<DeferredAsdfValue {'.'.join(map(str, self.path))}>"


# ----------------------------------------------------------------------
# writing
# ----------------------------------------------------------------------
class _ArrayRef:
    __slots__ = ("index", "array")

    def __init__(self, index, array):
        self.index = index
        self.array = array


class _TaggedMapping:
    __slots__ = ("tag", "mapping")

    def __init__(self, tag, mapping):
        self.tag = tag
        self.mapping = mapping


class _Spliced:
    """A YAML node made by asdf for a value we cannot represent ourselves."""

    __slots__ = ("node",)

    def __init__(self, node):
        self.node = node


_dumper_class = None


def _dumper():
    global _dumper_class
    if _dumper_class is None:
        import yaml

        base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

        class Dumper(base):
            def ignore_aliases(self, data):
                return True

        def represent_array(dumper, ref):
            arr = ref.array
            datatype, byteorder = _asdf_datatype(arr.dtype)
            mapping = {"source": ref.index, "datatype": datatype, "byteorder": byteorder,
                       "shape": [int(n) for n in arr.shape]}
            return dumper.represent_mapping(_NDARRAY_TAG, mapping, flow_style=True)

        def represent_tagged(dumper, tagged):
            return dumper.represent_mapping(tagged.tag, tagged.mapping)

        def represent_spliced(dumper, spliced):
            return spliced.node

        def represent_numpy_scalar(dumper, value):
            return dumper.represent_data(value.item())

        Dumper.add_representer(_ArrayRef, represent_array)
        Dumper.add_representer(_TaggedMapping, represent_tagged)
        Dumper.add_representer(_Spliced, represent_spliced)
        for numpy_type in (np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64,
                           np.uint8, np.uint16, np.uint32, np.uint64, np.bool_, np.str_):
            Dumper.add_representer(numpy_type, represent_numpy_scalar)
        _dumper_class = Dumper
    return _dumper_class


def _time_text(value):
    from astropy.time import Time

    if not isinstance(value, Time):
        value = Time(value)
    return value.utc.isot


def _is_time(value):
    return type(value).__name__ == "Time" and type(value).__module__.startswith("astropy.time")


def _is_plain(value):
    return value is None or isinstance(value, (str, bool, int, float, np.generic))


def _asdf_yaml_nodes(values):
    """YAML nodes of objects only asdf can serialise (gwcs, transforms, tables).

    The objects are written by asdf into a small document with inline
    arrays, which is parsed back into nodes (tags and all) and spliced into
    our document.
    """
    import asdf
    import yaml

    buffer = io.BytesIO()
    with asdf.config_context() as config:
        config.array_inline_threshold = None
        af = asdf.AsdfFile({f"v{i}": v for i, v in enumerate(values)})
        af.write_to(buffer, all_array_storage="inline")
    text = buffer.getvalue()
    match = _END.search(text)
    text = text[: match.end()] if match else text
    root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    nodes = {}
    for key, value in root.value:
        nodes[key.value] = value
    return [nodes[f"v{i}"] for i in range(len(values))]


def write_roman_asdf(target, tag: str, tree: dict, extra: dict | None = None, software=None):
    """Write ``tree`` as the ``roman`` mapping (tagged ``tag``) of an ASDF file.

    Parameters
    ----------
    target : str or binary file object
        Output path (written as is; callers write atomically) or file.
    tag : str
        The Roman tag URI of the model.
    tree : dict
        Plain values, numpy arrays, ``astropy.time.Time`` and objects
        ``asdf`` serialises (gwcs, transforms, tables).
    extra : dict, optional
        Other top-level keys (plain values).
    software : dict, optional
        ``{name, version}`` of the writing library.
    """
    import yaml

    arrays: list[np.ndarray] = []
    by_id: dict[int, int] = {}
    foreign: list = []
    foreign_slots: list = []

    def convert(value):
        if isinstance(value, np.ndarray):
            if value.dtype.kind == "O":
                raise DataModelError("object arrays cannot be written to ASDF")
            key = id(value)
            if key not in by_id:
                by_id[key] = len(arrays)
                arrays.append(value)
            return _ArrayRef(by_id[key], value)
        if hasattr(value, "load") and isinstance(value, DeferredAsdfValue):
            return convert(value.load())
        if _is_time(value):
            if np.ndim(value.jd1) != 0:
                slot = _Spliced(None)
                foreign.append(value)
                foreign_slots.append(slot)
                return slot
            return _TaggedScalar(_TIME_TAG, _time_text(value))
        if isinstance(value, dict):
            return {str(k): convert(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [convert(v) for v in value]
        if isinstance(value, np.generic):
            return value.item()
        if _is_plain(value):
            return value
        slot = _Spliced(None)
        foreign.append(value)
        foreign_slots.append(slot)
        return slot

    content = convert(tree)
    top = {}
    from photoncal import __version__

    info = software or {"name": "photoncal", "version": __version__}
    top["asdf_library"] = _TaggedMapping(_CORE + "software-1.0.0", dict(info))
    for key, value in (extra or {}).items():
        top[key] = convert(value)
    top["roman"] = _TaggedMapping(tag, content)
    if foreign:
        for slot, node in zip(foreign_slots, _asdf_yaml_nodes(foreign)):
            slot.node = node

    dumper = _dumper()
    if not hasattr(dumper, "_time_registered"):
        dumper.add_representer(_TaggedScalar, lambda d, s: d.represent_scalar(s.tag, s.text))
        dumper._time_registered = True
    text = yaml.dump(_TaggedMapping(_CORE + "asdf-1.1.0", top), Dumper=dumper, explicit_start=True,
                     explicit_end=True, version=(1, 1), tags={"!": "tag:stsci.edu:asdf/"}, sort_keys=False,
                     default_flow_style=None, width=110, allow_unicode=False)
    header = b"#ASDF 1.0.0\n#ASDF_STANDARD 1.6.0\n"
    body = text.encode("ascii")

    def write(handle):
        handle.write(header)
        handle.write(body)
        positions = []
        for arr in arrays:
            data = arr if (arr.flags.c_contiguous and arr.dtype.isnative) else np.ascontiguousarray(
                arr, dtype=arr.dtype.newbyteorder("="))
            nbytes = data.nbytes
            positions.append(handle.tell())
            handle.write(_BLOCK_MAGIC + struct.pack(">H", 48))
            handle.write(_HEADER.pack(0, 0, nbytes, nbytes, nbytes, b"\0" * 16))
            if nbytes:
                flat = data.reshape(-1)
                # write in slices so a huge array is not duplicated by tobytes()
                step = max(1, (64 << 20) // max(1, data.itemsize))
                for start in range(0, flat.size, step):
                    handle.write(flat[start:start + step].view(np.uint8).data)
        if positions:
            handle.write(b"#ASDF BLOCK INDEX\n%YAML 1.1\n---\n")
            handle.write(("".join(f"- {p}\n" for p in positions)).encode("ascii"))
            handle.write(b"...\n")

    if hasattr(target, "write"):
        write(target)
    else:
        with open(os.fspath(target), "wb") as handle:
            write(handle)


class _TaggedScalar:
    __slots__ = ("tag", "text")

    def __init__(self, tag, text):
        self.tag = tag
        self.text = text
