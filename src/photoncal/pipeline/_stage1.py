"""What the stage-1 pipelines share: the instrument's step order and the
fully saturated exposure."""

from __future__ import annotations

from photoncal.steps._common import is_fully_saturated, is_miri, open_ramp

__all__ = ["open_stage1_ramp", "run_until_saturated", "fully_saturated_products"]


def open_stage1_ramp(pipeline, step_input, nir_steps, miri_steps):
    """The input ramp and the step order of its instrument."""
    ramp = open_ramp(pipeline, step_input)
    if is_miri(ramp):
        pipeline.log.debug("Processing a MIRI exposure")
        return ramp, tuple(miri_steps)
    pipeline.log.debug("Processing a near-IR exposure")
    return ramp, tuple(nir_steps)


def run_until_saturated(pipeline, ramp, order):
    """Run the steps of ``order`` on ``ramp`` in turn.

    Returns the ramp and None, or - when every science pixel is saturated
    in the first group after the saturation step - the ramp and the names of
    the steps that were not run (seed 004: such an exposure is not processed
    by the steps beyond saturation).
    """
    from photoncal import dqflags

    for index, name in enumerate(order):
        ramp = getattr(pipeline, name).run(ramp)
        if name == "saturation" and is_fully_saturated(
            ramp, saturated=dqflags.group["SATURATED"], reference_pixel=dqflags.pixel["REFERENCE_PIXEL"]
        ):
            pipeline.log.warning("All science pixels are saturated in the first group; "
                                 "the steps after saturation are skipped and the rates are zero")
            return ramp, tuple(order[index + 1:])
    return ramp, None


def fully_saturated_products(pipeline, ramp, skipped_steps):
    """All-zero ``_rate`` and ``_rateints`` products of a fully saturated ramp.

    SCI, ERR and the variances are 0; DQ is PIXELDQ with every GROUPDQ flag
    (SATURATED included) of the integration (of all integrations for the
    rate); each step in ``skipped_steps`` is marked SKIPPED and logged.
    """
    import numpy as np

    from photoncal import dqflags
    from photoncal.steps.ramp_fit import rate_cube, rate_image

    nints, _, ny, nx = ramp.data.shape
    saturated = np.uint32(dqflags.pixel["SATURATED"])
    pixeldq = np.asarray(ramp.pixeldq, dtype=np.uint32)
    int_dq = np.bitwise_or.reduce(np.asarray(ramp.groupdq), axis=1).astype(np.uint32) | pixeldq | saturated

    class _Product:
        def __init__(self, shape, dq):
            self.data = np.zeros(shape, dtype=np.float32)
            self.err = np.zeros(shape, dtype=np.float32)
            self.var_poisson = np.zeros(shape, dtype=np.float32)
            self.var_rnoise = np.zeros(shape, dtype=np.float32)
            self.dq = dq

    rate = rate_image(ramp, _Product((ny, nx), np.bitwise_or.reduce(int_dq, axis=0)))
    rateints = rate_cube(ramp, _Product((nints, ny, nx), int_dq))
    for name in skipped_steps:
        getattr(pipeline, name).skip_step([rate, rateints], "all science pixels are saturated")
    return rate, rateints
