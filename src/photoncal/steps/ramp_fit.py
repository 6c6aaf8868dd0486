"""ramp_fit: count rates from ramps (seed 002, ramp_fit)."""

from __future__ import annotations

from photoncal.stpipe import Step

from ._common import is_miri, native, open_ramp, output_path_from, science_reference

__all__ = ["RampFitStep", "rate_image", "rate_cube"]


def rate_image(ramp, product):
    """The ``_rate`` ImageModel of ``ramp``: ``product`` holds 2-D ``data``,
    ``dq``, ``var_poisson``, ``var_rnoise`` and ``err``; the metadata is the ramp's."""
    from photoncal.datamodels import ImageModel

    image = ImageModel(data=product.data, dq=product.dq, err=product.err,
                       var_poisson=product.var_poisson, var_rnoise=product.var_rnoise)
    image.update(ramp)
    image.meta.filename = ramp.meta.filename
    image.meta.bunit_data = "DN/s"
    image.meta.bunit_err = "DN/s"
    return image


def rate_cube(ramp, product):
    """The ``_rateints`` CubeModel of ``ramp`` (3-D arrays, one plane per
    integration), with the ramp's INT_TIMES table."""
    from photoncal.datamodels import CubeModel

    cube = CubeModel(data=product.data, dq=product.dq, err=product.err,
                     var_poisson=product.var_poisson, var_rnoise=product.var_rnoise)
    cube.update(ramp)
    cube.meta.filename = ramp.meta.filename
    cube.meta.bunit_data = "DN/s"
    cube.meta.bunit_err = "DN/s"
    if "int_times" in ramp.keys():
        cube.int_times = ramp.int_times
    return cube


class RampFitStep(Step):
    """Fit count rates to the ramps.

    Each pixel's ramp is cut into segments at jumps, and saturated and
    DO_NOT_USE groups are left out; every segment gets a least-squares slope
    with the optimal weighting of Fixsen et al. (2000), and the segments are
    combined into one rate per integration (``_rateints``) and one for the
    exposure (the result, ``_rate``), in DN/s, with their Poisson and
    read-noise variances.  ``save_opt`` also writes the per-segment fits
    (``_fitopt``).  Run alone, the step writes ``<input>_rate`` and
    ``<input>_rateints``; the per-integration model of the last run is
    ``step.rateints``.
    """

    class_alias = "ramp_fit"
    spec = """
        algorithm = option('OLS_C', 'OLS', 'LIKELY', default='OLS_C')  # fitting algorithm (only OLS_C is implemented; OLS and LIKELY use it)
        int_name = string(default='')  # base name of the per-integration product (_rateints)
        save_opt = boolean(default=False)  # save the per-segment fit results (_fitopt)
        opt_name = string(default='')  # base name of the _fitopt product
        suppress_one_group = boolean(default=True)  # give no rate to integrations with only the first group unsaturated
        firstgroup = integer(default=None)  # ignore groups before this one (0-based)
        lastgroup = integer(default=None)  # ignore groups after this one (0-based)
        maximum_cores = string(default='1')  # accepted for compatibility: photoncal uses threads in one process
    """
    reference_file_types = ["readnoise", "gain"]

    #: The per-integration product (CubeModel) of the last run, or None.
    rateints = None

    def default_suffix(self) -> str:
        # Run alone, the step's product is the _rate file.
        return "rate" if self.parent is None else super().default_suffix()

    def process(self, step_input):
        from photoncal.kernels.ramp_fit import fit_ramps

        self.rateints = None
        model = open_ramp(self, step_input)
        if self.algorithm != "OLS_C":
            self.log.warning("algorithm = %s is not implemented in photoncal; OLS_C is used", self.algorithm)
        readnoise = science_reference(self, model, "readnoise")
        gain = science_reference(self, model, "gain")
        if gain is None or readnoise is None:
            return self.skip_step(model, "no GAIN or READNOISE reference file (N/A)")
        if gain.meta.exposure.gain_factor is not None:
            model.meta.exposure.gain_factor = gain.meta.exposure.gain_factor
        exposure = model.meta.exposure
        self.log.info("Using algorithm = OLS_C, weighting = optimal")
        result = fit_ramps(
            model.data,
            model.groupdq,
            model.pixeldq,
            native(gain.data, "float32"),
            native(readnoise.data, "float32"),
            frame_time=exposure.frame_time,
            group_time=exposure.group_time,
            nframes=int(exposure.nframes or 1),
            groupgap=int(exposure.groupgap or 0),
            dropframes1=int(exposure.drop_frames1 or 0),
            suppress_one_group=self.suppress_one_group,
            firstgroup=self.firstgroup,
            lastgroup=self.lastgroup,
            save_opt=self.save_opt,
            average_dark_current=(native(model.average_dark_current, "float32")
                                  if "average_dark_current" in model.keys() else None),
            zeroframe=model.zeroframe if exposure.zero_frame else None,
            discard_flagged_edge_groups=is_miri(model),
        )
        if result.nothing_to_fit:
            self.log.warning("No pixel has usable groups (all saturated in the first group or flagged); "
                             "every rate is NaN and DO_NOT_USE")
        image = rate_image(model, result.rate)
        cube = rate_cube(model, result.rateints)
        self.record_provenance(cube)
        self.rateints = cube
        if self.parent is None and self.save_results:
            self.save_model(cube, suffix="rateints", output_file=self.int_name or None)
        if result.fitopt is not None:
            self._save_fitopt(model, result.fitopt)
        return image

    def _save_fitopt(self, model, fitopt):
        import numpy as np

        from photoncal.datamodels import RampFitOutputModel

        crmag = fitopt.crmag
        if crmag.shape[1] == 0:
            # no jump anywhere: one plane of zeros keeps the 4-D layout of the product
            crmag = np.zeros(crmag.shape[:1] + (1,) + crmag.shape[2:], dtype=np.float32)
        opt = RampFitOutputModel(
            slope=fitopt.slope, sigslope=fitopt.sigslope, var_poisson=fitopt.var_poisson,
            var_rnoise=fitopt.var_rnoise, yint=fitopt.yint, sigyint=fitopt.sigyint,
            pedestal=fitopt.pedestal, weights=fitopt.weights, crmag=crmag,
        )
        opt.update(model)
        self.record_provenance(opt)
        path = output_path_from(self, self.opt_name or None, "fitopt")
        opt.save(path)
        self.log.info("Saved the per-segment fits in %s", path)
