"""Roman reference-pixel correction (border columns and amp33, in Fourier space)."""

from __future__ import annotations

from photoncal.roman.stpipe import RomanStep

__all__ = ["RefPixStep"]


class RefPixStep(RomanStep):
    """Correct the resultants with the reference pixels (romancal's IRRC scheme).

    See :mod:`photoncal.roman.kernels.refpix`.  The corrected amp33 and
    left/right border columns replace the stored ones.
    """

    class_alias = "roman_refpix"
    cal_step = "refpix"
    spec = """
        remove_offset = boolean(default=True)       # remove each pixel's mean before the correction, restore it after
        remove_trends = boolean(default=True)       # remove the linear trends in time seen by the reference rows
        cosine_interpolate = boolean(default=True)  # fill zero amp33 samples by cosine-weighted interpolation
        fft_interpolate = boolean(default=True)     # refine amp33's idle columns by Fourier interpolation
    """
    reference_file_types = ["refpix"]

    def process(self, step_input):
        from photoncal.roman import datamodels as rdm
        from photoncal.roman import dqflags
        from photoncal.roman.kernels.refpix import correct_refpix

        model = self.open_model(step_input)
        found = self.get_reference_file(model, "refpix")
        # memory-mapped: the weights are read channel by channel
        ref = found if not isinstance(found, str) else rdm.open(found, memmap=True)
        data = model.data
        result = correct_refpix(
            data, model.amp33, model.pixeldq, ref.gamma, ref.zeta, ref.alpha,
            bad_ref_pixel=dqflags.BAD_REF_PIXEL, remove_offset=self.remove_offset,
            remove_trends=self.remove_trends, cosine_interpolate=self.cosine_interpolate,
            fft_interpolate=self.fft_interpolate,
        )
        ref.close()
        model.amp33 = result.amp33
        model.border_ref_pix_left = data[:, :, :4].copy()
        model.border_ref_pix_right = data[:, :, -4:].copy()
        return model
