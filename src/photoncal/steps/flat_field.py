"""flat_field: divide an imaging exposure by its FLAT reference.

Seed 002, "Flat Field", as the established pipeline applies it to every
mode except NIRSpec spectroscopy:

* the FLAT (SCI, ERR, DQ) is cut to the exposure's subarray;
* flat pixels that are NaN or zero get DO_NOT_USE + NO_FLAT_FIELD, flat
  pixels flagged NO_FLAT_FIELD get DO_NOT_USE, and every DO_NOT_USE flat
  pixel is set to 1 (no correction);
* ``SCI /= FLAT`` (every integration of a cube),
  ``VAR_FLAT = SCI_out^2 (FLAT_ERR / FLAT)^2``,
  ``VAR_POISSON /= FLAT^2``, ``VAR_RNOISE /= FLAT^2``,
  ``ERR = sqrt(VAR_POISSON + VAR_RNOISE + VAR_FLAT)``;
  guider products (no variance arrays) get ``ERR = sqrt(ERR^2 + VAR_FLAT)``;
* ``DQ |= FLAT_DQ``; NaN values and DO_NOT_USE flags are made to agree.

``inverse=True`` multiplies instead (VAR_FLAT = 0, ERR from the other two
variances); ``user_supplied_flat`` replaces the reference file.
"""

from __future__ import annotations

import numpy as np

from photoncal.stpipe import Step

__all__ = ["FlatFieldStep", "apply_flat"]

#: NIRSpec spectroscopic modes need the on-the-fly F/S/D flats (not implemented).
_NIRSPEC_SPECTRAL = frozenset({"NRS_BRIGHTOBJ", "NRS_FIXEDSLIT", "NRS_IFU", "NRS_MSASPEC", "NRS_LAMP",
                               "NRS_AUTOWAVE", "NRS_AUTOFLAT"})


def _prepared_flat(flat_data, flat_dq, do_not_use, no_flat_field):
    """Flat values and DQ with the established bad-pixel rules applied (copies)."""
    flat = np.array(flat_data, dtype=np.float32)
    dq = np.array(flat_dq, dtype=np.uint32)
    with np.errstate(invalid="ignore"):
        unusable = np.isnan(flat) | (flat == 0.0)
    dq[unusable] |= np.uint32(do_not_use | no_flat_field)
    dq[(dq & np.uint32(no_flat_field)) != 0] |= np.uint32(do_not_use)
    flat[(dq & np.uint32(do_not_use)) != 0] = 1.0
    return flat, dq


def apply_flat(model, flat_data, flat_dq, flat_err, inverse=False, *, do_not_use=None, no_flat_field=None):
    """Flat-field ``model`` in place with arrays already cut to its subarray.

    Parameters
    ----------
    model : ImageModel, CubeModel or GuiderCalModel
        Science data; a cube is divided plane by plane.
    flat_data, flat_dq, flat_err : ndarray (ny, nx)
        The FLAT reference's SCI, DQ (master-table bits) and ERR.
    inverse : bool
        Multiply by the flat instead of dividing.
    do_not_use, no_flat_field : int, optional
        Flag values (default: the master table's).

    Returns
    -------
    model
    """
    from photoncal.dqflags import pixel

    from ._stage2 import has_array, match_nans_and_flags

    do_not_use = pixel["DO_NOT_USE"] if do_not_use is None else do_not_use
    no_flat_field = pixel["NO_FLAT_FIELD"] if no_flat_field is None else no_flat_field
    flat, fdq = _prepared_flat(flat_data, flat_dq, do_not_use, no_flat_field)
    ferr = np.asarray(flat_err, dtype=np.float32)
    flat_sq = flat * flat

    sci = model.data
    has_variances = has_array(model, "var_poisson") or has_array(model, "var_rnoise")
    guider = type(model).__name__.startswith("Guider")
    with np.errstate(invalid="ignore", over="ignore"):
        if not inverse:
            np.divide(sci, flat, out=sci)
            var_flat = (sci * sci) * ((ferr * ferr) / flat_sq)
        else:
            np.multiply(sci, flat, out=sci)
            var_flat = np.zeros_like(sci)
        var_flat = var_flat.astype(np.float32, copy=False)
        if guider:
            # guider products have no variance arrays: ERR takes the flat term
            # in quadrature, as the established step does
            if not inverse:
                err = model.err
                model.err = np.sqrt(err * err + var_flat).astype(np.float32)
        elif has_variances:
            var_p = model.var_poisson
            var_r = model.var_rnoise
            scale = np.divide if not inverse else np.multiply
            scale(var_p, flat_sq, out=var_p)
            scale(var_r, flat_sq, out=var_r)
            model.var_flat = var_flat
            total = var_p + var_r + var_flat if not inverse else var_p + var_r
            model.err = np.sqrt(total).astype(np.float32)
        else:
            # no ramp-fit variances to rebuild ERR from: scale ERR and add the flat term
            err = model.err
            err = err / flat if not inverse else err * flat
            model.var_flat = var_flat
            model.err = np.sqrt(err * err + var_flat).astype(np.float32)
    model.dq = np.bitwise_or(model.dq, fdq)
    match_nans_and_flags(model, do_not_use)
    return model


class FlatFieldStep(Step):
    """Flat-field a science exposure with the FLAT reference file."""

    class_alias = "flat_field"

    spec = """
        save_interpolated_flat = boolean(default=False)  # NIRSpec only: save the interpolated flat
        user_supplied_flat = string(default=None)        # use this flat file instead of the FLAT reference
        inverse = boolean(default=False)                 # multiply by the flat instead of dividing
    """

    reference_file_types = ["flat", "fflat", "sflat", "dflat"]
    optional_reference_file_types = ["fflat", "sflat", "dflat"]

    def process(self, step_input):
        from photoncal import datamodels
        from photoncal.datamodels.subarray import ref_to_science_subarray

        model = self.open_model(step_input)
        exp_type = str(model.meta.exposure.type or "").upper()
        if exp_type in _NIRSPEC_SPECTRAL and str(model.meta.instrument.lamp_mode or "").upper() != "IMAGE":
            return self.skip_step(model, f"NIRSpec spectroscopic flats ({exp_type}) are not implemented")
        if model.meta.cal_step.flat_field == "COMPLETE":
            self.log.warning("%s was already flat-fielded (S_FLAT = COMPLETE); flat-fielding it again",
                             model.meta.filename)

        if self.user_supplied_flat:
            path = self.make_input_path(self.user_supplied_flat)
            flat = datamodels.open(path)
            self._record_reference("flat", _absolute(path))
            self.log.info("Using user-supplied flat %s instead of the FLAT reference", path)
        else:
            flat = self.get_reference_file_model(model, "flat")
            if flat is None:
                return self.skip_step(model, "no FLAT reference (N/A)")

        if model.data.shape[-1] > flat.data.shape[-1] or model.data.shape[-2] > flat.data.shape[-2]:
            if not _covers(flat, model):
                return self.skip_step(
                    model, f"the flat {flat.meta.filename} ({flat.data.shape}) is smaller than the data "
                    f"({model.data.shape[-2:]})")
        cut = ref_to_science_subarray(flat, model)
        apply_flat(model, cut.data, cut.dq, cut.err, inverse=self.inverse)
        if self.save_interpolated_flat:
            self.log.info("save_interpolated_flat applies to NIRSpec spectroscopy only; nothing saved")
        return model


def _covers(ref, sci) -> bool:
    from photoncal.datamodels.errors import SubarrayError
    from photoncal.datamodels.subarray import ref_to_science_subarray

    try:
        ref_to_science_subarray(ref, sci)
    except SubarrayError:
        return False
    return True


def _absolute(path):
    import os

    return os.path.abspath(os.fspath(path))
