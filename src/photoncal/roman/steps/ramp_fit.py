"""Ramp fitting of Roman resultants (Casertano et al. 2022) with jump detection inside the fit."""

from __future__ import annotations

from photoncal.roman.stpipe import RomanStep

__all__ = ["RampFitStep", "image_from_ramp"]

BORDER = 4


def image_from_ramp(ramp, slope, dq, var_poisson, var_rnoise, err, include_var_rnoise=False):
    """The level-2 ImageModel of a ramp: the arrays trimmed of the 4-pixel border.

    ``slope`` ... ``err`` are full-size (rows, columns) arrays; the reference
    border (``amp33``, ``border_ref_pix_*``) and the metadata come from the ramp.
    """
    import copy

    import numpy as np

    from photoncal.roman import datamodels as rdm

    image = rdm.ImageModel()
    meta = copy.deepcopy({k: v for k, v in ramp._instance.get("meta", {}).items()})
    meta["model_type"] = "ImageModel"
    meta["product_type"] = "l2"
    steps = image._schema["properties"]["meta"]["properties"]["cal_step"]["properties"]
    old = meta.get("cal_step") or {}
    meta["cal_step"] = {name: old.get(name, "INCOMPLETE") for name in steps}
    meta["photometry"] = {"conversion_megajanskys": None, "conversion_megajanskys_uncertainty": None,
                          "pixel_area": None}
    meta.pop("wcs", None)
    image._instance["meta"] = meta
    inner = (slice(BORDER, -BORDER), slice(BORDER, -BORDER))
    image.data = np.ascontiguousarray(slope[inner], dtype=np.float32)
    image.dq = np.ascontiguousarray(dq[inner], dtype=np.uint32)
    image.err = np.ascontiguousarray(err[inner], dtype=np.float32)
    image.var_poisson = np.ascontiguousarray(var_poisson[inner], dtype=np.float32)
    if include_var_rnoise:
        image.var_rnoise = np.ascontiguousarray(var_rnoise[inner], dtype=np.float32)
    shape = image.data.shape
    image.chisq = np.zeros(shape, np.float32)
    image.dumo = np.zeros(shape, np.float32)
    for name in ("amp33", "border_ref_pix_left", "border_ref_pix_right", "border_ref_pix_top",
                 "border_ref_pix_bottom", "dq_border_ref_pix_left", "dq_border_ref_pix_right",
                 "dq_border_ref_pix_top", "dq_border_ref_pix_bottom"):
        value = ramp._instance.get(name)
        if value is not None:
            setattr(image, name, getattr(ramp, name))
    object.__setattr__(image, "_source", ramp._source)
    return image


class RampFitStep(RomanStep):
    """Fit the count rate of every pixel to its resultants.

    The Casertano et al. (2022) optimal weighting of unevenly sampled
    resultants with jump detection inside the fit
    (:func:`photoncal.kernels.ramp_uneven.fit_ramps_uneven`, shared with
    JWST): a jump splits the ramp and the pieces are fitted again.  The
    output is the level-2 ImageModel in DN/s with the reference border
    trimmed (ERR and the variances float32 in memory, float16 in the file as
    the Roman data models store them).
    ``algorithm='likely'`` (romancal's default, a likelihood fit) is accepted
    and fitted with the same optimal-weighting algorithm.
    """

    class_alias = "roman_ramp_fit"
    cal_step = "ramp_fit"
    spec = """
        algorithm = option('ols_cas22', 'likely', default='ols_cas22')  # fitting algorithm ('likely' is fitted as ols_cas22)
        suffix = string(default='rampfit')          # Default suffix of results
        use_ramp_jump_detection = boolean(default=True)  # detect jumps (cosmic rays) while fitting
        threshold_intercept = float(default=None)   # intercept of the jump threshold (default 5.5)
        threshold_constant = float(default=None)    # constant of the jump threshold (default 1/3)
        include_var_rnoise = boolean(default=False)  # keep var_rnoise in the output
        maximum_cores = string(default='1')         # accepted for compatibility (numba uses every core)
    """
    reference_file_types = ["readnoise", "gain"]

    def default_suffix(self):
        return "rampfit" if self.parent is None else super().default_suffix()

    def process(self, step_input):
        import numpy as np

        from photoncal.kernels.ramp_uneven import fit_ramps_uneven
        from photoncal.roman import dqflags

        model = self.open_model(step_input)
        if self.algorithm == "likely":
            self.log.info("algorithm 'likely' is fitted with the optimal-weighting (ols_cas22) algorithm")
        readnoise = self.get_reference_file_model(model, "readnoise")
        gain = self.get_reference_file_model(model, "gain")
        shape = model.pixeldq.shape
        for ref in (readnoise, gain):
            if ref.data.shape != shape:
                raise ValueError(f"{ref.meta.reftype} {ref.meta.filename}: shape {ref.data.shape} does not match "
                                 f"the exposure {shape}")
        pattern = [list(r) for r in model.meta.exposure.read_pattern]
        frame_time = model.meta.exposure.frame_time
        if not pattern or len(pattern) != model.data.shape[0]:
            raise ValueError(f"{model.meta.filename}: meta.exposure.read_pattern lists {len(pattern)} resultants, "
                             f"the data have {model.data.shape[0]}")
        kwargs = {}
        if self.threshold_intercept is not None:
            kwargs["threshold_intercept"] = self.threshold_intercept
        if self.threshold_constant is not None:
            kwargs["threshold_constant"] = self.threshold_constant
        self.log.info("Fitting %d resultants (%d reads) with jump detection %s", len(pattern), pattern[-1][-1],
                      "on" if self.use_ramp_jump_detection else "off")
        result = fit_ramps_uneven(
            model.data, model.groupdq, model.pixeldq, gain.data, readnoise.data, read_pattern=pattern,
            read_time=frame_time, use_jump=self.use_ramp_jump_detection,
            flags={"JUMP_DET": dqflags.JUMP_DET, "SATURATED": dqflags.SATURATED,
                   "DO_NOT_USE": dqflags.DO_NOT_USE, "NO_GAIN_VALUE": dqflags.NO_GAIN_VALUE},
            **kwargs,
        )
        readnoise.close()
        gain.close()
        njump = int(np.count_nonzero(result.dq & dqflags.JUMP_DET))
        self.log.info("Pixels with jumps: %d", njump)
        image = image_from_ramp(model, result.data, result.dq, result.var_poisson, result.var_rnoise, result.err,
                                include_var_rnoise=self.include_var_rnoise)
        return image
