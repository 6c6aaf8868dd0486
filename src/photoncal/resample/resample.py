"""ResampleData: drizzle calibrated images onto a common undistorted grid.

Seed 003 (``jwst.resample.resample.ResampleData``) with the behaviour of the
established pipeline (jwst 3.0 / stcal ``Resample``):

1. the output WCS is a TAN grid covering the sky footprints (``S_REGION``)
   of every input, oriented and scaled like the first input
   (``pixel_scale_ratio``, ``pixel_scale``, ``rotation``, ``crpix``,
   ``crval``, ``output_shape``), or a user-supplied WCS (``output_wcs``);
2. each input is drizzled through its pixel map
   (:func:`photoncal.wcs.pixmap.calc_pixmap`) with photoncal's own kernels
   (:class:`photoncal.kernels.drizzle.Drizzle`), weighted per pixel by the
   inverse read-noise variance (``weight_type='ivm'``) or the exposure
   time (``'exptime'``), with pixels whose DQ has flags other than
   ``good_bits`` left out;
3. each variance array is drizzled as ``sqrt(var)`` with the same weights
   and combined as ``sum(w^2 var) / sum(w)^2`` (``w`` = the image weight),
   scaled by ``1 / pixel_scale_ratio^2``; ERR is the square root of the
   sum of the variances;
4. the output model gets the first input's metadata (blended with the
   others when ``blendheaders``), the output WCS and its FITS keywords,
   the pixel area of the output grid (PIXAR_SR/A2), the resample keywords
   and the combined exposure times.

Inputs are opened one at a time: a ModelContainer with ``on_disk=True`` or
a list of paths never holds more than one input model in memory, so the
peak memory does not grow with the number of exposures (the output arrays,
one input and its pixel map).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field

import numpy as np

__all__ = ["ResampleData", "VARIANCE_ARRAYS", "exposure_group_id"]

log = logging.getLogger(__name__)

VARIANCE_ARRAYS = ("var_rnoise", "var_poisson", "var_flat")

_KNOWN_KWARGS = {
    "weight_type", "pixel_scale_ratio", "pixel_scale", "output_shape", "rotation", "crpix", "crval",
    "output_wcs", "in_memory", "enable_ctx", "enable_err", "report_var", "propagate_dq", "pixmap_stepsize",
    "pixmap_order", "output_dir", "intermediate_suffix", "allowed_memory", "asn_id",
}

#: Keywords removed from the output's wcsinfo: they describe an input's pointing.
_POINTING_KEYS = ("v2_ref", "v3_ref", "ra_ref", "dec_ref", "roll_ref", "v3yangle", "vparity")


def exposure_group_id(model, index=0):
    """The exposure a model belongs to: ``meta.group_id``, else the DMS exposure id.

    Detectors of one exposure share the id (``jw{program}{obs}{visit}_{visit_group}
    {sequence}{activity}_{exposure}``); a model without those keywords is an
    exposure of its own.
    """
    gid = getattr(model.meta, "group_id", None)
    if gid:
        return str(gid)
    obs = model.meta.observation
    fields = [getattr(obs, f, None) for f in ("program_number", "observation_number", "visit_number",
                                               "visit_group", "sequence_id", "activity_id",
                                               "exposure_number")]
    if any(v is None for v in fields):
        return f"exposure{index + 1:04d}"
    return "jw{}{}{}_{}{}{}_{}".format(*fields)


def _has_array(model, name):
    return name in model.keys()


class _Inputs:
    """The input models, opened one at a time."""

    def __init__(self, input_models):
        from photoncal.datamodels import ModelContainer

        self.asn_table = {}
        self.container = None
        if isinstance(input_models, ModelContainer):
            self.container = input_models
            self.items = None
            self.asn_table = input_models.asn_table or {}
        elif isinstance(input_models, (list, tuple)):
            self.items = list(input_models)
        elif isinstance(input_models, (str, os.PathLike)) and os.fspath(input_models).lower().endswith(".json"):
            self.container = ModelContainer(os.fspath(input_models), on_disk=True)
            self.items = None
            self.asn_table = self.container.asn_table or {}
        else:
            self.items = [input_models]
        if len(self) == 0:
            raise ValueError("ResampleData: no input models")

    def __len__(self):
        return len(self.container) if self.container is not None else len(self.items)

    def open(self, index):
        """(model, close_after): the model, and whether the caller must close it."""
        from photoncal import datamodels

        if self.container is not None:
            return self.container[index], bool(self.container.on_disk)
        item = self.items[index]
        if isinstance(item, (str, os.PathLike)):
            return datamodels.open(os.fspath(item)), True
        return item, False


@dataclass
class _InputInfo:
    name: str
    wcs: object
    footprint: np.ndarray
    group_id: str
    filter: str | None
    wcsinfo: dict = field(default_factory=dict)


@dataclass
class _Times:
    """Exposure-time bookkeeping of one output (one entry per exposure group)."""

    groups: list = field(default_factory=list)
    exposure_time: float = 0.0
    measurement_time: float = 0.0
    measurement_ok: bool = True
    duration: float = 0.0
    starts: list = field(default_factory=list)
    ends: list = field(default_factory=list)

    def add(self, model, group_id):
        if group_id in self.groups:
            return
        self.groups.append(group_id)
        exp = model.meta.exposure
        if exp.exposure_time is not None:
            self.exposure_time += float(exp.exposure_time)
        if exp.measurement_time is None:
            self.measurement_ok = False
        else:
            self.measurement_time += float(exp.measurement_time)
        if exp.duration is not None:
            self.duration += float(exp.duration)
        if exp.start_time is not None:
            self.starts.append(float(exp.start_time))
        if exp.end_time is not None:
            self.ends.append(float(exp.end_time))


#: meta paths blended across inputs, with their rule (the established schema's blend_rule).
_BLEND_RULES = {
    "meta.exposure.start_time": "min",
    "meta.exposure.start_time_mjd": "min",
    "meta.exposure.start_time_tdb": "min",
    "meta.exposure.mid_time": "mean",
    "meta.exposure.mid_time_mjd": "mean",
    "meta.exposure.mid_time_tdb": "mean",
    "meta.exposure.end_time": "max",
    "meta.exposure.end_time_mjd": "max",
    "meta.exposure.end_time_tdb": "max",
    "meta.instrument.detector": "multi",
    "meta.instrument.module": "multi",
    "meta.instrument.filter": "multi",
    "meta.instrument.pupil": "multi",
    "meta.instrument.channel": "multi",
}


def _meta_value(model, path):
    node = model
    for part in path.split("."):
        node = getattr(node, part, None)
        if node is None:
            return None
    return node


def _blend(values, rule):
    values = [v for v in values if v is not None]
    if not values:
        return None
    if rule == "min":
        return min(values)
    if rule == "max":
        return max(values)
    if rule == "mean":
        return float(np.mean(values))
    if rule == "multi":
        return values[0] if all(v == values[0] for v in values) else "MULTIPLE"
    return values[0]


class _MetadataBlend:
    """Input metadata, collected one model at a time, blended into the output.

    Uses :class:`photoncal.model_blender.ModelBlender` (the schema's blend
    rules and the HDRTAB table) when that package is installed, else the
    essential rules of ``_BLEND_RULES``.
    """

    #: Attributes the resampling sets itself.
    IGNORED = ["meta.photometry.pixelarea_steradians", "meta.photometry.pixelarea_arcsecsq", "meta.filename"]

    def __init__(self):
        try:
            from photoncal.model_blender import ModelBlender
        except ImportError:
            ModelBlender = None
        self._blender = ModelBlender(blend_ignore_attrs=list(self.IGNORED)) if ModelBlender is not None else None
        self._values = {path: [] for path in _BLEND_RULES}

    def accumulate(self, model):
        if self._blender is not None:
            self._blender.accumulate(model)
            return
        for path in _BLEND_RULES:
            self._values[path].append(_meta_value(model, path))

    def finalize(self, output):
        if self._blender is not None:
            self._blender.finalize_model(output)
            return
        for path, rule in _BLEND_RULES.items():
            blended = _blend(self._values[path], rule)
            if blended is None:
                continue
            try:
                output[path] = blended
            except (ValueError, TypeError) as err:
                log.debug("Could not blend %s: %s", path, err)


class ResampleData:
    """Drizzle a set of 2-D images onto one undistorted output grid.

    Parameters
    ----------
    input_models : ModelContainer, list of models or paths, a model, a path
        The images (each with ``meta.wcs`` from assign_wcs).  Members of a
        ``ModelContainer(on_disk=True)`` and paths are opened one at a time.
    output : str, optional
        File name of the output (``meta.filename``); a directory name (no
        ``.fits``) sets where ``resample_many_to_many`` writes with
        ``in_memory=False``.
    single : bool
        :meth:`do_drizzle` resamples each exposure separately
        (:meth:`resample_many_to_many`) instead of co-adding all.
    blendheaders : bool
        Blend the inputs' metadata into the output.
    pixfrac : float
        Linear size of the drizzle drop relative to an input pixel.
    kernel : str
        ``square``, ``gaussian``, ``point``, ``turbo``, ``tophat``,
        ``lanczos2`` or ``lanczos3``.
    fillval : str or float
        Value of output pixels no input reached (``'INDEF'``/``None``: NaN
        for new arrays).
    wht_type : {'ivm', 'exptime', None}
        Input weighting (alias ``weight_type``).
    good_bits : int, str or None
        DQ flags that do not exclude a pixel (``'~DO_NOT_USE+NON_SCIENCE'``
        excludes only those two; 0 excludes every flagged pixel; None ignores
        DQ).
    pscale_ratio : float
        Output / input pixel scale (alias ``pixel_scale_ratio``).
    pscale : float, optional
        Output pixel scale in arcsec (alias ``pixel_scale``); overrides
        ``pscale_ratio``.
    **kwargs
        ``output_shape`` (x, y), ``rotation`` (deg), ``crpix`` (0-based x, y),
        ``crval`` (ra, dec), ``output_wcs`` (gwcs or ASDF file), ``in_memory``
        (True), ``enable_ctx`` (True), ``enable_err`` (True), ``report_var``
        (True), ``propagate_dq`` (False), ``pixmap_stepsize`` (1),
        ``pixmap_order`` (1), ``output_dir``, ``intermediate_suffix``
        (``outlier_i2d``).
    """

    def __init__(self, input_models, output=None, single=False, blendheaders=True, pixfrac=1.0,
                 kernel="square", fillval="INDEF", wht_type="ivm", good_bits=0, pscale_ratio=1.0, pscale=None,
                 **kwargs):
        from photoncal.kernels.drizzle import SUPPORTED_KERNELS

        unknown = set(kwargs) - _KNOWN_KWARGS
        if unknown:
            raise TypeError(f"ResampleData: unknown parameter(s) {sorted(unknown)}")
        self.input_models = input_models
        self._inputs = _Inputs(input_models)
        self.single = bool(single)
        self.blendheaders = bool(blendheaders)
        self.pixfrac = float(pixfrac)
        self.kernel = str(kernel).lower()
        if self.kernel not in SUPPORTED_KERNELS:
            raise ValueError(f"kernel={kernel!r}: expected one of {', '.join(SUPPORTED_KERNELS)}")
        if not 0.0 <= self.pixfrac <= 1.0:
            raise ValueError(f"pixfrac={pixfrac}: expected a value in [0, 1]")
        self.fillval = "INDEF" if fillval is None else fillval
        self.weight_type = kwargs.get("weight_type", wht_type)
        if self.weight_type not in ("ivm", "exptime", None):
            raise ValueError(f"weight_type={self.weight_type!r}: expected 'ivm', 'exptime' or None")
        self.good_bits = good_bits
        self.in_memory = bool(kwargs.get("in_memory", True))
        self.enable_ctx = bool(kwargs.get("enable_ctx", True))
        self.enable_err = bool(kwargs.get("enable_err", True))
        self.report_var = bool(kwargs.get("report_var", True))
        self.propagate_dq = bool(kwargs.get("propagate_dq", False))
        self.pixmap_stepsize = kwargs.get("pixmap_stepsize", 1) or 1
        self.pixmap_order = int(kwargs.get("pixmap_order", 1))
        self.intermediate_suffix = kwargs.get("intermediate_suffix", "outlier_i2d")
        self.output_dir = kwargs.get("output_dir")
        self.output_filename = output
        if output is not None and ".fits" not in str(output) and ".asdf" not in str(output):
            self.output_dir = output
            self.output_filename = None

        self._infos = self._read_input_infos()
        ratio = kwargs.get("pixel_scale_ratio", pscale_ratio)
        scale = kwargs.get("pixel_scale", pscale)
        custom = kwargs.get("output_wcs")
        if custom is not None and custom != "":
            from .utils import load_custom_wcs

            loaded = load_custom_wcs(custom, kwargs.get("output_shape"))
            self.output_wcs = loaded["wcs"]
            out_scale = loaded["pixel_scale"]
            if out_scale is None:
                from photoncal.wcs.pixmap import pixel_scale as wcs_pixel_scale

                out_scale = wcs_pixel_scale(self.output_wcs) * 3600.0
            self.output_pixel_scale = float(out_scale)  # arcsec
            from .utils import input_pixel_scale

            first = self._infos[0]
            self.pixel_scale_ratio = self.output_pixel_scale / 3600.0 / input_pixel_scale(first.wcs, first.wcsinfo)
        else:
            from .utils import output_wcs_from_inputs

            shape = kwargs.get("output_shape")
            wcs, scale_deg, ratio = output_wcs_from_inputs(
                [i.wcs for i in self._infos], [i.footprint for i in self._infos], self._infos[0].wcsinfo,
                pixel_scale_ratio=1.0 if ratio is None else ratio, pixel_scale=scale,
                rotation=kwargs.get("rotation"),
                output_shape=None if shape is None else (int(shape[1]), int(shape[0])),
                crpix=kwargs.get("crpix"), crval=kwargs.get("crval"))
            self.output_wcs = wcs
            self.output_pixel_scale = scale_deg * 3600.0
            self.pixel_scale_ratio = ratio
        self.output_shape = tuple(int(n) for n in self.output_wcs.array_shape)  # (ny, nx)
        if min(self.output_shape) < 1:
            raise ValueError(f"ResampleData: invalid output shape {self.output_shape}")
        self._times = None
        log.info("Output grid %d x %d pixels, %.6g arcsec/pixel (pixel_scale_ratio %.6g); kernel %s, pixfrac %g, "
                 "fillval %s, weight_type %s", self.output_shape[1], self.output_shape[0], self.output_pixel_scale,
                 self.pixel_scale_ratio, self.kernel, self.pixfrac, self.fillval, self.weight_type)

    # ------------------------------------------------------------------
    # inputs
    # ------------------------------------------------------------------
    def _read_input_infos(self):
        from photoncal.wcs.footprint import image_footprint

        from .utils import footprint_from_s_region

        infos = []
        for index in range(len(self._inputs)):
            model, close = self._inputs.open(index)
            try:
                name = model.meta.filename or f"input {index}"
                wcs = model.meta.wcs
                if wcs is None:
                    raise ValueError(f"{name}: no WCS (meta.wcs); run assign_wcs before resampling")
                if getattr(wcs.output_frame, "naxes", 2) != 2:
                    raise ValueError(f"{name}: resample needs an imaging WCS with 2 world axes")
                footprint = footprint_from_s_region(model.meta.wcsinfo.s_region)
                if footprint is None:
                    if wcs.bounding_box is not None:
                        footprint = image_footprint(wcs, use_bounding_box=True)
                    else:
                        footprint = image_footprint(wcs, shape=model.data.shape[-2:])
                wcsinfo = {}
                if index == 0:
                    wi = model.meta.wcsinfo
                    wcsinfo = {k: getattr(wi, k, None) for k in ("ra_ref", "dec_ref", "roll_ref", "v3yangle",
                                                                 "vparity")}
                infos.append(_InputInfo(name, wcs, footprint, exposure_group_id(model, index),
                                        model.meta.instrument.filter, wcsinfo))
            finally:
                if close:
                    model.close()
        return infos

    # ------------------------------------------------------------------
    # modes
    # ------------------------------------------------------------------
    def do_drizzle(self):
        """Resample with the mode of ``single``: many-to-many or many-to-one."""
        if self.single:
            return self.resample_many_to_many()
        return self.resample_many_to_one()

    def resample_many_to_one(self):
        """Resample and co-add every input onto the output grid.

        Returns
        -------
        ImageModel
            The resampled product (SCI, WHT, CON, ERR and the VAR arrays).
        """
        compute_err = "from_var" if self.enable_err else None
        output = self._resample_indices(range(len(self._inputs)), enable_var=self.enable_err,
                                        compute_err=compute_err, report_var=self.report_var)
        output.meta.filename = self.output_filename
        return output

    def resample_many_to_many(self):
        """Resample each exposure (its detectors together) onto the common output grid.

        Used by outlier detection.  The error array is the drizzled ERR
        (no variances) when ``enable_err``, drizzled together with SCI;
        without it the outputs have no ERR (as the established pipeline's
        outlier detection).

        Returns
        -------
        ModelContainer
            One resampled model per exposure group, in memory, or (with
            ``in_memory=False``) written to ``output_dir`` and listed by path
            (``on_disk=True``).
        """
        from photoncal.datamodels import ModelContainer

        groups = {}
        for index, info in enumerate(self._infos):
            groups.setdefault(info.group_id, []).append(index)
        outputs = []
        for indices in groups.values():
            output = self._resample_indices(indices, enable_var=False,
                                            compute_err="driz_err" if self.enable_err else None, report_var=False)
            output.meta.filename = self._intermediate_name(self._infos[indices[0]].name)
            output.meta.group_id = self._infos[indices[0]].group_id
            if self.in_memory:
                outputs.append(output)
            else:
                directory = self.output_dir or "."
                os.makedirs(directory, exist_ok=True)
                path = os.path.join(directory, output.meta.filename)
                output.save(path)
                log.info("Saved resampled exposure %s", path)
                outputs.append(path)
                output.close()
        return ModelContainer(outputs, on_disk=not self.in_memory)

    def _intermediate_name(self, filename):
        stem, ext = os.path.splitext(os.path.basename(str(filename)))
        root = "_".join(stem.split("_")[:-1]) or stem
        return f"{root}_{self.intermediate_suffix}{ext or '.fits'}"

    # ------------------------------------------------------------------
    # the work
    # ------------------------------------------------------------------
    def _resample_indices(self, indices, *, enable_var, compute_err, report_var):
        from photoncal.kernels.drizzle import Drizzle

        from ._fast import VarianceAccumulator

        indices = list(indices)
        shape = self.output_shape
        # a drizzled ERR shares SCI's pixel map, weights and overlaps: planes 0 and 1 of one stack
        driz = Drizzle(kernel=self.kernel, fillval=self.fillval, out_shape=shape, max_ctx_id=len(indices) - 1,
                       disable_ctx=not self.enable_ctx, out_dq=np.zeros(shape, np.uint32) if self.propagate_dq
                       else None, nplanes=2 if compute_err == "driz_err" else None)
        combiners = {name: VarianceAccumulator(shape) for name in VARIANCE_ARRAYS} if enable_var else {}
        times = _Times()
        output = None
        blend = _MetadataBlend() if self.blendheaders else None
        for index in indices:
            model, close = self._inputs.open(index)
            try:
                self._add_model(model, self._infos[index], driz, combiners)
                times.add(model, self._infos[index].group_id)
                if output is None:
                    output = self._create_output(model)
                if blend is not None:
                    blend.accumulate(model)
            finally:
                if close:
                    model.close()
        self._times = times
        if blend is not None:
            # blended first: the resampling's own values (WCS, pixel area, times) then win
            blend.finalize(output)
        self._finalize(output, driz, combiners, report_var, compute_err)
        self.update_exposure_times(output)
        return output

    def _add_model(self, model, info, driz, combiners):
        from photoncal.kernels.drizzle import sigma_planes

        from ._fast import drizzle_input
        from .utils import build_driz_weight, resample_range

        data = np.asarray(model.data, dtype=np.float32)
        if data.ndim != 2:
            raise ValueError(f"{info.name}: resample needs 2-D images, got SCI of shape {data.shape}")
        dq = model.dq
        wcs = info.wcs
        pixmap = self._pixmap(wcs, data.shape)
        exp = model.meta.exposure
        exptime = exp.exposure_time
        tmeasure = exp.measurement_time if exp.measurement_time is not None else exptime
        var_rnoise = model.var_rnoise if _has_array(model, "var_rnoise") else None
        weight = build_driz_weight(dq, self.good_bits, self.weight_type, var_rnoise=var_rnoise, exptime=tmeasure,
                                   log=log, name=info.name)
        level = model.meta.background.level
        if level is None or model.meta.background.subtracted:
            level = None
        xmin, xmax, ymin, ymax = resample_range(data.shape, _bbox(wcs))
        if exptime is None or not exptime > 0:
            log.warning("%s: no positive exposure time (EFFEXPTM); using 1 s for the drizzle bookkeeping",
                        info.name)
            exptime = 1.0
        kwargs = dict(exptime=float(exptime), pixmap=pixmap, pixel_scale_ratio=self.pixel_scale_ratio, iscale=1.0,
                      weight_map=weight, wht_scale=1.0, pixfrac=self.pixfrac, in_units="cps",
                      xmin=xmin, xmax=xmax, ymin=ymin, ymax=ymax)
        log.info("Drizzling %s (%d x %d) onto %d x %d", info.name, data.shape[1], data.shape[0],
                 self.output_shape[1], self.output_shape[0])
        # a NaN pixel never contributes, flagged DO_NOT_USE or not (inputs read from
        # disk have not been through match_nans_and_flags); a background level not
        # subtracted yet is subtracted here
        if driz.nplanes == 2:
            if model.err.shape != data.shape:
                raise ValueError(f"{info.name}: ERR has shape {model.err.shape}; expected {data.shape} like SCI")
            planes = np.empty((2,) + data.shape, dtype=np.float32)
            drizzle_input(data, weight, level, out=planes[0])
            planes[1] = model.err
            data = planes
        else:
            data = drizzle_input(data, weight, level)
        names = []
        for name in VARIANCE_ARRAYS if combiners else ():
            if not _has_array(model, name):
                continue
            var = getattr(model, name)
            if var.shape != pixmap.shape[:2]:
                log.warning("%s: %s has shape %s, not that of SCI; skipped", info.name, name.upper(), var.shape)
                continue
            names.append(name)
        if names:
            # the variances are resampled alone (sqrt(var) on a fresh grid, then squared) with the
            # same drops as SCI: in the same drizzle pass, as its "single" planes
            kwargs["single_data"] = sigma_planes([getattr(model, name) for name in names])
        if self.propagate_dq:
            driz.add_image(data, dq=dq, **kwargs)
        else:
            driz.add_image(data, **kwargs)
        if not names:
            return
        resampled = driz.out_single
        np.square(resampled, out=resampled)
        resampled = dict(zip(names, resampled))
        for name, var in resampled.items():
            self._fold_variance(combiners[name], var, resampled.get("var_rnoise"), tmeasure)

    def _pixmap(self, wcs, shape):
        """Pixel map of an input onto the output grid (the fast imaging path when it applies)."""
        from photoncal.wcs.pixmap import calc_pixmap

        if self.pixmap_stepsize <= 1:
            from ._fast import imaging_pixmap

            pixmap = imaging_pixmap(wcs, self.output_wcs, shape)
            if pixmap is not None:
                return pixmap
        return calc_pixmap(wcs, self.output_wcs, shape, stepsize=self.pixmap_stepsize, order=self.pixmap_order)

    def _fold_variance(self, combiner, variance, resampled_rnoise, tmeasure):
        """Add one image's resampled variance to ``combiner`` with the image's weight.

        ``ivm``: the inverse resampled read-noise variance (0 where it is not
        finite and positive; 1 without VAR_RNOISE); ``exptime``: the
        measurement time; otherwise 1.
        """
        if self.weight_type == "ivm":
            if resampled_rnoise is None:
                combiner.add(variance, 1.0)
            else:
                combiner.add_inverse_weighted(variance, resampled_rnoise)
        elif self.weight_type == "exptime":
            combiner.add(variance, float(tmeasure))
        else:
            combiner.add(variance, 1.0)

    def _create_output(self, ref_model):
        from photoncal import datamodels

        output = datamodels.ImageModel(self.output_shape)
        output.update(ref_model)
        output.meta.bunit_data = ref_model.meta.bunit_data
        output.meta.bunit_err = ref_model.meta.bunit_err
        output.meta.wcs = self.output_wcs
        asn = self._inputs.asn_table
        if asn:
            output.meta.asn.pool_name = asn.get("asn_pool")
            output.meta.asn.table_name = os.path.basename(str(getattr(self._inputs.container, "asn_table_name",
                                                                      "") or "")) or None
        return output

    def _finalize(self, output, driz, combiners, report_var, compute_err):
        from photoncal.steps.assign_wcs import set_fits_wcsinfo

        from .utils import fits_keywords_of_output_wcs

        output.data = driz.out_img if driz.nplanes is None else driz.out_img[0]
        output.wht = driz.out_wht
        if self.enable_ctx and driz.out_ctx is not None:
            output.con = driz.out_ctx
        if self.propagate_dq and driz.out_dq is not None:
            output.dq = driz.out_dq
        ratio = self.pixel_scale_ratio or 1.0
        if combiners:
            variances = {name: c.result(scaling=1.0 / ratio**2) for name, c in combiners.items()}
            if compute_err == "from_var":
                from ._fast import error_from_variances

                output.err = error_from_variances(list(variances.values()))
            if report_var:
                for name, var in variances.items():
                    setattr(output, name, var)
        elif compute_err == "driz_err" and driz.nplanes == 2:
            err = driz.out_img[1]
            np.divide(err, np.float32(ratio), out=err)
            output.err = err
        if compute_err is None:
            output.meta.bunit_err = None

        # metadata of the new grid
        scale_deg = self.output_pixel_scale / 3600.0
        output.meta.photometry.pixelarea_steradians = math.radians(scale_deg) ** 2
        output.meta.photometry.pixelarea_arcsecsq = self.output_pixel_scale**2
        res = output.meta.resample
        res.pointings = len(self._times.groups)
        res.pixel_scale_ratio = float(ratio)
        res.pixfrac = self.pixfrac
        res.kernel = self.kernel
        res.fillval = str(self.fillval)
        res.weight_type = str(self.weight_type)
        output.meta.background.level = None
        output.meta.background.subtracted = None
        for key in _POINTING_KEYS:
            setattr(output.meta.wcsinfo, key, None)
        set_fits_wcsinfo(output, fits_keywords_of_output_wcs(self.output_wcs, self.output_shape))
        output.meta.wcsinfo.s_region = self._output_s_region()
        output.meta.cal_step.resample = "COMPLETE"

    def _output_s_region(self):
        """S_REGION of the union of the input footprints (their convex hull on the output grid)."""
        from photoncal.wcs.footprint import convex_hull, s_region_from_footprint

        verts = np.vstack([i.footprint for i in self._infos])
        try:
            x, y = self.output_wcs.invert(verts[:, 0], verts[:, 1], with_bounding_box=False)
        except TypeError:
            x, y = self.output_wcs.invert(verts[:, 0], verts[:, 1])
        if len(self._infos) == 1:
            hx, hy = np.asarray(x), np.asarray(y)
        else:
            hx, hy = convex_hull(x, y)
        ra, dec = self.output_wcs(hx, hy, with_bounding_box=False)
        return s_region_from_footprint(np.column_stack([ra, dec]))

    # ------------------------------------------------------------------
    # the seed's public helpers
    # ------------------------------------------------------------------
    def blend_output_metadata(self, output_model):
        """Blend the inputs' metadata into ``output_model`` (in place).

        With :mod:`photoncal.model_blender` available, its schema rules and
        HDRTAB table; otherwise the essential rules: earliest start, latest
        end, mean mid time, and detector/module/filter/pupil/channel become
        ``MULTIPLE`` when the inputs differ (the rest is the first
        input's).  Exposure times are set by :meth:`update_exposure_times`.
        """
        blend = _MetadataBlend()
        for index in range(len(self._inputs)):
            model, close = self._inputs.open(index)
            try:
                blend.accumulate(model)
            finally:
                if close:
                    model.close()
        blend.finalize(output_model)

    def update_exposure_times(self, output_model):
        """Set the output's exposure times from its inputs (in place).

        Per exposure (group), not per detector: EFFEXPTM and XPOSURE are the
        sum of the exposures' EFFEXPTM, TMEASURE the sum of TMEASURE (when
        every exposure has one), DURATION and TELAPSE the sum of DURATION,
        EXPSTART the earliest start and EXPEND the latest end.
        """
        times = self._times
        if times is None:
            times = _Times()
            for index in range(len(self._inputs)):
                model, close = self._inputs.open(index)
                try:
                    times.add(model, self._infos[index].group_id)
                finally:
                    if close:
                        model.close()
        exp = output_model.meta.exposure
        exp.exposure_time = times.exposure_time
        exp.effective_exposure_time = times.exposure_time
        exp.measurement_time = times.measurement_time if times.measurement_ok and times.groups else None
        exp.duration = times.duration
        exp.elapsed_exposure_time = times.duration
        if times.starts:
            exp.start_time = min(times.starts)
        if times.ends:
            exp.end_time = max(times.ends)

    def resample_variance_array(self, name, output_model, iscale=1.0):
        """Resample the variance array ``name`` of every input into ``output_model.<name>``.

        Each input's ``sqrt(var)`` is drizzled with its science weights; the
        results are combined as ``sum(w^2 var) / sum(w)^2`` with ``w`` the
        image weight (inverse resampled read-noise variance, or the
        exposure time) and scaled by ``1 / pixel_scale_ratio^2``.
        """
        from photoncal.kernels.drizzle import resample_variances

        from ._fast import VarianceAccumulator
        from .utils import build_driz_weight, resample_range

        combiner = VarianceAccumulator(self.output_shape)
        for index in range(len(self._inputs)):
            model, close = self._inputs.open(index)
            try:
                info = self._infos[index]
                if not _has_array(model, name):
                    log.debug("%s has no %s; skipped", info.name, name)
                    continue
                var = getattr(model, name)
                pixmap = self._pixmap(info.wcs, var.shape)
                exp = model.meta.exposure
                tmeasure = exp.measurement_time if exp.measurement_time is not None else exp.exposure_time
                rn = model.var_rnoise if _has_array(model, "var_rnoise") else None
                weight = build_driz_weight(model.dq, self.good_bits, self.weight_type, var_rnoise=rn,
                                           exptime=tmeasure, log=log, name=info.name)
                box = resample_range(var.shape, _bbox(info.wcs))
                common = dict(weight_map=weight, iscale=iscale, pixel_scale_ratio=self.pixel_scale_ratio,
                              pixfrac=self.pixfrac, kernel=self.kernel, xmin=box[0], xmax=box[1], ymin=box[2],
                              ymax=box[3])
                rn_resampled = None
                if self.weight_type == "ivm" and rn is not None and name != "var_rnoise":
                    # the read noise weights the combination: resampled in the same pass
                    resampled, rn_resampled = resample_variances([var, rn], pixmap, self.output_shape, **common)
                else:
                    resampled = resample_variances([var], pixmap, self.output_shape, **common)[0]
                    if self.weight_type == "ivm" and rn is not None:
                        rn_resampled = resampled
                self._fold_variance(combiner, resampled, rn_resampled, tmeasure)
            finally:
                if close:
                    model.close()
        ratio = self.pixel_scale_ratio or 1.0
        setattr(output_model, name, combiner.result(scaling=1.0 / ratio**2))

    @staticmethod
    def drizzle_arrays(insci, inwht, input_wcs, output_wcs, outsci, outwht, outcon, uniqid=1, xmin=0, xmax=0,
                       ymin=0, ymax=0, iscale=1.0, pixfrac=1.0, kernel="square", fillval="INDEF", wtscale=1.0):
        """Drizzle one image onto output arrays in place (the STScI ``tdriz`` interface).

        Parameters
        ----------
        insci : ndarray (ny, nx)
            Input image.
        inwht : ndarray (ny, nx) or None
            Input weights (1 when None).
        input_wcs, output_wcs : gwcs.WCS
            WCSs of the input image and of the output arrays.
        outsci, outwht : float32 ndarray
            Running output image and weights (zero on the first call);
            updated in place.
        outcon : int32 ndarray, 2-D or 3-D, or None
            Context bit planes, updated in place.
        uniqid : int
            1-based number of this input (its context bit).
        xmin, xmax, ymin, ymax : int
            0-based inclusive box of input pixels; 0 for ``xmax``/``ymax``
            means the last column/row.
        iscale : float
            Multiplies the input values.
        pixfrac : float
            Drop size relative to an input pixel.
        kernel : str
            Drizzle kernel.
        fillval : str or float
            Value of output pixels that received nothing ('INDEF': unchanged).
        wtscale : float
            Multiplies the weights.

        Returns
        -------
        version : str
        nmiss : int
            Input pixels that did not reach the output.
        nskip : int
            Input lines skipped entirely.
        """
        from photoncal import __version__
        from photoncal.kernels.drizzle import drizzle_add
        from photoncal.wcs.pixmap import calc_pixmap

        insci = np.asarray(insci, dtype=np.float32)
        pixmap = calc_pixmap(input_wcs, output_wcs, insci.shape)
        nmiss, nskip = drizzle_add(insci, pixmap, outsci, outwht, outcon, weight_map=inwht, uniqid=uniqid,
                                   xmin=xmin, xmax=xmax, ymin=ymin, ymax=ymax, iscale=iscale,
                                   pixel_scale_ratio=None, pixfrac=pixfrac, kernel=kernel, in_units="cps",
                                   wt_scl=wtscale, fillval=fillval)
        return f"photoncal {__version__}", nmiss, nskip


def _bbox(wcs):
    from .utils import bounding_box_f

    return bounding_box_f(wcs)
