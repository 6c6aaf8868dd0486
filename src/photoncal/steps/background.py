"""background (bkg_subtract): subtract the mean of dedicated background exposures.

Seed 002, "Background Image Subtraction", non-WFSS modes, as the established
pipeline does it:

1. each background exposure is cut (or NaN-padded) to the target's detector
   region, so subarray backgrounds of another size still line up; a
   multi-integration background is first sigma-clipped along its
   integrations and averaged (SCI and ERR^2 alike);
2. the backgrounds' SCI values are sigma-clipped pixel by pixel
   (``astropy.stats.sigma_clip`` with ``sigma``, ``maxiters``) and the mean
   of the unclipped values is the background; its ERR is the quadrature sum
   of the unclipped ERRs divided by their number; its DQ is the OR of all
   backgrounds' DQ;
3. ``SCI -= background`` (every integration of a cube), ``DQ |= background
   DQ``; ERR is unchanged (the established pipeline does not propagate it).

The backgrounds are the ``background`` members of a level-2 association
given as input, else the second argument (``input_bkg_list``), else the
``bkg_list`` parameter.  Without any the step is skipped.  WFSS and SOSS
(reference-image backgrounds) are not implemented and are skipped.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from photoncal.stpipe import Step

__all__ = ["BackgroundStep", "average_background", "subtract_background"]

_REFERENCE_BACKGROUND_TYPES = ("NIS_WFSS", "NRC_WFSS", "NRC_GRISM", "MIR_WFSS", "NIS_SOSS")


def _region(model):
    """0-based full-frame (row, column) start and the image shape of ``model``."""
    from photoncal.datamodels.subarray import subarray_box

    xstart, ystart, _, _ = subarray_box(model)
    ny, nx = model.data.shape[-2:]
    return int(ystart) - 1, int(xstart) - 1, ny, nx


def _cut_to(target_region, model, array, fill):
    """``array`` (2-D or 3-D, of ``model``) on the target's detector region, padded with ``fill``."""
    ty, tx, tny, tnx = target_region
    by, bx, bny, bnx = _region(model)
    out = np.full(array.shape[:-2] + (tny, tnx), fill, dtype=array.dtype)
    y0, y1 = max(ty, by), min(ty + tny, by + bny)
    x0, x1 = max(tx, bx), min(tx + tnx, bx + bnx)
    if y1 <= y0 or x1 <= x0:
        return out, False
    out[..., y0 - ty : y1 - ty, x0 - tx : x1 - tx] = array[..., y0 - by : y1 - by, x0 - bx : x1 - bx]
    return out, True


def _sigma_clip(values, sigma, maxiters, axis=0):
    from astropy.stats import sigma_clip

    with warnings.catch_warnings():
        # NaN/inf values are clipped by design
        warnings.filterwarnings("ignore", message=".*automatically clipped.*")
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        return sigma_clip(values, sigma=sigma, maxiters=maxiters, axis=axis)


def average_background(target, backgrounds, sigma=3.0, maxiters=None, log=None):
    """The sigma-clipped mean of background exposures, on the target's pixels.

    Parameters
    ----------
    target : ImageModel or CubeModel
        Supplies the detector region (SUBSTRT/SUBSIZE) and image shape.
    backgrounds : iterable of models or paths
        The background exposures (2-D or 3-D); paths are opened one at a
        time.
    sigma : float
        Clipping limit in standard deviations.
    maxiters : int or None
        Clipping iterations (None: until nothing changes).

    Returns
    -------
    data, err : ndarray (ny, nx), float32
    dq : ndarray (ny, nx), uint32
    """
    from photoncal import datamodels

    region = _region(target)
    ny, nx = region[2], region[3]
    backgrounds = list(backgrounds)
    n = len(backgrounds)
    if n == 0:
        raise ValueError("average_background needs at least one background exposure")
    sci = np.full((n, ny, nx), np.nan, dtype=np.float64)
    var = np.full((n, ny, nx), np.nan, dtype=np.float64)
    dq = np.zeros((ny, nx), dtype=np.uint32)
    for i, item in enumerate(backgrounds):
        opened = not hasattr(item, "meta")
        bkg = datamodels.open(item) if opened else item
        try:
            name = bkg.meta.filename or str(item)
            if bkg.data.ndim not in (2, 3):
                raise ValueError(f"background {name}: expected a 2-D or 3-D SCI array, got {bkg.data.shape}")
            data, overlaps = _cut_to(region, bkg, np.asarray(bkg.data, dtype=np.float64), np.nan)
            if not overlaps:
                if log:
                    log.warning("Background %s does not overlap the target's detector region", name)
                continue
            err, _ = _cut_to(region, bkg, np.asarray(bkg.err, dtype=np.float64), np.nan)
            bdq, _ = _cut_to(region, bkg, np.asarray(bkg.dq, dtype=np.uint32), 0)
            if data.ndim == 3:
                sci[i] = _sigma_clip(data, sigma, maxiters).mean(axis=0).filled(np.nan)
                var[i] = _sigma_clip(err * err, sigma, maxiters).mean(axis=0).filled(np.nan)
                dq |= np.bitwise_or.reduce(bdq, axis=0)
            else:
                sci[i] = data
                var[i] = err * err
                dq |= bdq
            if log:
                log.info("Accumulated background %s", name)
        finally:
            if opened:
                bkg.close()
    clipped = _sigma_clip(sci, sigma, maxiters)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = clipped.mean(axis=0).filled(np.nan)
        kept_var = np.ma.masked_array(var, mask=np.ma.getmaskarray(clipped))
        count = (~np.ma.getmaskarray(kept_var)).sum(axis=0)
        err = np.sqrt(kept_var.sum(axis=0).filled(np.nan)) / count
    err[count == 0] = np.nan
    return mean.astype(np.float32), err.astype(np.float32), dq


def subtract_background(model, data, dq):
    """``SCI -= data`` (each integration of a cube) and ``DQ |= dq``, in place."""
    np.subtract(model.data, data.astype(model.data.dtype, copy=False), out=model.data)
    model.dq = np.bitwise_or(model.dq, dq)
    return model


class BackgroundStep(Step):
    """Subtract the mean of dedicated background exposures from a target exposure."""

    class_alias = "bkg_subtract"
    cal_step = "bkg_subtract"

    spec = """
        bkg_list = force_list(default=None)                  # background files (when no association gives them)
        save_combined_background = boolean(default=False)    # save the combined background (combinedbackground)
        sigma = float(default=3.0)                           # clipping threshold, standard deviations
        maxiters = integer(default=None)                     # clipping iterations (None: until convergence)
        soss_source_percentile = float(default=35.0)         # SOSS only (accepted for compatibility)
        soss_bkg_percentile = float_list(min=2, max=2, default=None)  # SOSS only (accepted)
        wfss_mmag_extract = float(default=None)              # WFSS only (accepted)
        wfss_mask = string(default=None)                     # WFSS only (accepted)
        wfss_maxiter = integer(default=5)                    # WFSS only (accepted)
        wfss_rms_stop = float(default=0)                     # WFSS only (accepted)
        wfss_outlier_percent = float(default=1)              # WFSS only (accepted)
    """

    reference_file_types = ["bkg", "wavelengthrange"]
    optional_reference_file_types = ["bkg", "wavelengthrange"]

    #: Suffix of the saved combined background.
    bkg_suffix = "combinedbackground"

    def process(self, step_input, input_bkg_list=None):
        model, asn_backgrounds = self._target_and_members(step_input)
        exp_type = str(model.meta.exposure.type or "").upper()
        if exp_type in _REFERENCE_BACKGROUND_TYPES:
            return self.skip_step(model, f"reference-image background subtraction ({exp_type}) is not implemented")

        if asn_backgrounds:
            backgrounds = asn_backgrounds
        elif input_bkg_list is not None:
            backgrounds = input_bkg_list.split(",") if isinstance(input_bkg_list, str) else list(input_bkg_list)
        else:
            backgrounds = list(self.bkg_list or [])
        backgrounds = [b if hasattr(b, "meta") else self.make_input_path(str(b).strip())
                       for b in backgrounds if hasattr(b, "meta") or str(b).strip()]
        if not backgrounds:
            return self.skip_step(model, "no background exposures given (association, argument or bkg_list)")
        for item in backgrounds:
            if not hasattr(item, "meta") and not os.path.isfile(item):
                raise FileNotFoundError(f"background exposure {item}: file not found")

        self.log.info("Averaging %d background exposure(s) (sigma=%g, maxiters=%s)",
                      len(backgrounds), self.sigma, self.maxiters)
        data, err, dq = average_background(model, backgrounds, self.sigma, self.maxiters, log=self.log)
        subtract_background(model, data, dq)
        self.log.info("Subtracted the average background (median %.6g) from %s", float(np.nanmedian(data)),
                      model.meta.filename)
        if self.save_combined_background:
            self._save_combined(model, data, err, dq)
        return model

    def _target_and_members(self, step_input):
        """The target model and the background members of an association input."""
        if isinstance(step_input, (str, os.PathLike, dict)) and (
            isinstance(step_input, dict) or os.fspath(step_input).lower().endswith(".json")
        ):
            from photoncal.associations import load_asn

            if isinstance(step_input, dict):
                asn, base = step_input, self.effective_input_dir
            else:
                path = self.make_input_path(os.fspath(step_input))
                asn = load_asn(path)
                base = os.path.dirname(os.path.abspath(path))
            products = asn.get("products") or []
            if not products:
                raise ValueError("background: the association has no products")
            if len(products) > 1:
                self.log.warning("The association has %d products; using the first", len(products))
            members = products[0].get("members", [])
            science = [m["expname"] for m in members if str(m.get("exptype", "")).lower() == "science"]
            if not science:
                raise ValueError(f"background: product {products[0].get('name')!r} has no science member")
            if len(science) > 1:
                self.log.warning("%d science members; using the first", len(science))
            backgrounds = [os.path.join(base, m["expname"]) for m in members
                           if str(m.get("exptype", "")).lower() == "background"]
            return self.open_model(os.path.join(base, science[0])), backgrounds
        return self.open_model(step_input), []

    def _save_combined(self, model, data, err, dq):
        from photoncal import datamodels

        combined = datamodels.ImageModel(data.shape)
        combined.update(model)
        combined.data = data
        combined.err = err
        combined.dq = dq
        path = self.save_model(combined, suffix=self.bkg_suffix, force=True)
        self.log.info("Combined background written to %s", path)
