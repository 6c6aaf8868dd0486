"""Roman WFI reference-pixel correction (the IRRC scheme romancal applies).

The 4096 detector columns are read by 32 channels of 128 columns; a 33rd
output (amp33) reads reference pixels in step with them.  Laid out in read
order (odd channels reversed) with 12 idle columns after every row, each
channel's frame becomes a time series of ``L = rows * 140`` samples.  For
every frame (resultant):

1. (``remove_offset``) each pixel's mean over the frames is removed (and put
   back at the end);
2. (``remove_trends``) per channel, a straight line in time fitted to the
   non-zero samples of the first and last 4 rows (reference rows) is
   subtracted from the channel's non-zero samples;
3. (``cosine_interpolate``) zero samples of amp33 (idle columns, masked
   pixels) are filled with a sine-weighted running mean of their neighbours;
   (``fft_interpolate``) the idle columns of amp33 are refined by three
   apodised Fourier iterations;
4. in Fourier space, channel ``c`` gets the correction
   ``irfft(2 nfreq (gamma_c L(f) + zeta_c R(f) + alpha_c A(f)))`` from the
   left reference columns (``L``: the first 4 read columns of channel 0,
   x35), the right ones (``R``: first 4 of channel 31, x35) and amp33
   (``A``), each transformed as ``rfft(x / L)``; the REFPIX reference holds
   ``gamma``, ``zeta`` and ``alpha`` (32 channels x ``L/2 + 1`` frequencies).

Pixels flagged BAD_REF_PIXEL are zeroed first.  Computations follow
romancal's dtypes (float32 data, complex64 transforms, complex128
weights), frame by frame and four channels at a time, so memory stays at
the ramp plus a few frames' worth instead of several copies of the ramp.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numba import njit, prange

__all__ = ["REF", "PAD", "CHANNEL_WIDTH", "RefpixResult", "correct_refpix", "read_order_time"]

REF = 4
PAD = 12
CHANNEL_WIDTH = 128


class RefpixResult:
    """What :func:`correct_refpix` returns besides the corrected ramp (changed in place)."""

    __slots__ = ("amp33", "trend_slope", "trend_intercept")

    def __init__(self, amp33, trend_slope, trend_intercept):
        self.amp33 = amp33
        self.trend_slope = trend_slope
        self.trend_intercept = trend_intercept


def read_order_time(rows: int, channel: int) -> np.ndarray:
    """Centred read time index (samples) of every pixel (rows, 128) of a channel, standard column order."""
    return _read_order_time(rows, channel % 2).copy()


@lru_cache(maxsize=8)
def _read_order_time(rows, parity):
    t = _time_grid(rows, parity)
    t.setflags(write=False)
    return t


def _time_grid(rows, channel):
    columns = CHANNEL_WIDTH + PAD
    length = rows * columns
    k = np.arange(CHANNEL_WIDTH)
    position = k if channel % 2 == 0 else CHANNEL_WIDTH - 1 - k
    return (np.arange(rows)[:, None] * columns + position[None, :]) - 0.5 * (length - 1)


def _read_order(block, channel):
    """(..., rows, 128) standard order -> read order of ``channel``."""
    return block if channel % 2 == 0 else block[..., ::-1]


@njit(cache=True, nogil=True, parallel=True)
def _apply_channels(data, c0, offset, t_even, t_odd, slope, intercept, corr, use_trend):
    """data[f, y, x] -= trend (where the offset-free value is non-zero) + correction, channels c0, c0 + 1, ...

    ``corr`` holds the corrections of the channels in read order, (channels,
    frames, rows, 128 + idle columns): column ``k`` of an odd channel is read
    ``127 - k``; ``t_even`` / ``t_odd`` are the read times of the two orders,
    ``slope`` / ``intercept`` the trends (frames, channels).
    """
    nchan, nres, ny, _ = corr.shape
    width = t_even.shape[1]
    for y in prange(ny):
        for f in range(nres):
            for j in range(nchan):
                channel = c0 + j
                x0 = channel * width
                odd = channel % 2 == 1
                times = t_odd[y] if odd else t_even[y]
                off = offset[y, x0:x0 + width]
                row = data[f, y, x0:x0 + width]
                # the channel's columns in read order
                c = corr[j, f, y, width - 1::-1] if odd else corr[j, f, y, :width]
                m = slope[f, channel]
                b = intercept[f, channel]
                if use_trend:
                    for k in range(width):
                        v = row[k]
                        if (v - off[k]) != 0.0:
                            v = v - np.float32(m * times[k] + b)
                        row[k] = v - c[k]
                else:
                    for k in range(width):
                        row[k] = row[k] - c[k]


@njit(cache=True, nogil=True, parallel=True)
def _offset(data, scale, divisor, out):
    """out = (sum over frames of data) * scale / divisor, summed frame by frame in float32."""
    nres, ny, nx = data.shape
    for y in prange(ny):
        for x in range(nx):
            out[y, x] = np.float32(0.0)
        for f in range(nres):
            for x in range(nx):
                out[y, x] += data[f, y, x]
        for x in range(nx):
            out[y, x] = out[y, x] * scale / divisor


@njit(cache=True, nogil=True, parallel=True)
def _spectrum(left, right, amp, gamma, zeta, alpha, norm, out):
    """out[c] = norm (gamma[c] L + zeta[c] R + alpha[c] A), frame by frame (complex64).

    Several channels per pass: the reference transforms are read once for
    all of them.  The complex products are written out in real arithmetic
    (the generic complex multiply guards against infinities and is several
    times slower).
    """
    nchan, nres, nfreq = out.shape
    for k in prange(nfreq):
        for c in range(nchan):
            gr, gi = gamma[c, k].real, gamma[c, k].imag
            zr, zi = zeta[c, k].real, zeta[c, k].imag
            ar, ai = alpha[c, k].real, alpha[c, k].imag
            for f in range(nres):
                lr, li = np.float64(left[f, k].real), np.float64(left[f, k].imag)
                rr, ri = np.float64(right[f, k].real), np.float64(right[f, k].imag)
                mr, mi = np.float64(amp[f, k].real), np.float64(amp[f, k].imag)
                re = (lr * gr - li * gi) + (rr * zr - ri * zi) + (mr * ar - mi * ai)
                im = (lr * gi + li * gr) + (rr * zi + ri * zr) + (mr * ai + mi * ar)
                out[c, f, k] = complex(re * norm, im * norm)


def _fit_trend(times, values):
    """Slope and intercept of the non-zero samples (0, 0 when there are none)."""
    mask = values != 0
    if not np.any(mask):
        return 0.0, 0.0
    m, b = np.polyfit(times[mask].astype(np.float32), values[mask], 1)
    return float(m), float(b)


def correct_refpix(data, amp33, pixeldq, gamma, zeta, alpha, *, bad_ref_pixel, zero_bad_ref_pix=True,
                   remove_offset=True, remove_trends=True, cosine_interpolate=True, fft_interpolate=True,
                   fft_iterations=3, workers=None) -> RefpixResult:
    """Correct a Roman ramp with its reference pixels, in place.

    Parameters
    ----------
    data : ndarray of float32, (nresultants, rows, nchan * 128)
        Resultants with the reference border; corrected in place.
    amp33 : ndarray, (nresultants, rows, 128)
        The amp33 reference output.
    pixeldq : ndarray of uint32, (rows, nchan * 128)
        Pixels flagged ``bad_ref_pixel`` are zeroed first (``zero_bad_ref_pix``).
    gamma, zeta, alpha : ndarray of complex, (nchan, rows * 70 + 1)
        REFPIX weights of the left columns, the right columns and amp33.
    bad_ref_pixel : int
        The BAD_REF_PIXEL flag value.
    zero_bad_ref_pix, remove_offset, remove_trends, cosine_interpolate, fft_interpolate : bool
        The stages (all on by default, as romancal).
    fft_iterations : int
        Iterations of the Fourier interpolation of amp33's idle columns.
    workers : int, optional
        Threads of the Fourier transforms (default: every core).

    Returns
    -------
    RefpixResult
        ``amp33``: the corrected amp33 as romancal stores it (``|value|``
        truncated to uint16); the fitted trends (frames x channels+1).
    """
    import os

    from scipy import fft

    if workers is None:
        workers = os.cpu_count() or 1
    if data.dtype != np.float32 or not data.flags.writeable or not data.dtype.isnative:
        raise ValueError("refpix: the ramp must be a writeable native float32 array")
    nres, rows, ncols = data.shape
    if ncols % CHANNEL_WIDTH:
        raise ValueError(f"refpix: {ncols} columns are not a whole number of {CHANNEL_WIDTH}-column channels")
    nchan = ncols // CHANNEL_WIDTH
    if amp33.shape != (nres, rows, CHANNEL_WIDTH):
        raise ValueError(f"refpix: amp33 has shape {amp33.shape}, expected {(nres, rows, CHANNEL_WIDTH)}")
    columns = CHANNEL_WIDTH + PAD
    length = rows * columns
    nfreq = length // 2 + 1
    for name, coeffs in (("gamma", gamma), ("zeta", zeta), ("alpha", alpha)):
        if tuple(np.shape(coeffs)) != (nchan, nfreq):
            raise ValueError(
                f"refpix: REFPIX {name} has shape {tuple(np.shape(coeffs))}, the exposure needs "
                f"({nchan}, {nfreq}) (channels x frequencies of {rows} rows)"
            )

    if zero_bad_ref_pix and pixeldq is not None:
        bad = (np.asarray(pixeldq) & bad_ref_pixel) != 0
        if np.any(bad):
            data[:, bad] = 0.0

    a33 = np.asarray(amp33).astype(np.float32)
    if remove_offset:
        # Least-squares intercept at the centre of the frame index (romancal's formula).
        indep = np.arange(nres, dtype=np.float32)
        indep = indep - np.mean(indep)
        sx = np.sum(indep)
        sxx = np.sum(indep**2)
        offset = np.empty((rows, ncols), dtype=np.float32)
        divisor = np.float32(nres * sxx - sx**2)
        if sx == 0:  # zero for any number of frames (centred indices)
            _offset(data, np.float32(sxx), divisor, offset)
        else:  # the general formula
            offset[...] = 0.0
            for f in range(nres):
                offset += data[f]
            offset *= sxx
            offset -= sx * np.einsum("f,fyx->yx", indep, data)
            offset /= divisor
        off33 = ((np.sum(a33, axis=0) * sxx - sx * np.einsum("f,fyx->yx", indep, a33))
                 / (nres * sxx - sx**2)).astype(np.float32)
    else:
        offset = np.zeros((rows, ncols), dtype=np.float32)
        off33 = np.zeros((rows, CHANNEL_WIDTH), dtype=np.float32)

    # Per-frame, per-channel trends fitted on the reference rows (offset removed).
    ref_rows = np.r_[0:REF, rows - REF:rows]
    slopes = np.zeros((nres, nchan + 1))
    intercepts = np.zeros((nres, nchan + 1))
    if remove_trends:
        for c in range(nchan + 1):
            t = _read_order_time(rows, c % 2)[ref_rows]
            if c < nchan:
                block = data[:, ref_rows, c * CHANNEL_WIDTH:(c + 1) * CHANNEL_WIDTH]
                block = block - offset[ref_rows, c * CHANNEL_WIDTH:(c + 1) * CHANNEL_WIDTH]
            else:
                block = a33[:, ref_rows] - off33[ref_rows]
            for f in range(nres):
                slopes[f, c], intercepts[f, c] = _fit_trend(t, block[f])

    def residual_channel(values, off, c, f):
        """Offset- and trend-free samples (rows, 140) of one channel in read order, idle columns 0."""
        out = np.zeros((rows, columns), dtype=np.float32)
        r = (values - off).astype(np.float32)
        if remove_trends:
            trend = _read_order_time(rows, c % 2) * slopes[f, c] + intercepts[f, c]
            r = (r - np.where(r != 0, trend, 0.0)).astype(np.float32)
        out[:, :CHANNEL_WIDTH] = _read_order(r, c)
        return out

    # amp33 in read order with its idle columns filled, and the reference transforms.
    amp_series = np.empty((nres, rows, columns), dtype=np.float32)
    left_fft = np.empty((nres, nfreq), dtype=np.complex64)
    right_fft = np.empty((nres, nfreq), dtype=np.complex64)
    amp_fft = np.empty((nres, nfreq), dtype=np.complex64)
    interp = np.sin(np.arange(1, nchan + 1, dtype=np.float32) * np.pi / nchan)
    idle = np.zeros((rows, columns), dtype=bool)
    idle[:, CHANNEL_WIDTH:] = True
    idle = np.nonzero(idle.ravel())[0]
    apodize = (1 + np.cos(2 * np.pi * np.abs(np.fft.rfftfreq(length, 1 / length)) / length)) / 2
    edge = slice(0, REF)
    for f in range(nres):
        frame = residual_channel(a33[f], off33, nchan, f)
        if cosine_interpolate:
            kern = frame.reshape(length)
            mask = (kern != 0).astype(np.int64)
            with np.errstate(invalid="ignore", divide="ignore"):
                cov = np.convolve(kern, interp, mode="same")
                mask_conv = np.convolve(mask, interp, mode="same")
                fill = (cov / mask_conv).reshape(rows, columns)
                frame += fill * (1 - mask.reshape(rows, columns))
        amp_series[f] = frame
    if cosine_interpolate:
        np.nan_to_num(amp_series, copy=False)
    series = amp_series.reshape(nres, length)
    if fft_interpolate:
        # every frame at once (the transforms run side by side; each frame's numbers are its own)
        for _ in range(fft_iterations):
            result = apodize * fft.rfft(series, axis=-1, workers=workers) / length
            result = fft.irfft(result * length, axis=-1, workers=workers).astype(series.dtype)
            series[:, idle] = result[:, idle]
        del result
    for f in range(nres):
        amp_fft[f] = fft.rfft(series[f] / length)
        left = np.zeros((rows, columns), dtype=np.float32)
        c0 = residual_channel(data[f, :, :CHANNEL_WIDTH], offset[:, :CHANNEL_WIDTH], 0, f)
        left[:, edge] = c0[:, edge]
        left_fft[f] = fft.rfft(left.reshape(length) / length) * (columns / REF)
        right = np.zeros((rows, columns), dtype=np.float32)
        last = nchan - 1
        cl = residual_channel(data[f, :, last * CHANNEL_WIDTH:], offset[:, last * CHANNEL_WIDTH:], last, f)
        right[:, edge] = cl[:, edge]
        right_fft[f] = fft.rfft(right.reshape(length) / length) * (columns / REF)

    # Channel by channel: the correction of every frame, then one pass over the channel's pixels.
    normalization = np.float32(nfreq * 2)
    group = 4  # channels per pass over the reference transforms
    spectrum = np.empty((min(group, nchan), nres, nfreq), dtype=np.complex64)
    for c0 in range(0, nchan, group):
        c1 = min(c0 + group, nchan)
        block = spectrum[: c1 - c0]
        _spectrum(left_fft, right_fft, amp_fft, np.ascontiguousarray(gamma[c0:c1]), np.ascontiguousarray(zeta[c0:c1]),
                  np.ascontiguousarray(alpha[c0:c1]), normalization, block)
        # single precision: the correction is a few DN, far above float32 rounding
        corrections = fft.irfft(block, n=length, axis=-1, workers=workers)
        corrections = corrections.reshape(c1 - c0, nres, rows, columns)
        if corrections.dtype != np.float32:
            corrections = corrections.astype(np.float32)
        _apply_channels(data, c0, offset, _read_order_time(rows, 0), _read_order_time(rows, 1), slopes, intercepts,
                        corrections, bool(remove_trends))

    amp_out = np.abs(amp_series[:, :, :CHANNEL_WIDTH] + off33[None]).astype(np.uint16)
    return RefpixResult(amp_out, slopes, intercepts)
