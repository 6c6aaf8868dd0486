"""Arrays are read on first access; memmap keeps them on disk."""

import numpy as np
import pytest

from photoncal import datamodels as dm
from photoncal.datamodels.node import LazyArray


def test_open_reads_no_array(tmp_path):
    path = dm.RampModel(np.ones((1, 3, 8, 9), np.float32)).save(tmp_path / "r.fits")
    m = dm.open(path)
    for key in ("data", "pixeldq", "groupdq", "err"):
        assert isinstance(m._instance[key], LazyArray), key
    assert m._primary_shape() == (1, 3, 8, 9)
    m.data
    assert isinstance(m._instance["data"], np.ndarray)
    assert isinstance(m._instance["err"], LazyArray)


def test_memmap_returns_file_backed_arrays(tmp_path):
    data = np.arange(2 * 3 * 8 * 9, dtype=np.float32).reshape(2, 3, 8, 9)
    path = dm.RampModel(data).save(tmp_path / "r.fits")
    m = dm.open(path, memmap=True)
    arr = m.data
    import mmap

    base = arr
    while getattr(base, "base", None) is not None and not isinstance(base, (np.memmap, mmap.mmap)):
        base = base.base
    assert isinstance(base, (np.memmap, mmap.mmap))
    assert arr.dtype.newbyteorder("=") == np.float32
    np.testing.assert_array_equal(arr, data)
    arr[0, 0, 0, 0] = -1.0  # copy-on-write: the model changes, the file does not
    assert m.data[0, 0, 0, 0] == -1.0
    assert dm.open(path).data[0, 0, 0, 0] == 0.0
    # an array needing conversion (uint32 stored as int32 + BZERO) is converted on access
    assert m.pixeldq.dtype == np.uint32


def test_non_memmap_arrays_are_native(tmp_path):
    path = dm.ImageModel(np.ones((4, 4), np.float32)).save(tmp_path / "i.fits")
    m = dm.open(path)
    assert m.data.dtype == np.dtype("float32") and m.data.dtype.isnative
    assert m.data.flags.writeable


def test_arrays_readable_after_close(tmp_path):
    path = dm.ImageModel(np.full((4, 4), 3.0, np.float32)).save(tmp_path / "i.fits")
    with dm.open(path) as m:
        pass
    assert m.data.sum() == 48.0
    with dm.open(path, memmap=True) as m2:
        pass
    assert m2.data.sum() == 48.0


def test_asdf_arrays_are_lazy(tmp_path):
    path = dm.ImageModel(np.full((4, 4), 2.0, np.float32)).save(tmp_path / "i.asdf")
    m = dm.open(path)
    assert isinstance(m._instance["data"], LazyArray)
    assert m.data.sum() == 32.0


@pytest.mark.parametrize("memmap", [False, True])
def test_lazy_uint16_to_float32(tmp_path, memmap):
    raw = np.arange(24, dtype=np.uint16).reshape(1, 2, 3, 4) + 60000
    path = dm.Level1bModel(data=raw).save(tmp_path / "u.fits")
    ramp = dm.open(path, memmap=memmap)
    assert isinstance(ramp._instance["data"], LazyArray)
    assert ramp.data.dtype == np.float32
    np.testing.assert_array_equal(ramp.data, raw.astype(np.float32))
