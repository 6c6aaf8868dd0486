"""Step and Pipeline base classes of the Roman WFI pipeline.

They are photoncal's :class:`~photoncal.stpipe.Step` and
:class:`~photoncal.stpipe.Pipeline` (same parameters, ``strun``, output
naming, logging and reference-file resolution) with the Roman conventions:

* inputs are opened with :func:`photoncal.roman.datamodels.open` (a raw
  exposure becomes a ``RampModel``; an association a list of exposures);
* outputs are ASDF (``output_ext = .asdf``);
* the reference files used are recorded as ``meta.ref_file.<reftype>``
  (a string, the Roman layout) and the status as ``meta.cal_step.<step>``.

Roman steps have aliases of their own (``roman_dq_init``, ...; the
established names ``romancal.dq_init.DQInitStep`` resolve to them too), so
they never shadow the JWST steps of the same name; inside the exposure
pipeline they keep their Roman names (``--steps.dq_init.skip``).
"""

from __future__ import annotations

from photoncal.stpipe import Pipeline, Step
from photoncal.stpipe.step import _set_meta, is_container, is_model, iter_models

__all__ = ["RomanStep", "RomanPipeline"]


class RomanStep(Step):
    """Base class of the Roman WFI steps."""

    spec = """
        output_ext = string(default='.asdf')   # Roman products are ASDF files
    """

    def default_suffix(self) -> str:
        if self.parent is not None:
            return self.name.lower()
        alias = type(self).class_alias or self.name
        return alias[len("roman_"):] if alias.startswith("roman_") else alias.lower()

    def open_model(self, obj, **kwargs):
        """Open a path (relative to ``input_dir``), association or list as Roman models."""
        if (is_model(obj) or is_container(obj)) and not kwargs:
            return obj
        from photoncal.roman import datamodels as rdm

        return rdm.open(self.make_input_path(obj), **kwargs)

    def get_reference_file_model(self, model, reftype: str):
        """The reference file of ``reftype`` opened as a Roman model (None for N/A)."""
        found = self.get_reference_file(model, reftype)
        if is_model(found):
            return found
        if found == "N/A":
            return None
        from photoncal.roman import datamodels as rdm

        return rdm.open(found)

    def _finalize_result(self, result):
        status = self.status_name()
        state = "SKIPPED" if self._skip_reason else "COMPLETE"
        for model in iter_models(result):
            meta = model._instance.get("meta", {}) if hasattr(model, "_instance") else {}
            if status and (not hasattr(model, "_schema") or _has_cal_step(model)):
                _set_meta(model, f"cal_step.{status}", state, self.log)
            if "reftype" in meta:
                continue
            for reftype, recorded in self._reference_files_used:
                _set_meta(model, f"ref_file.{reftype}", recorded, self.log)


def _has_cal_step(model) -> bool:
    props = model._schema.get("properties", {}).get("meta", {}).get("properties", {})
    return "cal_step" in props


class RomanPipeline(Pipeline, RomanStep):
    """Base class of the Roman pipelines."""
