"""The DataModel API: construction, attribute tree, validation, saving."""

import io
import os
import warnings

import numpy as np
import pytest
from astropy.io import fits

from photoncal import datamodels as dm
from photoncal.datamodels.errors import DataModelError, ValidationError, ValidationWarning
from photoncal.datamodels.node import LazyArray


# ---------------------------------------------------------------- construction


def test_empty_model_has_no_arrays():
    m = dm.ImageModel()
    assert m.data is None
    assert m.dq is None
    assert m.meta.exposure.ngroups is None


def test_shape_init_allocates_lazily_with_schema_dtype_and_default():
    m = dm.ImageModel((4, 5))
    assert isinstance(m._instance["data"], LazyArray)
    assert "dq" not in m._instance
    assert m.data.dtype == np.float32 and m.data.shape == (4, 5) and not m.data.any()
    assert m.dq.dtype == np.uint32 and m.dq.shape == (4, 5)
    assert m.err.dtype == np.float32
    # a reference default other than zero
    sat = dm.SaturationModel((3, 3))
    assert np.all(sat.data == 100000.0)
    area = dm.PixelAreaModel((2, 2))
    assert np.all(area.data == 1.0)


def test_default_arrays_follow_primary_axes():
    r = dm.RampModel((2, 3, 4, 5))
    assert r.pixeldq.shape == (4, 5) and r.pixeldq.dtype == np.uint32
    assert r.groupdq.shape == (2, 3, 4, 5) and r.groupdq.dtype == np.uint8
    assert r.err.shape == (2, 3, 4, 5)
    assert r.zeroframe.shape == (2, 4, 5)
    c = dm.CubeModel((2, 4, 5))
    assert c.area.shape == (4, 5)
    lin = dm.LinearityModel((3, 4, 5))
    assert lin.get_primary_array_name() == "coeffs"
    assert lin.dq.shape == (4, 5)
    mask = dm.MaskModel((4, 5))
    assert mask.get_primary_array_name() == "dq" and mask.dq.dtype == np.uint32


def test_array_and_keyword_init():
    data = np.arange(12, dtype=np.float64).reshape(3, 4)
    m = dm.ImageModel(data)
    assert m.data.dtype == np.float32
    np.testing.assert_array_equal(m.data, data)
    dq = np.ones((3, 4), np.uint32)
    m2 = dm.ImageModel(data=data.astype(np.float32), dq=dq)
    assert m2.dq is dq  # an array of the right dtype is kept, not copied
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        dm.ImageModel(bogus=1)


def test_dict_init_and_model_init_share_content():
    tree = {"meta": {"instrument": {"name": "NIRCAM"}}, "data": np.zeros((2, 2), np.float32)}
    m = dm.ImageModel(tree)
    assert m.meta.instrument.name == "NIRCAM"
    view = dm.ImageModel(m)
    view.meta.exposure.nints = 4
    view.data[0, 0] = 5
    assert m.meta.exposure.nints == 4 and m.data[0, 0] == 5
    opened = dm.open(m)
    assert type(opened) is dm.ImageModel and opened.data is m.data


def test_wrong_dimension_array_rejected():
    with pytest.raises(ValidationError, match="expects 2"):
        dm.ImageModel((2, 3, 4))
    m = dm.ImageModel((3, 4))
    with pytest.raises(ValidationError, match="dimensions"):
        m.data = np.zeros((2, 3, 4))


def test_incompatible_shape_raises():
    m = dm.ImageModel((3, 4))
    with pytest.raises(ValidationError, match="not compatible"):
        m.dq = np.zeros((4, 3), np.uint32)
    r = dm.RampModel((2, 3, 4, 5))
    r.pixeldq = np.zeros((4, 5), np.uint32)  # broadcast-compatible
    with pytest.raises(ValidationError, match="not compatible"):
        r.groupdq = np.zeros((2, 3, 5, 4), np.uint8)
    with pytest.raises(ValidationError, match="not compatible"):
        r.err = np.zeros((3, 3, 4, 5), np.float32)


# ------------------------------------------------------------- meta tree


def test_meta_type_checking_on_assignment():
    m = dm.ImageModel()
    with pytest.raises(ValueError, match="'foo' is not of type 'number'"):
        m.meta.target.ra = "foo"
    with pytest.raises(ValidationError, match="not of type 'string'"):
        m.meta.instrument.name = 42.0
    with pytest.raises(ValidationError, match="not one of"):
        m.meta.cal_step.jump = "DONE"
    m.meta.exposure.ngroups = np.int64(5)
    assert type(m.meta.exposure.ngroups) is int and m.meta.exposure.ngroups == 5
    m.meta.exposure.frame_time = np.float32(10.5)
    assert type(m.meta.exposure.frame_time) is float
    m.meta.exposure.ngroups = None
    assert "ngroups" not in m.meta.exposure._instance


def test_pass_invalid_values_keeps_value_with_warning(monkeypatch):
    m = dm.ImageModel(pass_invalid_values=True)
    with pytest.warns(ValidationWarning):
        m.meta.target.ra = "foo"
    assert m.meta.target.ra == "foo"
    monkeypatch.setenv("PASS_INVALID_VALUES", "1")
    m2 = dm.ImageModel()
    with pytest.warns(ValidationWarning):
        m2.meta.exposure.ngroups = "many"
    assert m2.meta.exposure.ngroups == "many"


def test_unknown_attributes():
    m = dm.ImageModel()
    with pytest.raises(AttributeError, match="has no attribute 'nonsense'"):
        m.meta.nonsense
    m.meta.my_note = "kept"  # unknown names may be set; they live in the ASDF extension
    assert m.meta.my_note == "kept"


def test_dotted_item_access():
    m = dm.ImageModel()
    m["meta.observation.date"] = "2023-05-06"
    assert m.meta.observation.date == "2023-05-06"
    assert m["meta.observation.date"] == "2023-05-06"
    with pytest.raises(KeyError):
        m["meta.no_such.thing"]


def test_list_nodes():
    m = dm.FilteroffsetModel()
    item = m.filters.item(filter="F200W", row_offset=1.0)
    m.filters.append(item)
    m.filters.append({"filter": "F150W", "column_offset": 2.0})
    assert len(m.filters) == 2
    assert m.filters[1].filter == "F150W" and m.filters[1].column_offset == 2.0
    with pytest.raises(ValidationError):
        m.filters.append({"filter": 3})
    assert len(m.filters) == 2
    with pytest.raises(ValidationError):
        m.filters[0].row_offset = "left"


def test_flat_iteration():
    m = dm.ImageModel((2, 2))
    m.meta.observation.date = "2012-04-22"
    m.meta.instrument.name = "MIRI"
    flat = m.to_flat_dict()
    assert flat["meta.observation.date"] == "2012-04-22"
    assert flat["meta.instrument.name"] == "MIRI"
    assert flat["data"].shape == (2, 2)
    assert "data" not in m.to_flat_dict(include_arrays=False)
    assert ("meta.instrument.name", "MIRI") in m.items()
    assert "meta.observation.date" in m.keys()
    assert "MIRI" in [v for v in m.values() if isinstance(v, str)]
    assert m.get_item_as_json_value("meta.instrument") == {"name": "MIRI"}


def test_find_fits_keyword_and_search_schema():
    m = dm.ImageModel()
    assert m.find_fits_keyword("DATE-OBS") == ["meta.observation.date"]
    assert m.find_fits_keyword("V3I_YANG") == ["meta.wcsinfo.v3yangle"]
    assert sorted(m.find_fits_keyword("BUNIT")) == ["meta.bunit_data", "meta.bunit_err"]
    hits = dict(m.search_schema("target"))
    assert "meta.target.ra" in hits and "meta.target.catalog_name" in hits
    assert any("RA of the target" in title for title in hits.values())


def test_extend_schema_and_add_schema_entry(tmp_path):
    m = dm.ImageModel((2, 2))
    m.extend_schema({"type": "object", "properties": {"meta": {"type": "object", "properties": {
        "bad_pixel_count": {"type": "integer", "fits_keyword": "BPCOUNT"}}}}})
    m.meta.bad_pixel_count = 3
    with pytest.raises(ValidationError):
        m.meta.bad_pixel_count = "three"
    m.add_schema_entry("meta.custom.value", {"type": "number", "fits_keyword": "CUSTVAL"})
    m.meta.custom.value = 2.5
    path = m.save(tmp_path / "ext.fits")
    header = fits.getheader(path)
    assert header["BPCOUNT"] == 3 and header["CUSTVAL"] == 2.5
    # another instance of the class is unaffected
    assert dm.ImageModel().find_fits_keyword("BPCOUNT") == []


def test_history_and_extra_fits_round_trip(tmp_path):
    m = dm.ImageModel((2, 2))
    m.history.append("first step")
    m.history.append("second step")
    m._extra_fits.PRIMARY.FOO = "bar"
    m._extra_fits.SCI.MYKEY = 7
    path = m.save(tmp_path / "h.fits")
    header = fits.getheader(path)
    assert list(header["HISTORY"]) == ["first step", "second step"]
    assert header["FOO"] == "bar" and fits.getheader(path, "SCI")["MYKEY"] == 7
    m2 = dm.open(path)
    assert list(m2.history) == ["first step", "second step"]
    assert m2._extra_fits.PRIMARY.FOO == "bar"
    assert m2._extra_fits.SCI.MYKEY == 7
    assert m2._extra_fits._instance["PRIMARY"]["FOO"] == "bar"


def test_unknown_keywords_and_extensions_are_kept(tmp_path):
    primary = fits.PrimaryHDU()
    primary.header["DATAMODL"] = "ImageModel"
    primary.header["INSTRUME"] = "NIRCAM"
    primary.header["WEIRDKEY"] = (1.5, "not in any schema")
    sci = fits.ImageHDU(np.ones((3, 3), np.float32), name="SCI")
    extra = fits.ImageHDU(np.arange(4, dtype=np.int16), name="MYEXT")
    extra.header["EXTRAKW"] = "x"
    path = tmp_path / "in.fits"
    fits.HDUList([primary, sci, extra]).writeto(path)
    m = dm.open(path)
    assert m._extra_fits.PRIMARY.WEIRDKEY == 1.5
    out = m.save(tmp_path / "out.fits")
    with fits.open(out) as hdul:
        assert hdul[0].header["WEIRDKEY"] == 1.5
        np.testing.assert_array_equal(hdul["MYEXT"].data, np.arange(4))
        assert hdul["MYEXT"].header["EXTRAKW"] == "x"


def test_update_copies_metadata():
    a = dm.ImageModel()
    a.meta.instrument.name = "NIRCAM"
    a.meta.wcsinfo.crpix1 = 10.0
    a.meta.filename = "a.fits"
    a._extra_fits.PRIMARY.FOO = 1
    b = dm.CubeModel()
    b.meta.exposure.nints = 3
    b.update(a)
    assert b.meta.instrument.name == "NIRCAM" and b.meta.wcsinfo.crpix1 == 10.0
    assert b.meta.exposure.nints == 3  # not erased
    assert b.meta.filename is None  # never copied
    c = dm.CubeModel()
    c.update(a, only="PRIMARY")
    assert c.meta.instrument.name == "NIRCAM" and c.meta.wcsinfo.crpix1 is None
    assert c._extra_fits.PRIMARY.FOO == 1
    d = dm.ImageModel()
    d.update({"meta": {"exposure": {"ngroups": 4}}})
    assert d.meta.exposure.ngroups == 4


def test_copy_is_deep(tmp_path):
    m = dm.ImageModel((2, 2))
    m.meta.instrument.name = "MIRI"
    c = m.copy()
    c.data[0, 0] = 9
    c.meta.instrument.name = "NIRCAM"
    assert m.data[0, 0] == 0 and m.meta.instrument.name == "MIRI"
    # a copy of a model read from a file reads its arrays first
    path = m.save(tmp_path / "c.fits")
    with dm.open(path) as opened:
        copied = opened.copy()
    assert copied.data.shape == (2, 2)


def test_on_save_sets_filename_type_and_date(tmp_path):
    class Counting(dm.ImageModel):
        saves = 0

        def on_save(self, path=None):
            super().on_save(path)
            type(self).saves += 1

    m = Counting((2, 2))
    m.save(tmp_path / "x.fits")
    assert Counting.saves == 1
    assert m.meta.filename == "x.fits" and m.meta.model_type == "Counting"
    assert m.meta.date.startswith("20")


def test_save_variants(tmp_path):
    m = dm.ImageModel((2, 2))
    m.meta.filename = "named.fits"
    assert m.save(lambda name: str(tmp_path / ("out_" + name))) == str(tmp_path / "out_named.fits")
    assert m.save("elsewhere/x.fits", dir_path=tmp_path) == str(tmp_path / "x.fits")
    buffer = io.BytesIO()
    with pytest.raises(DataModelError, match="format="):
        m.save(buffer)
    m.save(buffer, format="fits")
    buffer.seek(0)
    assert dm.open(buffer).data.shape == (2, 2)
    buffer = io.BytesIO()
    m.save(buffer, format="asdf")
    buffer.seek(0)
    assert dm.ImageModel(buffer).data.shape == (2, 2)
    assert dm.ImageModel.from_fits(str(tmp_path / "x.fits")).data.shape == (2, 2)
    m.write(tmp_path / "w.asdf")
    assert dm.ImageModel.from_asdf(tmp_path / "w.asdf").data.shape == (2, 2)


def test_save_is_atomic(tmp_path, monkeypatch):
    m = dm.ImageModel((2, 2))
    target = tmp_path / "keep.fits"
    target.write_bytes(b"previous content")

    def failing_hdulist(model):
        raise RuntimeError("disk on fire")

    from photoncal.datamodels import fits_io

    monkeypatch.setattr(fits_io, "to_hdulist", failing_hdulist)
    with pytest.raises(RuntimeError):
        m.save(target)
    assert target.read_bytes() == b"previous content"
    monkeypatch.undo()

    from astropy.io.fits import HDUList

    real = HDUList.writeto

    def half_write(self, name, *a, **k):
        with open(name, "wb") as fh:
            fh.write(b"SIMPLE  = partial")
        raise OSError("disk full")

    monkeypatch.setattr(HDUList, "writeto", half_write)
    with pytest.raises(OSError):
        m.save(target)
    monkeypatch.setattr(HDUList, "writeto", real)
    assert target.read_bytes() == b"previous content"
    assert sorted(os.listdir(tmp_path)) == ["keep.fits"]
    m.save(target)
    assert dm.open(target).data.shape == (2, 2)


def test_context_manager_closes_but_model_stays_usable(tmp_path):
    path = dm.ImageModel(np.full((3, 3), 2.0, np.float32)).save(tmp_path / "a.fits")
    with dm.open(path) as m:
        handle = m._files[0]
        assert handle._hdulist is not None
    assert handle._hdulist is None  # file closed on exit
    assert float(m.data.sum()) == 18.0  # read after close: the file reopens


def test_info_lists_arrays_without_reading(tmp_path, capsys):
    path = dm.RampModel((1, 2, 3, 4)).save(tmp_path / "r.fits")
    m = dm.open(path)
    rows = m.info()
    names = {r[0]: r for r in rows}
    assert names["data"][1] == "SCI" and names["data"][4] == (1, 2, 3, 4)
    assert names["groupdq"][3] == "uint8"
    assert isinstance(m._instance["data"], LazyArray)
    assert "RampModel" in capsys.readouterr().out


def test_fits_wcs_get_and_set():
    m = dm.ImageModel((10, 10))
    w = m.get_fits_wcs()
    assert w.naxis == 2
    from astropy.wcs import WCS

    w = WCS(naxis=2)
    w.wcs.crpix = [5.0, 6.0]
    w.wcs.crval = [10.0, 20.0]
    w.wcs.cdelt = [-1e-5, 1e-5]
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    m.set_fits_wcs(w)
    assert m.meta.wcsinfo.crpix1 == 5.0 and m.meta.wcsinfo.crval2 == 20.0
    assert m.meta.wcsinfo.ctype1 == "RA---TAN"
    back = m.get_fits_wcs()
    np.testing.assert_allclose(back.wcs.crpix, [5.0, 6.0])
    np.testing.assert_allclose(back.all_pix2world([[4.0, 5.0]], 0), [[10.0, 20.0]])


def test_validate_drops_or_raises(monkeypatch):
    m = dm.ImageModel(pass_invalid_values=True)
    with pytest.warns(ValidationWarning):
        m.meta.exposure.ngroups = "x"
    m._pass_invalid_values = False
    with pytest.warns(ValidationWarning, match="ngroups"):
        m.validate()
    assert m.meta.exposure.ngroups is None
    s = dm.ImageModel(strict_validation=True, pass_invalid_values=True)
    with pytest.warns(ValidationWarning):
        s.meta.exposure.ngroups = "x"
    with pytest.raises(ValidationError, match="ngroups"):
        s.validate()


def test_reference_validate_requires_keywords():
    ref = dm.GainModel((2, 2))
    assert ref.meta.reftype == "GAIN"
    with pytest.warns(ValidationWarning, match="DESCRIP"):
        missing = ref.validate()
    assert "meta.author (AUTHOR)" in missing
    strict = dm.GainModel((2, 2), strict_validation=True)
    with pytest.raises(ValidationError, match="USEAFTER"):
        strict.validate()


def test_import_is_cheap():
    import subprocess
    import sys

    code = ("import sys, time; t=time.perf_counter(); import photoncal.datamodels as d; "
            "print(time.perf_counter()-t); "
            "print(any(m in sys.modules for m in ('astropy.io.fits', 'asdf', 'gwcs')))")
    env = dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(__file__), "..", "..", "src"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    seconds, heavy = out.stdout.split()
    assert heavy == "False"
    assert float(seconds) < 1.0


def test_warnings_are_not_emitted_for_clean_round_trip(tmp_path):
    m = dm.CubeModel((2, 3, 3))
    m.meta.exposure.nints = 2
    path = m.save(tmp_path / "c.fits")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m2 = dm.open(path)
        m2.data
        m2.validate()


def test_setitem_creates_missing_levels():
    m = dm.ImageModel()
    m["meta.ref_file.brand_new_type.name"] = "jwst_nircam_brandnew_0001.fits"
    assert m.meta.ref_file.brand_new_type.name == "jwst_nircam_brandnew_0001.fits"
    m["meta.cal_step.jump"] = "COMPLETE"
    with pytest.raises(ValidationError):
        m["meta.cal_step.jump"] = "MAYBE"


def test_pickle_carries_content(tmp_path):
    import pickle

    path = dm.ImageModel(np.full((3, 3), 4.0, np.float32)).save(tmp_path / "p.fits")
    m = dm.open(path)
    m.meta.instrument.name = "NIRCAM"
    clone = pickle.loads(pickle.dumps(m))
    assert type(clone) is dm.ImageModel and clone.meta.instrument.name == "NIRCAM"
    assert clone.data.sum() == 36.0


def test_mask_field_lookup():
    from photoncal import dqflags

    mask = dm.MaskModel(dq=np.array([[0, 1], [1024, 1025]], np.uint32), dq_def=dqflags.dqdef_table([1, 1024]))
    np.testing.assert_array_equal(mask.get_mask_for_field("DEAD"), [[0, 0], [1024, 1024]])
    with pytest.raises(ValueError, match="HOT"):
        mask.get_mask_for_field("HOT")


def test_long_values_write_without_warnings(tmp_path):
    m = dm.ImageModel((2, 2))
    m.meta.program.title = "A very long proposal title " * 6
    m.meta.ref_file.gain.name = "crds://jwst_nircam_gain_" + "0" * 50 + ".fits"
    m._extra_fits.PRIMARY.LONGONE = "y" * 70
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = m.save(tmp_path / "long.fits")
        again = dm.open(path)
    assert again.meta.program.title == m.meta.program.title.rstrip()
    assert again.meta.ref_file.gain.name == m.meta.ref_file.gain.name
    assert again._extra_fits.PRIMARY.LONGONE == "y" * 70
