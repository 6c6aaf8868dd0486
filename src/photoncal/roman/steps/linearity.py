"""Linearity correction of Roman resultants (read by read, with the inverse polynomial)."""

from __future__ import annotations

from photoncal.roman.stpipe import RomanStep

__all__ = ["LinearityStep"]


class LinearityStep(RomanStep):
    """Correct the non-linear detector response.

    With the INVERSELINEARITY reference the correction works read by read
    (romancal, through the shared frame-level kernel): the reads of each
    resultant are rebuilt from a constant rate, un-linearised with the
    inverse polynomial, shifted to the measured resultant, linearised and
    averaged.  Without it (``N/A``) the LINEARITY polynomial is applied to
    each resultant (romancal skips the step then).  Values beyond +-1e6 DN
    are clipped and flagged DO_NOT_USE, as romancal does.
    """

    class_alias = "roman_linearity"
    cal_step = "linearity"
    reference_file_types = ["linearity", "inverselinearity"]
    optional_reference_file_types = ["inverselinearity"]

    def process(self, step_input):
        import numpy as np

        from photoncal.kernels.linearity import correct_linearity
        from photoncal.roman import dqflags
        from photoncal.stpipe.exceptions import ReferenceFileNotFoundError

        model = self.open_model(step_input)
        lin = self._reference(model, "linearity")
        if lin.coeffs.shape[1:] != model.pixeldq.shape:
            raise ValueError(f"LINEARITY {lin.meta.filename}: coefficients {lin.coeffs.shape} do not match "
                             f"the exposure {model.pixeldq.shape}")
        inverse = None
        try:
            ilin = self._reference(model, "inverselinearity")
        except ReferenceFileNotFoundError as err:
            self._reference_files_used = [e for e in self._reference_files_used if e[0] != "inverselinearity"]
            self.log.debug("%s", err)
            ilin = None
        if ilin is not None:
            if ilin.coeffs.shape[1:] != model.pixeldq.shape:
                raise ValueError(f"INVERSELINEARITY {ilin.meta.filename}: coefficients {ilin.coeffs.shape} do "
                                 f"not match the exposure {model.pixeldq.shape}")
            inverse = ilin.coeffs
        else:
            self.log.warning("No INVERSELINEARITY reference: correcting each resultant with the polynomial")
        pattern = [list(r) for r in model.meta.exposure.read_pattern]
        correct_linearity(
            model.data[None], model.groupdq[None], model.pixeldq, lin.coeffs, lin.dq,
            inverse_coeffs=inverse, read_pattern=pattern if inverse is not None else None,
            saturated=dqflags.SATURATED, no_lin_corr=dqflags.NO_LIN_CORR,
        )
        data = model.data
        groupdq = model.groupdq
        nbad = 0
        for plane, dq in zip(data, groupdq):  # plane by plane: no ramp-sized temporaries
            wild = np.abs(plane) > 1e6
            count = int(np.count_nonzero(wild))
            if count:
                np.clip(plane, -1e6, 1e6, out=plane)
                dq[wild] |= dqflags.DO_NOT_USE
                nbad += count
        if nbad:
            self.log.warning("Flagged %d values outside +-1e6 DN after the correction", nbad)
        return model

    def _reference(self, model, reftype):
        """The reference opened with its arrays memory-mapped (coefficients are large: no copy)."""
        from photoncal.roman import datamodels as rdm

        found = self.get_reference_file(model, reftype)
        if found == "N/A":
            return None
        return found if not isinstance(found, str) else rdm.open(found, memmap=True)
