"""ModelContainer: lists, associations, grouping, saving, on-disk members."""

import json

import numpy as np
import pytest

from photoncal import datamodels as dm
from photoncal.datamodels.errors import AssociationError


def _exposure(tmp_path, name, exposure_number="00001", detector="NRCA1", value=1.0):
    m = dm.ImageModel(np.full((3, 4), value, np.float32))
    obs = m.meta.observation
    obs.program_number, obs.observation_number, obs.visit_number = "01234", "001", "001"
    obs.visit_group, obs.sequence_id, obs.activity_id = "01", "1", "01"
    obs.exposure_number = exposure_number
    m.meta.instrument.name = "NIRCAM"
    m.meta.instrument.detector = detector
    m.meta.exposure.exposure_time = 100.0 * value
    return m.save(tmp_path / name)


def _asn(tmp_path, members, name="asn.json", product="jw01234-o001_t001_nircam_clear-f200w"):
    asn = {"asn_id": "o001", "asn_pool": "jw01234_pool.csv", "asn_rule": "candidate_Asn_Lv3Image",
           "asn_type": "image3", "products": [{"name": product, "members": members}]}
    path = tmp_path / name
    path.write_text(json.dumps(asn))
    return path


def test_container_from_list_and_append(tmp_path):
    p1 = _exposure(tmp_path, "a_cal.fits")
    m2 = dm.open(_exposure(tmp_path, "b_cal.fits", value=2.0))
    c = dm.ModelContainer([p1, m2])
    assert len(c) == 2 and c[1] is m2
    assert [m.meta.filename for m in c] == ["a_cal.fits", "b_cal.fits"]
    c.append(dm.ImageModel((2, 2)))
    assert len(c) == 3
    with pytest.raises(TypeError):
        c.append(42)


def test_container_from_association(tmp_path):
    _exposure(tmp_path, "a_cal.fits", detector="NRCA1")
    _exposure(tmp_path, "b_cal.fits", detector="NRCA2")
    _exposure(tmp_path, "c_cal.fits", exposure_number="00002", value=3.0)
    path = _asn(tmp_path, [{"expname": "a_cal.fits", "exptype": "science"},
                           {"expname": "b_cal.fits", "exptype": "science"},
                           {"expname": "c_cal.fits", "exptype": "science"}])
    c = dm.open(path)
    assert isinstance(c, dm.ModelContainer) and len(c) == 3
    assert c.meta.asn_table.products[0].name == "jw01234-o001_t001_nircam_clear-f200w"
    assert c.asn_table_name == "asn.json" and c.asn_pool_name == "jw01234_pool.csv"
    assert c[0].meta.asn.exptype == "science" and c[0].meta.asn.pool_name == "jw01234_pool.csv"
    groups = c.models_grouped
    assert [len(g) for g in groups] == [2, 1]
    assert c.group_names == ["jw01234001001_01101_00001", "jw01234001001_01101_00002"]
    assert c.get_recursively("instrument.detector") == ["NRCA1", "NRCA2", "NRCA1"]
    assert c.get_recursively("meta.exposure.exposure_time") == [100.0, 100.0, 300.0]
    assert c.ind_asn_type("science") == [0, 1, 2]


def test_association_members_may_not_escape(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    _exposure(outside, "secret_cal.fits")
    inner = tmp_path / "inner"
    inner.mkdir()
    path = _asn(inner, [{"expname": "../outside/secret_cal.fits", "exptype": "science"}])
    with pytest.raises(AssociationError, match="outside the association's directory"):
        dm.ModelContainer(path)
    path = _asn(inner, [{"expname": str(outside / "secret_cal.fits"), "exptype": "science"}], name="abs.json")
    with pytest.raises(AssociationError, match="outside"):
        dm.ModelContainer(path)
    path = _asn(inner, [{"expname": "missing_cal.fits", "exptype": "science"}], name="miss.json")
    with pytest.raises(AssociationError, match="missing_cal.fits.*not found"):
        dm.ModelContainer(path)
    path = _asn(inner, [{"exptype": "science"}], name="noname.json")
    with pytest.raises(AssociationError, match="expname"):
        dm.ModelContainer(path)


def test_asn_exptypes_filter(tmp_path):
    _exposure(tmp_path, "s_cal.fits")
    _exposure(tmp_path, "b_cal.fits", value=5.0)
    path = _asn(tmp_path, [{"expname": "s_cal.fits", "exptype": "science"},
                           {"expname": "b_cal.fits", "exptype": "background"}])
    c = dm.ModelContainer(path, asn_exptypes="background")
    assert len(c) == 1 and c[0].meta.filename == "b_cal.fits"
    c = dm.ModelContainer(path)
    assert c.ind_asn_type("background") == [1]


def test_container_save_variants(tmp_path):
    members = [dm.open(_exposure(tmp_path, f"{n}_cal.fits", value=float(i + 1))) for i, n in enumerate("ab")]
    c = dm.ModelContainer(members)
    out = tmp_path / "out"
    paths = c.save(dir_path=out)
    assert [p.split("/")[-1] for p in paths] == ["a_cal.fits", "b_cal.fits"]
    assert dm.open(paths[1]).data[0, 0] == 2.0
    paths = c.save("root.fits", dir_path=out)
    assert [p.split("/")[-1] for p in paths] == ["root0.fits", "root1.fits"]
    # saving renames the members (meta.filename follows the file written)
    paths = c.save(lambda name, idx: f"x{idx}_{name}", dir_path=out)
    assert paths[0].endswith("x0_root0.fits")
    seen = []
    c.save(save_model_func=lambda model, idx: seen.append((idx, model.meta.filename)))
    assert seen == [(0, "x0_root0.fits"), (1, "x1_root1.fits")]


def test_on_disk_container_opens_on_access(tmp_path):
    _exposure(tmp_path, "a_cal.fits")
    _exposure(tmp_path, "b_cal.fits", value=2.0)
    path = _asn(tmp_path, [{"expname": "a_cal.fits", "exptype": "science"},
                           {"expname": "b_cal.fits", "exptype": "science"}])
    c = dm.ModelContainer(path, on_disk=True)
    assert c.on_disk and all(isinstance(m, str) for m in c._members)
    first = c[0]
    assert isinstance(first, dm.ImageModel) and first.data[0, 0] == 1.0
    assert first.meta.asn.exptype == "science"
    assert c[0] is not first  # nothing is kept between accesses
    assert [m.data[0, 0] for m in c] == [1.0, 2.0]
    assert c.member_paths()[1].endswith("b_cal.fits")
    c[1] = first.save(tmp_path / "replaced_cal.fits")
    assert c[1].meta.filename == "replaced_cal.fits"


def test_container_copy_is_deep(tmp_path):
    c = dm.ModelContainer([dm.ImageModel(np.zeros((2, 2), np.float32))])
    d = c.copy()
    d[0].data[0, 0] = 1
    assert c[0].data[0, 0] == 0
