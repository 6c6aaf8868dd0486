"""ipc: correct inter-pixel capacitance (seed 002, ipc)."""

from __future__ import annotations

from photoncal.stpipe import Step

from ._common import is_miri, native, open_ramp, reference_model

__all__ = ["IPCStep"]


class IPCStep(Step):
    """Correct for inter-pixel capacitance.

    Every group of every integration is convolved with the IPC reference
    kernel (a small deconvolution kernel, 2-D, or 4-D with one kernel per
    pixel).  Reference pixels are neither changed nor used.
    """

    class_alias = "ipc"
    spec = """
    """
    reference_file_types = ["ipc"]

    def process(self, step_input):
        from photoncal.datamodels.subarray import subarray_box
        from photoncal.kernels.ipc import ipc_correct, reference_pixel_counts

        model = open_ramp(self, step_input)
        ipc = reference_model(self, model, "ipc")
        if ipc is None:
            return self.skip_step(model, "no IPC reference file (N/A)")
        kernel = native(ipc.data, "float32")
        if kernel.ndim == 4:
            # one kernel per pixel: cut its image axes to the science subarray
            from photoncal.datamodels.subarray import ref_to_science_subarray

            kernel = native(ref_to_science_subarray(ipc, model).data, "float32")
        xstart, ystart, xsize, ysize = subarray_box(model)
        nref = reference_pixel_counts(xstart, ystart, xsize, ysize, miri=is_miri(model))
        ipc_correct(model.data, kernel, nref)
        return model
