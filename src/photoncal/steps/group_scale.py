"""group_scale: undo the on-board averaging by a power of two (seed 002, group_scale)."""

from __future__ import annotations

from photoncal.stpipe import Step

from ._common import open_ramp

__all__ = ["GroupScaleStep"]


class GroupScaleStep(Step):
    """Rescale group data taken with FRMDIVSR different from NFRAMES.

    On board, the frames of a group are summed and divided by FRMDIVSR, the
    power of two at or above NFRAMES.  When the two differ every group of
    every integration is multiplied by FRMDIVSR/NFRAMES; otherwise (or when
    either keyword is missing) the step is skipped.
    """

    class_alias = "group_scale"
    spec = """
    """

    def process(self, step_input):
        from photoncal.kernels.group_scale import group_scale_factor, rescale_groups

        model = open_ramp(self, step_input)
        nframes = model.meta.exposure.nframes
        frame_divisor = model.meta.exposure.frame_divisor
        factor = group_scale_factor(nframes, frame_divisor)
        if factor is None:
            if nframes is None or frame_divisor is None:
                return self.skip_step(model, f"NFRAMES ({nframes}) or FRMDIVSR ({frame_divisor}) not found")
            return self.skip_step(model, f"NFRAMES = FRMDIVSR = {nframes}; no correction needed")
        self.log.info("NFRAMES=%s, FRMDIVSR=%s: rescaling all groups by %g", nframes, frame_divisor, factor)
        rescale_groups(model.data, factor)
        return model
