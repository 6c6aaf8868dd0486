"""Resampling a full-frame exposure onto its own-scale grid: photoncal against the drizzle package.

Builds a 2048 x 2048 NIRCam-like calibrated image (the simulator's NRCA1
distortion and a pointing, random data, VAR_* arrays, reference pixels
flagged DO_NOT_USE), lets ``ResampleData`` define the output grid (own pixel
scale and orientation), then times:

* the pixel map (``photoncal.wcs.pixmap.calc_pixmap``, and the imaging fast
  path ResampleData uses),
* the square-kernel drizzle of SCI with inverse read-noise weights, fed the
  same pixel map: the ``drizzle`` package (single-threaded C) and
  photoncal's kernels with 1 thread and with all threads (SCI/WHT parity
  printed),
* the whole ``ResampleData.resample_many_to_one`` (pixel map, SCI, three
  variance arrays, ERR, metadata) with 1 thread and with all threads,

and prints the peak resident memory.  Timings are the best of ``--repeat``
runs after a warm-up (numba compilation excluded).

Usage::

    PYTHONPATH=src python benchmarks/resample.py [--size 2048] [--repeat 3] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

# keep benchmarks/ off the path so that "import drizzle" finds the package, not benchmarks/drizzle.py
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import numba  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, _HERE)  # only for the shared timing helpers
from _drizzle_timing import band_times, best_time, peak_rss_mib  # noqa: E402

sys.path.remove(_HERE)

try:
    import drizzle  # noqa: E402
    from drizzle.resample import Drizzle as ReferenceDrizzle  # noqa: E402
except ImportError:  # optional: only for the comparison
    drizzle = None
    ReferenceDrizzle = None


def full_frame_cal(size=2048, seed=0):
    """A NIRCam-like cal ImageModel with a real imaging gwcs."""
    from photoncal import datamodels
    from photoncal.dqflags import pixel
    from photoncal.sim.distortion import distortion_model
    from photoncal.steps.assign_wcs import s_region_of
    from photoncal.wcs.pointing import imaging_wcs

    rng = np.random.default_rng(seed)
    shape = (size, size)
    model = datamodels.ImageModel(shape)
    model.data = rng.normal(0.2, 0.01, shape).astype(np.float32)
    model.var_rnoise = rng.uniform(0.8e-4, 1.2e-4, shape).astype(np.float32)
    model.var_poisson = rng.uniform(0.5e-4, 1.5e-4, shape).astype(np.float32)
    model.var_flat = np.full(shape, 1e-6, np.float32)
    model.err = np.sqrt(model.var_rnoise + model.var_poisson + model.var_flat)
    dq = np.zeros(shape, np.uint32)
    border = pixel["REFERENCE_PIXEL"] | pixel["DO_NOT_USE"]
    dq[:4], dq[-4:], dq[:, :4], dq[:, -4:] = border, border, border, border
    model.dq = dq
    model.data[dq != 0] = np.nan
    meta = model.meta
    meta.filename = "jw01234001001_01101_00001_nrca1_cal.fits"
    meta.instrument.name, meta.instrument.detector, meta.instrument.filter = "NIRCAM", "NRCA1", "F200W"
    meta.exposure.type, meta.exposure.exposure_time = "NRC_IMAGE", 1000.0
    meta.exposure.start_time, meta.exposure.end_time = 60000.0, 60000.01
    meta.bunit_data = meta.bunit_err = "MJy/sr"
    wcsinfo = dict(v2_ref=120.6714, v3_ref=-527.3877, roll_ref=45.0, ra_ref=53.16, dec_ref=-27.79)
    for key, value in wcsinfo.items():
        setattr(meta.wcsinfo, key, value)
    meta.wcsinfo.v3yangle, meta.wcsinfo.vparity = -0.57, -1
    wcs = imaging_wcs(distortion_model("NRCA1"), wcsinfo, bounding_box=((-0.5, size - 0.5), (-0.5, size - 0.5)))
    meta.wcs = wcs
    meta.wcsinfo.s_region = s_region_of(wcs, shape)
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=numba.config.NUMBA_NUM_THREADS,
                        help="the 'all threads' count (default: numba's)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    from photoncal.kernels.drizzle import Drizzle
    from photoncal.resample import ResampleData
    from photoncal.resample.utils import build_driz_weight
    from photoncal.wcs.pixmap import calc_pixmap

    model = full_frame_cal(args.size)
    mpix = args.size**2 / 1e6
    kwargs = dict(good_bits="~DO_NOT_USE+NON_SCIENCE", fillval="NAN", blendheaders=False)
    rd = ResampleData([model], **kwargs)
    out_wcs, out_shape = rd.output_wcs, rd.output_shape
    print(f"input {args.size} x {args.size}, output {out_shape[1]} x {out_shape[0]}, "
          f"pixel_scale_ratio {rd.pixel_scale_ratio:.4f}; cores: {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.1f}; drizzle package {getattr(drizzle, '__version__', 'absent')}")

    from photoncal.resample._fast import imaging_pixmap

    t_map, c_map, pixmap = best_time(lambda: calc_pixmap(model.meta.wcs, out_wcs, model.data.shape), args.repeat)
    print(f"{'pixel map: calc_pixmap (gwcs, every pixel)':46s} {t_map:7.3f} s  cpu {c_map:6.3f} s")
    imaging_pixmap(model.meta.wcs, out_wcs, (64, 64))  # compile
    t_fast, c_fast, fast = best_time(lambda: imaging_pixmap(model.meta.wcs, out_wcs, model.data.shape),
                                     args.repeat)
    print(f"{'pixel map: imaging fast path (resample uses)':46s} {t_fast:7.3f} s  cpu {c_fast:6.3f} s"
          f"   max diff {np.nanmax(np.abs(fast - pixmap)):.1e} pixel")

    weight = build_driz_weight(model.dq, "~DO_NOT_USE+NON_SCIENCE", "ivm", var_rnoise=model.var_rnoise)
    data = np.nan_to_num(model.data)
    add = dict(exptime=1000.0, pixmap=pixmap, pixel_scale_ratio=rd.pixel_scale_ratio, weight_map=weight,
               wht_scale=1.0, pixfrac=1.0, in_units="cps", xmin=0, xmax=args.size - 1, ymin=0,
               ymax=args.size - 1)

    def ours():
        d = Drizzle(kernel="square", fillval="NaN", out_shape=out_shape)
        d.add_image(data, **add)
        return d

    results = {}
    ours()  # compile
    ref = None
    if ReferenceDrizzle is not None:
        def reference():
            d = ReferenceDrizzle(kernel="square", fillval="NaN", out_shape=out_shape)
            d.add_image(data, **add)
            return d

        t_ref, c_ref, ref = best_time(reference, args.repeat)
        results["ref"] = t_ref
        results["ref_cpu"] = c_ref
        print(f"{'square drizzle: drizzle package (C, 1 thread)':46s} {t_ref:7.3f} s  cpu {c_ref:6.3f} s")
    threads = sorted({1, max(1, args.threads)})
    for n in threads:
        numba.set_num_threads(n)
        t, c, d = best_time(ours, args.repeat)
        results[n] = t
        line = f"{'square drizzle: photoncal, %d thread(s)' % n:46s} {t:7.3f} s  cpu {c:6.3f} s"
        if "ref" in results:
            line += f"   x{results['ref'] / t:4.2f} vs drizzle (wall), x{results['ref_cpu'] / c:4.2f} (cpu)"
        if ref is not None and n == threads[0]:
            good = ref.out_wht > 0
            rel = np.max(np.abs(d.out_img[good] - ref.out_img[good]) / np.maximum(np.abs(ref.out_img[good]), 1e-30))
            relw = np.max(np.abs(d.out_wht - ref.out_wht) / np.maximum(ref.out_wht, 1e-30))
            line += f"   parity: SCI {rel:.1e}, WHT {relw:.1e}"
        print(line)

    if len(threads) > 1:
        try:
            estimate, parts = band_times(data, weight, pixmap, out_shape, threads[-1], args.repeat)
            line = (f"{'square drizzle, %d bands one by one (cpu)' % threads[-1]:46s} set-up {parts['setup']:.3f} s"
                    f" + slowest band {parts['slowest']:.3f} s (all bands {parts['total']:.3f} s) -> "
                    f"~{estimate:.3f} s on {threads[-1]} idle cores")
            if "ref_cpu" in results:
                line += f", x{results['ref_cpu'] / estimate:.2f} vs drizzle"
            print(line)
        except Exception as err:  # noqa: BLE001 - internals of another module; the estimate is optional
            print(f"band-split estimate unavailable: {err}")

    for n in threads:
        numba.set_num_threads(n)
        ResampleData([model], **kwargs).resample_many_to_one()  # warm
        t, c, _ = best_time(lambda: ResampleData([model], **kwargs).resample_many_to_one(), args.repeat)
        print(f"{'ResampleData many-to-one (SCI+3 VAR+ERR), %d thr' % n:46s} {t:7.3f} s  cpu {c:6.3f} s")
    print(f"peak resident memory {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
