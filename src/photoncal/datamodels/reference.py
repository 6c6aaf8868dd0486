"""Reference-file model classes.

DQ translation: when a reference model reads its ``dq`` array from a file
that has a DQ_DEF table, the array is translated to master-table bits
(:func:`photoncal.dqflags.dq_from_dqdef`) on that first read, and
``dq_def`` is replaced by the master-table definitions of the flags now
present, so ``ref.dq`` is always in master bits and saving the model writes
a consistent pair.
"""

from __future__ import annotations

import warnings

import numpy as np

from .errors import ValidationError, ValidationWarning
from .model_base import DataModel
from .node import LazyArray

__all__ = [
    "ReferenceFileModel",
    "ReferenceImageModel",
    "ReferenceCubeModel",
    "ReferenceQuadModel",
    "MaskModel",
    "SaturationModel",
    "SuperBiasModel",
    "LinearityModel",
    "DarkModel",
    "DarkMIRIModel",
    "GainModel",
    "ReadnoiseModel",
    "IPCModel",
    "ResetModel",
    "RSCDModel",
    "LastFrameModel",
    "FlatModel",
    "PixelAreaModel",
    "PhotomModel",
    "NircamPhotomModel",
    "NirissPhotomModel",
    "FgsPhotomModel",
    "MiriImgPhotomModel",
    "DrizParsModel",
    "NircamDrizParsModel",
    "MiriImgDrizParsModel",
    "TrapDensityModel",
    "TrapParsModel",
    "PersistenceSatModel",
    "DistortionModel",
    "FilteroffsetModel",
    "ApcorrModel",
    "NrcImgApcorrModel",
    "NisImgApcorrModel",
    "MirImgApcorrModel",
    "FgsImgApcorrModel",
    "ABVegaOffsetModel",
]

#: Keywords every reference file must carry (checked by ``validate()``).
REQUIRED_REFERENCE_KEYWORDS = {
    "meta.reftype": "REFTYPE",
    "meta.description": "DESCRIP",
    "meta.author": "AUTHOR",
    "meta.pedigree": "PEDIGREE",
    "meta.useafter": "USEAFTER",
    "meta.instrument.name": "INSTRUME",
}


class ReferenceFileModel(DataModel):
    """Base of the reference-file models (REFTYPE, PEDIGREE, USEAFTER, DESCRIP, AUTHOR, P_ keywords)."""

    schema_url = "referencefile.schema.yaml"
    #: REFTYPE written when the model does not set one.
    reftype = None

    def on_init(self, init):
        super().on_init(init)
        if self.reftype and not self._instance.get("meta", {}).get("reftype"):
            if init is None or isinstance(init, tuple) or isinstance(init, np.ndarray):
                self._instance.setdefault("meta", {})["reftype"] = self.reftype

    def _on_array_loaded(self, name, arr):
        if name != "dq" or "dq_def" not in self._instance:
            return arr
        dq_def = self._instance.get("dq_def")
        if isinstance(dq_def, LazyArray):
            dq_def = self.dq_def
        if dq_def is None or len(dq_def) == 0:
            return arr
        from photoncal import dqflags

        listed = _identity_dqdef_mask(dq_def, dqflags.pixel)
        if listed is not None:
            # The file already uses master-table bits (the usual case): keep the
            # listed ones in one pass instead of one full-array pass per row.
            master = np.bitwise_and(np.asarray(arr, dtype=np.uint32), np.uint32(listed))
        else:
            master = dqflags.dq_from_dqdef(arr, dq_def)
        present = int(np.bitwise_or.reduce(master.ravel())) if master.size else 0
        values = [1 << b for b in range(32) if present & (1 << b)]
        self.dq_def = dqflags.dqdef_table(values)
        return master

    def validate(self):
        """Validate values, then check the required reference keywords are set."""
        super().validate()
        missing = [f"{path} ({kw})" for path, kw in REQUIRED_REFERENCE_KEYWORDS.items() if self[path] is None]
        if missing:
            message = f"{type(self).__name__}: reference file keywords not set: {', '.join(missing)}"
            if self._strict_validation:
                raise ValidationError(message)
            warnings.warn(message, ValidationWarning, stacklevel=2)
        return missing


class ReferenceImageModel(ReferenceFileModel):
    """A 2-D reference image with ``data``, ``dq``, ``err`` and ``dq_def``."""

    schema_url = "referenceimage.schema.yaml"


class ReferenceCubeModel(ReferenceFileModel):
    """A 3-D reference cube with ``data``, ``dq``, ``err`` and ``dq_def``."""

    schema_url = "referencecube.schema.yaml"


class ReferenceQuadModel(ReferenceFileModel):
    """A 4-D reference array with ``data``, ``dq``, ``err`` and ``dq_def``."""

    schema_url = "referencequad.schema.yaml"


class MaskModel(ReferenceFileModel):
    """Bad-pixel mask (MASK); the primary array is ``dq``."""

    schema_url = "mask.schema.yaml"
    reftype = "MASK"

    def get_primary_array_name(self):
        return "dq"

    def get_mask_for_field(self, name):
        """``dq & value`` of the flag called ``name`` in ``dq_def`` (a copy)."""
        for row in self.dq_def if self.dq_def is not None else ():
            if str(row["NAME"]).strip().upper() == name.upper():
                return self.dq & np.uint32(row["VALUE"])
        raise ValueError(f"field {name!r} not found in dq_def")


class SaturationModel(ReferenceFileModel):
    """Saturation levels in DN (SATURATION): ``data``, ``dq``, ``dq_def``."""

    schema_url = "saturation.schema.yaml"
    reftype = "SATURATION"


class SuperBiasModel(ReferenceFileModel):
    """Superbias (SUPERBIAS): ``data``, ``dq``, ``err``, ``dq_def``."""

    schema_url = "superbias.schema.yaml"
    reftype = "SUPERBIAS"


class LinearityModel(ReferenceFileModel):
    """Linearity coefficients (LINEARITY); the primary array is ``coeffs`` (ncoeffs, ny, nx)."""

    schema_url = "linearity.schema.yaml"
    reftype = "LINEARITY"

    def get_primary_array_name(self):
        return "coeffs"


class DarkModel(ReferenceFileModel):
    """Dark current (DARK): ``data`` (nframes, ny, nx), ``dq``, ``err``, ``dq_def``."""

    schema_url = "dark.schema.yaml"
    reftype = "DARK"


class DarkMIRIModel(ReferenceFileModel):
    """MIRI dark (DARK), integration dependent: ``data`` (nints, ngroups, ny, nx), ``dq``, ``err``."""

    schema_url = "darkMIRI.schema.yaml"
    reftype = "DARK"


class GainModel(ReferenceFileModel):
    """Gain in electrons/DN (GAIN): ``data``."""

    schema_url = "gain.schema.yaml"
    reftype = "GAIN"


class ReadnoiseModel(ReferenceFileModel):
    """Read noise in DN (READNOISE): ``data``."""

    schema_url = "readnoise.schema.yaml"
    reftype = "READNOISE"


class IPCModel(ReferenceFileModel):
    """IPC deconvolution kernel (IPC): ``data``, 2-D (ny, nx) or 4-D (ny, nx, nyk, nxk)."""

    schema_url = "ipc.schema.yaml"
    reftype = "IPC"


class ResetModel(ReferenceFileModel):
    """Reset anomaly correction (RESET): ``data``, ``dq``, ``err``, ``dq_def``."""

    schema_url = "reset.schema.yaml"
    reftype = "RESET"


class RSCDModel(ReferenceFileModel):
    """RSCD coefficients (RSCD): ``rscd_table`` and ``rscd_group_skip_table``."""

    schema_url = "rscd.schema.yaml"
    reftype = "RSCD"


class LastFrameModel(ReferenceFileModel):
    """Last-frame correction (LASTFRAME): ``data``, ``dq``, ``err``, ``dq_def``."""

    schema_url = "lastframe.schema.yaml"
    reftype = "LASTFRAME"


class FlatModel(ReferenceFileModel):
    """Flat field (FLAT): ``data``, ``dq``, ``err``, ``dq_def``."""

    schema_url = "flat.schema.yaml"
    reftype = "FLAT"


class PixelAreaModel(ReferenceFileModel):
    """Pixel area map (AREA): ``data``; PIXAR_SR / PIXAR_A2 in the primary header."""

    schema_url = "pixelarea.schema.yaml"
    reftype = "AREA"


class PhotomModel(ReferenceFileModel):
    """Photometric calibration table (PHOTOM): ``phot_table``."""

    schema_url = "photom.schema.yaml"
    reftype = "PHOTOM"


class NircamPhotomModel(PhotomModel):
    """NIRCam imaging PHOTOM: ``phot_table`` with filter, pupil, photmjsr, uncertainty."""

    schema_url = "nrcimg_photom.schema.yaml"


class NirissPhotomModel(PhotomModel):
    """NIRISS imaging PHOTOM: ``phot_table`` with filter, pupil, photmjsr, uncertainty."""

    schema_url = "nisimg_photom.schema.yaml"


class FgsPhotomModel(PhotomModel):
    """FGS imaging PHOTOM: ``phot_table`` with photmjsr, uncertainty."""

    schema_url = "fgsimg_photom.schema.yaml"


class MiriImgPhotomModel(PhotomModel):
    """MIRI imaging PHOTOM: ``phot_table`` with filter, subarray, photmjsr, uncertainty."""

    schema_url = "mirimg_photom.schema.yaml"


class DrizParsModel(ReferenceFileModel):
    """Drizzle parameters (DRIZPARS): ``drizpars_table``."""

    schema_url = "drizpars.schema.yaml"
    reftype = "DRIZPARS"


class NircamDrizParsModel(DrizParsModel):
    """NIRCam DRIZPARS."""


class MiriImgDrizParsModel(DrizParsModel):
    """MIRI imaging DRIZPARS."""


class TrapDensityModel(ReferenceFileModel):
    """Trap density (TRAPDENSITY): ``data``, ``dq``, ``dq_def``."""

    schema_url = "trapdensity.schema.yaml"
    reftype = "TRAPDENSITY"


class TrapParsModel(ReferenceFileModel):
    """Trap capture and decay parameters (TRAPPARS): ``trappars_table``."""

    schema_url = "trappars.schema.yaml"
    reftype = "TRAPPARS"


class PersistenceSatModel(ReferenceFileModel):
    """Persistence saturation / full well (PERSAT): ``data``, ``dq``, ``dq_def``."""

    schema_url = "persat.schema.yaml"
    reftype = "PERSAT"


class ApcorrModel(ReferenceFileModel):
    """Aperture corrections (APCORR): ``apcorr_table``, one row per filter and encircled energy.

    Columns ``eefraction``, ``radius`` (native pixels), ``apcorr``, ``skyin``,
    ``skyout`` (background annulus radii, pixels), plus the selectors of the
    instrument (``filter`` and ``pupil``; MIRI ``filter`` and ``subarray``;
    FGS none).
    """

    schema_url = "apcorr.schema.yaml"
    reftype = "APCORR"


class NrcImgApcorrModel(ApcorrModel):
    """NIRCam imaging APCORR (selectors ``filter``, ``pupil``)."""

    schema_url = "nrcimg_apcorr.schema.yaml"


class NisImgApcorrModel(ApcorrModel):
    """NIRISS imaging APCORR (selectors ``filter``, ``pupil``)."""

    schema_url = "nisimg_apcorr.schema.yaml"


class MirImgApcorrModel(ApcorrModel):
    """MIRI imaging APCORR (selectors ``filter``, ``subarray``)."""

    schema_url = "mirimg_apcorr.schema.yaml"


class FgsImgApcorrModel(ApcorrModel):
    """FGS imaging APCORR (no selector columns)."""

    schema_url = "fgsimg_apcorr.schema.yaml"


class _AsdfReferenceModel(ReferenceFileModel):
    """Reference models stored as ASDF files (WCS reference types)."""

    def save(self, path, dir_path=None, *args, **kwargs):
        if isinstance(path, str) and "format" not in kwargs and not path.lower().endswith((".fits", ".fit")):
            kwargs["format"] = "asdf"
        return super().save(path, dir_path, *args, **kwargs)

    def populate_meta(self):
        """Hook for subclasses that derive keywords from their content (nothing to do here)."""


class DistortionModel(_AsdfReferenceModel):
    """Imaging distortion (DISTORTION): ``model``, an astropy transform to V2/V3 in arcsec.

    Parameters
    ----------
    init : any
        Any initialiser of :class:`DataModel` (usually an ``.asdf`` path).
    model : astropy.modeling.Model, optional
        The transform.
    input_units, output_units : str or astropy unit, optional
        Stored in ``meta.input_units`` / ``meta.output_units``.
    """

    schema_url = "distortion.schema.yaml"
    reftype = "DISTORTION"

    def __init__(self, init=None, model=None, input_units=None, output_units=None, **kwargs):
        super().__init__(init=init, **kwargs)
        if model is not None:
            self.model = model
        if input_units is not None:
            self.meta.input_units = input_units
        if output_units is not None:
            self.meta.output_units = output_units


class FilteroffsetModel(_AsdfReferenceModel):
    """Filter-dependent pointing offsets (FILTEROFFSET): ``filters``, a list of dicts.

    Each entry has ``filter`` (and ``pupil``) or ``name``, and
    ``row_offset`` / ``column_offset`` in pixels.
    """

    schema_url = "filteroffset.schema.yaml"
    reftype = "FILTEROFFSET"

    def __init__(self, init=None, filters=None, **kwargs):
        super().__init__(init=init, **kwargs)
        if filters is not None:
            self.filters = filters


def _identity_dqdef_mask(dq_def, master):
    """The OR of the DQ_DEF values when every row names the master-table flag of
    its own value (translation is then the identity on those bits), else None."""
    listed = 0
    for row in dq_def:
        value = int(row["VALUE"])
        if value == 0:
            continue
        name = row["NAME"]
        if isinstance(name, bytes):
            name = name.decode("ascii")
        if master.get(str(name).strip().upper()) != value:
            return None
        listed |= value
    return listed


class ABVegaOffsetModel(_AsdfReferenceModel):
    """AB to Vega magnitude offsets (ABVEGAOFFSET), an ASDF file.

    ``abvega_offset`` is a table (an astropy Table, or a mapping of column
    name to values) with the column ``abvega_offset`` (``m_AB - m_Vega``) and
    the selectors ``filter`` and ``pupil`` (NIRCam, NIRISS), ``filter``
    (MIRI) or ``detector`` (FGS).
    """

    schema_url = "abvegaoffset.schema.yaml"
    reftype = "ABVEGAOFFSET"

    def __init__(self, init=None, abvega_offset=None, **kwargs):
        super().__init__(init=init, **kwargs)
        if abvega_offset is not None:
            self.abvega_offset = abvega_offset
