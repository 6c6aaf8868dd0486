"""guider_cds: count rates of FGS guide-mode data (seed 002, guider_cds)."""

from __future__ import annotations

from photoncal.stpipe import Step

from ._common import native, open_model_as, science_reference

__all__ = ["GuiderCdsStep"]


class GuiderCdsStep(Step):
    """Compute count rates of FGS guide-mode exposures.

    ID: the smaller of the two integrations' (group 2 - group 1) differences;
    ACQ1, ACQ2, TRACK: (group 2 - group 1) per integration; FineGuide: the
    mean of the last 4 groups minus the mean of the first 4 per integration;
    each divided by the group time (BUNIT DN/s).  Uncertainties from GAIN and
    READNOISE.  Input GuiderRawModel, output GuiderCalModel.
    """

    class_alias = "guider_cds"
    spec = """
    """
    reference_file_types = ["gain", "readnoise"]

    def process(self, step_input):
        from photoncal.datamodels import GuiderCalModel, GuiderRawModel
        from photoncal.kernels.guider_cds import guider_cds, guider_mode

        raw = open_model_as(self, step_input, GuiderRawModel, "an FGS guide-mode exposure (GuiderRawModel)")
        mode = guider_mode(raw.meta.exposure.type)
        gain = science_reference(self, raw, "gain")
        readnoise = science_reference(self, raw, "readnoise")
        if gain is None or readnoise is None:
            return self.skip_step(raw, "no GAIN or READNOISE reference file (N/A)")
        rates = guider_cds(native(raw.data, "float32"), mode=mode, group_time=raw.meta.exposure.group_time,
                           gain=native(gain.data, "float32"), readnoise=native(readnoise.data, "float32"))
        cal = GuiderCalModel(data=rates.data, err=rates.err, dq=raw.dq)
        for name in ("planned_star_table", "flight_star_table", "pointing_table", "centroid_table",
                     "track_sub_table"):
            if name in raw.keys():
                setattr(cal, name, getattr(raw, name))
        cal.update(raw)
        cal.meta.filename = raw.meta.filename
        cal.meta.bunit_data = "DN/s"
        return cal
