"""The known truth behind a simulated exposure, saved beside it as ``*_truth.asdf``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields

import numpy as np

from photoncal.fileio import atomic_write

__all__ = ["Truth", "truth_path_for", "amplifier_parity_maps"]

_DERIVED = ("amplifier", "parity")


def truth_path_for(exposure_path) -> str:
    """``jw..._uncal.fits`` -> ``jw..._truth.asdf`` (same directory)."""
    path = os.fspath(exposure_path)
    base = path[:-5] if path.endswith(".fits") else path
    for suffix in ("_uncal", "_ramp", "_rate"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    return base + "_truth.asdf"


@dataclass
class Truth:
    """Everything a simulated exposure was made from.

    Images are in the exposure's own (subarray) pixels, DMS orientation.

    Attributes
    ----------
    filename : str
        Name of the exposure file.
    instrument, detector, filter, pupil, exp_type, readpatt : str
    subarray : dict
        ``name``, ``xstart``, ``ystart`` (1-based), ``xsize``, ``ysize``.
    nframes, groupgap, ngroups, nints, drop_frames1, frame_divisor : int
    frame_time, group_time : float
        Seconds.
    read_pattern : list of list of int
        1-based frames averaged into each group.
    seed : int
    effects : dict
        The :class:`~photoncal.sim.effects.Effects` switches.
    commanded_pointing, true_pointing : dict
        ``v2_ref``, ``v3_ref``, ``ra_ref``, ``dec_ref``, ``roll_ref``: the
        header (commanded) pointing and the one the scene was observed with.
    pointing_error : dict
        ``d_east``, ``d_north`` (arcsec) and ``d_roll`` (deg): true minus
        commanded at the aperture reference point.
    dither_offset : tuple of float
        Ideal-frame offset (arcsec) of this dither position.
    filter_offset : tuple of float
        (column, row) pixel shift applied before the distortion (MIRI).
    photmjsr, pixar_sr : float
        Photometric conversion and nominal pixel solid angle.
    sky_background : float
        Sky surface brightness of this exposure (MJy/sr), including ``sky_offset``.
    sky_offset : float
        Per-exposure offset (MJy/sr) added to the scene's sky (for sky matching).
    rate : ndarray (ny, nx) float32
        Count rate (DN/s) of the detector from sky and sources, flat applied,
        without dark current and without IPC: what a perfect stage 1
        (including the IPC correction) returns.  0 in reference pixels.
    rate_ipc : ndarray or None
        ``rate`` as seen through the IPC coupling (what stage 1 returns when
        the IPC correction is skipped); ``None`` without IPC.
    flat : ndarray (ny, nx) float32
        The response the rate was multiplied by (pixel response x relative
        pixel area); 1 where undefined (dead, reference pixels).
    dark_rate : ndarray (ny, nx) float32
        Dark current in DN/s (removed by the dark step).
    saturated_group : ndarray (nints, ny, nx) int16
        First group whose written value exceeds the SATURATION threshold, -1 if none.
    clipped_group : ndarray (nints, ny, nx) int16
        First group containing a read that hit the full well, -1 if none.
    cosmic_rays : structured ndarray
        One row per affected pixel: ``event``, ``integration`` (0-based),
        ``frame`` (1-based), ``group`` (0-based, first group that contains the
        charge; -1 if after the last read), ``y``, ``x`` (exposure pixels),
        ``electrons``.
    refpix_offsets : ndarray (nints, ngroups, 4, 2) float64
        Amplifier offsets (DN) added to every pixel, averaged over each
        group's frames, per amplifier and parity (detector column parity for
        NIR, detector row parity for MIRI).
    amplifier : ndarray (ny, nx) int8
        Amplifier of each pixel.
    parity : ndarray (ny, nx) int8
        Parity index of each pixel into ``refpix_offsets``.
    sources : structured ndarray
        ``id``, ``ra``, ``dec``, ``flux`` (Jy), ``abmag``, ``type``, ``x``,
        ``y`` (true 0-based exposure pixels), ``flux_dn`` (DN/s before the
        flat), ``on_image``.
    miri_additive : ndarray (nints, ngroups, ny, nx) float32 or None
        MIRI only: the raw DN added by the reset anomaly, RSCD and the
        first/last-frame effects.
    ramp : ndarray (nints, ngroups, ny, nx) float32 or None
        The simulated groups before quantisation to uint16 (kept on request).
    """

    filename: str = ""
    instrument: str = ""
    detector: str = ""
    filter: str = ""
    pupil: str = ""
    exp_type: str = ""
    readpatt: str = ""
    subarray: dict = field(default_factory=dict)
    nframes: int = 1
    groupgap: int = 0
    ngroups: int = 1
    nints: int = 1
    drop_frames1: int = 0
    frame_divisor: int = 1
    frame_time: float = 0.0
    group_time: float = 0.0
    read_pattern: list = field(default_factory=list)
    seed: int = 0
    effects: dict = field(default_factory=dict)
    commanded_pointing: dict = field(default_factory=dict)
    true_pointing: dict = field(default_factory=dict)
    pointing_error: dict = field(default_factory=dict)
    dither_offset: tuple = (0.0, 0.0)
    filter_offset: tuple = (0.0, 0.0)
    photmjsr: float = 0.0
    pixar_sr: float = 0.0
    sky_background: float = 0.0
    sky_offset: float = 0.0
    rate: np.ndarray | None = None
    rate_ipc: np.ndarray | None = None
    flat: np.ndarray | None = None
    dark_rate: np.ndarray | None = None
    saturated_group: np.ndarray | None = None
    clipped_group: np.ndarray | None = None
    cosmic_rays: np.ndarray | None = None
    refpix_offsets: np.ndarray | None = None
    amplifier: np.ndarray | None = None
    parity: np.ndarray | None = None
    sources: np.ndarray | None = None
    miri_additive: np.ndarray | None = None
    ramp: np.ndarray | None = None

    # ------------------------------------------------------------------
    @property
    def rate_flatfielded(self) -> np.ndarray:
        """The rate after the flat field (DN/s); NaN where the flat is undefined."""
        out = self.rate / self.flat
        return out

    @property
    def surface_brightness(self) -> np.ndarray:
        """Calibrated surface brightness (MJy/sr) the photom step should give."""
        return self.rate_flatfielded * self.photmjsr

    @property
    def group_times(self) -> np.ndarray:
        """Mean time (s after reset) of each group."""
        return np.array([self.frame_time * np.mean(r) for r in self.read_pattern])

    def refpix_offset_image(self, integration: int, group: int) -> np.ndarray:
        """The amplifier offsets (DN) added to every pixel of one group."""
        return self.refpix_offsets[integration, group][self.amplifier, self.parity]

    # ------------------------------------------------------------------
    def save(self, path) -> str:
        """Write the truth as ASDF (atomically) and return the path."""
        import asdf

        path = os.fspath(path)
        tree = {}
        for f in fields(self):
            value = getattr(self, f.name)
            # The amplifier and parity maps follow from the detector and subarray.
            if value is None or f.name in _DERIVED:
                continue
            if isinstance(value, tuple):
                value = list(value)
            tree[f.name] = value
        return atomic_write(path, asdf.AsdfFile({"photoncal_truth": tree}).write_to)

    @classmethod
    def load(cls, path) -> "Truth":
        """Read a truth file written by :meth:`save`."""
        import asdf

        with asdf.open(os.fspath(path), lazy_load=False, memmap=False) as af:
            if "photoncal_truth" not in af.tree:
                raise ValueError(f"{path} is not a photoncal truth file (no 'photoncal_truth' node)")
            tree = af.tree["photoncal_truth"]
            kwargs = {}
            for f in fields(cls):
                if f.name in tree:
                    value = tree[f.name]
                    if hasattr(value, "__array__") and not isinstance(value, (list, dict)):
                        value = np.array(value)
                    kwargs[f.name] = value
        for name in ("dither_offset", "filter_offset"):
            if name in kwargs:
                kwargs[name] = tuple(float(v) for v in kwargs[name])
        truth = cls(**kwargs)
        if truth.detector and truth.subarray:
            truth.amplifier, truth.parity = amplifier_parity_maps(truth.detector, truth.subarray["name"])
        return truth


def amplifier_parity_maps(detector: str, subarray: str):
    """The amplifier index and offset-parity index of every pixel of an exposure."""
    from photoncal.sim.instruments import (
        amplifier_map,
        detector_column_map,
        detector_row_map,
        get_detector,
        get_subarray,
    )

    det = get_detector(detector)
    sub = get_subarray(det.instrument, subarray)
    amps = amplifier_map(det, sub).astype(np.int8)
    if det.is_miri:
        parity = (detector_row_map(det, sub) % 2).astype(np.int8)
    else:
        parity = (detector_column_map(det, sub) % 2).astype(np.int8)
    return amps, parity
