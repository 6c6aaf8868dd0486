"""outlier_detection: flag cosmic rays and other outliers against the median of all exposures.

Seed 002, "Outlier Detection", imaging mode with the established step's
behaviour:

1. each exposure (its detectors together) is drizzled onto a common grid
   (:meth:`photoncal.resample.ResampleData.resample_many_to_many`);
2. the median of those images is taken pixel by pixel, ignoring pixels whose
   drizzle weight is below ``maskpt`` times the typical weight and the
   ``nlow``/``nhigh`` extreme values (:func:`photoncal.kernels.outlier.median_stack`,
   in row sections of ``buffer_mb`` so memory stays bounded);
3. the median is blotted back onto each exposure (linear interpolation);
4. the driz_cr rule (:func:`photoncal.kernels.outlier.flag_resampled_crs`)
   with ``snr`` and ``scale`` flags outliers, which get ``OUTLIER`` and
   ``DO_NOT_USE`` in DQ and NaN science, error and variance values.

Without resampling (``resample_data=False``) the inputs share one grid and
are compared directly with their median.  Time series (CubeModel,
``mode='tso'``) and coronagraphic cubes are compared with the (rolling)
median through time.

Products (``save_results``): one ``_crf`` file per exposure, named with the
association candidate id (``jw..._nrca1_o001_crf.fits``);
``save_intermediate_results`` adds the resampled exposures
(``_outlier_i2d``), the median (``_median``) and the blotted medians
(``_blot``).  With ``in_memory=False`` the resampled exposures are written
to a temporary directory and read back one row section at a time, so the
peak memory does not grow with the number of exposures.
"""

from __future__ import annotations

import os

import numpy as np

from photoncal.stpipe import Step

__all__ = ["OutlierDetectionStep", "IMAGE_MODES", "TSO_MODES", "CORON_MODES"]

#: EXP_TYPEs of the imaging mode.
IMAGE_MODES = ("NRC_IMAGE", "MIR_IMAGE", "NIS_IMAGE", "FGS_IMAGE")
#: Time-series imaging (compared through time).
TSO_MODES = ("NRC_TSIMAGE", "MIR_LRS-SLITLESS", "NIS_SOSS", "NRC_TSGRISM", "NRS_BRIGHTOBJ")
#: Coronagraphic imaging (cubes compared through time, no resampling).
CORON_MODES = ("NRC_CORON", "MIR_LYOT", "MIR_4QPM")


class OutlierDetectionStep(Step):
    """Flag outliers (cosmic rays missed at stage 1, bad pixels) against the median of the exposures."""

    class_alias = "outlier_detection"

    spec = """
        weight_type = option('ivm', 'exptime', default='ivm')  # drizzle weighting of the resampled exposures
        pixfrac = float(min=0.0, max=1.0, default=1.0)  # drizzle pixel shrinkage factor
        kernel = option('square', 'point', 'turbo', default='square')  # drizzle kernel
        fillval = string(default='NAN')  # value of resampled pixels without input
        maskpt = float(default=0.7)  # fraction of the typical weight below which a pixel is left out of the median
        nlow = integer(min=0, default=0)  # lowest values of each pixel's stack left out of the median
        nhigh = integer(min=0, default=0)  # highest values of each pixel's stack left out of the median
        snr = string(default='5.0 4.0')  # signal-to-noise thresholds of the two driz_cr tests
        scale = string(default='1.2 0.7')  # blot-derivative scale factors of the two driz_cr tests
        backg = float(default=0.0)  # background added to the blotted median
        grow = integer(default=1)  # box size (pixels) by which flagged areas grow (1: none)
        kernel_size = string(default='7 7')  # IFU mode only (accepted for compatibility)
        threshold_percent = float(default=99.8)  # IFU mode only (accepted for compatibility)
        rolling_window_width = integer(default=25)  # TSO: integrations in the rolling median
        ifu_second_check = boolean(default=False)  # IFU mode only (accepted for compatibility)
        save_intermediate_results = boolean(default=False)  # save the resampled exposures, median and blots
        resample_data = boolean(default=True)  # resample the exposures before the median
        good_bits = string(default='~DO_NOT_USE')  # DQ flags that do not exclude a pixel
        search_output_file = boolean(default=False)  # outputs are named after each exposure
        in_memory = boolean(default=True)  # False: keep the resampled exposures on disk
        pixmap_stepsize = float(default=1.0)  # evaluate the WCSs every this many pixels (1: every pixel)
        pixmap_order = integer(default=1)  # spline order of the sparse pixel map (1 or 3)
        buffer_mb = integer(min=1, default=256)  # working memory of the sectioned median (MiB)
        mode = option('imaging', 'tso', 'coron', None, default=None)  # force a mode (default: from EXP_TYPE)
    """

    reference_file_types: list = []

    def process(self, step_input):
        from photoncal.stpipe.step import is_model

        if is_model(step_input) or (isinstance(step_input, (str, os.PathLike))
                                    and not os.fspath(step_input).lower().endswith(".json")):
            model = self.open_model(step_input)
            if type(model).__name__ == "CubeModel":
                return self._time_series(model)
            step_input = [model]
        from photoncal.steps._stage3 import asn_id_of, open_container

        container = open_container(self, step_input, in_memory=self.in_memory)
        self._asn_id = asn_id_of(container) or self.search_attr("asn_id")
        if len(container) < 2:
            self.log.warning("Input only contains %d exposure(s); outlier detection skipped", len(container))
            return self.skip_step(container, "fewer than 2 exposures")
        mode = self.mode or self._guess_mode(container)
        self.log.info("Outlier detection mode: %s; asn_id: %s", mode, self._asn_id)
        if mode != "imaging":
            raise ValueError(f"outlier_detection: mode {mode!r} needs a CubeModel (one time series) as input")
        return self._imaging(container)

    # ------------------------------------------------------------------
    def save_model(self, model, suffix=None, idx=None, output_file=None, force=False, ext=None, *,
                   _use_model=False, **components):
        """As :meth:`Step.save_model`, with the association candidate id in the name (``_o001_crf``)."""
        asn_id = getattr(self, "_asn_id", None)
        if asn_id and "asn_id" not in components:
            components = {"asn_id": asn_id, **components}
        return super().save_model(model, suffix=suffix, idx=idx, output_file=output_file, force=force, ext=ext,
                                  _use_model=_use_model, **components)

    def _guess_mode(self, container):
        model = container[0]
        exp_type = str(model.meta.exposure.type or "").upper()
        if container.on_disk:
            model.close()
        if exp_type in CORON_MODES:
            return "coron"
        if exp_type in TSO_MODES:
            return "tso"
        if exp_type not in IMAGE_MODES:
            self.log.warning("EXP_TYPE %s is not an imaging mode; treating the exposures as images",
                             exp_type or "(missing)")
        return "imaging"

    def _pairs(self):
        from photoncal.kernels.outlier import parse_pair

        snr1, snr2 = parse_pair(self.snr, "snr")
        scale1, scale2 = parse_pair(self.scale, "scale")
        return snr1, snr2, scale1, scale2

    # ------------------------------------------------------------------
    def _imaging(self, container):
        from photoncal.steps._stage3 import shared_pixmaps, working_directory

        snr1, snr2, scale1, scale2 = self._pairs()
        on_disk = bool(container.on_disk)
        # the blot maps are the resampling maps: computed once
        with shared_pixmaps(container):
            if self.resample_data:
                median, median_wcs, first_name = self._median_resampled(container, on_disk)
            else:
                median, median_wcs, first_name = self._median_direct(container), None, None
            if self.save_intermediate_results:
                self._save_median(container, median, median_wcs, first_name)
            self._flag(container, median, median_wcs, snr1, snr2, scale1, scale2)
        if on_disk and getattr(container, "_photoncal_singles", None):
            for path in container._photoncal_singles:
                if os.path.dirname(path) == working_directory(container) and os.path.exists(path):
                    os.remove(path)
        return container

    def _resampler(self, container, on_disk):
        from photoncal.resample import ResampleData
        from photoncal.steps._stage3 import working_directory

        # the median needs SCI and WHT only; ERR is drizzled for the saved _outlier_i2d products
        return ResampleData(
            container, single=True, blendheaders=False, pixfrac=self.pixfrac, kernel=self.kernel,
            fillval=self.fillval, wht_type=self.weight_type, good_bits=self.good_bits,
            enable_ctx=False, enable_err=bool(self.save_intermediate_results), report_var=False,
            in_memory=not on_disk,
            output_dir=working_directory(container) if on_disk else None,
            pixmap_stepsize=self.pixmap_stepsize, pixmap_order=self.pixmap_order,
            intermediate_suffix="outlier_i2d",
        )

    def _median_resampled(self, container, on_disk):
        from photoncal import datamodels
        from photoncal.kernels.outlier import median_stack

        resampler = self._resampler(container, on_disk)
        singles = resampler.resample_many_to_many()
        self.log.info("Resampled %d exposure group(s) onto a %d x %d grid", len(singles),
                      resampler.output_shape[1], resampler.output_shape[0])
        opened = []
        if on_disk:
            paths = singles.member_paths()
            container._photoncal_singles = paths
            # memory maps: the median reads one row section of each at a time
            opened = [datamodels.open(p, memmap=True) for p in paths]
            images = [m.data for m in opened]
            weights = [m.wht for m in opened]
        else:
            images = [m.data for m in singles]
            weights = [m.wht for m in singles]
        first_name = None
        if self.save_intermediate_results:
            for model in (opened or singles):
                name = model.meta.filename
                first_name = first_name or name
                self._save_named(model, name.replace("_outlier_", "_"), "outlier_i2d")
                model.meta.filename = name
        elif len(singles):
            first_name = (opened or singles)[0].meta.filename
        median = median_stack(images, weights, maskpt=self.maskpt, nlow=self.nlow, nhigh=self.nhigh,
                              buffer_bytes=int(self.buffer_mb) * 1024**2)
        del images, weights
        for model in opened:
            model.close()
        for model in ([] if on_disk else singles):
            model.close()
        return median, resampler.output_wcs, first_name

    def _median_direct(self, container):
        """The median of the exposures themselves (they share one grid)."""
        from photoncal.kernels.outlier import median_stack
        from photoncal.resample.utils import build_driz_weight

        images, weights, shape = [], [], None
        for model in container:
            if shape is None:
                shape = model.data.shape
            elif model.data.shape != shape:
                raise ValueError(f"resample_data=False needs images of one shape; {model.meta.filename} has "
                                 f"{model.data.shape}, not {shape}")
            exp = model.meta.exposure
            tmeasure = exp.measurement_time if exp.measurement_time is not None else exp.exposure_time
            rn = model.var_rnoise if "var_rnoise" in model.keys() else None
            weights.append(build_driz_weight(model.dq, self.good_bits, self.weight_type, var_rnoise=rn,
                                             exptime=tmeasure, log=self.log, name=model.meta.filename or ""))
            images.append(np.array(model.data, dtype=np.float32))
            if container.on_disk:
                model.close()
        return median_stack(images, weights, maskpt=self.maskpt, nlow=self.nlow, nhigh=self.nhigh,
                            buffer_bytes=int(self.buffer_mb) * 1024**2)

    def _save_median(self, container, median, median_wcs, first_name):
        from photoncal import datamodels

        first = container[0]
        model = datamodels.ImageModel(data=median)
        model.update(first)
        if median_wcs is not None:
            model.meta.wcs = median_wcs
        name = (first_name or first.meta.filename or "median.fits").replace("_outlier_", "_")
        if container.on_disk:
            first.close()
        self._save_named(model, name, "median", asn_id=False)

    def _save_named(self, model, name, suffix, asn_id=True):
        model.meta.filename = name
        saved_id = self._asn_id
        if not asn_id:
            self._asn_id = None
        try:
            return self.save_model(model, suffix=suffix, force=True, _use_model=True)
        finally:
            self._asn_id = saved_id

    def _flag(self, container, median, median_wcs, snr1, snr2, scale1, scale2):
        from photoncal.dqflags import pixel
        from photoncal.kernels.blot import blot_image
        from photoncal.kernels.outlier import flag_crs, flag_resampled_crs
        from photoncal.steps._stage2 import match_nans_and_flags
        from photoncal.steps._stage3 import model_name, store_member
        from photoncal.wcs.pixmap import calc_pixmap

        flag = np.uint32(pixel["DO_NOT_USE"] | pixel["OUTLIER"])
        total = 0
        for index, model in enumerate(container):
            name = model_name(model, index)
            if median_wcs is not None:
                pixmap = calc_pixmap(model.meta.wcs, median_wcs, model.data.shape,
                                     stepsize=self.pixmap_stepsize, order=self.pixmap_order)
                blot = blot_image(median, pixmap, fillval=np.nan, interp="linear")
                del pixmap
                background = model.meta.background
                backg = self.backg
                if background.subtracted is False and background.level is not None:
                    backg = float(background.level)
                if self.save_intermediate_results:
                    self._save_blot(model, blot)
                mask = flag_resampled_crs(model.data, model.err, blot, snr1, snr2, scale1, scale2,
                                          backg=backg, grow=self.grow)
                del blot
            else:
                mask = flag_crs(model.data, model.err, median, snr1)
                if self.grow > 1:
                    from scipy.ndimage import binary_dilation

                    mask = binary_dilation(mask, structure=np.ones((self.grow, self.grow), bool))
            model.dq |= mask.astype(np.uint32) * flag
            match_nans_and_flags(model)
            count = int(np.count_nonzero(mask))
            total += count
            self.log.info("%s: %d pixels marked as outliers", name, count)
            self.record_status(model, "COMPLETE")
            store_member(container, index, model)
        self.log.info("%d outlier pixels flagged in %d exposures", total, len(container))

    def _save_blot(self, model, blot):
        from photoncal import datamodels

        blot_model = datamodels.ImageModel(data=blot)
        blot_model.update(model)
        blot_model.meta.wcs = model.meta.wcs
        self._save_named(blot_model, model.meta.filename, "blot")

    # ------------------------------------------------------------------
    def _time_series(self, cube):
        """Each integration of a cube against the (rolling) median through time."""
        from photoncal.dqflags import pixel
        from photoncal.kernels.outlier import flag_outliers_tso
        from photoncal.resample.utils import good_pixel_mask
        from photoncal.steps._stage2 import match_nans_and_flags

        if cube.data.ndim != 3 or cube.data.shape[0] < 2:
            return self.skip_step(cube, "a time series needs at least 2 integrations")
        snr1 = self._pairs()[0]
        exp_type = str(cube.meta.exposure.type or "").upper()
        window = self.rolling_window_width if exp_type in TSO_MODES else 0
        good = good_pixel_mask(cube.dq, self.good_bits)
        mask = flag_outliers_tso(cube.data, cube.err, good_mask=good, maskpt=self.maskpt, snr=snr1,
                                 rolling_window_width=window)
        cube.dq |= mask.astype(np.uint32) * np.uint32(pixel["DO_NOT_USE"] | pixel["OUTLIER"])
        match_nans_and_flags(cube)
        self.log.info("%d pixels marked as outliers in %d integrations", int(np.count_nonzero(mask)),
                      cube.data.shape[0])
        self._asn_id = self.search_attr("asn_id")
        return cube
