"""The simulated detectors' calibration: one deterministic set of arrays per detector.

:class:`DetectorProperties` holds, for one detector, every per-pixel property
the simulator uses and the reference files record: gain, read noise,
superbias, dark current, hot/warm/dead/low-QE pixels, pixel response, pixel
area, non-linearity, full well and saturation threshold, persistence trap
density and parameters, the IPC kernel, and (MIRI) the reset anomaly, RSCD,
first- and last-frame parameters.  Everything is generated from a fixed seed
and the detector name, so the arrays an exposure was simulated with are
exactly those the default reference files hold.

All arrays are full frame, DMS orientation, numpy order ``(y, x)``; cut
subarrays with :meth:`DetectorProperties.cut`.
"""

from __future__ import annotations

import zlib
from functools import cached_property, lru_cache

import numpy as np
from scipy import interpolate

from photoncal import dqflags
from photoncal.sim.distortion import pixel_area_map
from photoncal.sim.instruments import (
    DetectorInfo,
    Subarray,
    detector_column_map,
    detector_row_map,
    get_detector,
    get_subarray,
    reference_pixel_mask,
)

__all__ = [
    "REFERENCE_SEED",
    "DetectorProperties",
    "expand_about_zero",
    "detector_properties",
    "ipc_deconvolution_kernel",
    "TRAP_FAMILIES",
    "RESET_NINTS",
    "RESET_NGROUPS",
]

#: Seed of every simulated reference array (with the detector name).
REFERENCE_SEED = 20_221_225

#: Persistence trap families: capture0, capture1 (-1/e-fold capture time, 1/s),
#: capture2 (instantaneous fraction), decay_param (-1/e-fold decay time, 1/s).
TRAP_FAMILIES = np.array(
    [(1.5e-4, -1 / 300.0, 1.0e-5, -1 / 200.0),
     (4.0e-4, -1 / 1000.0, 2.0e-5, -1 / 1200.0),
     (8.0e-4, -1 / 5000.0, 5.0e-5, -1 / 9000.0)],
    dtype=[("capture0", "<f8"), ("capture1", "<f8"), ("capture2", "<f8"), ("decay_param", "<f8")],
)

#: Integrations and groups covered by the MIRI RESET reference.
RESET_NINTS = 2
RESET_NGROUPS = 10

# Fractions of special pixels.
_HOT_FRACTION = 5e-4
_WARM_FRACTION = 2e-3
_DEAD_FRACTION = 2e-4
_LOW_QE_FRACTION = 5e-4
_NOISY_FRACTION = 1e-3


def ipc_deconvolution_kernel(forward: np.ndarray, size: int = 3) -> np.ndarray:
    """The ``size`` x ``size`` kernel that undoes convolution with ``forward``.

    The exact inverse (computed by FFT on a large grid) is truncated to
    ``size`` and renormalised to unit sum: what an IPC reference file holds.
    The residual of ``deconv * forward`` is of order ``alpha**2``.
    """
    n = 64
    padded = np.zeros((n, n))
    k = forward.shape[0] // 2
    for j in range(forward.shape[0]):
        for i in range(forward.shape[1]):
            padded[(j - k) % n, (i - k) % n] = forward[j, i]
    inverse = np.real(np.fft.ifft2(1.0 / np.fft.fft2(padded)))
    h = size // 2
    out = np.empty((size, size))
    for j in range(size):
        for i in range(size):
            out[j, i] = inverse[(j - h) % n, (i - h) % n]
    return out / out.sum()


def expand_about_zero(coeffs, offset) -> np.ndarray:
    """Coefficients ``c'`` with ``sum c'_j x**j = sum c_i (x - offset)**i`` (per pixel), float32.

    ``coeffs`` is (n, ny, nx), ``offset`` (ny, nx): a linearity polynomial of
    the signal above the bias re-expanded in powers of the raw value.
    """
    from math import comb

    c = np.asarray(coeffs, dtype=np.float64)
    shift = -np.asarray(offset, dtype=np.float64)
    out = np.zeros_like(c)
    n = c.shape[0]
    for j in range(n):
        for i in range(j, n):
            out[j] += c[i] * comb(i, j) * shift ** (i - j)
    return out.astype(np.float32)


class DetectorProperties:
    """Deterministic per-pixel properties of one simulated detector, over one region.

    Every random field is drawn row by row from a counter-based generator
    keyed by the detector, the component and the full-frame row, so a
    subarray region holds exactly the values of the same pixels of the full
    frame, and costs only its own rows.

    Parameters
    ----------
    detector : str or DetectorInfo
        The detector.
    region : Subarray or str, optional
        The part of the detector (default the full frame).
    seed : int
        Base seed (default :data:`REFERENCE_SEED`).
    """

    def __init__(self, detector: str | DetectorInfo, region: Subarray | str | None = None,
                 seed: int = REFERENCE_SEED):
        self.info = detector if isinstance(detector, DetectorInfo) else get_detector(detector)
        self.seed = int(seed)
        if region is None:
            region = "FULL"
        if isinstance(region, str):
            region = get_subarray(self.info.instrument, region)
        self.region = region
        self.slices = region.slices
        self.shape = (region.ysize, region.xsize)
        self.full_shape = self.info.shape

    # ------------------------------------------------------------------
    # helpers
    def _key(self, component: str) -> int:
        return (self.seed << 32) ^ zlib.crc32(f"{self.info.name}:{component}".encode())

    def _rows(self, component: str, draw) -> np.ndarray:
        """Apply ``draw(generator, n)`` to every full-frame row of the region; cut the columns."""
        key = self._key(component)
        ys, xs = self.slices
        nx_full = self.full_shape[1]
        out = None
        for k, row in enumerate(range(ys.start, ys.stop)):
            gen = np.random.Generator(np.random.Philox(key=key, counter=[0, row, 0, 0]))
            values = draw(gen, nx_full)[xs]
            if out is None:
                out = np.empty(self.shape, dtype=values.dtype)
            out[k] = values
        return out

    def _normal(self, component: str) -> np.ndarray:
        return self._rows(component, lambda g, n: g.standard_normal(n, dtype=np.float32))

    def _uniform(self, component: str) -> np.ndarray:
        return self._rows(component, lambda g, n: g.random(n))

    def _vector(self, component: str, draw):
        """A small detector-wide random vector (not per pixel)."""
        return draw(np.random.default_rng([self.seed, zlib.crc32(f"{self.info.name}:{component}".encode())]))

    def _smooth(self, component: str, nodes: int = 6) -> np.ndarray:
        """A smooth random field of unit standard deviation (over the full frame)."""
        coarse = self._vector(component, lambda g: g.normal(size=(nodes, nodes)))
        knots = np.arange(nodes, dtype=np.float64)
        spline = interpolate.RectBivariateSpline(knots, knots, coarse, kx=3, ky=3)
        ny, nx = self.full_shape
        yy = np.linspace(0, nodes - 1, ny)
        xx = np.linspace(0, nodes - 1, nx)
        # Normalise with statistics of the whole frame (on a sparse grid), so
        # every region sees the same field.
        sample = spline(yy[::8], xx[::8])
        ys, xs = self.slices
        field = spline(yy[ys], xx[xs])
        return ((field - sample.mean()) / sample.std()).astype(np.float32)

    def cut(self, array: np.ndarray, subarray: Subarray | str | None) -> np.ndarray:
        """Cut a region array to ``subarray`` (which must lie inside the region)."""
        if subarray is None:
            return array
        if isinstance(subarray, str):
            subarray = get_subarray(self.info.instrument, subarray)
        ys, xs = subarray.slices
        ry, rx = self.slices
        if ys.start < ry.start or ys.stop > ry.stop or xs.start < rx.start or xs.stop > rx.stop:
            raise ValueError(
                f"subarray {subarray.name} does not lie inside the region {self.region.name}"
            )
        return array[..., ys.start - ry.start:ys.stop - ry.start, xs.start - rx.start:xs.stop - rx.start]

    @cached_property
    def reference_pixels(self) -> np.ndarray:
        """Boolean map of the reference pixels."""
        return reference_pixel_mask(self.info, self.region)

    @cached_property
    def detector_columns(self) -> np.ndarray:
        """Detector-orientation column (fast direction) of every pixel."""
        return detector_column_map(self.info, self.region)

    @cached_property
    def detector_rows(self) -> np.ndarray:
        """Detector-orientation row (slow direction) of every pixel."""
        return detector_row_map(self.info, self.region)

    # ------------------------------------------------------------------
    # special pixels
    @cached_property
    def _pixel_classes(self) -> np.ndarray:
        """0 normal, 1 hot, 2 warm, 3 dead, 4 low QE (science pixels only)."""
        u = self._uniform("pixel_classes")
        classes = np.zeros(self.shape, dtype=np.int8)
        edges = np.cumsum([_HOT_FRACTION, _WARM_FRACTION, _DEAD_FRACTION, _LOW_QE_FRACTION])
        classes[u < edges[3]] = 4
        classes[u < edges[2]] = 3
        classes[u < edges[1]] = 2
        classes[u < edges[0]] = 1
        classes[self.reference_pixels] = 0
        return classes

    @property
    def hot(self) -> np.ndarray:
        return self._pixel_classes == 1

    @property
    def warm(self) -> np.ndarray:
        return self._pixel_classes == 2

    @property
    def dead(self) -> np.ndarray:
        return self._pixel_classes == 3

    @property
    def low_qe(self) -> np.ndarray:
        return self._pixel_classes == 4

    # ------------------------------------------------------------------
    # electronics
    @cached_property
    def gain(self) -> np.ndarray:
        """Gain, e-/DN (float32)."""
        g = self.info.gain * (1 + 0.02 * self._smooth("gain_smooth") + 0.01 * self._normal("gain"))
        return g.astype(np.float32)

    @cached_property
    def readnoise(self) -> np.ndarray:
        """CDS read noise, DN (float32): the READNOISE reference values."""
        rn = self.info.readnoise_cds * (1 + 0.05 * self._normal("readnoise"))
        noisy = self._uniform("noisy") < _NOISY_FRACTION
        rn[noisy] *= 3.0
        return np.abs(rn).astype(np.float32)

    @cached_property
    def superbias(self) -> np.ndarray:
        """Bias level of every pixel, DN (float32).

        Structure: per-amplifier levels, per-column offsets with an even/odd
        column difference (detector orientation), a smooth gradient and a
        fixed pixel pattern.
        """
        cols = self.detector_columns
        ncols = self.full_shape[1] if abs(self.info.fastaxis) == 1 else self.full_shape[0]
        if self.info.is_miri:
            amp = cols % 4
        else:
            amp = cols // (ncols // self.info.namps)
        amp_level = self._vector("amp_level", lambda g: g.normal(0.0, 150.0, size=4))
        column_level = self._vector("column_level", lambda g: g.normal(0.0, 15.0, size=ncols))
        odd_even = self._vector("odd_even", lambda g: g.normal(0.0, 8.0))
        bias = (self.info.bias + amp_level[amp] + column_level[cols] + odd_even * (cols % 2)
                + 40.0 * self._smooth("superbias_smooth") + 8.0 * self._normal("superbias"))
        return bias.astype(np.float32)

    @cached_property
    def full_well(self) -> np.ndarray:
        """Physical full well, raw DN above bias (reads clip at superbias + full_well)."""
        fw = self.info.full_well * (1 + 0.03 * self._smooth("full_well_smooth")
                                    + 0.01 * self._normal("full_well"))
        return fw.astype(np.float32)

    @cached_property
    def saturation_clip(self) -> np.ndarray:
        """Raw level (DN) at which reads clip; 65535 for reference pixels."""
        clip = self.superbias.astype(np.float64) + self.full_well
        clip[self.reference_pixels] = 65535.0
        return np.minimum(clip, 65535.0)

    @cached_property
    def saturation(self) -> np.ndarray:
        """The SATURATION reference threshold, raw DN (float32): 97 % of the clip level.

        Values between the threshold and the clip level are flagged by the
        saturation step whatever its comparison (> or >=); reference pixels
        hold 65535 (never flagged).
        """
        sat = self.superbias.astype(np.float64) + 0.97 * self.full_well
        sat[self.reference_pixels] = 65535.0
        return np.minimum(sat, 65535.0).astype(np.float32)

    @cached_property
    def persat(self) -> np.ndarray:
        """Persistence saturation (full well above bias), DN (float32)."""
        return (0.97 * self.full_well).astype(np.float32)

    @cached_property
    def linearity(self) -> np.ndarray:
        """The LINEARITY reference coefficients (5, ny, nx), float32.

        Near-infrared detectors are linearised after the superbias is
        subtracted, so the reference holds :attr:`linearity_signal` itself.
        MIRI is linearised on the raw data, bias included: its reference
        holds the same polynomial re-expanded in powers of the raw value
        (``sum c_i (raw - bias)**i = sum c'_j raw**j``).
        """
        coeffs = self.linearity_signal
        if not self.info.is_miri:
            return coeffs
        return expand_about_zero(coeffs, self.superbias)

    @cached_property
    def linearity_signal(self) -> np.ndarray:
        """Linearity coefficients of the signal above bias (5, ny, nx), float32.

        ``linear = sum c_i s**i`` with ``s`` the raw DN above bias; the
        simulator applies the exact inverse.  Non-linearity reaches ~6-8 % at
        the full well; reference and dead pixels carry the identity
        (0, 1, 0, 0, 0).
        """
        fw = self.info.full_well
        c2 = 1.2e-6 * (50000.0 / fw) * (1 + 0.1 * self._smooth("lin_c2") + 0.03 * self._normal("lin_c2"))
        c3 = 2.5e-12 * (50000.0 / fw) ** 2 * (1 + 0.1 * self._normal("lin_c3"))
        c4 = -1.0e-17 * (50000.0 / fw) ** 3
        coeffs = np.zeros((5,) + self.shape, dtype=np.float32)
        coeffs[1] = 1.0
        coeffs[2] = c2
        coeffs[3] = c3
        coeffs[4] = c4
        identity = self.reference_pixels | self.dead
        coeffs[2:, identity] = 0.0
        return coeffs

    # ------------------------------------------------------------------
    # dark current
    @cached_property
    def dark_rate(self) -> np.ndarray:
        """Dark current, e-/s (float32); 0 in reference pixels."""
        dark = self.info.dark_current * np.exp(0.3 * self._normal("dark")).astype(np.float64)
        u = self._uniform("dark_special")
        hot_values = np.exp(np.log(2.0) + u * (np.log(200.0) - np.log(2.0)))
        warm_values = np.exp(np.log(0.2) + u * (np.log(1.5) - np.log(0.2)))
        dark = np.where(self.hot, hot_values, np.where(self.warm, warm_values, dark))
        dark[self.reference_pixels] = 0.0
        return dark.astype(np.float32)

    @property
    def dark_rate_dn(self) -> np.ndarray:
        """Dark current in DN/s (float64)."""
        return self.dark_rate.astype(np.float64) / self.gain

    # ------------------------------------------------------------------
    # optics and pixel response
    @cached_property
    def area(self) -> np.ndarray:
        """Relative pixel solid angle (float32), 1 at the reference pixel."""
        return pixel_area_map(self.info, self.slices)[0]

    @cached_property
    def pixar_sr(self) -> float:
        return pixel_area_map(self.info, (slice(0, 1), slice(0, 1)))[1]

    @cached_property
    def response(self) -> np.ndarray:
        """Smooth and pixel-to-pixel response variations (float32, mean 1), no bad pixels."""
        qe = 1 + 0.03 * self._smooth("qe_smooth", nodes=4) + 0.01 * self._normal("qe")
        qe[self.reference_pixels] = 1.0
        return qe.astype(np.float32)

    @cached_property
    def bad_pixel_response(self) -> np.ndarray:
        """Response factor of the bad pixels (float32): 0 dead, 0.3-0.7 low QE, else 1."""
        factor = np.ones(self.shape, dtype=np.float32)
        low = (0.3 + 0.4 * self._uniform("low_qe")).astype(np.float32)
        factor[self.low_qe] = low[self.low_qe]
        factor[self.dead] = 0.0
        return factor

    @property
    def qe(self) -> np.ndarray:
        """Relative pixel response including the bad pixels (float32)."""
        return self.response * self.bad_pixel_response

    @cached_property
    def flat(self) -> np.ndarray:
        """The FLAT reference SCI (float32): pixel response x relative pixel area.

        Dead and reference pixels hold 1 (flagged NO_FLAT_FIELD in the flat DQ).
        """
        flat = self.qe.astype(np.float64) * self.area
        flat[self.dead | self.reference_pixels] = 1.0
        return flat.astype(np.float32)

    # ------------------------------------------------------------------
    # DQ
    @cached_property
    def mask_dq(self) -> np.ndarray:
        """The MASK reference DQ (uint32, master-table values)."""
        f = dqflags.pixel
        dq = np.zeros(self.shape, dtype=np.uint32)
        dq[self.reference_pixels] |= f["REFERENCE_PIXEL"]
        dq[self.hot] |= f["HOT"] | f["DO_NOT_USE"]
        dq[self.warm] |= f["WARM"]
        dq[self.dead] |= f["DEAD"] | f["DO_NOT_USE"]
        dq[self.low_qe] |= f["LOW_QE"]
        return dq

    @cached_property
    def flat_dq(self) -> np.ndarray:
        f = dqflags.pixel
        dq = np.zeros(self.shape, dtype=np.uint32)
        dq[self.dead | self.reference_pixels] = f["NO_FLAT_FIELD"] | f["DO_NOT_USE"]
        return dq

    @cached_property
    def linearity_dq(self) -> np.ndarray:
        f = dqflags.pixel
        dq = np.zeros(self.shape, dtype=np.uint32)
        dq[self.dead] = f["NO_LIN_CORR"]
        return dq

    @cached_property
    def dark_dq(self) -> np.ndarray:
        f = dqflags.pixel
        dq = np.zeros(self.shape, dtype=np.uint32)
        dq[self.hot] = f["HOT"]
        dq[self.warm] = f["WARM"]
        return dq

    # ------------------------------------------------------------------
    # IPC
    @cached_property
    def ipc_forward(self) -> np.ndarray:
        """The 3x3 kernel the collected charge is convolved with (sum 1)."""
        a, b = self.info.ipc_alpha, self.info.ipc_beta
        return np.array([[b, a, b], [a, 1 - 4 * a - 4 * b, a], [b, a, b]])

    @cached_property
    def ipc_kernel(self) -> np.ndarray:
        """The IPC reference kernel (3x3 float32): the truncated inverse of :attr:`ipc_forward`."""
        return ipc_deconvolution_kernel(self.ipc_forward).astype(np.float32)

    # ------------------------------------------------------------------
    # persistence
    @cached_property
    def trapdensity(self) -> np.ndarray:
        """Relative trap density (float32), median 1."""
        td = 1 + 0.2 * self._smooth("traps_smooth") + 0.05 * self._normal("traps")
        return np.clip(td, 0.05, None).astype(np.float32)

    @property
    def trappars(self) -> np.ndarray:
        return TRAP_FAMILIES.copy()

    # ------------------------------------------------------------------
    # MIRI-specific effects
    @cached_property
    def reset_anomaly(self) -> np.ndarray:
        """MIRI reset anomaly (RESET_NINTS, RESET_NGROUPS, ny, nx) in DN (float32).

        Zero in the first group (the bias is kept) and in the last tabulated
        group, strongest in the first integration; added to the raw groups by
        the simulator and subtracted by the reset step.
        """
        g = np.arange(RESET_NGROUPS, dtype=np.float64)
        shape_g = (g / 2.0) * np.exp(-g / 2.5)
        shape_g[0] = 0.0
        shape_g[-1] = 0.0
        amplitude = np.array([-40.0, -15.0])[:RESET_NINTS]
        spatial = 1 + 0.3 * self._smooth("reset_smooth")
        out = (amplitude[:, None, None, None] * shape_g[None, :, None, None]
               * spatial[None, None]).astype(np.float32)
        out[:, :, self.reference_pixels] = 0.0
        return out

    @cached_property
    def rscd_parameters(self) -> dict:
        """MIRI RSCD single-exponential parameters per row parity (even, odd).

        ``tau`` in frames and ``scale`` (dimensionless): the first groups of
        integration ``i >= 2`` are low by ``dn_accumulated * scale *
        exp(-T / tau)`` (T: frames since the last read of integration i-1).
        """
        return {"EVEN": {"tau": 1.3, "scale": 0.020}, "ODD": {"tau": 1.5, "scale": 0.025}}

    @cached_property
    def first_frame_offset(self) -> np.ndarray:
        """MIRI first-frame effect: DN added to the first group of each integration."""
        return (12.0 * (1 + 0.5 * self._smooth("firstframe"))).astype(np.float32)

    @property
    def last_frame_parameters(self) -> dict:
        """MIRI last-frame effect: the last group is low by ``offset + fraction * signal``,
        differently on even and odd detector rows."""
        return {"EVEN": (10.0, 0.003), "ODD": (20.0, 0.005)}

    @cached_property
    def refout_bias(self) -> np.ndarray:
        """MIRI reference-output level (ny // 4 rows x nx columns at full frame)."""
        ys, xs = self.slices
        ny = self.shape[0] // 4
        rows = np.arange(ys.start // 4, ys.start // 4 + ny)
        key = self._key("refout")
        out = np.empty((ny, self.shape[1]), dtype=np.float32)
        for k, row in enumerate(rows):
            gen = np.random.Generator(np.random.Philox(key=key, counter=[0, row, 0, 0]))
            out[k] = gen.normal(0.0, 10.0, self.full_shape[1])[xs]
        return out + np.float32(self.info.bias - 500.0)


@lru_cache(maxsize=6)
def detector_properties(detector: str, region: str = "FULL",
                        seed: int = REFERENCE_SEED) -> DetectorProperties:
    """The (cached) :class:`DetectorProperties` of ``detector`` over the subarray ``region``."""
    return DetectorProperties(detector.upper(), region.upper(), seed)
