"""The one ramp simulator: up-the-ramp detector reads with a known truth.

Every test, benchmark and the demo that needs raw ramps builds them here, so
that ramp fitting, jump detection and the detector steps are all checked
against the same physics.

Time model
----------
The detector is reset at ``t = 0``; frame (read) number ``k`` (1-based) is
read at ``t_k = k * frame_time``.  A group (JWST) or resultant (Roman) is the
mean of the reads listed for it in ``read_pattern``.  Frames that no group
lists (group gaps, dropped frames) still integrate charge; they are just not
read out.  This is the convention of the established pipelines: the first
group of a uniform JWST readout sits at ``((nframes + 1) / 2 + nskip) *
frame_time`` and a Roman resultant at ``frame_time * mean(reads)``.

Noise model
-----------
* Charge: the electrons that arrive between two reads are Poisson with mean
  ``lam = rate * dt``.  When a single frame collects fewer than
  :data:`POISSON_GAUSSIAN_MIN` (100 e-) on average the draws are exact: from
  a per-pixel table of the single-frame distribution (a Walker alias table
  below 15 e-, a guided cumulative table above; sums of such draws for gaps
  of up to 16 frames), otherwise by CDF inversion below
  :data:`POISSON_INVERSION_MAX` (10 e-) or Hormann's transformed rejection
  (PTRS).  From 100 e- per frame on, the Gaussian approximation is used
  (its neglected skewness is ``lam**-0.5`` <= 10 % per frame and smaller
  for the sums that make a group): the increments inside a group enter a
  group only through their sum and their read-weighted sum, which are drawn
  as two correlated normals (reads near saturation are drawn one by one).
* Read noise: ``read_noise`` is the Gaussian noise of one single-frame read
  in DN.  A group of ``n`` reads therefore carries ``read_noise / sqrt(n)``.
  In terms of the READNOISE reference files:

  - JWST READNOISE holds the CDS noise (the noise of the difference of two
    single-frame reads), so ``READNOISE = sqrt(2) * read_noise``; JWST ramp
    fitting and jump detection use ``READNOISE / sqrt(2 * nframes)`` per
    group.
  - Roman READNOISE holds the single-read noise: ``READNOISE = read_noise``.

Random numbers come from one xoshiro256+ stream per (integration, row),
seeded from ``seed`` by splitmix64, so the result is the same whatever the
number of threads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numba import njit, prange

__all__ = [
    "POISSON_INVERSION_MAX",
    "POISSON_GAUSSIAN_MIN",
    "RampSimulation",
    "jwst_read_pattern",
    "read_pattern_times",
    "random_cosmic_rays",
    "simulate_ramps",
]

#: Expected counts below this are drawn by exact CDF inversion.
POISSON_INVERSION_MAX = 10.0
#: Expected counts at or above this are drawn from the Gaussian approximation.
POISSON_GAUSSIAN_MIN = 100.0
# Large enough for the tabulated CDF of any mean below POISSON_GAUSSIAN_MIN.
_POISSON_TABLE_SIZE = 2048
# Single-frame means below this use alias tables, above guide tables.
_ALIAS_MAX = 15.0

_COSMIC_RAY_DTYPE = np.dtype(
    [
        ("integration", "<i4"),
        ("frame", "<i4"),
        ("y", "<i4"),
        ("x", "<i4"),
        ("electrons", "<f8"),
        ("group", "<i4"),
    ]
)


# ---------------------------------------------------------------------------
# Read patterns
# ---------------------------------------------------------------------------
def jwst_read_pattern(nframes: int, groupgap: int, ngroups: int, nskip: int = 0) -> list[list[int]]:
    """1-based frame numbers averaged into each group of a uniform JWST readout.

    Parameters
    ----------
    nframes : int
        Frames averaged per group (NFRAMES).
    groupgap : int
        Frames dropped between groups (GROUPGAP).
    ngroups : int
        Groups per integration (NGROUPS).
    nskip : int, optional
        Frames dropped at the start of the integration (DRPFRMS1).

    Returns
    -------
    list of list of int
        ``read_pattern[g]`` are the frames of group ``g``.
    """
    for name, value, minimum in (("nframes", nframes, 1), ("ngroups", ngroups, 1),
                                 ("groupgap", groupgap, 0), ("nskip", nskip, 0)):
        if int(value) != value or value < minimum:
            raise ValueError(f"jwst_read_pattern: {name} must be an integer >= {minimum}, got {value!r}")
    stride = nframes + groupgap
    return [[nskip + g * stride + j + 1 for j in range(nframes)] for g in range(ngroups)]


def read_pattern_times(read_pattern, frame_time: float) -> np.ndarray:
    """Mean time (s after reset) of each group or resultant of ``read_pattern``."""
    return np.array([frame_time * np.mean(reads) for reads in read_pattern], dtype=np.float64)


def _validate_read_pattern(read_pattern) -> tuple[np.ndarray, np.ndarray]:
    """Flatten a read pattern into (frames, group_start) arrays, checking it."""
    if read_pattern is None or len(read_pattern) == 0:
        raise ValueError("read_pattern must be a non-empty list of lists of 1-based frame numbers")
    frames = []
    starts = [0]
    previous = 0
    for g, reads in enumerate(read_pattern):
        reads = [int(r) for r in reads]
        if len(reads) == 0:
            raise ValueError(f"read_pattern group {g} lists no frames")
        for r in reads:
            if r <= previous:
                raise ValueError(
                    "read_pattern frames must be 1-based and strictly increasing across groups; "
                    f"group {g} has frame {r} after frame {previous}"
                )
            previous = r
        frames.extend(reads)
        starts.append(len(frames))
    return np.asarray(frames, dtype=np.int64), np.asarray(starts, dtype=np.int64)


# ---------------------------------------------------------------------------
# Random numbers (per-row xoshiro256+ streams)
# ---------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _splitmix64(x):
    x = (x + np.uint64(0x9E3779B97F4A7C15)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    z = x
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x, z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True)
def _seed_stream(state, seed, stream):
    """Fill the 4-word xoshiro state for ``stream`` of ``seed``."""
    x = np.uint64(seed) * np.uint64(0x632BE59BD9B4E019) + np.uint64(stream)
    for i in range(4):
        x, z = _splitmix64(x)
        state[i] = z
    if state[0] == 0 and state[1] == 0 and state[2] == 0 and state[3] == 0:
        state[0] = np.uint64(1)


@njit(cache=True, nogil=True)
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True, nogil=True)
def _uniform(state):
    """Uniform double in [0, 1) from xoshiro256+."""
    result = state[0] + state[3]
    t = state[1] << np.uint64(17)
    state[2] ^= state[0]
    state[3] ^= state[1]
    state[1] ^= state[2]
    state[0] ^= state[3]
    state[2] ^= t
    state[3] = _rotl(state[3], 45)
    return float(result >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, nogil=True, inline="always")
def _normal(state, spare):
    """Standard normal deviate (Marsaglia polar method; the pair's second is kept in ``spare``)."""
    if spare[0] != 0.0:
        spare[0] = 0.0
        return spare[1]
    while True:
        u = 2.0 * _uniform(state) - 1.0
        v = 2.0 * _uniform(state) - 1.0
        s = u * u + v * v
        if 0.0 < s < 1.0:
            factor = math.sqrt(-2.0 * math.log(s) / s)
            spare[0] = 1.0
            spare[1] = v * factor
            return u * factor


@njit(cache=True, nogil=True)
def _poisson(state, spare, lam, exp_minus_lam):
    """Poisson deviate with mean ``lam`` (``exp_minus_lam = exp(-lam)``)."""
    if lam <= 0.0:
        return 0.0
    if lam < POISSON_INVERSION_MAX:
        # CDF inversion: walk the cumulative distribution with one uniform.
        u = _uniform(state)
        p = exp_minus_lam
        cdf = p
        k = 0
        while u > cdf and k < 200:
            k += 1
            p *= lam / k
            cdf += p
        return float(k)
    if lam < POISSON_GAUSSIAN_MIN:
        # Hormann (1993) transformed rejection with squeeze (PTRS).
        slam = math.sqrt(lam)
        loglam = math.log(lam)
        b = 0.931 + 2.53 * slam
        a = -0.059 + 0.02483 * b
        invalpha = 1.1239 + 1.1328 / (b - 3.4)
        vr = 0.9277 - 3.6224 / (b - 2.0)
        while True:
            u = _uniform(state) - 0.5
            v = _uniform(state)
            us = 0.5 - abs(u)
            k = math.floor((2.0 * a / us + b) * u + lam + 0.43)
            if us >= 0.07 and v <= vr:
                return k
            if k < 0.0 or (us < 0.013 and v > us):
                continue
            if (math.log(v) + math.log(invalpha) - math.log(a / (us * us) + b)) <= (
                -lam + k * loglam - math.lgamma(k + 1.0)
            ):
                return k
    k = math.floor(lam + math.sqrt(lam) * _normal(state, spare) + 0.5)
    return k if k > 0.0 else 0.0


# ---------------------------------------------------------------------------
# Kernel
# ---------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _linearity_forward(coeffs, y, x, raw_signal):
    """The LINEARITY correction polynomial: linear = sum_i c_i raw^i."""
    ncoeffs = coeffs.shape[0]
    value = 0.0
    for i in range(ncoeffs - 1, -1, -1):
        value = value * raw_signal + coeffs[i, y, x]
    return value


@njit(cache=True, nogil=True)
def _linearity_inverse(coeffs, y, x, linear_signal, guess):
    """Raw signal whose linearity correction is ``linear_signal`` (Newton)."""
    ncoeffs = coeffs.shape[0]
    raw = guess
    for _ in range(50):
        value = 0.0
        slope = 0.0
        for i in range(ncoeffs - 1, -1, -1):
            slope = slope * raw + value
            value = value * raw + coeffs[i, y, x]
        if slope == 0.0 or not math.isfinite(slope):
            return raw
        step = (value - linear_signal) / slope
        raw -= step
        if abs(step) <= 1e-9 * (1.0 + abs(raw)):
            break
    return raw


@njit(cache=True, nogil=True)
def _build_poisson_alias(prob, alias, small, large, lam):
    """Walker/Vose alias table of the Poisson distribution of mean ``lam``.

    The support is cut where the probabilities fall below 1e-18 of the
    mode's, so draws are exact to double precision.  Returns ``(k_lo, n)``:
    table entry ``i`` stands for the count ``k_lo + i``.
    """
    mode = math.floor(lam)
    p_mode = math.exp(-lam + mode * math.log(lam) - math.lgamma(mode + 1.0))
    tiny = 1e-18 * p_mode
    k_lo = mode
    p = p_mode
    while k_lo > 0 and p > tiny:
        p *= k_lo / lam
        k_lo -= 1
    n = 0
    total = 0.0
    k = k_lo
    while n < prob.shape[0]:
        prob[n] = p
        total += p
        n += 1
        k += 1
        if k > mode and p < tiny:
            break
        p *= lam / k
    # Vose's method: pair each under-full column with an over-full one.
    nsmall = 0
    nlarge = 0
    scale = n / total
    for i in range(n):
        prob[i] *= scale
        alias[i] = i
        if prob[i] < 1.0:
            small[nsmall] = i
            nsmall += 1
        else:
            large[nlarge] = i
            nlarge += 1
    while nsmall > 0 and nlarge > 0:
        nsmall -= 1
        lo = small[nsmall]
        nlarge -= 1
        hi = large[nlarge]
        alias[lo] = hi
        prob[hi] = (prob[hi] + prob[lo]) - 1.0
        if prob[hi] < 1.0:
            small[nsmall] = hi
            nsmall += 1
        else:
            large[nlarge] = hi
            nlarge += 1
    for j in range(nlarge):
        prob[large[j]] = 1.0
    for j in range(nsmall):
        prob[small[j]] = 1.0
    return int(k_lo), n


@njit(cache=True, nogil=True, inline="always")
def _poisson_from_alias(state, prob, alias, k_lo, n):
    """Exact Poisson deviate from an alias table (one uniform, no search)."""
    x = _uniform(state) * n
    i = int(x)
    k = i if (x - i) < prob[i] else alias[i]
    return float(k_lo + k)


@njit(cache=True, nogil=True)
def _build_poisson_guide(cdf, guide, lam):
    """Cumulative Poisson table with a guide table (Chen & Asau) for mean ``lam``.

    Cheaper to build than an alias table for wide distributions.  The table
    starts 9.5 sigma below the mean and stops where the probabilities fall
    below 1e-18 of the mode's.  Returns ``(k_lo, n, total)``.
    """
    mode = math.floor(lam)
    log_lam = math.log(lam)
    tiny = 1e-18 * math.exp(-lam + mode * log_lam - math.lgamma(mode + 1.0))
    k_lo = max(0.0, math.floor(lam - 9.5 * math.sqrt(lam) - 1.0))
    p = math.exp(-lam + k_lo * log_lam - math.lgamma(k_lo + 1.0))
    n = 0
    total = 0.0
    k = k_lo
    while n < cdf.shape[0]:
        total += p
        cdf[n] = total
        n += 1
        k += 1.0
        if k > mode and p < tiny:
            break
        p *= lam / k
    step = total / n
    i = 0
    for j in range(n):
        target = j * step
        while cdf[i] <= target:
            i += 1
        guide[j] = i
    return int(k_lo), n, total


@njit(cache=True, nogil=True, inline="always")
def _poisson_from_guide(state, cdf, guide, k_lo, n, total):
    """Exact Poisson deviate by guided inversion of a tabulated CDF."""
    u = _uniform(state)
    i = guide[int(u * n)]
    x = u * total
    while cdf[i] <= x:
        i += 1
    return float(k_lo + i)


@njit(cache=True, nogil=True, inline="always")
def _draw_frames(state, spare, nframes, frame_lam, poisson, table, prob, alias, k_lo, ntable, total):
    """Electrons collected over ``nframes`` frames of mean ``frame_lam`` each.

    ``table`` is 1 for the pixel's alias table (``prob``, ``alias``), 2 for
    its guide table (``prob`` holds the CDF, ``alias`` the guide), 0 for none.
    """
    if nframes <= 0:
        return 0.0
    if not poisson:
        return frame_lam * nframes
    if table != 0 and nframes <= 16:
        # A sum of single-frame draws from the pixel's table: cheaper than one general draw.
        charge = 0.0
        for _ in range(nframes):
            if table == 1:
                charge += _poisson_from_alias(state, prob, alias, k_lo, ntable)
            else:
                charge += _poisson_from_guide(state, prob, alias, k_lo, ntable, total)
        return charge
    lam = frame_lam * nframes
    return _poisson(state, spare, lam, math.exp(-lam) if lam < POISSON_INVERSION_MAX else 0.0)


@njit(cache=True, nogil=True, parallel=True)
def _simulate_kernel(
    out,
    saturated_group,
    rate,
    gain,
    read_noise,
    bias,
    coeffs,
    use_nonlinearity,
    per_read,
    saturation,
    use_saturation,
    frames,
    group_start,
    group_moments,
    frame_time,
    cr_row_offsets,
    cr_x,
    cr_frame,
    cr_electrons,
    poisson,
    charge_variance,
    seed,
):
    nints, ngroups, ny, nx = out.shape
    for job in prange(nints * ny):
        integ = job // ny
        y = job - integ * ny
        state = np.empty(4, dtype=np.uint64)
        _seed_stream(state, seed, job)
        spare = np.zeros(2, dtype=np.float64)
        prob = np.empty(_POISSON_TABLE_SIZE, dtype=np.float64)
        alias = np.empty(_POISSON_TABLE_SIZE, dtype=np.int32)
        small = np.empty(_POISSON_TABLE_SIZE, dtype=np.int32)
        large = np.empty(_POISSON_TABLE_SIZE, dtype=np.int32)
        cr_pos = cr_row_offsets[job]
        cr_end = cr_row_offsets[job + 1]
        for x in range(nx):
            pixel_rate = rate[y, x]
            # (1, 1) planes stand for scalars.
            pixel_gain = gain[0, 0] if gain.size == 1 else gain[y, x]
            pixel_bias = bias[0, 0] if bias.size == 1 else bias[y, x]
            sigma_read = read_noise[0, 0] if read_noise.size == 1 else read_noise[y, x]
            frame_lam = pixel_rate * frame_time
            # Charge of variance f * mean (f < 1: IPC-coupled charge) is drawn as
            # Poisson counts of size f: draw_lam = frame_lam / f counts per frame.
            fano = 1.0
            if poisson:
                fano = charge_variance[0, 0] if charge_variance.size == 1 else charge_variance[y, x]
            draw_lam = frame_lam / fano
            # One table per pixel: every single-frame interval has the same mean.
            # Narrow distributions get an alias table (fastest draws), wide ones
            # a guide table (cheaper to build).
            total = 0.0
            if not poisson or not (0.0 < draw_lam < POISSON_GAUSSIAN_MIN):
                table, k_lo, ntable = 0, 0, 0
            elif draw_lam < _ALIAS_MAX:
                table = 1
                k_lo, ntable = _build_poisson_alias(prob, alias, small, large, draw_lam)
            else:
                table = 2
                k_lo, ntable, total = _build_poisson_guide(prob, alias, draw_lam)
            if use_saturation:
                raw_sat = saturation[0, 0] if saturation.size == 1 else saturation[y, x]
                if use_nonlinearity:
                    linear_sat = _linearity_forward(coeffs, y, x, raw_sat - pixel_bias)
                else:
                    linear_sat = raw_sat - pixel_bias
            else:
                raw_sat = np.inf
                linear_sat = np.inf
            gaussian = poisson and draw_lam >= POISSON_GAUSSIAN_MIN
            charge = 0.0
            previous_frame = 0
            first_saturated = -1
            raw_guess = 0.0
            for g in range(ngroups):
                r0 = group_start[g]
                r1 = group_start[g + 1]
                nreads = r1 - r0
                first = frames[r0]
                last = frames[r1 - 1]
                # Charge collected up to the group's first read.
                charge += fano * _draw_frames(state, spare, first - previous_frame, draw_lam, poisson, table, prob,
                                              alias, k_lo, ntable, total)
                while cr_pos < cr_end and cr_x[cr_pos] == x and cr_frame[cr_pos] <= first:
                    charge += cr_electrons[cr_pos]
                    cr_pos += 1
                previous_frame = last
                d_sum = group_moments[g, 0]
                # Per-read non-linearity needs every read: never the grouped draw then.
                grouped = gaussian and d_sum > 0.0 and not per_read
                if grouped and use_saturation:
                    # Reads near saturation are drawn one by one so that they clip.
                    reach = charge + frame_lam * d_sum + 8.0 * math.sqrt(frame_lam * d_sum)
                    grouped = reach / pixel_gain < linear_sat
                if grouped:
                    # Gaussian regime: the within-group increments enter only through their
                    # sum S and weighted sum W (weights: share of the group's reads after
                    # each increment); draw them as two correlated normals.
                    a_sum = group_moments[g, 1]
                    b_sum = group_moments[g, 2]
                    z1 = _normal(state, spare)
                    z2 = _normal(state, spare)
                    total = frame_lam * d_sum + math.sqrt(fano * frame_lam * d_sum) * z1
                    weighted = (frame_lam * a_sum + a_sum / d_sum * (total - frame_lam * d_sum)
                                + math.sqrt(max(fano * frame_lam * (b_sum - a_sum * a_sum / d_sum), 0.0)) * z2)
                    while cr_pos < cr_end and cr_x[cr_pos] == x and cr_frame[cr_pos] <= last:
                        later = 0
                        for r in range(r0, r1):
                            if frames[r] >= cr_frame[cr_pos]:
                                later += 1
                        total += cr_electrons[cr_pos]
                        weighted += cr_electrons[cr_pos] * later / nreads
                        cr_pos += 1
                    linear_mean = (charge + weighted) / pixel_gain
                    charge += total
                    nclipped = 0
                else:
                    linear = charge / pixel_gain
                    nclipped = 0
                    if linear >= linear_sat:
                        linear = linear_sat
                        nclipped = 1
                    if per_read:
                        # Each read is non-linear; the resultant averages the raw reads.
                        raw_guess = _linearity_inverse(coeffs, y, x, linear, raw_guess)
                        linear = raw_guess
                    linear_sum = linear
                    frame = first
                    for r in range(r0 + 1, r1):
                        charge += fano * _draw_frames(state, spare, frames[r] - frame, draw_lam, poisson, table,
                                                      prob, alias, k_lo, ntable, total)
                        frame = frames[r]
                        # Cosmic rays arrive just before the read of their frame.
                        while cr_pos < cr_end and cr_x[cr_pos] == x and cr_frame[cr_pos] <= frame:
                            charge += cr_electrons[cr_pos]
                            cr_pos += 1
                        linear = charge / pixel_gain
                        if linear >= linear_sat:
                            linear = linear_sat
                            nclipped += 1
                        if per_read:
                            raw_guess = _linearity_inverse(coeffs, y, x, linear, raw_guess)
                            linear = raw_guess
                        linear_sum += linear
                    linear_mean = linear_sum / nreads
                if nclipped > 0 and first_saturated < 0:
                    first_saturated = g
                if nclipped == nreads:
                    out[integ, g, y, x] = raw_sat
                    continue
                if per_read:
                    raw = pixel_bias + linear_mean
                elif use_nonlinearity:
                    raw_guess = _linearity_inverse(coeffs, y, x, linear_mean, raw_guess)
                    raw = pixel_bias + raw_guess
                else:
                    raw = pixel_bias + linear_mean
                if sigma_read > 0.0:
                    raw += sigma_read / math.sqrt(nreads) * _normal(state, spare)
                if raw > raw_sat:
                    raw = raw_sat
                out[integ, g, y, x] = raw
            # Charge beyond the last read never reaches the data; skip its CRs.
            while cr_pos < cr_end and cr_x[cr_pos] == x:
                cr_pos += 1
            saturated_group[integ, y, x] = first_saturated


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------
@dataclass
class RampSimulation:
    """Simulated ramps and the truth they were made from.

    Attributes
    ----------
    data : ndarray of float32, (nints, ngroups, ny, nx)
        Raw group/resultant values in DN (bias + signal + noise), not
        quantised.
    saturated_group : ndarray of int16, (nints, ny, nx)
        Index of the first group containing a read that reached
        ``saturation`` (its value is biased low), or -1.  Groups whose reads
        are all saturated hold exactly the saturation level.
    cosmic_rays : structured ndarray
        One row per input cosmic ray: ``integration`` (0-based), ``frame``
        (1-based), ``y``, ``x``, ``electrons`` and ``group``: the 0-based
        index of the first group whose value contains the charge (the group
        a jump detector should flag), -1 if it arrives after the last read.
    rate, gain, read_noise, bias : ndarray, (ny, nx)
        The inputs as (ny, nx) float64 arrays (scalars as read-only broadcast
        views).
    nonlinearity, saturation : ndarray or None
        The inputs.
    frame_time : float
    read_pattern : list of list of int
    nints : int
    poisson : bool
    seed : int
    """

    data: np.ndarray
    saturated_group: np.ndarray
    cosmic_rays: np.ndarray
    rate: np.ndarray
    gain: np.ndarray
    read_noise: np.ndarray
    bias: np.ndarray
    nonlinearity: np.ndarray | None
    saturation: np.ndarray | None
    frame_time: float
    read_pattern: list = field(default_factory=list)
    nints: int = 1
    poisson: bool = True
    seed: int = 0

    @property
    def group_times(self) -> np.ndarray:
        """Mean time (s after reset) of each group or resultant."""
        return read_pattern_times(self.read_pattern, self.frame_time)

    @property
    def slope(self) -> np.ndarray:
        """True count rate in DN/s (``rate / gain``), what ramp fitting should find."""
        return self.rate / self.gain


def _as_plane(value, shape, name, dtype=np.float64):
    """A (ny, nx) plane, or a (1, 1) plane for a scalar (the kernel reads it as one)."""
    arr = np.asarray(value, dtype=dtype)
    if arr.ndim == 0 or arr.shape == (1, 1) != shape:
        return np.full((1, 1), arr.reshape(-1)[0], dtype=dtype)
    if arr.shape != shape:
        raise ValueError(f"simulate_ramps: {name} must be a scalar or have shape {shape}, got {arr.shape}")
    return np.ascontiguousarray(arr)


def _group_moments(frames, group_start):
    """Per group: frames spanned after its first read (D), and the sums of the
    increments' weights (A) and squared weights (B), each weighted by the frames
    of its increment; the weight of an increment is the share of the group's
    reads that see it."""
    ngroups = len(group_start) - 1
    moments = np.zeros((ngroups, 3), dtype=np.float64)
    for g in range(ngroups):
        reads = frames[group_start[g]:group_start[g + 1]]
        n = len(reads)
        for j in range(1, n):
            span = reads[j] - reads[j - 1]
            weight = (n - j) / n
            moments[g] += (span, weight * span, weight * weight * span)
    return moments


def _prepare_cosmic_rays(cosmic_rays, nints, ny, nx, frames, group_start):
    """Sort cosmic rays by (integration, y, x, frame) and index them by row."""
    if cosmic_rays is None or len(cosmic_rays) == 0:
        table = np.zeros(0, dtype=_COSMIC_RAY_DTYPE)
    else:
        if isinstance(cosmic_rays, np.ndarray) and cosmic_rays.dtype.names:
            cols = [np.asarray(cosmic_rays[n]) for n in ("integration", "frame", "y", "x", "electrons")]
        else:
            arr = np.asarray(cosmic_rays, dtype=np.float64)
            if arr.ndim != 2 or arr.shape[1] != 5:
                raise ValueError(
                    "simulate_ramps: cosmic_rays must be an (N, 5) array of "
                    f"(integration, frame, y, x, electrons), got shape {arr.shape}"
                )
            cols = [arr[:, i] for i in range(5)]
        table = np.zeros(len(cols[0]), dtype=_COSMIC_RAY_DTYPE)
        for name, col in zip(("integration", "frame", "y", "x", "electrons"), cols):
            table[name] = col
        for name, upper in (("integration", nints), ("y", ny), ("x", nx)):
            bad = (table[name] < 0) | (table[name] >= upper)
            if np.any(bad):
                raise ValueError(
                    f"simulate_ramps: cosmic_rays {name} must lie in [0, {upper}); "
                    f"got {table[name][bad][0]}"
                )
        if np.any(table["frame"] < 1):
            raise ValueError("simulate_ramps: cosmic_rays frame numbers are 1-based (>= 1)")
    # The group whose reads first include the charge: the first read frame >= frame.
    first_read = frames[group_start[:-1]]
    last_read = frames[group_start[1:] - 1]
    group = np.searchsorted(last_read, table["frame"], side="left")
    group = np.where(group < len(first_read), group, -1)
    table["group"] = group
    order = np.lexsort((table["frame"], table["x"], table["y"], table["integration"]))
    table = table[order]
    row_index = table["integration"].astype(np.int64) * ny + table["y"]
    offsets = np.searchsorted(row_index, np.arange(nints * ny + 1), side="left").astype(np.int64)
    return table, offsets


def simulate_ramps(
    rate,
    *,
    frame_time,
    read_pattern,
    nints=1,
    gain=1.0,
    read_noise=0.0,
    bias=None,
    nonlinearity=None,
    saturation=None,
    cosmic_rays=None,
    poisson=True,
    seed=0,
    nonlinearity_per_read=False,
    charge_variance=None,
) -> RampSimulation:
    """Simulate up-the-ramp reads of a detector with a known truth.

    Parameters
    ----------
    rate : array_like, (ny, nx)
        Charge rate in electrons/s (scene + dark current, IPC already applied
        by the caller).  Must be >= 0 when ``poisson`` is True.
    frame_time : float
        Time between frames (reads) in seconds (TFRAME / Roman FRAME_TIME).
    read_pattern : list of list of int
        1-based frame numbers averaged into each group/resultant, strictly
        increasing (:func:`jwst_read_pattern` for JWST, the MA table for
        Roman).
    nints : int, optional
        Number of integrations (each starts from a reset).
    gain : float or array_like (ny, nx), optional
        e-/DN.
    read_noise : float or array_like (ny, nx), optional
        Gaussian noise of one single-frame read in DN.  JWST READNOISE
        (CDS) = ``sqrt(2) * read_noise``; Roman READNOISE = ``read_noise``.
    bias : array_like (ny, nx), optional
        DN added to every read.
    nonlinearity : array_like (ncoeffs, ny, nx), optional
        LINEARITY reference coefficients ``c_i`` of the correction
        ``linear = sum_i c_i * raw**i`` (``raw`` bias-subtracted DN).  Each
        group's mean linear signal is mapped through the exact (Newton)
        inverse, so the linearity correction returns the linear signal.
    saturation : array_like (ny, nx), optional
        Raw level (bias + signal, DN) at which reads clip.
    cosmic_rays : array_like (N, 5) or structured array, optional
        Rows of ``(integration, frame, y, x, electrons)``; ``integration`` is
        0-based, ``frame`` is the 1-based frame before whose read the charge
        arrives.
    poisson : bool, optional
        Draw Poisson charge (True) or accumulate the expectation exactly.
    seed : int, optional
        Seed; the same seed gives the same ramps whatever the thread count.
    nonlinearity_per_read : bool, optional
        Apply the non-linearity to every read and average the raw reads
        into the group (the physics of multi-read Roman resultants, what a
        frame-level linearity correction models) instead of to the group's
        mean linear signal (default, exact for the classic correction).
        Every read is then drawn on its own.
    charge_variance : float or array_like (ny, nx), optional
        Variance of the collected charge over its mean (default 1: Poisson).
        Charge spread by inter-pixel capacitance is a sum of independent
        Poisson sources weighted by the kernel ``k``: mean ``sum(k r)``,
        variance ``sum(k**2 r)``, so a caller applying IPC to ``rate`` passes
        that ratio (< 1).  The charge is drawn as Poisson counts of that
        size, which keeps mean and variance exact.

    Returns
    -------
    RampSimulation
    """
    rate = np.asarray(rate, dtype=np.float64)
    if rate.ndim != 2:
        raise ValueError(f"simulate_ramps: rate must be a 2-D (ny, nx) array, got shape {rate.shape}")
    shape = rate.shape
    ny, nx = shape
    if not np.all(np.isfinite(rate)):
        raise ValueError("simulate_ramps: rate contains NaN or infinite values")
    if poisson and np.any(rate < 0):
        raise ValueError("simulate_ramps: rate must be >= 0 electrons/s when poisson=True")
    if not (frame_time > 0):
        raise ValueError(f"simulate_ramps: frame_time must be > 0 s, got {frame_time!r}")
    nints = int(nints)
    if nints < 1:
        raise ValueError(f"simulate_ramps: nints must be >= 1, got {nints}")
    frames, group_start = _validate_read_pattern(read_pattern)
    ngroups = len(group_start) - 1

    gain2d = _as_plane(gain, shape, "gain")
    if np.any(~np.isfinite(gain2d) | (gain2d <= 0)):
        raise ValueError("simulate_ramps: gain must be finite and > 0 e-/DN everywhere")
    read_noise2d = _as_plane(read_noise, shape, "read_noise")
    if np.any(~np.isfinite(read_noise2d) | (read_noise2d < 0)):
        raise ValueError("simulate_ramps: read_noise must be finite and >= 0 DN")
    bias2d = _as_plane(0.0 if bias is None else bias, shape, "bias")
    charge_variance2d = _as_plane(1.0 if charge_variance is None else charge_variance, shape, "charge_variance")
    if np.any(~np.isfinite(charge_variance2d) | (charge_variance2d <= 0)):
        raise ValueError("simulate_ramps: charge_variance must be finite and > 0 everywhere")

    if nonlinearity is not None:
        coeffs = np.ascontiguousarray(np.asarray(nonlinearity, dtype=np.float64))
        if coeffs.ndim != 3 or coeffs.shape[1:] != shape or coeffs.shape[0] < 2:
            raise ValueError(
                f"simulate_ramps: nonlinearity must have shape (ncoeffs >= 2, {ny}, {nx}), got {coeffs.shape}"
            )
        if not np.all(np.isfinite(coeffs)):
            raise ValueError("simulate_ramps: nonlinearity coefficients must be finite")
    else:
        coeffs = np.zeros((1, 1, 1), dtype=np.float64)
    if saturation is not None:
        saturation2d = _as_plane(saturation, shape, "saturation")
    else:
        saturation2d = np.zeros((1, 1), dtype=np.float64)

    table, offsets = _prepare_cosmic_rays(cosmic_rays, nints, ny, nx, frames, group_start)
    group_moments = _group_moments(frames, group_start)

    data = np.empty((nints, ngroups, ny, nx), dtype=np.float32)
    saturated_group = np.empty((nints, ny, nx), dtype=np.int16)
    _simulate_kernel(
        data,
        saturated_group,
        rate,
        gain2d,
        read_noise2d,
        bias2d,
        coeffs,
        nonlinearity is not None,
        bool(nonlinearity_per_read) and nonlinearity is not None,
        saturation2d,
        saturation is not None,
        frames,
        group_start,
        group_moments,
        float(frame_time),
        offsets,
        table["x"].astype(np.int64),
        table["frame"].astype(np.int64),
        table["electrons"].astype(np.float64),
        bool(poisson),
        charge_variance2d,
        np.uint64(int(seed) & 0xFFFFFFFFFFFFFFFF),
    )
    def full(plane):
        return plane if plane.shape == shape else np.broadcast_to(plane[0, 0], shape)

    return RampSimulation(
        data=data,
        saturated_group=saturated_group,
        cosmic_rays=table,
        rate=rate,
        gain=full(gain2d),
        read_noise=full(read_noise2d),
        bias=full(bias2d),
        nonlinearity=None if nonlinearity is None else coeffs,
        saturation=None if saturation is None else full(saturation2d),
        frame_time=float(frame_time),
        read_pattern=[list(map(int, reads)) for reads in read_pattern],
        nints=nints,
        poisson=bool(poisson),
        seed=int(seed),
    )


def random_cosmic_rays(
    shape,
    *,
    nints,
    last_frame,
    hits_per_pixel,
    electrons_min=1.0e3,
    electrons_max=1.0e5,
    seed=0,
) -> np.ndarray:
    """Draw random cosmic-ray hits for :func:`simulate_ramps`.

    Parameters
    ----------
    shape : (ny, nx)
        Detector shape.
    nints : int
        Number of integrations.
    last_frame : int
        Hits land uniformly on frames ``2 .. last_frame`` (1-based).
    hits_per_pixel : float
        Expected hits per pixel per integration.
    electrons_min, electrons_max : float
        Charge is log-uniform between these.
    seed : int

    Returns
    -------
    ndarray (N, 5)
        Rows of ``(integration, frame, y, x, electrons)``.
    """
    rng = np.random.default_rng(seed)
    ny, nx = shape
    n = rng.poisson(hits_per_pixel * ny * nx * nints)
    out = np.empty((n, 5), dtype=np.float64)
    out[:, 0] = rng.integers(0, nints, n)
    out[:, 1] = rng.integers(2, max(int(last_frame), 2) + 1, n)
    out[:, 2] = rng.integers(0, ny, n)
    out[:, 3] = rng.integers(0, nx, n)
    out[:, 4] = np.exp(rng.uniform(np.log(electrons_min), np.log(electrons_max), n))
    return out
