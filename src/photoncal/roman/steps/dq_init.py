"""DQ initialisation of a Roman exposure: the raw data become a ramp with DQ and reference arrays."""

from __future__ import annotations

from photoncal.roman.stpipe import RomanStep

__all__ = ["DQInitStep"]

BORDER = 4


class DQInitStep(RomanStep):
    """Initialise the pixel DQ from the MASK reference file.

    The raw exposure is a RampModel (float32 resultants, ``pixeldq`` and
    ``groupdq`` created).  The guide-window region is flagged
    (GW_AFFECTED_DATA, and DO_NOT_USE inside the window), an on-board
    reference read is added back, the data encoding offset removed, the MASK
    DQ OR-ed into ``pixeldq``, and the 4-pixel reference border of every
    resultant (and its DQ) copied into ``border_ref_pix_*``.
    """

    class_alias = "roman_dq_init"
    cal_step = "dq_init"
    spec = """
        expand_gw_flagging = integer(default=0)  # expand the guide-window flagging by this many pixels
    """
    reference_file_types = ["mask"]

    def process(self, step_input):
        import numpy as np

        from photoncal.roman import dqflags

        model = self.open_model(step_input)
        if type(model).__name__ != "RampModel":
            raise TypeError(f"dq_init: expected a raw exposure or a RampModel, got {type(model).__name__}")
        data = model.data
        pixeldq = model.pixeldq
        nres, ny, nx = data.shape

        gs = model.meta.guide_star
        x0, x1, y0, y1 = (int(gs.window_xstart or -1), int(gs.window_xstop or -1),
                          int(gs.window_ystart or -1), int(gs.window_ystop or -1))
        if 0 <= x0 < ny and 0 <= y0 < ny:
            # As romancal: the columns of the window are read while the guide window is read.
            pixeldq[:, x0:x1] = dqflags.GW_AFFECTED_DATA
            self.log.info("Flagging columns %d to %d as affected by the guide window read", x0, x1)
            grow = int(self.expand_gw_flagging)
            if grow > 0:
                x0, x1 = np.clip([x0 - grow, x1 + grow], 0, ny)
                y0, y1 = np.clip([y0 - grow, y1 + grow], 0, ny)
            pixeldq[y0:y1, x0:x1] |= dqflags.DO_NOT_USE | dqflags.GW_AFFECTED_DATA
        else:
            self.log.info("No valid guide window (%d, %d, %d, %d): nothing flagged", x0, x1, y0, y1)

        reference_read = model._instance.pop("reference_read", None)
        if reference_read is not None:
            data += np.asarray(reference_read, dtype=np.float32)
            ref33 = model._instance.pop("reference_amp33", None)
            if ref33 is not None:
                model.amp33 = (model.amp33.astype(np.int64) + np.asarray(ref33)).clip(0, 65535).astype(np.uint16)
        offset = model.meta.instrument.data_encoding_offset or 0
        if offset:
            data -= np.float32(offset)
            model.amp33 = (model.amp33.astype(np.int64) - offset).clip(0, 65535).astype(np.uint16)

        mask = self.get_reference_file_model(model, "mask")
        if mask is not None and mask.dq.shape == pixeldq.shape:
            pixeldq |= mask.dq
            mask.close()
        else:
            shape = None if mask is None else mask.dq.shape
            self.log.warning("MASK array %s does not match the science data %s: DQ not updated", shape,
                             pixeldq.shape)
            self.skip_step(model, "MASK shape does not match")

        model.border_ref_pix_right = data[:, :, -BORDER:].copy()
        model.border_ref_pix_left = data[:, :, :BORDER].copy()
        model.border_ref_pix_top = data[:, :BORDER, :].copy()
        model.border_ref_pix_bottom = data[:, -BORDER:, :].copy()
        model.dq_border_ref_pix_right = pixeldq[:, -BORDER:].copy()
        model.dq_border_ref_pix_left = pixeldq[:, :BORDER].copy()
        model.dq_border_ref_pix_top = pixeldq[:BORDER, :].copy()
        model.dq_border_ref_pix_bottom = pixeldq[-BORDER:, :].copy()
        return model
