"""Output names (seed 002, "Output File Names" and "Individual Step Outputs")."""

import os

import pytest

from photoncal.stpipe import naming
from photoncal.stpipe.naming import output_filename, remove_suffix, replace_suffix

ROOT = "jw00017001001_01101_00001_nrca1"


def test_seed_example_step_run_alone():
    # strun dq_init.cfg jw00017001001_01101_00001_nrca1_uncal.fits
    assert output_filename(f"{ROOT}_uncal.fits", "dq_init") == f"{ROOT}_dq_init.fits"


@pytest.mark.parametrize("suffix", naming.PRODUCT_SUFFIXES)
def test_every_product_suffix_is_replaced(suffix):
    assert output_filename(f"{ROOT}_{suffix}.fits", "cal") == f"{ROOT}_cal.fits"


@pytest.mark.parametrize(
    "previous", ["dq_init", "saturation", "ramp_fit", "jump", "dark_current", "flat_field", "calwebb_detector1"]
)
def test_step_aliases_are_known_suffixes(previous):
    assert output_filename(f"{ROOT}_{previous}.fits", "rate") == f"{ROOT}_rate.fits"


def test_longest_suffix_wins_and_only_one_is_removed():
    assert remove_suffix(f"{ROOT}_rateints") == (ROOT, "_")
    assert remove_suffix(f"{ROOT}_uncal_dq_init") == (f"{ROOT}_uncal", "_")
    assert remove_suffix("foo_bar") == ("foo_bar", "_")
    assert replace_suffix("a-cal", "i2d") == "a-i2d"


def test_output_file_is_a_base_name():
    # --steps.dark_current.output_file='dark_sub.fits': the base name gets the
    # step's suffix, as in the established pipeline
    assert output_filename("dark_sub.fits", "dark_current") == "dark_sub_dark_current.fits"
    assert output_filename("detector1_processed.fits", "rate") == "detector1_processed_rate.fits"
    # a known suffix in output_file is replaced, not doubled
    assert output_filename("final_cal.fits", "cal") == "final_cal.fits"


def test_association_product_name_has_no_extension():
    product = "jw00017-o001_t001_nircam_clear-f200w"
    assert output_filename(product, "i2d") == f"{product}_i2d.fits"
    assert output_filename(product, "cat", ext="ecsv") == f"{product}_cat.ecsv"


def test_directories_extensions_and_components():
    assert output_filename(f"{ROOT}_uncal.fits", "rate", output_dir="calibrated") == os.path.join(
        "calibrated", f"{ROOT}_rate.fits"
    )
    assert output_filename("sub/x_uncal.fits", "rate") == os.path.join("sub", "x_rate.fits")
    assert output_filename("sub/x_uncal.fits", "rate", output_dir="od") == os.path.join("od", "x_rate.fits")
    assert output_filename("x_uncal.asdf", "cal") == "x_cal.asdf"
    assert output_filename("x_uncal.fits.gz", "rate") == "x_rate.fits.gz"
    assert output_filename("x_uncal.fits", "rate", ext=".asdf") == "x_rate.asdf"
    assert output_filename("x_cal.fits", "crf", components=[0]) == "x_0_crf.fits"
    assert output_filename("x_cal.fits", None) == "x_cal.fits"


def test_parity_with_the_established_suffix_removal():
    suffix = pytest.importorskip("jwst.lib.suffix")
    names = [f"{ROOT}_{s}" for s in naming.PRODUCT_SUFFIXES if s not in ("fitopt", "amiavg", "contrast")]
    names += [f"{ROOT}_dq_init", f"{ROOT}_ramp_fit", "foo_bar", "jw001-o001_t001_nircam_clear-f200w_i2d"]
    for name in names:
        assert remove_suffix(name) == suffix.remove_suffix(name), name
