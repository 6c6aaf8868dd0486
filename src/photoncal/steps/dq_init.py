"""dq_init: initialise the data quality from the MASK reference (seed 002, dq_init)."""

from __future__ import annotations

from photoncal.stpipe import Step

from ._common import native, open_model_as, open_ramp, science_reference

__all__ = ["DQInitStep", "FGS_GUIDE_EXP_TYPES"]

#: Guide-mode exposure types: a GuiderRawModel with one 2-D DQ array.
FGS_GUIDE_EXP_TYPES = frozenset(
    {"FGS_ACQ1", "FGS_ACQ2", "FGS_FINEGUIDE", "FGS_ID-IMAGE", "FGS_ID-STACK", "FGS_TRACK"}
)


def _is_guider(model) -> bool:
    return str(model.meta.exposure.type or "").upper() in FGS_GUIDE_EXP_TYPES


class DQInitStep(Step):
    """Initialise the data quality arrays from the MASK reference file.

    The MASK DQ (cut to the subarray) is OR-ed into PIXELDQ, and its
    DO_NOT_USE bit into every group of GROUPDQ; for FGS guide-mode data into
    the single DQ array.  ``user_supplied_dq`` names a FITS file whose
    primary (or first image) array is OR-ed into the mask first.
    """

    class_alias = "dq_init"
    spec = """
        user_supplied_dq = string(default=None)  # FITS user-supplied DQ file
    """
    reference_file_types = ["mask"]

    def process(self, step_input):
        from photoncal.kernels.dq_init import merge_guider_mask_dq, merge_mask_dq

        model = self._open(step_input)
        mask = science_reference(self, model, "mask")
        if mask is None:
            return self.skip_step(model, "no MASK reference file (N/A)")
        user_dq = self._user_dq()
        if _is_guider(model):
            merge_guider_mask_dq(model.dq, native(mask.dq), user_dq=user_dq)
        else:
            merge_mask_dq(model.pixeldq, model.groupdq, native(mask.dq), user_dq=user_dq)
        return model

    def _open(self, step_input):
        model = self.open_model(step_input)
        if _is_guider(model):
            from photoncal.datamodels import GuiderRawModel

            return open_model_as(self, model, GuiderRawModel, "an FGS guide-mode exposure (GuiderRawModel)")
        return open_ramp(self, model)

    def _user_dq(self):
        if self.user_supplied_dq is None:
            return None
        from astropy.io import fits

        path = self.make_input_path(self.user_supplied_dq)
        with fits.open(path) as hdul:
            for hdu in hdul:
                if hdu.data is not None and getattr(hdu.data, "ndim", 0) == 2:
                    self.log.info("Adding the user-supplied DQ %s (HDU %s) to the mask", path, hdu.name)
                    return native(hdu.data)
        raise ValueError(f"user_supplied_dq {path}: no 2-D image array in the file; expected the DQ image")

