"""rscd: flag the groups affected by the reset switch charge decay (seed 002, rscd)."""

from __future__ import annotations

from photoncal.stpipe import Step

from ._common import is_miri, open_ramp, reference_model

__all__ = ["RscdStep"]


class RscdStep(Step):
    """Flag the first groups of MIRI integrations affected by the RSCD.

    The number of groups comes from the RSCD reference's group-skip table
    (the row of the exposure's READPATT and SUBARRAY): ``group_skip1`` in the
    first integration, ``group_skip`` in the later ones; they are flagged
    DO_NOT_USE where enough groups remain (as the established pipeline does;
    the seed's exponential correction is not applied).
    """

    class_alias = "rscd"
    spec = """
    """
    reference_file_types = ["rscd"]

    def process(self, step_input):
        from photoncal.kernels.rscd import flag_rscd_groups

        model = open_ramp(self, step_input)
        if not is_miri(model):
            return self.skip_step(model, "the RSCD correction is only for MIRI data")
        rscd = reference_model(self, model, "rscd")
        if rscd is None:
            return self.skip_step(model, "no RSCD reference file (N/A)")
        row = _group_skip_row(rscd, model)
        if row is None:
            return self.skip_step(
                model, f"no row for READPATT {model.meta.exposure.readpatt}, SUBARRAY {model.meta.subarray.name}"
                " in the RSCD group-skip table")
        skip_int1, skip_int2p = row
        if skip_int1 < 0:
            self.log.warning("The RSCD reference has no value for the first integration; 1 group is flagged")
            skip_int1 = 1
        self.log.info("Groups to flag: %d in integration 1, %d in later integrations", skip_int1, skip_int2p)
        result = flag_rscd_groups(model.groupdq, model.pixeldq, skip_int1=skip_int1, skip_int2p=skip_int2p,
                                  exposure_nints=model.meta.exposure.nints,
                                  integration_start=model.meta.exposure.integration_start)
        if not result.applied:
            return self.skip_step(model, "too few groups to flag")
        for name in ("ngroups_skip_int1", "ngroups_skip_int2p", "keep_groups_saturation_int1",
                     "keep_groups_saturation_int2p", "keep_bright_firstgroup_int1", "keep_bright_firstgroup_int2p"):
            value = getattr(result, name)
            if value is not None:
                setattr(model.meta.rscd, name, int(value))
        return model


def _group_skip_row(rscd, model):
    """(group_skip1, group_skip) of the table row matching READPATT and SUBARRAY, or None."""
    readpatt = str(model.meta.exposure.readpatt or "").strip().upper()
    subarray = str(model.meta.subarray.name or "").strip().upper()
    if subarray == "SUBPRISM":
        subarray = "SLITLESSPRISM"
    table = rscd.rscd_group_skip_table
    if table is None:
        return None
    names = {n.lower(): n for n in table.dtype.names}
    for row in table:
        if (str(row[names["subarray"]]).strip().upper() == subarray
                and str(row[names["readpatt"]]).strip().upper() == readpatt):
            return int(row[names["group_skip1"]]), int(row[names["group_skip"]])
    return None
