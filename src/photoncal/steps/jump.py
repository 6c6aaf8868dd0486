"""jump: detect jumps (cosmic rays) in ramps (seed 002, jump)."""

from __future__ import annotations

from photoncal.stpipe import Step

from ._common import native, open_ramp, science_reference

__all__ = ["JumpStep"]


class JumpStep(Step):
    """Detect jumps (cosmic rays) with the two-point difference method.

    In electrons (GAIN), the first differences of each pixel's usable groups
    are compared with their median; a difference more than
    ``rejection_threshold`` sigma (Poisson from the median, READNOISE) away
    flags the later group JUMP_DET, and the search repeats without it
    (``four_group_rejection_threshold`` and ``three_group_rejection_threshold``
    with only 3 or 2 usable differences).  Large jumps also flag their four
    neighbours; optional after-jump flagging, snowball (NIR) and shower
    (MIRI) detection.  Pixels with a gain <= 0 or NaN get NO_GAIN_VALUE and
    DO_NOT_USE.  Skipped with fewer than 3 groups.  The parameters are the
    established JumpStep's, with the same names and defaults.
    """

    class_alias = "jump"
    spec = """
        rejection_threshold = float(default=4.0, min=0)  # CR sigma rejection threshold
        three_group_rejection_threshold = float(default=6.0, min=0)  # CR sigma rejection threshold with 3 usable groups
        four_group_rejection_threshold = float(default=5.0, min=0)  # CR sigma rejection threshold with 4 usable groups
        maximum_cores = string(default='1')  # accepted for compatibility: photoncal uses threads in one process
        flag_4_neighbors = boolean(default=True)  # flag the four perpendicular neighbours of each CR
        max_jump_to_flag_neighbors = float(default=1000)  # maximum jump sigma that triggers neighbour flagging
        min_jump_to_flag_neighbors = float(default=10)  # minimum jump sigma that triggers neighbour flagging
        after_jump_flag_dn1 = float(default=0)  # 1st: flag groups after jumps above this many DN
        after_jump_flag_time1 = float(default=0)  # 1st: ... for this many seconds
        after_jump_flag_dn2 = float(default=0)  # 2nd: flag groups after jumps above this many DN
        after_jump_flag_time2 = float(default=0)  # 2nd: ... for this many seconds
        expand_large_events = boolean(default=False)  # snowball detection for near-IR detectors
        min_sat_area = float(default=1.0)  # minimum area of the saturated core of a snowball
        min_jump_area = float(default=5.0)  # minimum area that triggers large-event processing
        expand_factor = float(default=2.0)  # expansion factor of the enclosing circles or ellipses
        use_ellipses = boolean(default=False)  # deprecated; no effect
        sat_required_snowball = boolean(default=True)  # require a saturated core for snowballs
        min_sat_radius_extend = float(default=2.5)  # minimum radius of the saturated core that is extended
        sat_expand = integer(default=2)  # pixels added to the radius of a snowball's saturated core
        edge_size = integer(default=25)  # distance from the edge within which no saturated core is required
        mask_snowball_core_next_int = boolean(default=True)  # flag snowball cores in the next integration
        snowball_time_masked_next_int = integer(default=4000)  # seconds over which cores are flagged in the next integration
        find_showers = boolean(default=False)  # MIRI shower flagging
        max_shower_amplitude = float(default=4)  # maximum MIRI shower amplitude in DN/s
        extend_snr_threshold = float(default=1.2)  # minimum SNR of extended shower emission
        extend_min_area = integer(default=90)  # minimum area of shower emission after convolution
        extend_inner_radius = float(default=1)  # inner radius of the ring kernel
        extend_outer_radius = float(default=2.6)  # outer radius of the ring kernel
        extend_ellipse_expand_ratio = float(default=1.1)  # expansion of the ellipse fitted to a shower
        time_masked_after_shower = float(default=15)  # seconds flagged as jump after a shower
        min_diffs_single_pass = integer(default=10)  # with this many differences, flag all outliers in one pass
        max_extended_radius = integer(default=200)  # maximum radius of a snowball or shower
        minimum_groups = integer(default=3)  # minimum groups for jump detection
        minimum_sigclip_groups = integer(default=100)  # integrations (or groups) from which sigma clipping is used
        only_use_ints = boolean(default=True)  # sigma clipping compares the same group across integrations only
    """
    reference_file_types = ["gain", "readnoise"]

    def process(self, step_input):
        from photoncal.kernels.jump import JUMP_STEP_DEFAULTS, cosmic_ray_rates, detect_jumps

        model = open_ramp(self, step_input)
        ngroups = model.data.shape[1]
        if ngroups <= 2:
            return self.skip_step(model, f"NGROUPS = {ngroups}: jump detection needs at least 3 groups")
        self.log.info("CR rejection threshold = %g sigma", self.rejection_threshold)
        gain = science_reference(self, model, "gain")
        readnoise = science_reference(self, model, "readnoise")
        if gain is None or readnoise is None:
            return self.skip_step(model, "no GAIN or READNOISE reference file (N/A)")
        exposure = model.meta.exposure
        read_times = getattr(exposure, "read_times", None)
        parameters = {name: getattr(self, name) for name in JUMP_STEP_DEFAULTS}
        result = detect_jumps(
            model.data,
            model.groupdq,
            model.pixeldq,
            native(gain.data, "float32"),
            native(readnoise.data, "float32"),
            nframes=int(exposure.nframes or 1),
            group_time=exposure.group_time,
            read_pattern=list(read_times) if read_times else None,
            inplace=True,
            **parameters,
        )
        model.groupdq = result.groupdq
        model.pixeldq = result.pixeldq
        if result.skipped:
            return self.skip_step(model, result.skipped)
        self.log.info("Total number of jumps flagged: %d", result.number_crs)
        if exposure.group_time:
            primary, extended = cosmic_ray_rates(result, float(exposure.group_time))
            if primary is not None:
                exposure.primary_cosmic_rays = primary
                exposure.extended_emission_events = extended
        return model
