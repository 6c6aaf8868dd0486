"""model_blender: rules from the schema, the HDRTAB table, streaming inputs."""

import numpy as np
import pytest

from photoncal import datamodels
from photoncal.model_blender import (
    RULES,
    ModelBlender,
    blendmodels,
    extract_filenames_from_product,
    get_blended_metadata,
    make_blender,
)


def _inputs(n=3):
    models = []
    for i in range(n):
        m = datamodels.ImageModel((4, 5))
        m.meta.filename = f"jw01_{i}_cal.fits"
        m.meta.instrument.name = "NIRCAM"
        m.meta.instrument.detector = ["NRCA1", "NRCA1", "NRCA3"][i % 3]
        m.meta.instrument.filter = "F200W"
        m.meta.exposure.start_time = 60000.0 + i
        m.meta.exposure.mid_time = 60000.05 + i
        m.meta.exposure.end_time = 60000.1 + i
        m.meta.exposure.exposure_time = 100.0 + i
        m.meta.exposure.effective_exposure_time = 100.0 + i
        m.meta.observation.date = f"2025-01-1{5 - i}"
        m.meta.observation.date_end = f"2025-01-1{5 - i}T04:00:00.000"
        m.meta.target.ra = 53.1 + i
        m.meta.photometry.pixelarea_steradians = 1e-13 * (i + 1)
        models.append(m)
    return models


def test_rules_of_the_spec():
    assert RULES["first"]([3, 1, 2]) == 3
    assert RULES["last"]([3, 1, 2]) == 2
    assert RULES["min"]([3, 1, 2]) == 1 and RULES["max"]([3, 1, 2]) == 3
    assert RULES["mean"]([1, 2, 6]) == pytest.approx(3.0)
    assert RULES["sum"]([1, 2, 6]) == pytest.approx(9.0)
    assert RULES["stddev"]([1, 3]) == pytest.approx(1.0)
    assert RULES["multi"](["A", "A"]) == "A" and RULES["multi"](["A", "B"]) == "MULTIPLE"
    assert RULES["multi?"](["A", "B"]) == "?"
    assert RULES["float_one"]([5]) == 1.0 and RULES["int_one"]([5]) == 1 and RULES["zero"]([5]) == 0
    assert RULES["mindatetime"](["2025-01-02T00:00:00", "2024-12-31T23:59:59"]) == "2024-12-31T23:59:59"
    assert RULES["wheeltol"](["within commanded tolerance", "outside calibration tolerance"]) == \
        "outside calibration tolerance"
    blender = make_blender("mean")
    assert blender.finalize() is None
    for v in (1.0, None, 3.0):
        blender.accumulate(v)
    assert blender.finalize() == pytest.approx(2.0)
    with pytest.raises(ValueError, match="unknown blend_rule 'median'"):
        make_blender("median")


def test_blended_metadata_follows_the_schema_rules():
    product = datamodels.ImageModel((4, 5))
    product.meta.photometry.pixelarea_steradians = 7e-14
    blender = ModelBlender(blend_ignore_attrs=["meta.photometry.pixelarea_steradians", "meta.filename"])
    for m in _inputs():
        blender.accumulate(m)
    blender.finalize_model(product)
    meta = product.meta
    assert meta.instrument.detector == "MULTIPLE"          # multi
    assert meta.instrument.filter == "F200W"               # multi, all equal
    assert meta.exposure.start_time == 60000.0             # min
    assert meta.exposure.end_time == pytest.approx(60002.1)  # max
    assert meta.exposure.mid_time == pytest.approx(60001.05)  # mean
    assert meta.exposure.exposure_time == pytest.approx(303.0)  # sum
    assert meta.observation.date == "2025-01-13"           # mindate
    assert meta.observation.date_end == "2025-01-15T04:00:00.000"  # maxdatetime
    assert meta.target.ra == pytest.approx(53.1)           # no rule: first
    assert meta.photometry.pixelarea_steradians == pytest.approx(7e-14)  # ignored: kept
    assert meta.filename is None


def test_hdrtab_has_one_row_per_input_and_survives_a_round_trip(tmp_path):
    product = datamodels.ImageModel((4, 5))
    inputs = _inputs()
    for m in inputs:
        m.meta.visit.tsovisit = False
    blendmodels(product, inputs=inputs)
    table = product.hdrtab
    assert len(table) == 3
    assert list(table["FILENAME"]) == [m.meta.filename for m in inputs]
    np.testing.assert_allclose(table["EXPSTART"], [60000.0, 60001.0, 60002.0])
    assert list(table["DETECTOR"]) == ["NRCA1", "NRCA1", "NRCA3"]
    assert "S_REGION" not in table.dtype.names            # nobody had one
    path = product.save(tmp_path / "prod_i2d.fits")
    with datamodels.open(path) as back:
        assert extract_filenames_from_product(back) == [m.meta.filename for m in inputs]
        assert back.meta.instrument.detector == "MULTIPLE"
    sdm = pytest.importorskip("stdatamodels.jwst.datamodels")
    with sdm.open(path) as other:
        assert list(other.hdrtab["FILENAME"]) == [m.meta.filename for m in inputs]


def test_missing_values_and_paths_one_at_a_time(tmp_path):
    inputs = _inputs()
    inputs[1].meta.target.ra = None
    paths = [m.save(tmp_path / m.meta.filename) for m in inputs]
    meta, table = get_blended_metadata(paths)
    assert meta["meta.instrument.detector"] == "MULTIPLE"
    ra = table["TARG_RA"] if "TARG_RA" in table.dtype.names else None
    assert ra is not None and np.isnan(ra[1]) and ra[2] == pytest.approx(55.1)
    # blendmodels finds the inputs from the product's own table
    product = datamodels.ImageModel((4, 5))
    blendmodels(product, inputs=paths)
    saved = product.save(tmp_path / "p_i2d.fits")
    again = blendmodels(saved, output=str(tmp_path / "p2_i2d.fits"))
    assert again.meta.exposure.exposure_time == pytest.approx(303.0)


def test_models_of_different_classes_refused():
    blender = ModelBlender()
    blender.accumulate(datamodels.ImageModel((2, 2)))
    with pytest.raises(TypeError, match="CubeModel.*ImageModel"):
        blender.accumulate(datamodels.CubeModel((2, 2, 2)))
    with pytest.raises(ValueError, match="no input"):
        ModelBlender().finalize_model(datamodels.ImageModel((2, 2)))
