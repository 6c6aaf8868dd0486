"""Saturation flagging of Roman resultants."""

from __future__ import annotations

from photoncal.roman.stpipe import RomanStep

__all__ = ["SaturationStep"]


class SaturationStep(RomanStep):
    """Flag saturated resultants (and the A/D floor) from the SATURATION reference.

    The shared saturation kernel with the exposure's MA table: a resultant
    whose mean is diluted by reads before saturation is caught through the
    next resultant, as the established code does.
    """

    class_alias = "roman_saturation"
    cal_step = "saturation"
    spec = """
        n_pix_grow_sat = integer(default=0)  # grow saturated pixels by this number to accommodate charge spilling
        backup = integer(default=0)  # number of resultants to flag before each saturated resultant
    """
    reference_file_types = ["saturation"]

    def process(self, step_input):
        from photoncal.kernels.saturation import flag_saturation
        from photoncal.roman import dqflags

        model = self.open_model(step_input)
        ref = self.get_reference_file_model(model, "saturation")
        if ref.data.shape != model.pixeldq.shape:
            raise ValueError(f"SATURATION {ref.meta.filename}: shape {ref.data.shape} does not match the "
                             f"exposure {model.pixeldq.shape}")
        pattern = [list(r) for r in model.meta.exposure.read_pattern]
        result = flag_saturation(
            model.data[None], model.groupdq[None], model.pixeldq, ref.data, ref.dq,
            n_pix_grow_sat=int(self.n_pix_grow_sat), read_pattern=pattern or None,
            do_not_use=dqflags.DO_NOT_USE, saturated=dqflags.SATURATED, ad_floor=dqflags.AD_FLOOR,
            no_sat_check=dqflags.NO_SAT_CHECK,
        )
        ref.close()
        gdq = model.groupdq
        for _ in range(int(self.backup)):
            for i in range(len(pattern) - 1):
                if len(pattern[i]) > 1:
                    gdq[i] |= gdq[i + 1] & dqflags.SATURATED
        self.log.info("Pixels with saturated resultants: %d; at the A/D floor: %d", result.n_saturated,
                      result.n_ad_floor)
        return model
