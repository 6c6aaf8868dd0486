"""linearity: correct the non-linear detector response (seed 002, linearity)."""

from __future__ import annotations

from photoncal.stpipe import Step

from ._common import native, open_ramp, read_pattern_of, science_reference

__all__ = ["LinearityStep"]


class LinearityStep(Step):
    """Correct the non-linear detector response with the polynomial method.

    Every group that is not SATURATED is replaced by the LINEARITY
    polynomial of its value, ``F = sum_k c_k F_raw**k``.  Pixels whose
    coefficients are unusable (NaN, zero linear term, NO_LIN_CORR in the
    reference DQ) are left as they are and get NO_LIN_CORR.  A reference
    with inverse coefficients (INV_COEFFS) corrects frame-averaged groups
    (NFRAMES > 1) frame by frame, as the established pipeline does.
    """

    class_alias = "linearity"
    spec = """
    """
    reference_file_types = ["linearity"]

    def process(self, step_input):
        from photoncal.kernels.linearity import correct_linearity

        model = open_ramp(self, step_input)
        lin = science_reference(self, model, "linearity")
        if lin is None:
            return self.skip_step(model, "no LINEARITY reference file (N/A)")
        inverse = lin.inv_coeffs if "inv_coeffs" in lin.keys() else None
        read_pattern = None
        read_times = getattr(model.meta.exposure, "read_times", None)
        if inverse is not None and int(model.meta.exposure.nframes or 1) > 1 and not read_times:
            self.log.info("Inverse coefficients and the read pattern: frame-level correction")
            read_pattern = read_pattern_of(model)
            inverse = native(inverse)
        else:
            inverse = None
        zeroframe = model.zeroframe if model.meta.exposure.zero_frame else None
        correct_linearity(
            model.data,
            model.groupdq,
            model.pixeldq,
            native(lin.coeffs),
            native(lin.dq),
            inverse_coeffs=inverse,
            read_pattern=read_pattern,
            zeroframe=zeroframe,
        )
        return model
