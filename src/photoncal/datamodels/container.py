"""``ModelContainer``: a list of models, usually the members of an association."""

from __future__ import annotations

import copy as _copy
import json
import os
from collections import OrderedDict

from .errors import AssociationError, DataModelError
from .model_base import DataModel

__all__ = ["ModelContainer", "AttrTree"]


class AttrTree:
    """Read-mostly attribute access to a nested dict/list (``meta.asn_table.products[0].name``)."""

    __slots__ = ("_instance",)

    def __init__(self, instance=None):
        object.__setattr__(self, "_instance", {} if instance is None else instance)

    @staticmethod
    def _wrap(value):
        if isinstance(value, dict):
            return AttrTree(value)
        if isinstance(value, list):
            return [AttrTree._wrap(v) for v in value]
        return value

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._wrap(self._instance[name])
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        self._instance[name] = value._instance if isinstance(value, AttrTree) else value

    def __getitem__(self, key):
        return self._wrap(self._instance[key])

    def __contains__(self, key):
        return key in self._instance

    def __repr__(self):
        return f"AttrTree({self._instance!r})"


def _exposure_group_id(model):
    obs = model._instance.get("meta", {}).get("observation", {})
    fields = ("program_number", "observation_number", "visit_number", "visit_group",
              "sequence_id", "activity_id", "exposure_number")
    values = [obs.get(f) for f in fields]
    if any(v is None for v in values):
        return None
    return "jw{}{}{}_{}{}{}_{}".format(*values)


class ModelContainer:
    """A list of data models (or, with ``on_disk=True``, of their paths).

    Parameters
    ----------
    init : None, list, str, dict or ModelContainer
        - ``None``: empty; add models with :meth:`append`;
        - a list of models and/or paths;
        - the path of an association (JSON) file, or an association dict:
          the members (``expname``) of its first product, resolved inside
          the association's directory (a member may not point outside it);
        - another container: its members (shared, not copied).
    persist : bool
        Accepted for compatibility; members stay open until :meth:`close`.
    on_disk : bool
        Keep paths and open a member each time it is accessed (nothing
        stays in memory between accesses).  Models given as objects stay in
        memory.  To keep a change to an on-disk member, save it and store
        the path back: ``container[i] = model.save(path)``.
    asn_exptypes : str or list of str, optional
        Only use association members of these exposure types.
    **kwargs
        Passed to :func:`datamodels.open` for each member.

    Attributes
    ----------
    asn_table : dict
        The association as read (empty if none).
    asn_table_name, asn_pool_name, asn_file_path : str or None
    meta : AttrTree
        ``meta.asn_table`` (the association, attribute access: the product
        name is ``meta.asn_table.products[0].name``), ``meta.asn_table_name``,
        ``meta.pool_name``.
    """

    def __init__(self, init=None, persist=True, on_disk=False, asn_exptypes=None, **kwargs):
        self._members = []
        self._on_disk = bool(on_disk)
        self._open_kwargs = kwargs
        self.persist = persist
        self.asn_table = {}
        self.asn_table_name = None
        self.asn_pool_name = None
        self.asn_file_path = None
        self.meta = AttrTree({})
        if isinstance(asn_exptypes, str):
            asn_exptypes = [asn_exptypes]
        self.asn_exptypes = [e.lower() for e in asn_exptypes] if asn_exptypes else None

        if init is None:
            return
        if isinstance(init, ModelContainer):
            self._members = list(init._members)
            self._on_disk = init._on_disk
            self.asn_table = init.asn_table
            self.asn_table_name = init.asn_table_name
            self.asn_pool_name = init.asn_pool_name
            self.asn_file_path = init.asn_file_path
            self.meta = init.meta
        elif isinstance(init, (list, tuple)):
            for item in init:
                self.append(item)
        elif isinstance(init, dict):
            self._from_asn_dict(init, os.getcwd(), "<association>")
        elif isinstance(init, (str, os.PathLike)):
            path = os.fspath(init)
            if path.lower().endswith(".json"):
                self.from_asn(path)
            else:
                self.append(path)
        elif isinstance(init, DataModel):
            self.append(init)
        else:
            raise TypeError(f"ModelContainer cannot be built from {type(init).__name__}")

    # ------------------------------------------------------------ building

    def _open(self, item):
        from .util import open as dm_open

        model = dm_open(item, **self._open_kwargs)
        if not isinstance(model, DataModel):
            raise DataModelError(f"{item}: an association cannot be a member of a ModelContainer")
        return model

    def append(self, item):
        """Add a model, or a path (opened now, or on access when ``on_disk``)."""
        if isinstance(item, (str, os.PathLike)):
            path = os.fspath(item)
            if not os.path.exists(path):
                raise DataModelError(f"{path}: no such file")
            self._members.append(path if self._on_disk else self._open(path))
        elif isinstance(item, DataModel):
            self._members.append(item)
        else:
            raise TypeError(f"ModelContainer members are models or paths, not {type(item).__name__}")

    def extend(self, items):
        for item in items:
            self.append(item)

    def insert(self, index, item):
        self.append(item)
        self._members.insert(index, self._members.pop())

    def pop(self, index=-1):
        item = self._members.pop(index)
        return self._open(item) if isinstance(item, str) else item

    def from_asn(self, filepath, **kwargs):
        """Load the members of an association file (level 2 or 3 format)."""
        filepath = os.fspath(filepath)
        try:
            with open(filepath) as fh:
                asn = json.load(fh)
        except OSError as exc:
            raise AssociationError(f"{filepath}: cannot read association: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise AssociationError(f"{filepath}: not valid JSON: {exc}") from exc
        self.asn_file_path = filepath
        self._from_asn_dict(asn, os.path.dirname(os.path.abspath(filepath)), filepath)
        return self

    def _from_asn_dict(self, asn, base_dir, where):
        products = asn.get("products") if isinstance(asn, dict) else None
        if not isinstance(products, list) or not products or not isinstance(products[0], dict):
            raise AssociationError(f"{where}: an association needs a non-empty 'products' list")
        members = products[0].get("members")
        if not isinstance(members, list):
            raise AssociationError(f"{where}: products[0] has no 'members' list")
        self.asn_table = asn
        self.asn_table_name = os.path.basename(where) if where != "<association>" else asn.get("asn_id")
        self.asn_pool_name = asn.get("asn_pool")
        self.meta = AttrTree({
            "asn_table": asn,
            "asn_table_name": self.asn_table_name,
            "pool_name": self.asn_pool_name,
        })
        base = os.path.realpath(base_dir)
        for i, member in enumerate(members):
            if not isinstance(member, dict) or "expname" not in member:
                raise AssociationError(f"{where}: products[0].members[{i}] has no 'expname'")
            exptype = str(member.get("exptype", "science")).lower()
            if self.asn_exptypes and exptype not in self.asn_exptypes:
                continue
            expname = str(member["expname"])
            target = os.path.realpath(os.path.join(base, expname))
            if os.path.commonpath([base, target]) != base:
                raise AssociationError(
                    f"{where}: member {expname!r} resolves to {target}, outside the association's directory {base}"
                )
            if not os.path.exists(target):
                raise AssociationError(f"{where}: member {expname!r} not found (looked for {target})")
            if self._on_disk:
                self._members.append(target)
                continue
            model = self._open(target)
            self._tag_member(model, member, exptype)
            self._members.append(model)

    def _tag_member(self, model, member, exptype):
        asn = model._instance.setdefault("meta", {}).setdefault("asn", {})
        asn["exptype"] = exptype
        if self.asn_pool_name:
            asn["pool_name"] = str(self.asn_pool_name)
        if self.asn_table_name:
            asn["table_name"] = str(self.asn_table_name)
        if member.get("group_id"):
            model._instance["meta"]["group_id"] = str(member["group_id"])

    # ---------------------------------------------------------- list API

    def _member_at(self, index):
        item = self._members[index]
        if isinstance(item, str):
            model = self._open(item)
            exptypes = self._exptype_of_path(item)
            if exptypes:
                self._tag_member(model, exptypes, exptypes.get("exptype", "science"))
            return model
        return item

    def _exptype_of_path(self, path):
        for product in self.asn_table.get("products", [])[:1]:
            for member in product.get("members", []):
                expname = member.get("expname")
                if expname and os.path.basename(expname) == os.path.basename(path):
                    return {**member, "exptype": str(member.get("exptype", "science")).lower()}
        return None

    def __len__(self):
        return len(self._members)

    def __getitem__(self, index):
        if isinstance(index, slice):
            out = ModelContainer(on_disk=self._on_disk, **self._open_kwargs)
            out._members = self._members[index]
            out.asn_table, out.meta = self.asn_table, self.meta
            return out
        return self._member_at(index)

    def __setitem__(self, index, item):
        if isinstance(item, (str, os.PathLike)):
            item = os.fspath(item) if self._on_disk else self._open(item)
        elif not isinstance(item, DataModel):
            raise TypeError(f"ModelContainer members are models or paths, not {type(item).__name__}")
        self._members[index] = item

    def __delitem__(self, index):
        del self._members[index]

    def __iter__(self):
        for i in range(len(self._members)):
            yield self._member_at(i)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"<ModelContainer of {len(self)} {'paths' if self._on_disk else 'models'}>"

    @property
    def on_disk(self):
        """True if members are kept as paths and opened on access."""
        return self._on_disk

    def member_paths(self):
        """The path of each member (``meta.filename`` for in-memory models)."""
        return [m if isinstance(m, str) else m._source or m.meta.filename for m in self._members]

    def close(self):
        """Close every in-memory member."""
        for m in self._members:
            if isinstance(m, DataModel):
                m.close()

    def copy(self, memo=None):
        """A deep copy: every member is copied (on-disk members are opened and copied)."""
        out = ModelContainer(**self._open_kwargs)
        out._members = [self._member_at(i).copy() for i in range(len(self))]
        out.asn_table = _copy.deepcopy(self.asn_table)
        out.asn_table_name, out.asn_pool_name = self.asn_table_name, self.asn_pool_name
        out.asn_file_path = self.asn_file_path
        out.meta = AttrTree(_copy.deepcopy(self.meta._instance))
        return out

    # ------------------------------------------------------------ queries

    def ind_asn_type(self, asn_exptype):
        """Indices of the members whose ``meta.asn.exptype`` is ``asn_exptype``."""
        out = []
        for i, model in enumerate(self):
            exptype = model._instance.get("meta", {}).get("asn", {}).get("exptype")
            if exptype is not None and exptype.lower() == asn_exptype.lower():
                out.append(i)
        return out

    def _group_ids(self):
        ids = []
        for i, model in enumerate(self):
            gid = model._instance.get("meta", {}).get("group_id") or _exposure_group_id(model)
            ids.append(gid or f"exposure{i + 1:04d}")
        return ids

    @property
    def models_grouped(self):
        """Models grouped by exposure (the detectors of one exposure share a group).

        The group is ``meta.group_id`` if set, else built from
        ``meta.observation`` program, observation, visit, visit group,
        sequence, activity and exposure numbers; a model lacking them is a
        group of its own.
        """
        groups = OrderedDict()
        for gid, model in zip(self._group_ids(), self):
            groups.setdefault(gid, []).append(model)
        return list(groups.values())

    @property
    def group_names(self):
        """The group id of each exposure group, in order."""
        return list(OrderedDict.fromkeys(self._group_ids()))

    def get_recursively(self, field):
        """The value of ``field`` (``meta.x.y`` or ``x.y`` under meta) for each member."""
        key = field if field.startswith("meta.") else f"meta.{field}"
        out = []
        for model in self:
            try:
                out.append(model[key])
            except KeyError:
                out.append(None)
        return out

    crds_observatory = "jwst"

    def get_crds_parameters(self):
        """The CRDS parameters of the first member."""
        return self[0].get_crds_parameters() if len(self) else {}

    # -------------------------------------------------------------- saving

    def save(self, path=None, dir_path=None, save_model_func=None, **kwargs):
        """Write every member; return the list of paths.

        Parameters
        ----------
        path : None, str or callable
            ``None``: each member's ``meta.filename``; a string: used as a
            root with the member index appended (``root0.fits``,
            ``root1.fits``...); a callable ``f(filename, idx)`` returning
            the name.
        dir_path : str, optional
            Output directory (created if missing); default the current one.
        save_model_func : callable, optional
            ``f(model, idx=idx)`` that saves a member and returns its path,
            used instead of ``model.save``.
        """
        directory = os.fspath(dir_path) if dir_path is not None else os.getcwd()
        os.makedirs(directory, exist_ok=True)
        out = []
        for idx, model in enumerate(self):
            if save_model_func is not None:
                out.append(save_model_func(model, idx=idx))
                continue
            filename = model.meta.filename
            if path is None:
                if not filename:
                    raise DataModelError(f"member {idx} has no meta.filename to save under")
                name = filename
            elif callable(path):
                name = path(filename, idx)
            else:
                root, ext = os.path.splitext(os.fspath(path))
                name = f"{root}{idx}{ext or '.fits'}"
            out.append(model.save(os.path.join(directory, os.path.basename(name)), **kwargs))
        return out
