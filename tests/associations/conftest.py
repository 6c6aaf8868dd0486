"""Shared pools for the association tests."""

from __future__ import annotations

import pytest

POOL_COLUMNS = (
    "FILENAME|PROGRAM|OBS_NUM|VISIT|EXPOSURE|EXP_TYPE|INSTRUME|DETECTOR|FILTER|PUPIL|"
    "TARGETID|PNTGTYPE|SUBARRAY|TSOVISIT|VISITYPE|BKGDTARG|ASN_CANDIDATE"
)


def exposure_name(obs, activity, exposure, detector="nrca1", suffix="uncal"):
    """A DMS exposure file name."""
    return f"jw99009{obs:03d}001_0{activity}_{exposure:05d}_{detector}_{suffix}.fits"


def imaging_rows():
    """8 NIRCam exposures (2 observations x 2 filters x 2 dithers) and 1 dark.

    Science rows carry a candidate list: their observation and the mosaic
    candidate c1000. The dark belongs to no imaging rule.
    """
    rows = []
    for obs in (1, 2):
        for activity, filt in (("2101", "F090W"), ("2103", "F150W")):
            for dither in (1, 2):
                rows.append(
                    f"{exposure_name(obs, activity, dither)}|99009|{obs}|1|{dither}|NRC_IMAGE|"
                    f"NIRCAM|NRCA1|{filt}|CLEAR|1|SCIENCE|FULL|F|PRIME_TARGETED_FIXED|F|"
                    f"[('o{obs:03d}', 'observation'), ('c1000', 'mosaic')]"
                )
    rows.append(
        f"{exposure_name(2, '3101', 1)}|99009|2|1|3|NRC_DARK|NIRCAM|NRCA1|F090W|CLEAR|1|"
        "ENGINEERING|FULL|F|PRIME_TARGETED_FIXED|F|[('o002', 'observation')]"
    )
    return rows


def write_pool(path, rows, columns=POOL_COLUMNS, comment=True):
    """Write a DMS-style pool file."""
    lines = ["# Pool.Image.NIRCam: test pool", columns] if comment else [columns]
    path.write_text("\n".join(lines + list(rows)) + "\n")
    return path


@pytest.fixture
def imaging_pool_path(tmp_path):
    """Path of the 9-row imaging pool (see `imaging_rows`)."""
    return write_pool(tmp_path / "jw99009_20240101t000000_pool.csv", imaging_rows())
