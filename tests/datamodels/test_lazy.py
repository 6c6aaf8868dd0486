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


def test_plain_files_never_load_asdf(tmp_path):
    """The ASDF extension of a file without tagged values is read and written as YAML.

    (astropy's I/O registry may import the ``asdf`` package itself; what must
    not happen is loading asdf's extensions, which takes seconds.)
    """
    import os
    import subprocess
    import sys

    code = f"""
import sys
import numpy as np
from photoncal import datamodels as dm
m = dm.RampModel(np.ones((1, 2, 3, 4), np.float32))
m.meta.instrument.name = 'NIRCAM'
m.meta.wcsinfo.v2_ref = 1.5
m.group = np.zeros(2, dtype=[('integration_number', 'i4'), ('group_number', 'i2'), ('end_day', 'i2'),
    ('end_milliseconds', 'i4'), ('end_submilliseconds', 'i2'), ('group_end_time', 'U26'),
    ('number_of_columns', 'i2'), ('number_of_rows', 'i2'), ('number_of_gaps', 'i2'),
    ('completion_code_number', 'i2'), ('completion_code_text', 'U36'), ('bary_end_time', 'f8'),
    ('helio_end_time', 'f8')])
path = m.save({str(tmp_path / 'plain.fits')!r})
again = dm.open(path)
assert again.meta.wcsinfo.v2_ref == 1.5 and again.data.sum() == 24 and len(again.group) == 2
print(any(name in sys.modules for name in ('asdf_astropy.extensions', 'gwcs')))
"""
    env = dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(__file__), "..", "..", "src"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
    # the established reader accepts the document
    sdm = pytest.importorskip("stdatamodels.jwst.datamodels")
    theirs = sdm.open(tmp_path / "plain.fits")
    assert theirs.meta.wcsinfo.v2_ref == 1.5 and len(theirs.group) == 2


def test_tagged_values_are_deferred(tmp_path):
    from astropy.modeling import models as am

    from photoncal.datamodels.node import LazyAsdfValue

    m = dm.ImageModel(np.zeros((3, 3), np.float32))
    m.meta.wcs_like = am.Shift(2.0)  # any tagged object, kept in the ASDF extension
    path = m.save(tmp_path / "tagged.fits")
    again = dm.open(path)
    assert isinstance(again._instance["meta"]["wcs_like"], LazyAsdfValue)
    assert again.meta.wcs_like(1.0) == 3.0
    # saving without touching it keeps it
    third = dm.open(dm.open(path).save(tmp_path / "tagged2.fits"))
    assert third.meta.wcs_like(1.0) == 3.0


@pytest.mark.parametrize("module", ["models", "reference"])
def test_every_model_class_is_exported(module):
    import importlib

    source = importlib.import_module(f"photoncal.datamodels.{module}")
    classes = [name for name, value in vars(source).items()
               if isinstance(value, type) and issubclass(value, dm.DataModel) and value.__module__ == source.__name__
               and not name.startswith("_")]
    assert classes
    for name in classes:
        assert getattr(dm, name) is getattr(source, name), name
        assert name in dm.__all__, name
