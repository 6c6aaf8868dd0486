"""photom: convert an imaging exposure from DN/s to MJy/sr.

Seed 002, "Photom", for imaging, as the established pipeline applies it:

* the row of the PHOTOM table is selected by the exposure's keywords:
  NIRCam FILTER + PUPIL (+ SUBARRAY when the table has that column),
  NIRISS FILTER + PUPIL, MIRI imager FILTER + SUBARRAY (falling back to
  SUBARRAY = GENERIC), FGS the single row;
* SCI and ERR are multiplied by its PHOTMJSR, the variance arrays by its
  square; BUNIT becomes MJy/sr; PHOTMJSR and PHOTUJA2 (the same factor in
  uJy/arcsec^2) are recorded in the SCI header;
* the AREA reference's relative pixel-area map (cut to the subarray) is
  attached as the AREA extension and its PIXAR_SR / PIXAR_A2 recorded (from
  the PHOTOM file when there is no AREA reference), with a warning when the
  two files disagree by more than 0.1 %.

``inverse=True`` divides instead (BUNIT back to DN/s).  ``source_type``,
``apply_time_correction`` and ``mrs_time_correction`` are accepted: imaging
conversions in MJy/sr do not depend on the source type, and the simulated
and supported PHOTOM tables carry no time-dependence coefficients.
"""

from __future__ import annotations

import math

import numpy as np

from photoncal.stpipe import Step

__all__ = ["PhotomStep", "MJSR_TO_UJA2", "select_photom_row"]

#: 1 MJy/sr in uJy/arcsec^2.
MJSR_TO_UJA2 = 1.0e12 * (math.pi / (180.0 * 3600.0)) ** 2

#: Spectroscopic modes need wavelength-dependent responses (not implemented).
_SPECTRAL_PREFIXES = ("NRS_", "MIR_LRS", "MIR_MRS", "MIR_WFSS", "NIS_WFSS", "NIS_SOSS", "NRC_WFSS",
                      "NRC_TSGRISM", "NRC_GRISM")


def _column(table, name):
    names = [n.lower() for n in (table.dtype.names or ())]
    if name.lower() not in names:
        return None
    return table[table.dtype.names[names.index(name.lower())]]


def _matches(column, value):
    values = np.array([str(v).strip().upper() for v in column])
    return values == str(value).strip().upper()


def select_photom_row(table, instrument, filter_name=None, pupil=None, subarray=None):
    """Index of the PHOTOM table row for an imaging exposure, or None.

    Parameters
    ----------
    table : numpy record array
        ``phot_table`` of the PHOTOM reference.
    instrument : str
        INSTRUME.
    filter_name, pupil, subarray : str, optional
        FILTER, PUPIL, SUBARRAY of the exposure.

    Raises
    ------
    ValueError
        Several rows match (the reference file is ambiguous).
    """
    instrument = str(instrument).upper()
    if instrument == "FGS":
        return 0 if len(table) else None
    if instrument == "MIRI":
        attempts = [{"filter": filter_name, "subarray": subarray}, {"filter": filter_name, "subarray": "GENERIC"}]
    else:
        fields = {"filter": filter_name, "pupil": pupil}
        if instrument == "NIRCAM" and _column(table, "subarray") is not None:
            fields["subarray"] = subarray
        attempts = [fields]
    for fields in attempts:
        mask = np.ones(len(table), dtype=bool)
        for name, value in fields.items():
            column = _column(table, name)
            if column is None:
                continue
            mask &= _matches(column, value)
        rows = np.flatnonzero(mask)
        if len(rows) > 1:
            raise ValueError(f"{len(rows)} PHOTOM rows match {fields}; expected one")
        if len(rows) == 1:
            return int(rows[0])
    return None


class PhotomStep(Step):
    """Convert imaging data to MJy/sr and attach the pixel-area map."""

    class_alias = "photom"

    spec = """
        inverse = boolean(default=False)                # divide by the conversion instead (back to DN/s)
        source_type = string(default=None)              # process as this source type (POINT or EXTENDED)
        apply_time_correction = boolean(default=True)   # apply time-dependent corrections if the reference has them
        mrs_time_correction = boolean(default=True)     # MIRI MRS time correction (older name; accepted)
    """

    reference_file_types = ["photom", "area"]
    optional_reference_file_types = ["area"]

    def process(self, step_input):
        model = self.open_model(step_input)
        kind = type(model).__name__
        if kind not in ("ImageModel", "CubeModel"):
            return self.skip_step(model, f"photom expects an ImageModel or CubeModel, got {kind}")
        exp_type = str(model.meta.exposure.type or "").upper()
        if exp_type.startswith(_SPECTRAL_PREFIXES):
            return self.skip_step(model, f"spectroscopic photometry ({exp_type}) is not implemented")

        photom = self.get_reference_file_model(model, "photom")
        if photom is None:
            return self.skip_step(model, "no PHOTOM reference (N/A)")
        inst = model.meta.instrument
        table = photom.phot_table
        if table is None or len(table) == 0:
            raise ValueError(f"PHOTOM reference {photom.meta.filename}: the PHOTOM table is empty")
        try:
            row = select_photom_row(table, inst.name, inst.filter, inst.pupil, model.meta.subarray.name)
        except ValueError as err:
            raise ValueError(f"PHOTOM reference {photom.meta.filename}: {err}") from None
        if row is None:
            return self.skip_step(
                model, f"PHOTOM reference {photom.meta.filename} has no row for FILTER={inst.filter} "
                f"PUPIL={inst.pupil} SUBARRAY={model.meta.subarray.name}")
        conversion = float(_column(table, "photmjsr")[row])
        if self.source_type is not None:
            self.log.info("source_type = %s: imaging conversions in MJy/sr do not depend on it", self.source_type)

        self._attach_area(model, photom)
        apply_conversion(model, conversion, inverse=self.inverse)
        self.log.info("PHOTMJSR = %.6g (MJy/sr)/(DN/s)%s", conversion, " (inverse applied)" if self.inverse else "")
        return model

    def _attach_area(self, model, photom):
        """Attach the AREA map and record PIXAR_SR / PIXAR_A2."""
        from photoncal.datamodels.subarray import ref_to_science_subarray
        from photoncal.stpipe.exceptions import ReferenceFileNotFoundError

        phot_sr = photom.meta.photometry.pixelarea_steradians
        phot_a2 = photom.meta.photometry.pixelarea_arcsecsq
        try:
            area = self.get_reference_file_model(model, "area")
        except ReferenceFileNotFoundError as err:
            self.log.warning("No AREA reference file (%s); PIXAR_SR/PIXAR_A2 from the PHOTOM file, no AREA "
                             "array attached", str(err).splitlines()[0])
            area = None
        pix_sr, pix_a2 = phot_sr, phot_a2
        if area is not None:
            model.area = np.asarray(ref_to_science_subarray(area, model).data, dtype=np.float32).copy()
            self.log.info("Pixel area map copied to the output (AREA)")
            area_sr = area.meta.photometry.pixelarea_steradians
            area_a2 = area.meta.photometry.pixelarea_arcsecsq
            pix_sr = area_sr if area_sr is not None else phot_sr
            pix_a2 = area_a2 if area_a2 is not None else phot_a2
            for label, a, b in (("PIXAR_SR", area_sr, phot_sr), ("PIXAR_A2", area_a2, phot_a2)):
                if a is not None and b is not None and abs(a - b) > 1e-3 * abs(b):
                    self.log.warning("%s of the AREA file (%g) and of the PHOTOM file (%g) differ by more "
                                     "than 0.1 %%", label, a, b)
        if pix_sr is None or pix_a2 is None:
            self.log.warning("PIXAR_SR / PIXAR_A2 are missing from the PHOTOM and AREA references")
        model.meta.photometry.pixelarea_steradians = None if pix_sr is None else float(pix_sr)
        model.meta.photometry.pixelarea_arcsecsq = None if pix_a2 is None else float(pix_a2)


def apply_conversion(model, conversion, inverse=False):
    """Scale SCI, ERR and the variances by a PHOTMJSR value, in place.

    Records PHOTMJSR/PHOTUJA2 and BUNIT, then makes NaN values and
    DO_NOT_USE flags agree.
    """
    from ._stage2 import VARIANCE_ARRAYS, has_array, match_nans_and_flags

    factor = np.float32(1.0 / conversion if inverse else conversion)
    factor_sq = np.float32(factor * factor)
    with np.errstate(invalid="ignore", over="ignore"):
        np.multiply(model.data, factor, out=model.data)
        if has_array(model, "err"):
            np.multiply(model.err, factor, out=model.err)
        for name in VARIANCE_ARRAYS:
            if has_array(model, name):
                arr = getattr(model, name)
                np.multiply(arr, factor_sq, out=arr)
    model.meta.photometry.conversion_megajanskys = float(conversion)
    model.meta.photometry.conversion_microjanskys = float(conversion) * MJSR_TO_UJA2
    unit = "DN/s" if inverse else "MJy/sr"
    model.meta.bunit_data = unit
    model.meta.bunit_err = unit
    match_nans_and_flags(model)
