"""FITS reading and writing in the JWST layout.

Layout written: a header-only primary HDU with the product-wide keywords,
one IMAGE or BINTABLE extension per array or table (EXTNAME from the
schema's ``fits_hdu``), the keywords the schema assigns to an extension in
that extension's header, the unknown keywords and extensions kept in
``extra_fits``, HISTORY cards, and last the ``ASDF`` extension: a one-row
BINTABLE whose ``ASDF_METADATA`` byte column holds an ASDF document with the
whole instance tree, arrays replaced by references (``source: fits:SCI,1``)
to the extensions that hold them.  That is the layout the established tools
read and write.

Reading: headers only at open; each array is a :class:`~.node.LazyArray`
read on first access.  Keyword values in the FITS headers win over the
copies in the ASDF tree (a header edited with other tools stays edited).
"""

from __future__ import annotations

import os
import re
import warnings

import numpy as np

from .errors import DataModelError, ValidationError
from .node import LazyArray
from .schema import is_table_schema
from .validate import convert_value

__all__ = ["read_fits", "to_hdulist", "is_builtin_keyword", "FitsHandle", "ASDF_EXTNAME"]

ASDF_EXTNAME = "ASDF"

_BUILTIN = re.compile(
    r"^(SIMPLE|BITPIX|NAXIS\d{0,3}|EXTEND|XTENSION|PCOUNT|GCOUNT|GROUPS|BSCALE|BZERO|BLANK|"
    r"EXTNAME|EXTVER|EXTLEVEL|TFIELDS|THEAP|CHECKSUM|DATASUM|DATAMAX|DATAMIN|"
    r"T(TYPE|FORM|DIM|UNIT|SCAL|ZERO|NULL|DISP|BCOL)\d{1,3}|ZIMAGE|ZBITPIX|ZNAXIS\d{0,3}|ZCMPTYPE|"
    r"ZTILE\d{1,3}|ZNAME\d{1,3}|ZVAL\d{1,3}|ZQUANTIZ|ZDITHER0|ZSIMPLE|ZEXTEND|ZPCOUNT|ZGCOUNT|ZTENSION|"
    r"ZHECKSUM|ZDATASUM|HISTORY|)$"
)


def is_builtin_keyword(key: str) -> bool:
    """True for keywords astropy manages itself (structure, scaling, table columns)."""
    return _BUILTIN.match(key) is not None


class FitsHandle:
    """An open FITS file shared by the lazy arrays of a model.

    After :meth:`close`, a lazy array that is still to be read reopens the
    file (when it came from a path), so a model closed by a ``with`` block
    stays fully usable.
    """

    def __init__(self, name, hdulist, path=None, memmap=False, owned=True):
        self.name = name
        self.path = path
        self.memmap = memmap
        self.owned = owned
        self._hdulist = hdulist

    def get(self):
        if self._hdulist is None:
            if self.path is None:
                raise DataModelError(f"{self.name}: the file was closed before this array was read")
            from astropy.io import fits

            self._hdulist = fits.open(self.path, memmap=True, lazy_load_hdus=True,
                                      do_not_scale_image_data=True)
        return self._hdulist

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def close(self):
        if self.owned and self._hdulist is not None:
            self._hdulist.close()
            self._hdulist = None


def _hdu_name(hdu, index):
    return "PRIMARY" if index == 0 else (hdu.name or f"HDU{index}").upper()


def _header_shape(header):
    naxis = int(header.get("NAXIS", 0))
    return tuple(int(header.get(f"NAXIS{i}", 0)) for i in range(naxis, 0, -1))


def _header_dtype(header):
    bitpix = header.get("BITPIX")
    bzero = header.get("BZERO", 0)
    bscale = header.get("BSCALE", 1)
    table = {8: "u1", 16: "i2", 32: "i4", 64: "i8", -32: "f4", -64: "f8"}
    if bitpix not in table:
        return None
    if bscale == 1 and bitpix == 16 and bzero == 32768:
        return np.dtype(">u2")
    if bscale == 1 and bitpix == 32 and bzero == 2147483648:
        return np.dtype(">u4")
    if bscale == 1 and bitpix == 8 and bzero == -128:
        return np.dtype("i1")
    if bzero or bscale != 1:
        return np.dtype("f4") if bitpix in (8, 16) else np.dtype("f8")
    return np.dtype(">" + table[bitpix]) if bitpix != 8 else np.dtype("u1")


def _fitsrec_to_array(rec):
    """A FITS_rec as a plain native structured array (converted column values)."""
    if rec is None:
        return None
    names = rec.dtype.names
    columns = [np.asarray(rec[name]) for name in names]
    fields = []
    for name, col in zip(names, columns):
        dt = col.dtype
        if dt.kind in "iufcb" and not dt.isnative:
            dt = dt.newbyteorder("=")
        fields.append((name, dt, col.shape[1:]) if col.ndim > 1 else (name, dt))
    out = np.empty(len(rec), dtype=fields)
    for name, col in zip(names, columns):
        out[name] = col
    return out


def _unscale(raw, header):
    """Apply BSCALE/BZERO to raw (memory-mapped) integers, as astropy would without memmap."""
    bscale = header.get("BSCALE", 1)
    bzero = header.get("BZERO", 0)
    if bscale == 1 and bzero == 0:
        return raw
    kind = raw.dtype.kind
    if bscale == 1 and kind == "i" and bzero == 2 ** (8 * raw.dtype.itemsize - 1):
        # the FITS encoding of unsigned integers: flip the sign bit
        unsigned = raw.view(raw.dtype.str.replace("i", "u"))
        out = unsigned.astype(unsigned.dtype.newbyteorder("="))
        out ^= np.array(bzero, dtype=out.dtype)
        return out
    if bscale == 1 and kind == "u" and raw.dtype.itemsize == 1 and bzero == -128:
        return (raw ^ np.uint8(0x80)).view(np.int8)
    work = np.float32 if raw.dtype.itemsize <= 2 else np.float64
    out = raw.astype(work)
    if bscale != 1:
        out *= work(bscale)
    if bzero != 0:
        out += work(bzero)
    return out


def _natural_dtype(raw_dtype, header):
    """The dtype astropy would give the scaled data (native byte order)."""
    bscale, bzero = header.get("BSCALE", 1), header.get("BZERO", 0)
    if bscale == 1 and bzero == 0:
        return raw_dtype.newbyteorder("=")
    if bscale == 1 and raw_dtype.kind == "i" and bzero == 2 ** (8 * raw_dtype.itemsize - 1):
        return np.dtype(f"u{raw_dtype.itemsize}")
    if bscale == 1 and raw_dtype.kind == "u" and raw_dtype.itemsize == 1 and bzero == -128:
        return np.dtype("i1")
    return np.dtype(np.float32 if raw_dtype.itemsize <= 2 else np.float64)


_BITPIX = {8: "u1", 16: ">i2", 32: ">i4", 64: ">i8", -32: ">f4", -64: ">f8"}


def _loader(handle, key, is_table):
    """Read one extension: tables as record arrays; images straight into their final array.

    An image is converted (BZERO, byte order, schema dtype) plane by plane
    as it is read, so the peak memory is the final array plus one plane.
    Without ``memmap`` the planes are read from the file (no mapping stays
    resident); with ``memmap=True`` they come from the memory map, and an
    image that needs no conversion is returned as the memory map itself.
    """

    def load(target=None):
        hdu = handle.get()[key]
        if is_table:
            return _fitsrec_to_array(hdu.data)
        header = hdu.header
        shape = _header_shape(header)
        if not shape or header.get("BITPIX") not in _BITPIX:
            return hdu.data
        raw_dtype = np.dtype(_BITPIX[header["BITPIX"]])
        natural = _natural_dtype(raw_dtype, header)
        out_dtype = natural if target is None else np.dtype(target)
        scaled = header.get("BSCALE", 1) != 1 or header.get("BZERO", 0) != 0
        offset = getattr(hdu, "_data_offset", None)
        direct = (not handle.memmap and handle.path is not None and offset is not None
                  and not str(handle.path).lower().endswith((".gz", ".bz2", ".zip")))
        if not direct:
            raw = hdu.data  # a memory map, or in memory for streams and compressed files
            if handle.memmap and not scaled and raw.dtype.newbyteorder("=") == out_dtype:
                return raw
        out = np.empty(shape, dtype=out_dtype)
        planes_shape = (int(np.prod(shape[:-2])),) + shape[-2:] if len(shape) > 2 else (1,) + shape
        dest = out.reshape(planes_shape)
        count = int(np.prod(planes_shape[1:]))
        if direct:
            with open(handle.path, "rb") as fh:
                fh.seek(offset)
                for i in range(planes_shape[0]):
                    plane = np.fromfile(fh, dtype=raw_dtype, count=count)
                    if plane.size != count:
                        raise DataModelError(f"{handle.name}: extension {key} ends early (file truncated?)")
                    dest[i] = _unscale(plane.reshape(planes_shape[1:]), header)
        else:
            src = raw.reshape(planes_shape)
            for i in range(planes_shape[0]):
                dest[i] = _unscale(src[i], header)
        return out

    return load


def _lazy_for_hdu(handle, hdu, key, source):
    is_table = hdu.header.get("XTENSION", "").strip() in ("BINTABLE", "TABLE")
    if is_table:
        shape = (int(hdu.header.get("NAXIS2", 0)),)
        dtype = None
    else:
        shape = _header_shape(hdu.header)
        dtype = _header_dtype(hdu.header)
    return LazyArray(shape, dtype, _loader(handle, key, is_table), source, inplace=False), is_table


def _card_value(card):
    from astropy.io.fits.card import Undefined

    value = card.value
    if isinstance(value, Undefined):
        return None
    return value


def _check_truncation(name, hdulist, path):
    if path is None or str(path).lower().endswith((".gz", ".bz2", ".zip")):
        return
    size = os.path.getsize(path)
    last = len(hdulist) - 1
    hdu = hdulist[last]
    offset, span = getattr(hdu, "_data_offset", None), getattr(hdu, "_data_size", None)
    if offset is None or span is None:
        info = hdulist.fileinfo(last)
        offset, span = info["datLoc"], info["datSpan"]
    if offset + span > size:
        raise DataModelError(
            f"{name}: file is truncated: extension {last} ({_hdu_name(hdu, last)}) needs {offset + span} bytes, "
            f"the file has {size}"
        )


class OpenedFits:
    """A FITS file :func:`datamodels.open` already opened, handed to the model it chose."""

    def __init__(self, path, hdulist, name=None):
        self.path = path
        self.hdulist = hdulist
        self.name = name or path


def open_hdulist(init, memmap=False):
    """Open a FITS path or file object, turning astropy's failures into DataModelError."""
    from astropy.io import fits
    from astropy.utils.exceptions import AstropyUserWarning

    name = os.fspath(init) if isinstance(init, (str, os.PathLike)) else getattr(init, "name", "<file object>")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", AstropyUserWarning)
            # Always mapped and unscaled: the loaders convert each array
            # into its final form themselves (see _loader).
            hdulist = fits.open(init, memmap=True, lazy_load_hdus=True, do_not_scale_image_data=True)
            n = len(hdulist)  # parses every header, reads no data
        for w in caught:
            text = str(w.message)
            if "truncated" in text.lower() or "END card" in text or "header missing" in text.lower():
                raise DataModelError(f"{name}: not a complete FITS file: {text}")
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    except DataModelError:
        raise
    except Exception as exc:
        raise DataModelError(f"{name}: cannot read as FITS: {exc}") from exc
    if n == 0:
        raise DataModelError(f"{name}: FITS file has no HDUs")
    _check_truncation(name, hdulist, init if isinstance(init, (str, os.PathLike)) else None)
    return hdulist


def read_fits(model, init):
    """Fill ``model`` from a FITS path, file object or HDUList (headers now, data lazily)."""
    from astropy.io import fits

    owned = not isinstance(init, fits.HDUList)
    name = model._source or "<HDUList>"
    if isinstance(init, OpenedFits):
        hdulist, path = init.hdulist, init.path
    elif owned:
        hdulist = open_hdulist(init, memmap=model._memmap)
        path = os.fspath(init) if isinstance(init, (str, os.PathLike)) else None
    else:
        hdulist = init
        path = None
    handle = FitsHandle(name, hdulist, path=path, memmap=model._memmap, owned=owned)
    model._files.append(handle)
    index = model._index

    instance = {}
    referenced = set()
    if ASDF_EXTNAME in [h.name for h in hdulist]:
        from . import asdf_io

        instance, referenced = asdf_io.tree_from_fits(hdulist[ASDF_EXTNAME], handle, model)

    extra = {}
    history = []
    for i, hdu in enumerate(hdulist):
        hname = _hdu_name(hdu, i)
        if hname == ASDF_EXTNAME:
            continue
        ver = int(hdu.header.get("EXTVER", 1)) if i else 1
        key_name = hname if ver == 1 else f"{hname},{ver}"
        header = hdu.header
        cards = []
        for card in header.cards:
            kw = card.keyword
            if kw == "HISTORY":
                if i == 0:
                    history.append(str(card.value))
                continue
            if is_builtin_keyword(kw):
                continue
            value = _card_value(card)
            entry = index.keywords.get((hname, kw)) if ver == 1 else None
            item_entry = index.item_keywords.get((hname, kw)) if entry is None else None
            if entry is not None:
                tpath, node = entry
                _store(model, instance, tpath, value, node, f"{name}: keyword {kw} in {hname}")
            elif item_entry is not None and value is not None:
                list_path, sub, node = item_entry
                item = _item(instance, list_path, ver - 1)
                _store(model, item, sub, value, node, f"{name}: keyword {kw} in {hname},{ver}")
            else:
                cards.append([kw, value, card.comment])
        if cards:
            extra.setdefault(key_name, {})["header"] = cards
        if i == 0 and header.get("NAXIS", 0) == 0:
            continue
        if (hname, ver) in referenced and not (ver == 1 and hname in index.array_hdus):
            continue
        apath = index.array_hdus.get(hname) if ver == 1 else None
        item_array = index.item_arrays.get(hname) if apath is None and i else None
        if apath is not None:
            node = index.arrays[apath]
            lazy, is_table = _lazy_for_hdu(handle, hdu, (hdu.name, ver), f"{name}[{hname}]")
            _check_array_hdu(model, name, hname, lazy, is_table, node)
            _put(instance, apath, lazy)
        elif item_array is not None:
            list_path, sub, node = item_array
            lazy, is_table = _lazy_for_hdu(handle, hdu, (hdu.name, ver), f"{name}[{hname},{ver}]")
            _check_array_hdu(model, name, f"{hname},{ver}", lazy, is_table, node)
            _put(_item(instance, list_path, ver - 1), sub, lazy)
        elif header.get("NAXIS", 0) or header.get("XTENSION", "").strip() in ("BINTABLE", "TABLE"):
            key = i if not hdu.name else (hdu.name, ver)
            lazy, _t = _lazy_for_hdu(handle, hdu, key, f"{name}[{hname}]")
            extra.setdefault(key_name, {})["data"] = lazy

    instance.pop("extra_fits", None)
    if extra:
        instance["extra_fits"] = extra
    if history:
        instance["history"] = history
    object.__setattr__(model, "_instance", instance)


def _item(instance, list_path, index):
    container = instance
    for part in list_path[:-1]:
        container = container.setdefault(part, {})
    items = container.setdefault(list_path[-1], [])
    while len(items) <= index:
        items.append({})
    return items[index]


def _put(tree, path, value):
    for part in path[:-1]:
        nxt = tree.get(part)
        if not isinstance(nxt, dict):
            nxt = tree[part] = {}
        tree = nxt
    tree[path[-1]] = value


def _store(model, tree, path, value, node, where):
    if value is None:
        return
    try:
        value = convert_value(value, node, ".".join(path))
    except ValidationError as exc:
        store, value = model._invalid(".".join(path), f"{where}: {exc}", value, reading=True)
        if not store:
            return
    _put(tree, path, value)


def _check_array_hdu(model, name, hname, lazy, is_table, node):
    if is_table_schema(node):
        if not is_table:
            raise DataModelError(f"{name}: extension {hname} is an image; {type(model).__name__} expects a table there")
        return
    if is_table:
        raise DataModelError(f"{name}: extension {hname} is a table; {type(model).__name__} expects an image there")
    nd = len(lazy.shape)
    if ("ndim" in node and nd != node["ndim"]) or ("max_ndim" in node and nd > node["max_ndim"]):
        expected = node.get("ndim", node.get("max_ndim"))
        raise ValidationError(
            f"{name}: extension {hname} holds a {nd}-D array {lazy.shape}; "
            f"{type(model).__name__} expects {'at most ' if 'ndim' not in node else ''}{expected}-D"
        )


# ---------------------------------------------------------------- writing


def _fits_value(value):
    """A value as a FITS header value, or None if a header cannot hold it."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if np.isfinite(value) else None
    if isinstance(value, str):
        if not value.isascii() or not value.isprintable():
            value = "".join(c if (c.isascii() and c.isprintable()) else "?" for c in value)
        return value
    return None


def _table_for_fits(table):
    """Record array with unicode columns encoded as ASCII bytes (FITS 'A' columns)."""
    table = np.asarray(table)
    if not any(table.dtype.fields[n][0].base.kind == "U" for n in table.dtype.names):
        return table
    fields = []
    for n in table.dtype.names:
        dt = table.dtype.fields[n][0]
        base = dt.base
        if base.kind == "U":
            base = np.dtype(f"S{max(base.itemsize // 4, 1)}")
        fields.append((n, base, dt.shape) if dt.shape else (n, base))
    out = np.empty(table.shape, dtype=fields)
    for n in table.dtype.names:
        col = table[n]
        if col.dtype.kind == "U":
            col = np.char.encode(col, "ascii", errors="replace")
        out[n] = col
    return out


def _data_hdu(name, value, ver=1):
    from astropy.io import fits

    if isinstance(value, np.ndarray) and value.dtype.names is not None:
        hdu = fits.BinTableHDU(data=_table_for_fits(value), name=name)
    else:
        arr = np.asarray(value)
        if arr.dtype == np.bool_:
            arr = arr.astype(np.uint8)
        if not arr.flags.c_contiguous:
            arr = np.ascontiguousarray(arr)
        hdu = fits.ImageHDU(data=arr, name=name)
    if ver != 1:
        hdu.ver = ver
    return hdu


def _get_path(tree, path):
    for part in path:
        if not isinstance(tree, dict):
            return None
        tree = tree.get(part)
        if tree is None:
            return None
    return tree


def _fit_comment(key, value, comment):
    """The comment cut to what fits on the card (astropy would warn and cut it at write)."""
    if not comment:
        return ""
    from astropy.io import fits

    used = len(fits.Card(key, value).image.rstrip())
    room = 80 - used - 3
    return comment[:room] if used <= 80 and room > 0 else ""


def _set_card(header, key, value, comment):
    header[key] = (value, _fit_comment(key, value, comment))


def to_hdulist(model):
    """Build the HDUList of a model (arrays must already be read)."""
    from astropy.io import fits
    from astropy.io.fits.verify import VerifyWarning

    from . import asdf_io

    instance = model._instance
    index = model._index
    primary = fits.PrimaryHDU()
    hdus = {}
    written = {}

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VerifyWarning)
        for path, node in index.arrays.items():
            if "fits_hdu" not in node or len(path) != 1:
                continue
            value = instance.get(path[0])
            if value is None or not isinstance(value, np.ndarray):
                continue
            hname = str(node["fits_hdu"]).upper()
            if hname in hdus:
                continue
            hdus[hname] = _data_hdu(hname, value)
            written[id(value)] = (hname, 1, hdus[hname])

        for list_name, entries in index.item_lists.items():
            items = instance.get(list_name) or []
            for i, item in enumerate(items):
                if not isinstance(item, dict):
                    continue
                for sub, node in entries:
                    value = _get_path(item, sub)
                    if not isinstance(value, np.ndarray):
                        continue
                    hname = str(node["fits_hdu"]).upper()
                    hdu = _data_hdu(hname, value, ver=i + 1)
                    hdus[f"{hname},{i + 1}"] = hdu
                    written[id(value)] = (hname, i + 1, hdu)
            for (hname, key), (lpath, sub, node) in index.item_keywords.items():
                for i, item in enumerate(instance.get(lpath[0]) or []):
                    fv = _fits_value(_get_path(item, sub)) if isinstance(item, dict) else None
                    target = hdus.get(f"{hname},{i + 1}")
                    if fv is not None and target is not None:
                        _set_card(target.header, key, fv, str(node.get("title", ""))[:60])

        for hname, entries in index.keywords_by_hdu.items():
            for key, path, node in entries:
                fv = _fits_value(_get_path(instance, path))
                if fv is None:
                    continue
                if hname == "PRIMARY":
                    target = primary
                else:
                    target = hdus.get(hname)
                    if target is None:
                        target = hdus[hname] = fits.ImageHDU(name=hname)
                _set_card(target.header, key, fv, str(node.get("title", ""))[:60])

        for key_name, parts in (instance.get("extra_fits") or {}).items():
            hname, _, ver = key_name.partition(",")
            ver = int(ver) if ver else 1
            data = parts.get("data")
            if key_name == "PRIMARY":
                target = primary
            else:
                target = hdus.get(key_name)
                if target is None and isinstance(data, np.ndarray):
                    target = hdus[key_name] = _data_hdu(hname, data, ver)
                    written[id(data)] = (hname, ver, target)
                elif target is None:
                    if not parts.get("header"):
                        continue
                    target = hdus[key_name] = fits.ImageHDU(name=hname)
            header = target.header
            for card in parts.get("header", []):
                kw, value = card[0], card[1]
                comment = card[2] if len(card) > 2 else ""
                if is_builtin_keyword(kw) or (kw in header and kw != "COMMENT"):
                    continue
                fv = _fits_value(value)
                if fv is None and value is not None:
                    continue
                fv = "" if fv is None else fv
                header.append((kw, fv, _fit_comment(kw, fv, comment or "")), end=True)

        for entry in model.history:
            primary.header.add_history(str(entry))

    hdulist = fits.HDUList([primary, *hdus.values()])
    tree = asdf_io.tree_for_fits(model, written)
    hdulist.append(asdf_io.asdf_hdu(tree))
    return hdulist
