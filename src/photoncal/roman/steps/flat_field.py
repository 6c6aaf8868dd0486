"""Flat-fielding of the Roman rate image."""

from __future__ import annotations

from photoncal.roman.stpipe import RomanStep

__all__ = ["FlatFieldStep"]


class FlatFieldStep(RomanStep):
    """Divide the image (and its errors) by the FLAT reference.

    Flat values that are NaN, zero or flagged NO_FLAT_FIELD become 1 and the
    pixel gets NO_FLAT_FIELD; the flat DQ is OR-ed into the image DQ.  The
    variances are divided by the flat squared; ``include_var_flat`` adds the
    flat's own uncertainty (``var_flat``) to ERR.  A flat of another shape
    skips the step (as romancal).
    """

    class_alias = "roman_flat_field"
    cal_step = "flat_field"
    spec = """
        include_var_flat = boolean(default=False)  # add the flat-field variance to the errors
    """
    reference_file_types = ["flat"]

    def default_suffix(self):
        return "flat" if self.parent is None else super().default_suffix()

    def process(self, step_input):
        import numpy as np

        from photoncal.roman import dqflags

        model = self.open_model(step_input)
        flat = self.get_reference_file_model(model, "flat")
        if flat.data.shape != model.data.shape:
            self.log.warning("FLAT %s has shape %s, the image %s", flat.meta.filename, flat.data.shape,
                             model.data.shape)
            return self.skip_step(model, "the flat does not match the image")
        values = np.array(flat.data, dtype=np.float32)
        fdq = np.array(flat.dq, dtype=np.uint32)
        bad = ~np.isfinite(values) | (values == 0)
        fdq[bad] |= dqflags.NO_FLAT_FIELD
        values[(fdq & dqflags.NO_FLAT_FIELD) != 0] = 1.0
        model.data /= values
        square = values * values
        model.var_poisson /= square
        if model._instance.get("var_rnoise") is not None:
            model.var_rnoise /= square
        err = model.err
        err /= values
        if self.include_var_flat:
            var_flat = model.data ** 2 / square * np.asarray(flat.err, np.float32) ** 2
            model.var_flat = var_flat
            model.err = np.sqrt(err**2 + var_flat)
        model.dq |= fdq
        flat.close()
        return model
