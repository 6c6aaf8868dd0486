"""persistence: the trap model of persistence (seed 002, persistence)."""

from __future__ import annotations

from photoncal.stpipe import ReferenceFileNotFoundError, Step

from ._common import describe, native, open_ramp, reference_model, saving_products, science_reference

__all__ = ["PersistenceStep"]


class PersistenceStep(Step):
    """Correct for persistence with the trap capture and decay model.

    Charge trapped during earlier exposures (``input_trapsfilled``, the
    ``_trapsfilled`` product of the previous exposure of the detector;
    default: no trapped charge) decays from that exposure's end to this one's
    start and is released group by group; the released charge is subtracted
    and pixels whose correction reaches ``flag_pers_cutoff`` DN get
    PERSISTENCE in PIXELDQ.  The traps this exposure fills are added, and the
    state at its end is the ``_trapsfilled`` product (saved whenever the
    run saves its products, with ``save_trapsfilled``).  ``save_persistence``
    also saves the persistence subtracted from every group (``_output_pers``).
    Reference files: TRAPDENSITY, TRAPPARS, PERSAT.
    """

    class_alias = "persistence"
    spec = """
        input_trapsfilled = string(default="")  # the _trapsfilled file of the detector's previous exposure (default: no trapped charge)
        flag_pers_cutoff = float(default=40.0)  # pixels whose persistence correction reaches this many DN get PERSISTENCE
        save_persistence = boolean(default=False)  # save the persistence subtracted from each group (_output_pers)
        save_trapsfilled = boolean(default=True)  # save the traps filled at the end of the exposure (_trapsfilled)
        modify_input = boolean(default=False)  # accepted for compatibility (the pipeline always works in place)
    """
    reference_file_types = ["trapdensity", "trappars", "persat"]

    def process(self, step_input):
        import numpy as np

        from photoncal.datamodels.subarray import full_frame_shape
        from photoncal.kernels.persistence import TrapParameters, trap_persistence

        model = open_ramp(self, step_input)
        references = self._references(model)
        if isinstance(references, str):
            return self.skip_step(model, references)
        density, trappars, persat = references
        params = TrapParameters.from_table(trappars.trappars_table)

        det_shape = full_frame_shape(model.meta)
        traps_filled, time_since = self._initial_traps(model, params.nfamilies, det_shape)
        exposure, subarray = model.meta.exposure, model.meta.subarray
        persistence = trap_persistence(
            model.data,
            model.groupdq,
            model.pixeldq,
            traps_filled,
            native(density.data),
            native(persat.data),
            params,
            frame_time=float(exposure.frame_time),
            group_time=float(exposure.group_time),
            nresets_at_start=int(exposure.nresets_at_start if exposure.nresets_at_start is not None else 1),
            nresets_between_ints=int(exposure.nresets_between_ints if exposure.nresets_between_ints is not None else 1),
            time_since_traps_filled=time_since,
            subarray_origin=(int(subarray.ystart or 1) - 1, int(subarray.xstart or 1) - 1),
            trap_density_dq=_dq_or_none(density),
            persat_dq=_dq_or_none(persat),
            flag_pers_cutoff=self.flag_pers_cutoff,
            return_persistence=self.save_persistence,
        )
        if self.flag_pers_cutoff is not None:
            from photoncal import dqflags

            flagged = int(np.count_nonzero(model.pixeldq & dqflags.pixel["PERSISTENCE"]))
            self.log.info("%d pixels flagged PERSISTENCE (correction >= %g DN)", flagged, self.flag_pers_cutoff)
        if self.save_trapsfilled and saving_products(self):
            self._save_traps(model, traps_filled)
        if persistence is not None:
            self._save_persistence(model, persistence)
        return model

    def _references(self, model):
        """(TRAPDENSITY, TRAPPARS, PERSAT) cut to the subarray, or why the step
        cannot run: as in the established pipeline, a detector without
        persistence reference files (MIRI) is skipped, not an error."""
        found = []
        missing = []
        for reftype, cut in (("trapdensity", True), ("trappars", False), ("persat", True)):
            try:
                ref = science_reference(self, model, reftype) if cut else reference_model(self, model, reftype)
            except ReferenceFileNotFoundError as err:
                self.log.debug("%s", err)
                ref = None
            if ref is None:
                missing.append(reftype.upper())
            found.append(ref)
        if missing:
            return f"no {', '.join(missing)} reference file for {model.meta.instrument.detector}"
        return tuple(found)

    def _initial_traps(self, model, nfamilies, det_shape):
        """The traps-filled state at the end of the previous exposure (zeros
        without ``input_trapsfilled``) and the seconds since then."""
        import numpy as np

        name = (self.input_trapsfilled or "").strip()
        if not name or name.lower() == "none":
            return np.zeros((nfamilies,) + tuple(det_shape), dtype=np.float64), None
        from photoncal.datamodels import TrapsFilledModel

        path = self.make_input_path(name)
        with TrapsFilledModel(path) as previous:
            traps = np.array(previous.data, dtype=np.float64)
            end = previous.meta.exposure.end_time
        expected = (nfamilies,) + tuple(det_shape)
        if traps.shape != expected:
            raise ValueError(
                f"input_trapsfilled {path}: SCI has shape {traps.shape}; expected {expected} "
                "(one full-frame plane per TRAPPARS row)"
            )
        start = model.meta.exposure.start_time
        if end is None or start is None:
            raise ValueError(
                f"input_trapsfilled {path}: EXPEND ({end}) of the previous exposure or EXPSTART ({start}) of "
                f"{describe(model)} is missing; both are needed to decay the trapped charge"
            )
        time_since = (float(start) - float(end)) * 86400.0
        self.log.info("Trapped charge of %s decays over %.1f s", path, time_since)
        return traps, time_since

    def _save_traps(self, model, traps_filled):
        import numpy as np

        from photoncal.datamodels import TrapsFilledModel

        product = TrapsFilledModel(data=traps_filled.astype(np.float32))
        product.update(model)
        self.save_model(product, suffix="trapsfilled", force=True)

    def _save_persistence(self, model, persistence):
        from photoncal.datamodels import RampModel

        product = RampModel(data=persistence)
        product.update(model)
        self.save_model(product, suffix="output_pers", force=True)


def _dq_or_none(ref):
    return native(ref.dq) if "dq" in ref.keys() else None
