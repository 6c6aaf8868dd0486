"""saturation: flag saturated groups (seed 002, saturation)."""

from __future__ import annotations

from photoncal.stpipe import ReferenceFileNotFoundError, Step

from ._common import is_miri, native, open_ramp, read_pattern_of, science_reference

__all__ = ["SaturationStep"]


class SaturationStep(Step):
    """Flag saturated groups.

    A group whose value reaches the SATURATION threshold gets SATURATED in
    GROUPDQ, with every later group; ``n_pix_grow_sat`` rings of neighbours
    are flagged too (charge spilling).  With ``use_readpatt`` the frame
    averaging is taken into account (a group can be saturated before its
    average reaches the threshold), using the SUPERBIAS as zero point when
    there is one.  Pixels without a usable threshold get NO_SAT_CHECK.
    """

    class_alias = "saturation"
    spec = """
        n_pix_grow_sat = integer(default=1)  # number of layers of adjacent pixels to flag as well
        use_readpatt = boolean(default=True)  # use the frame averaging of groups to flag saturation earlier
    """
    reference_file_types = ["saturation", "superbias"]
    optional_reference_file_types = ["superbias"]

    def process(self, step_input):
        from photoncal.kernels.saturation import flag_saturation

        model = open_ramp(self, step_input)
        threshold = science_reference(self, model, "saturation")
        if threshold is None:
            return self.skip_step(model, "no SATURATION reference file (N/A)")
        bias = self._superbias(model)
        zeroframe = model.zeroframe if model.meta.exposure.zero_frame else None
        result = flag_saturation(
            model.data,
            model.groupdq,
            model.pixeldq,
            native(threshold.data),
            native(threshold.dq),
            n_pix_grow_sat=self.n_pix_grow_sat,
            read_pattern=read_pattern_of(model) if self.use_readpatt else None,
            bias=None if bias is None else native(bias.data),
            zeroframe=zeroframe,
        )
        self.log.info("Detected %d saturated pixels", result.n_saturated)
        if result.n_ad_floor:
            self.log.info("Detected %d A/D floor pixels", result.n_ad_floor)
        return model

    def _superbias(self, model):
        """The SUPERBIAS (zero point of the frame-averaging check), or None:
        MIRI has none, and a missing or N/A superbias only turns that check off."""
        if is_miri(model):
            return None
        try:
            return science_reference(self, model, "superbias")
        except ReferenceFileNotFoundError as err:
            self.log.info("No SUPERBIAS reference (%s); saturation is checked without a bias", err)
            return None
