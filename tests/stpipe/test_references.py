"""Reference-file resolution: local directories selected by header keywords,
P_ patterns, USEAFTER, subarray fallback; CRDS only when configured; the
simulated reference set only for simulated data."""

import logging
import os
import sys
import types

import pytest

from photoncal.stpipe import Pipeline, Step, references
from photoncal.stpipe.exceptions import ReferenceFileNotFoundError

fits = pytest.importorskip("astropy.io.fits")
np = pytest.importorskip("numpy")


def write_fits_ref(path, **keywords):
    """A tiny reference file: the selection keywords in the primary header
    and a small SCI extension (the index must read the header only)."""
    primary = fits.PrimaryHDU()
    for key, value in keywords.items():
        primary.header[key.upper()] = value
    hdul = fits.HDUList([primary, fits.ImageHDU(np.zeros((4, 4), dtype=np.float32), name="SCI")])
    hdul.writeto(path, overwrite=True)
    return str(path)


def dark(tmp, name, detector="NRCA1", subarray="FULL", useafter="2014-01-01T00:00:00", **extra):
    keywords = dict(reftype="DARK", instrume="NIRCAM", telescop="JWST", detector=detector, subarray=subarray,
                    readpatt="RAPID", useafter=useafter)
    keywords.update(extra)
    return write_fits_ref(tmp / name, **keywords)


@pytest.fixture
def dark_dir(tmp_path):
    d = tmp_path / "refs"
    (d / "nircam").mkdir(parents=True)
    dark(d, "dark_a1_full_2014.fits")
    dark(d, "dark_a1_full_2022.fits", useafter="2022-06-01T00:00:00")
    dark(d, "dark_a1_full_2024.fits", useafter="2024-01-01T00:00:00")
    dark(d / "nircam", "dark_a2_full.fits", detector="NRCA2")
    dark(d, "dark_a1_sub160.fits", subarray="SUB160")
    dark(d, "dark_multi.fits", detector="MULTIPLE", p_detect="NRCA1|NRCA2|NRCA3|", readpatt="ANY")
    write_fits_ref(d / "gain_a1.fits", reftype="GAIN", instrume="NIRCAM", detector="NRCA1", useafter="2014-01-01")
    (d / "notes.txt").write_text("not a reference")
    (d / "broken.fits").write_text("not a fits file")
    return d


def exposure(fake_model, detector="NRCA1", subarray="FULL", date="2023-05-01", instrument="NIRCAM", origin=None):
    return fake_model(
        "jw01_uncal.fits",
        instrument={"name": instrument, "detector": detector},
        exposure={"readpatt": "RAPID", "type": "NRC_IMAGE"},
        subarray={"name": subarray},
        observation={"date": date, "time": "12:00:00.000"},
        telescope="JWST",
        origin=origin,
    )


@pytest.mark.parametrize(
    "detector, subarray, date, expected",
    [
        ("NRCA1", "FULL", "2023-05-01", "dark_a1_full_2022.fits"),  # latest USEAFTER not after the observation
        ("NRCA1", "FULL", "2015-03-01", "dark_a1_full_2014.fits"),
        ("NRCA1", "SUB160", "2023-05-01", "dark_a1_sub160.fits"),  # exact subarray beats FULL
        ("NRCA1", "SUB400P", "2023-05-01", "dark_a1_full_2022.fits"),  # FULL fallback, cut later
        ("NRCA2", "FULL", "2023-05-01", "dark_a2_full.fits"),  # found in a subdirectory
        ("NRCA3", "FULL", "2023-05-01", "dark_multi.fits"),  # P_DETECT pattern
    ],
)
def test_selection_by_detector_subarray_useafter(dark_dir, fake_model, detector, subarray, date, expected):
    model = exposure(fake_model, detector, subarray, date)
    found = references.find_reference(model, "dark", reference_dir=str(dark_dir))
    assert os.path.basename(found.path) == expected
    assert found.recorded_name == found.path and os.path.isabs(found.path)
    assert "local reference directory" in found.origin


def test_nothing_found_names_type_values_and_places(dark_dir, fake_model):
    model = exposure(fake_model, "NRCB1")
    with pytest.raises(ReferenceFileNotFoundError) as info:
        references.find_reference(model, "dark", reference_dir=str(dark_dir))
    message = str(info.value)
    for fragment in ("no DARK reference file", "DETECTOR='NRCB1'", "READPATT='RAPID'", "SUBARRAY='FULL'",
                     str(dark_dir), "none matched", "CRDS (not configured", "not simulated", "override_dark"):
        assert fragment in message, fragment
    with pytest.raises(ReferenceFileNotFoundError, match="INSTRUME='MIRI'"):
        references.find_reference(exposure(fake_model, instrument="MIRI"), "dark", reference_dir=str(dark_dir))


def test_pattern_keywords_and_wildcards(tmp_path, fake_model):
    write_fits_ref(tmp_path / "sb.fits", reftype="SUPERBIAS", instrume="NIRCAM", detector="NRCA1",
                   readpatt="ANY", p_readpa="NIS|NRSRAPID|RAPID|", subarray="GENERIC", useafter="2014-01-01")
    model = exposure(fake_model, subarray="SUB64P")
    assert references.find_reference(model, "superbias", reference_dir=str(tmp_path)).path.endswith("sb.fits")
    model.meta.exposure.readpatt = "BRIGHT2"
    with pytest.raises(ReferenceFileNotFoundError):
        references.find_reference(model, "superbias", reference_dir=str(tmp_path))


def test_selection_is_explained_in_the_debug_log(dark_dir, fake_model, caplog):
    with caplog.at_level(logging.DEBUG, logger="photoncal"):
        references.find_reference(exposure(fake_model), "dark", reference_dir=str(dark_dir))
    text = caplog.text
    assert "dark_a2_full.fits: rejected, DETECTOR: NRCA1 not in NRCA2" in text
    assert "dark_a1_full_2024.fits: rejected, USEAFTER 2024-01-01T00:00:00 is after the observation" in text
    assert "dark_a1_full_2022.fits: candidate 1" in text
    assert "dark_a1_sub160.fits: rejected, SUBARRAY: FULL not in SUB160" in text


def test_ties_go_to_the_greatest_file_name(tmp_path, fake_model):
    dark(tmp_path, "jwst_nircam_dark_0001.fits")
    dark(tmp_path, "jwst_nircam_dark_0002.fits")
    found = references.find_reference(exposure(fake_model), "dark", reference_dir=str(tmp_path))
    assert found.path.endswith("jwst_nircam_dark_0002.fits")


def test_old_style_useafter_dates(tmp_path, fake_model):
    dark(tmp_path, "old.fits", useafter="Jan 01 2015 00:00:00")
    dark(tmp_path, "new.fits", useafter="Jan 01 2030 00:00:00")
    found = references.find_reference(exposure(fake_model), "dark", reference_dir=str(tmp_path))
    assert found.path.endswith("old.fits")


def test_asdf_reference_files_are_indexed_from_their_meta_tree(tmp_path, fake_model):
    asdf = pytest.importorskip("asdf")
    for name, exp_type in (("distortion_image.asdf", "NRC_IMAGE"), ("distortion_tso.asdf", "NRC_TSIMAGE")):
        asdf.AsdfFile({
            "meta": {"reftype": "distortion", "instrument": {"name": "NIRCAM", "detector": "NRCA1", "channel": "SHORT"},
                     "exposure": {"type": exp_type, "p_exptype": f"{exp_type}|NRC_FLAT|"},
                     "useafter": "2014-01-01T00:00:00", "telescope": "JWST"},
            "model": {"coefficients": list(range(10))},
        }).write_to(tmp_path / name)
    model = exposure(fake_model)
    with pytest.raises(ReferenceFileNotFoundError, match="CHANNEL: the exposure has none, the reference requires SHORT"):
        references.find_reference(model, "distortion", reference_dir=str(tmp_path))
    model.meta.instrument.channel = "SHORT"
    found = references.find_reference(model, "distortion", reference_dir=str(tmp_path))
    assert found.path.endswith("distortion_image.asdf")
    model.meta.exposure.type = "NRC_TSIMAGE"
    found = references.find_reference(model, "distortion", reference_dir=str(tmp_path))
    assert found.path.endswith("distortion_tso.asdf")


def test_directories_are_indexed_once_and_reindexed_when_changed(dark_dir, monkeypatch):
    calls = []
    original = references.read_reference_keywords

    def counting(path):
        calls.append(path)
        return original(path)

    monkeypatch.setattr(references, "read_reference_keywords", counting)
    references._INDEX_CACHE.clear()
    first = references.index_directory(dark_dir)
    read_first = len(calls)
    assert read_first == 8  # 8 .fits files (one broken) in two directories
    assert {f.reftype for f in first} == {"dark", "gain"}
    second = references.index_directory(dark_dir)
    assert len(calls) == read_first and [f.path for f in second] == [f.path for f in first]
    dark(dark_dir, "dark_new.fits")
    os.utime(dark_dir, ns=(os.stat(dark_dir).st_atime_ns, os.stat(dark_dir).st_mtime_ns + 10**9))
    third = references.index_directory(dark_dir)
    assert len(third) == len(first) + 1
    assert len(calls) == read_first + 8  # the changed directory only


def test_no_crds_import_when_crds_is_not_configured(dark_dir, fake_model, monkeypatch):
    monkeypatch.delitem(sys.modules, "crds", raising=False)
    with pytest.raises(ReferenceFileNotFoundError):
        references.find_reference(exposure(fake_model, "NRCB1"), "dark", reference_dir=str(dark_dir))
    assert "crds" not in sys.modules
    assert not references.crds_configured()


def test_crds_is_asked_with_the_model_parameters_when_configured(tmp_path, fake_model, monkeypatch):
    asked = {}

    def getreferences(parameters, reftypes, observatory, **kwargs):
        asked.update(parameters=parameters, reftypes=reftypes, observatory=observatory, kwargs=kwargs)
        return {reftypes[0]: str(tmp_path / "jwst_nircam_dark_0042.fits")}

    monkeypatch.setitem(sys.modules, "crds", types.SimpleNamespace(getreferences=getreferences))
    monkeypatch.setenv("CRDS_PATH", str(tmp_path / "crds_cache"))
    monkeypatch.setenv("CRDS_CONTEXT", "jwst_1234.pmap")
    found = references.find_reference(exposure(fake_model), "dark")
    assert found.path == str(tmp_path / "jwst_nircam_dark_0042.fits")
    assert found.recorded_name == "crds://jwst_nircam_dark_0042.fits"
    assert asked["reftypes"] == ["dark"] and asked["observatory"] == "jwst"
    assert asked["kwargs"] == {"context": "jwst_1234.pmap"}
    assert asked["parameters"]["meta.instrument.detector"] == "NRCA1"
    assert asked["parameters"]["meta.observation.date"] == "2023-05-01"

    def not_applicable(parameters, reftypes, observatory, **kwargs):
        return {reftypes[0]: "NOT FOUND n/a"}

    monkeypatch.setitem(sys.modules, "crds", types.SimpleNamespace(getreferences=not_applicable))
    assert references.find_reference(exposure(fake_model), "dark").path == "N/A"


def test_crds_configured_without_the_package(fake_model, monkeypatch):
    monkeypatch.setitem(sys.modules, "crds", None)  # import crds raises ImportError
    monkeypatch.setenv("CRDS_SERVER_URL", "https://jwst-crds.stsci.edu")
    with pytest.raises(ReferenceFileNotFoundError, match="the 'crds' package is not installed"):
        references.find_reference(exposure(fake_model), "dark")


def test_simulated_references_only_for_simulated_data(fake_model):
    from photoncal.config import SIMULATED_ORIGIN, default_reference_dir

    sim_dir = default_reference_dir()
    sim_dir.mkdir(parents=True)
    dark(sim_dir, "sim_dark.fits")
    found = references.find_reference(exposure(fake_model, origin=SIMULATED_ORIGIN), "dark")
    assert found.path == str(sim_dir / "sim_dark.fits") and found.origin == "default simulated references"
    with pytest.raises(ReferenceFileNotFoundError, match="not used: the exposure is not simulated"):
        references.find_reference(exposure(fake_model, origin="STSCI"), "dark")


def test_parameter_directory_before_environment_directory(tmp_path, fake_model, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    dark(first, "dark_first.fits", useafter="2014-01-01T00:00:00")
    dark(second, "dark_second.fits", useafter="2020-01-01T00:00:00")
    monkeypatch.setenv("PHOTONCAL_REFDIR", str(second))
    assert references.find_reference(exposure(fake_model), "dark").path.endswith("dark_second.fits")
    found = references.find_reference(exposure(fake_model), "dark", reference_dir=str(first))
    assert found.path.endswith("dark_first.fits")
    assert references.reference_dirs(f"{first}{os.pathsep}{second}") == [str(first), str(second)]


class DarkStep(Step):
    class_alias = "dark_ref_test"
    reference_file_types = ["dark"]

    def process(self, model):
        self.get_reference_file(model, "dark")
        return model


class DarkPipe(Pipeline):
    class_alias = "dark_pipe_test"
    step_defs = {"dark": DarkStep}

    def process(self, model):
        return self.dark.run(model)


def test_steps_record_the_file_used_and_inherit_reference_dir(dark_dir, fake_model):
    result = DarkStep.call(exposure(fake_model, subarray="SUB160"), reference_dir=str(dark_dir))
    assert result.meta.ref_file.dark.name == str(dark_dir / "dark_a1_sub160.fits")
    assert result.meta.cal_step.dark_ref_test == "COMPLETE"
    result = DarkPipe.call(exposure(fake_model), reference_dir=str(dark_dir))
    assert result.meta.ref_file.dark.name == str(dark_dir / "dark_a1_full_2022.fits")


def test_header_reader_matches_astropy(dark_dir):
    path = str(dark_dir / "dark_multi.fits")
    ours = references.read_reference_keywords(path)
    header = fits.getheader(path)
    for key in ("REFTYPE", "INSTRUME", "DETECTOR", "P_DETECT", "SUBARRAY", "USEAFTER"):
        assert ours[key] == header[key]
    long_value = "A|" * 60
    write_fits_ref(dark_dir / "long.fits", reftype="DARK", p_readpa=long_value)
    assert references.read_reference_keywords(str(dark_dir / "long.fits"))["P_READPA"] == long_value


def test_roman_asdf_references(tmp_path, fake_model):
    asdf = pytest.importorskip("asdf")
    time = pytest.importorskip("astropy.time")
    for table in (4, 5):
        asdf.AsdfFile({"roman": {"meta": {
            "reftype": "DARK", "telescope": "ROMAN", "useafter": time.Time("2020-01-01T00:00:00"),
            "instrument": {"name": "WFI", "detector": "WFI01", "optical_element": "F158"},
            "exposure": {"ma_table_number": table}}, "data": np.zeros((4, 4), dtype=np.float32)}}
        ).write_to(tmp_path / f"roman_wfi01_dark_ma{table}.asdf")
    model = fake_model("r0001_wfi01_uncal.asdf", telescope="ROMAN",
                       instrument={"name": "WFI", "detector": "WFI01", "optical_element": "F158"},
                       exposure={"ma_table_number": 5, "start_time": "2026-11-01T00:00:00"})
    found = references.find_reference(model, "dark", reference_dir=str(tmp_path))
    assert found.path.endswith("roman_wfi01_dark_ma5.asdf")
    model.meta.exposure.start_time = "2019-01-01T00:00:00"
    with pytest.raises(ReferenceFileNotFoundError, match="is after the observation"):
        references.find_reference(model, "dark", reference_dir=str(tmp_path))


def test_a_missing_reference_directory_is_an_error(tmp_path, fake_model, monkeypatch):
    with pytest.raises(ReferenceFileNotFoundError, match="reference directory .*nowhere.* does not exist"):
        references.find_reference(exposure(fake_model), "dark", reference_dir=str(tmp_path / "nowhere"))
    monkeypatch.setenv("PHOTONCAL_REFDIR", str(tmp_path / "gone"))
    with pytest.raises(ReferenceFileNotFoundError, match="PHOTONCAL_REFDIR"):
        references.find_reference(exposure(fake_model), "dark")


def test_a_simulated_exposure_without_its_default_set_says_how_to_write_it(dark_dir, fake_model):
    from photoncal.config import SIMULATED_ORIGIN

    model = exposure(fake_model, "NRCB1", origin=SIMULATED_ORIGIN)
    with pytest.raises(ReferenceFileNotFoundError,
                       match="photoncal simulate --references-only --detector NRCB1"):
        references.find_reference(model, "dark", reference_dir=str(dark_dir))
