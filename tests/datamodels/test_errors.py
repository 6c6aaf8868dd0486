"""Bad input gives clear errors (or warnings) naming the file and the field."""

import warnings

import numpy as np
import pytest
from astropy.io import fits

from photoncal import datamodels as dm
from photoncal.datamodels.errors import DataModelError, NoTypeWarning, ValidationError, ValidationWarning


def _write(path, sci_shape=(4, 5), **keywords):
    primary = fits.PrimaryHDU()
    for key, value in keywords.items():
        primary.header[key] = value
    hdus = [primary]
    if sci_shape is not None:
        hdus.append(fits.ImageHDU(np.ones(sci_shape, np.float32), name="SCI"))
    fits.HDUList(hdus).writeto(path)
    return str(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataModelError, match="no such file"):
        dm.open(tmp_path / "nope.fits")
    with pytest.raises(DataModelError, match="no such file"):
        dm.ImageModel(tmp_path / "nope.fits")


def test_not_a_fits_file(tmp_path):
    path = tmp_path / "junk.fits"
    path.write_bytes(b"this is not a FITS file at all" * 100)
    with pytest.raises(DataModelError, match="junk.fits"):
        dm.open(path)


def test_truncated_data(tmp_path):
    path = _write(tmp_path / "t.fits", sci_shape=(100, 100), DATAMODL="ImageModel")
    full = open(path, "rb").read()
    open(path, "wb").write(full[: len(full) - 20000])
    with pytest.raises(DataModelError, match=r"t\.fits.*truncated"):
        dm.open(path)
    with pytest.raises(DataModelError, match="truncated"):
        dm.ImageModel(path)


def test_truncated_header(tmp_path):
    path = _write(tmp_path / "h.fits", DATAMODL="ImageModel")
    full = open(path, "rb").read()
    open(path, "wb").write(full[:1000])
    with pytest.raises(DataModelError, match="h.fits"):
        dm.open(path)


def test_wrong_dimension_sci_names_file_and_extension(tmp_path):
    path = _write(tmp_path / "cube.fits", sci_shape=(2, 4, 5))
    with pytest.raises(ValidationError, match=r"cube\.fits.*SCI.*3-D.*ImageModel expects 2"):
        dm.ImageModel(path)
    path4 = _write(tmp_path / "img.fits", sci_shape=(4, 5), DATAMODL="RampModel")
    with pytest.raises(ValidationError, match=r"img\.fits.*SCI.*2-D.*expects 4"):
        dm.open(path4)


def test_table_where_image_expected(tmp_path):
    table = fits.BinTableHDU.from_columns([fits.Column(name="a", format="E", array=np.ones(3))], name="SCI")
    path = tmp_path / "tab.fits"
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(path)
    with pytest.raises(DataModelError, match="SCI is a table"):
        dm.ImageModel(path)


def test_unknown_datamodl_warns_then_guesses(tmp_path):
    path = _write(tmp_path / "u.fits", DATAMODL="FrobnicatorModel")
    with pytest.warns(NoTypeWarning, match=r"u\.fits.*FrobnicatorModel.*ImageModel"):
        m = dm.open(path)
    assert type(m) is dm.ImageModel
    with pytest.raises(DataModelError, match=r"u\.fits.*FrobnicatorModel"):
        dm.open(path, strict_validation=True)


def test_missing_datamodl_guess_rules(tmp_path):
    cases = [
        ((4, 5), {}, dm.ImageModel),
        ((2, 4, 5), {}, dm.CubeModel),
        ((1, 2, 4, 5), {}, dm.RampModel),
        ((1, 2, 4, 5), {"INSTRUME": "MIRI"}, dm.MIRIRampModel),
        ((4, 5), {"REFTYPE": "GAIN"}, dm.GainModel),
        ((4, 5), {"REFTYPE": "UNHEARD"}, dm.ReferenceImageModel),
        (None, {}, dm.DataModel),
    ]
    for i, (shape, keywords, cls) in enumerate(cases):
        path = _write(tmp_path / f"g{i}.fits", sci_shape=shape, **keywords)
        with pytest.warns(NoTypeWarning, match="no DATAMODL"):
            m = dm.open(path)
        assert type(m) is cls, (shape, keywords)
    quad = tmp_path / "quad.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.ones((1, 2, 3, 4), np.float32), name="SCI"),
                  fits.ImageHDU(np.zeros((1, 2, 3, 4), np.uint32), name="DQ")]).writeto(quad)
    with pytest.warns(NoTypeWarning):
        assert type(dm.open(quad)) is dm.QuadModel


def test_keyword_of_wrong_type(tmp_path, monkeypatch):
    path = _write(tmp_path / "k.fits", DATAMODL="ImageModel", NGROUPS="lots", INSTRUME="NIRCAM")
    with pytest.warns(ValidationWarning, match=r"k\.fits.*NGROUPS.*PRIMARY.*'lots' is not of type 'integer'"):
        m = dm.open(path)
    assert m.meta.exposure.ngroups is None
    assert m.meta.instrument.name == "NIRCAM"
    with pytest.warns(ValidationWarning):
        kept = dm.open(path, pass_invalid_values=True)
    assert kept.meta.exposure.ngroups == "lots"
    with pytest.raises(ValidationError, match=r"k\.fits.*NGROUPS"):
        dm.open(path, strict_validation=True)
    monkeypatch.setenv("STRICT_VALIDATION", "true")
    with pytest.raises(ValidationError, match="NGROUPS"):
        dm.ImageModel(path)


def test_sci_keyword_of_wrong_type_names_extension(tmp_path):
    primary = fits.PrimaryHDU()
    primary.header["DATAMODL"] = "ImageModel"
    sci = fits.ImageHDU(np.ones((2, 2), np.float32), name="SCI")
    sci.header["CRPIX1"] = "middle"
    path = tmp_path / "w.fits"
    fits.HDUList([primary, sci]).writeto(path)
    with pytest.warns(ValidationWarning, match=r"CRPIX1 in SCI"):
        m = dm.open(path)
    assert m.meta.wcsinfo.crpix1 is None


def test_asdf_extension_pointing_at_missing_extension(tmp_path):
    m = dm.ImageModel((3, 3))
    path = m.save(tmp_path / "a.fits")
    with fits.open(path) as hdul:
        kept = fits.HDUList([hdul[0].copy(), hdul["ASDF"].copy()])
        kept[0].header.remove("DATAMODL")
        kept.writeto(tmp_path / "b.fits")
    with pytest.raises(DataModelError, match=r"b\.fits.*SCI"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NoTypeWarning)
            dm.open(tmp_path / "b.fits")


def test_bad_association(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(dm.AssociationError, match="bad.json"):
        dm.open(tmp_path / "bad.json")
    (tmp_path / "empty.json").write_text('{"asn_id": "a", "products": []}')
    with pytest.raises(dm.AssociationError, match="products"):
        dm.open(tmp_path / "empty.json")
