"""The attribute tree over a model's instance dictionary.

A model keeps all its content in one nested ``dict`` (the *instance*, the
same tree the ASDF extension stores).  :class:`ObjectNode` and
:class:`ListNode` give attribute access to it, checking every assignment
against the schema node of that position.  Arrays read from a file are kept
as :class:`LazyArray` placeholders until first accessed.
"""

from __future__ import annotations

from .schema import is_array_schema

__all__ = ["LazyArray", "LazyAsdfValue", "ObjectNode", "ListNode", "is_object_schema"]


class LazyArray:
    """An array that is read (or allocated) on first access.

    Parameters
    ----------
    shape : tuple
        Shape of the array, known without reading it (from the FITS header).
    dtype : numpy.dtype or None
        Its dtype as stored (before any conversion to the schema dtype).
    loader : callable
        ``loader(target_dtype_or_None)`` returns the array.
    source : str
        Where it comes from, for messages (``file.fits[SCI]``).
    from_file : bool
        Read from a file (as opposed to allocated for a new model).
    inplace : bool, optional
        The loaded array belongs to this model alone, so byte-order
        conversion may happen in place (default: ``from_file``).
    """

    __slots__ = ("shape", "dtype", "loader", "source", "from_file", "inplace")

    def __init__(self, shape, dtype, loader, source="", from_file=True, inplace=None):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.loader = loader
        self.source = source
        self.from_file = from_file
        # May the loaded array be converted where it lies (it is ours alone)?
        self.inplace = from_file if inplace is None else inplace

    @property
    def ndim(self):
        return len(self.shape)

    def load(self, target=None):
        """The array; ``target`` (a dtype) lets the loader convert while reading."""
        return self.loader(target)

    def __repr__(self):
        return f"<LazyArray {self.source} shape={self.shape} dtype={self.dtype}>"


class LazyAsdfValue:
    """A value of the ASDF extension (e.g. the gwcs in ``meta.wcs``) converted on first access.

    Converting tagged ASDF objects needs the ``asdf`` library with all its
    extensions (seconds to load); files whose metadata is plain YAML never
    pay that.
    """

    __slots__ = ("document", "path")

    def __init__(self, document, path):
        self.document = document
        self.path = tuple(path)

    def load(self):
        return self.document.value_at(self.path)

    def __repr__(self):
        return f"<LazyAsdfValue {'.'.join(map(str, self.path))}>"


def is_object_schema(node) -> bool:
    return isinstance(node, dict) and (node.get("type") == "object" or "properties" in node) and not is_array_schema(node)


class _Node:
    __slots__ = ()

    def _child_schema(self, key):
        schema = object.__getattribute__(self, "_schema")
        if not isinstance(schema, dict):
            return None
        props = schema.get("properties")
        if props and key in props:
            return props[key]
        return None


class ObjectNode(_Node):
    """Attribute access to one mapping of the instance tree.

    ``node.name`` returns the stored value (a nested :class:`ObjectNode` for
    mappings, a :class:`ListNode` for lists, the array for arrays), the
    schema default for unset scalars (``None`` if it has none), and raises
    ``AttributeError`` for names neither stored nor in the schema.
    Assignments are type-checked; assigning ``None`` removes the value.
    ``_instance`` is the underlying dictionary.
    """

    __slots__ = ("_path", "_instance", "_schema", "_ctx")

    def __init__(self, path, instance, schema, ctx):
        object.__setattr__(self, "_path", tuple(path))
        object.__setattr__(self, "_instance", instance)
        object.__setattr__(self, "_schema", schema if schema is not None else {})
        object.__setattr__(self, "_ctx", ctx)

    @property
    def _name(self):
        return ".".join(self._path)

    def __getattr__(self, attr):
        if attr.startswith("__") or attr in ObjectNode.__slots__:
            raise AttributeError(attr)
        instance = self._instance
        node = self._child_schema(attr)
        path = self._path + (attr,)
        if attr in instance:
            return self._ctx._wrap(path, instance, attr, node)
        if node is None:
            where = ".".join(self._path) or type(self._ctx).__name__
            raise AttributeError(f"{where} has no attribute {attr!r}")
        if is_object_schema(node):
            instance[attr] = {}
            return ObjectNode(path, instance[attr], node, self._ctx)
        if is_array_schema(node):
            return self._ctx._default_array(path, instance, attr, node)
        if node.get("type") == "array":
            instance[attr] = []
            return ListNode(path, instance[attr], node, self._ctx)
        default = node.get("default")
        return default

    def __setattr__(self, attr, value):
        if attr.startswith("_"):
            object.__setattr__(self, attr, value)
            return
        self._ctx._assign(self._path + (attr,), self._instance, attr, value, self._child_schema(attr))

    def __delattr__(self, attr):
        if attr in self._instance:
            del self._instance[attr]
        elif self._child_schema(attr) is None:
            raise AttributeError(attr)

    def __contains__(self, attr):
        return attr in self._instance

    def __getitem__(self, key):
        """``node[key]``: the same as ``node.key`` (``KeyError`` when neither stored nor in the schema)."""
        if not isinstance(key, str):
            raise KeyError(key)
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def __setitem__(self, key, value):
        """``node[key] = value``: the same as ``node.key = value`` (checked against the schema)."""
        if not isinstance(key, str) or key.startswith("_"):
            raise KeyError(key)
        setattr(self, key, value)

    def hasattr(self, attr):
        """True if a value is stored under ``attr`` (schema defaults do not count)."""
        return attr in self._instance and self._instance[attr] is not None

    def __dir__(self):
        props = self._schema.get("properties", {}) if isinstance(self._schema, dict) else {}
        return sorted(set(props) | set(self._instance))

    def __iter__(self):
        return iter(self._instance)

    def __len__(self):
        return len(self._instance)

    def __eq__(self, other):
        if isinstance(other, ObjectNode):
            return self._instance == other._instance
        if isinstance(other, dict):
            return self._instance == other
        return NotImplemented

    __hash__ = None

    def __repr__(self):
        return f"<ObjectNode {'.'.join(self._path) or 'root'}: {sorted(self._instance)}>"

    def items(self):
        """Flat (dotted key, value) pairs under this node."""
        from .model_base import _flatten

        return list(_flatten(self._instance, "", include_arrays=True, ctx=None).items())

    def to_flat_dict(self):
        """Flat dictionary (dotted keys) of the values under this node."""
        return dict(self.items())


class ListNode(_Node):
    """A list of the instance tree; items are checked against ``items`` of the schema."""

    __slots__ = ("_path", "_instance", "_schema", "_ctx")

    def __init__(self, path, instance, schema, ctx):
        object.__setattr__(self, "_path", tuple(path))
        object.__setattr__(self, "_instance", instance)
        object.__setattr__(self, "_schema", schema if schema is not None else {})
        object.__setattr__(self, "_ctx", ctx)

    def _item_schema(self):
        items = self._schema.get("items") if isinstance(self._schema, dict) else None
        return items if isinstance(items, dict) else None

    def __len__(self):
        return len(self._instance)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self._instance)
        return self._ctx._wrap(self._path + (str(index),), self._instance, index, self._item_schema())

    def __setitem__(self, index, value):
        self._ctx._assign(self._path + (str(index),), self._instance, index, value, self._item_schema())

    def __delitem__(self, index):
        del self._instance[index]

    def __iter__(self):
        for i in range(len(self._instance)):
            yield self[i]

    def __eq__(self, other):
        if isinstance(other, ListNode):
            return self._instance == other._instance
        if isinstance(other, list):
            return self._instance == other
        return NotImplemented

    __hash__ = None

    def __repr__(self):
        return f"<ListNode {'.'.join(self._path)}: {len(self._instance)} items>"

    def append(self, value):
        """Append a value (a dict, an item node or a scalar), checked against the item schema."""
        self._instance.append(None)
        try:
            self[len(self._instance) - 1] = value
        except Exception:
            self._instance.pop()
            raise

    def extend(self, values):
        for v in values:
            self.append(v)

    def insert(self, index, value):
        self.append(value)
        self._instance.insert(index, self._instance.pop())

    def pop(self, index=-1):
        return self._instance.pop(index)

    def item(self, **kwargs):
        """Create a new (unattached) item node of this list's item schema."""
        node = ObjectNode(self._path + ("item",), {}, self._item_schema() or {}, self._ctx)
        for k, v in kwargs.items():
            setattr(node, k, v)
        return node


def unwrap(value):
    """The plain instance value behind a node (dict/list), or the value itself."""
    if isinstance(value, (ObjectNode, ListNode)):
        return value._instance
    return value
