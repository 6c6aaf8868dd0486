"""refpix: remove bias drifts with the reference pixels (seed 002, refpix)."""

from __future__ import annotations

from photoncal.stpipe import Step

from ._common import is_miri, open_ramp

__all__ = ["RefPixStep"]

#: NIRSpec subarrays without reference rows: their first/last 4 columns serve.
_EDGELESS_SUBARRAYS = frozenset({"SUB512", "SUB512S", "SUB32"})


class RefPixStep(Step):
    """Correct bias drifts with the reference pixels.

    Near-IR: per amplifier (and column parity with ``odd_even_columns``) the
    sigma-clipped mean of the top and bottom reference rows is subtracted
    from every group; with ``use_side_ref_pixels`` a running median
    (``side_smoothing_length`` rows) of the left and right reference columns,
    times ``side_gain``, is subtracted row by row.  Subarrays read through
    one output use the reference pixels they contain.  MIRI full frame: the
    left and right reference columns per amplifier (and row parity with
    ``odd_even_rows``), relative to the first group; MIRI subarrays are
    skipped.  Not implemented: NIRSpec IRS2 and the "sirs" side-pixel
    algorithm (their parameters are accepted).
    """

    class_alias = "refpix"
    spec = """
        odd_even_columns = boolean(default=True)  # compute the reference signal separately for even and odd columns
        use_side_ref_pixels = boolean(default=True)  # use the side reference pixels for a reference signal per row
        side_smoothing_length = integer(default=11)  # median window height for the side reference signal
        side_gain = float(default=1.0)  # factor applied to the side reference signal before subtracting it
        odd_even_rows = boolean(default=True)  # MIRI: compute the reference signal separately for even and odd rows
        ovr_corr_mitigation_ftr = float(default=3.0)  # IRS2 only (not implemented); accepted for compatibility
        preserve_irs2_refpix = boolean(default=False)  # IRS2 only (not implemented); accepted for compatibility
        irs2_mean_subtraction = boolean(default=False)  # IRS2 only (not implemented); accepted for compatibility
        refpix_algorithm = option("median", "sirs", default="median")  # near-IR full-frame side-pixel algorithm ("sirs" not implemented: median is used)
        sigreject = float(default=4.0)  # sirs only; accepted for compatibility
        gaussmooth = float(default=1.0)  # sirs only; accepted for compatibility
        halfwidth = integer(default=30)  # sirs only; accepted for compatibility
        siglimit = float(default=3.0)  # sigma-clipping limit of the reference-pixel means
    """
    reference_file_types = ["refpix", "sirskernel"]
    # Only IRS2 (refpix) and the sirs algorithm (sirskernel) use them.
    optional_reference_file_types = ["refpix", "sirskernel"]

    def process(self, step_input):
        from photoncal.kernels import refpix as kernel

        model = open_ramp(self, step_input)
        readpatt = str(model.meta.exposure.readpatt or "").upper()
        if "IRS2" in readpatt:
            return self.skip_step(model, f"READPATT {readpatt}: the IRS2 correction is not implemented")
        if self.refpix_algorithm == "sirs":
            self.log.warning("refpix_algorithm = sirs is not implemented; the running median is used")
        if is_miri(model):
            status = kernel.refpix_miri(model.data, model.pixeldq, odd_even_rows=self.odd_even_rows,
                                 sigma_clip=self.siglimit)
        else:
            subarray = model.meta.subarray
            zeroframe = model.zeroframe if model.meta.exposure.zero_frame else None
            status = kernel.refpix_nir(
                model.data,
                model.pixeldq,
                xstart=int(subarray.xstart or 1),
                ystart=int(subarray.ystart or 1),
                fastaxis=int(subarray.fastaxis or 1),
                slowaxis=int(subarray.slowaxis or 2),
                noutputs=model.meta.exposure.noutputs,
                odd_even_columns=self.odd_even_columns,
                use_side_ref_pixels=self.use_side_ref_pixels,
                side_smoothing_length=self.side_smoothing_length,
                side_gain=self.side_gain,
                sigma_clip=self.siglimit,
                edgeless_subarray=str(subarray.name or "").upper() in _EDGELESS_SUBARRAYS,
                zeroframe=zeroframe,
            )
        if status != kernel.REFPIX_OK:
            reasons = {
                kernel.BAD_REFERENCE_PIXELS: "no valid reference pixels",
                kernel.SUBARRAY_DOESNTFIT: "the subarray does not fit in the full frame",
                kernel.SUBARRAY_SKIPPED: "MIRI subarrays are not corrected",
            }
            return self.skip_step(model, reasons.get(status, f"refpix status {status}"))
        return model
