"""The Roman WFI model classes (names as in roman_datamodels)."""

from __future__ import annotations

from .base import RomanDataModel

__all__ = [
    "ScienceRawModel", "RampModel", "ImageModel", "WfiWcsModel", "SegmentationMapModel",
    "MaskRefModel", "SaturationRefModel", "RefpixRefModel", "LinearityRefModel", "InverselinearityRefModel",
    "DarkRefModel", "GainRefModel", "ReadnoiseRefModel", "FlatRefModel", "WfiImgPhotomRefModel",
    "DistortionRefModel", "PixelareaRefModel", "MODEL_FOR_TAG", "REFERENCE_MODELS",
]

_TAGS = "asdf://stsci.edu/datamodels/roman/tags/"


class ScienceRawModel(RomanDataModel):
    """A level-1 exposure as downlinked: uint16 ``data`` (resultants, 4096 rows and
    columns with the reference border) and ``amp33`` (the 33rd output)."""

    schema_url = "science_raw.schema.yaml"
    tag = _TAGS + "wfi_science_raw-2.1.0"


class RampModel(RomanDataModel):
    """Resultants in float32 with ``pixeldq`` and ``groupdq``; the reference pixels
    of the border are also kept in ``border_ref_pix_*`` (filled by dq_init)."""

    schema_url = "ramp.schema.yaml"
    tag = _TAGS + "ramp-2.1.0"


class ImageModel(RomanDataModel):
    """A calibrated rate image (DN/s) with the reference border trimmed off; the
    border and amp33 reference pixels of every resultant ride along."""

    schema_url = "image.schema.yaml"
    tag = _TAGS + "wfi_image-2.1.0"


class WfiWcsModel(RomanDataModel):
    """The final level-2 WCS (``wcs_l2``) and the level-1 WCS (``wcs_l1``, pixels
    of the raw array including the 4-pixel border) of an exposure."""

    schema_url = "wfi_wcs.schema.yaml"
    tag = _TAGS + "wfi_wcs-2.1.0"

    def get_primary_array_name(self):
        return "wcs_l2"

    @classmethod
    def from_model_with_wcs(cls, model, l1_border=4):
        """Build the ``_wcs`` product of a calibrated image.

        ``wcs_l2`` is the image's WCS; ``wcs_l1`` the same WCS preceded by a
        shift of ``-l1_border`` pixels in x and y, so it applies to the
        level-1 array; its bounding box covers the whole level-1 array.
        """
        import copy

        from astropy.modeling import models

        wcs = model.meta.wcs
        if wcs is None:
            raise ValueError(f"{model.meta.filename}: the model has no WCS (assign_wcs did not run)")
        out = cls()
        keep = ("calibration_software_name", "calibration_software_version", "product_type", "file_date",
                "origin", "prd_version", "sdf_software_version", "telescope", "coordinates", "ephemeris",
                "exposure", "instrument", "observation", "pointing", "program", "velocity_aberration", "visit",
                "wcsinfo", "wcs_fit_results", "filename")
        meta = model._instance.get("meta", {})
        out._instance["meta"] = {k: copy.deepcopy(meta[k]) for k in keep if meta.get(k) is not None}
        out._instance["wcs_l2"] = copy.deepcopy(wcs)
        l1 = copy.deepcopy(wcs)
        shift = models.Shift(-l1_border, name="l1_border_x") & models.Shift(-l1_border, name="l1_border_y")
        l1.insert_transform("detector", shift, after=True)
        box = wcs.bounding_box
        if box is not None:
            (x0, x1), (y0, y1) = box.bounding_box(order="F") if hasattr(box, "bounding_box") else box
            l1.bounding_box = ((x0, x1 + 2 * l1_border), (y0, y1 + 2 * l1_border))
        out._instance["wcs_l1"] = l1
        return out


class SegmentationMapModel(RomanDataModel):
    """The segmentation map of an exposure's source catalog (uint32 labels)."""

    schema_url = "segmentation_map.schema.yaml"
    tag = _TAGS + "segmentation_map-2.1.0"


class _RefModel(RomanDataModel):
    reftype = ""

    def on_init(self, init):
        super().on_init(init)
        meta = self._instance.setdefault("meta", {})
        if self.reftype and not meta.get("reftype"):
            meta["reftype"] = self.reftype


class MaskRefModel(_RefModel):
    """MASK: ``dq`` flags of the whole detector (border included)."""

    schema_url = "ref_mask.schema.yaml"
    tag = _TAGS + "reference_files/mask-2.0.0"
    reftype = "MASK"

    def get_primary_array_name(self):
        return "dq"


class SaturationRefModel(_RefModel):
    """SATURATION: saturation level ``data`` (DN) and ``dq``."""

    schema_url = "ref_saturation.schema.yaml"
    tag = _TAGS + "reference_files/saturation-2.0.0"
    reftype = "SATURATION"


class RefpixRefModel(_RefModel):
    """REFPIX: the complex Fourier weights of the left (``gamma``) and right
    (``zeta``) reference columns and of amp33 (``alpha``), per channel and frequency."""

    schema_url = "ref_refpix.schema.yaml"
    tag = _TAGS + "reference_files/refpix-2.0.0"
    reftype = "REFPIX"

    def get_primary_array_name(self):
        return "gamma"


class LinearityRefModel(_RefModel):
    """LINEARITY: polynomial ``coeffs`` (raw -> linear DN) and ``dq``."""

    schema_url = "ref_linearity.schema.yaml"
    tag = _TAGS + "reference_files/linearity-2.0.0"
    reftype = "LINEARITY"

    def get_primary_array_name(self):
        return "coeffs"


class InverselinearityRefModel(_RefModel):
    """INVERSELINEARITY: polynomial ``coeffs`` (linear -> raw DN) and ``dq``."""

    schema_url = "ref_inverselinearity.schema.yaml"
    tag = _TAGS + "reference_files/inverselinearity-2.0.0"
    reftype = "INVERSELINEARITY"

    def get_primary_array_name(self):
        return "coeffs"


class DarkRefModel(_RefModel):
    """DARK: ``dark_slope`` (DN/s) with its error and ``dq``."""

    schema_url = "ref_dark.schema.yaml"
    tag = _TAGS + "reference_files/dark-2.0.0"
    reftype = "DARK"

    def get_primary_array_name(self):
        return "dark_slope"


class GainRefModel(_RefModel):
    """GAIN: electrons per DN."""

    schema_url = "ref_gain.schema.yaml"
    tag = _TAGS + "reference_files/gain-2.0.0"
    reftype = "GAIN"


class ReadnoiseRefModel(_RefModel):
    """READNOISE: noise of a single read (DN)."""

    schema_url = "ref_readnoise.schema.yaml"
    tag = _TAGS + "reference_files/readnoise-2.0.0"
    reftype = "READNOISE"


class FlatRefModel(_RefModel):
    """FLAT: relative response of the science pixels (border trimmed)."""

    schema_url = "ref_flat.schema.yaml"
    tag = _TAGS + "reference_files/flat-2.0.0"
    reftype = "FLAT"


class WfiImgPhotomRefModel(_RefModel):
    """PHOTOM: ``phot_table[optical_element]`` with ``photmjsr``, ``uncertainty``,
    ``pixelareasr``, ``collecting_area``, ``wavelength``, ``effective_area``."""

    schema_url = "ref_photom.schema.yaml"
    tag = _TAGS + "reference_files/wfi_img_photom-2.0.0"
    reftype = "PHOTOM"

    def get_primary_array_name(self):
        return "phot_table"


class DistortionRefModel(_RefModel):
    """DISTORTION: ``coordinate_distortion_transform``, science pixels -> V2/V3 (arcsec)."""

    schema_url = "ref_distortion.schema.yaml"
    tag = _TAGS + "reference_files/distortion-2.0.0"
    reftype = "DISTORTION"

    def get_primary_array_name(self):
        return "coordinate_distortion_transform"


class PixelareaRefModel(_RefModel):
    """AREA: relative pixel area of the science pixels and the nominal area in ``meta.photometry``."""

    schema_url = "ref_area.schema.yaml"
    tag = _TAGS + "reference_files/pixelarea-2.0.0"
    reftype = "AREA"


_ALL = (ScienceRawModel, RampModel, ImageModel, WfiWcsModel, SegmentationMapModel, MaskRefModel,
        SaturationRefModel, RefpixRefModel, LinearityRefModel, InverselinearityRefModel, DarkRefModel,
        GainRefModel, ReadnoiseRefModel, FlatRefModel, WfiImgPhotomRefModel, DistortionRefModel,
        PixelareaRefModel)

#: Tag name (without version) -> model class.
MODEL_FOR_TAG = {cls.tag[len(_TAGS):].rsplit("-", 1)[0]: cls for cls in _ALL}

#: REFTYPE -> reference model class.
REFERENCE_MODELS = {cls.reftype.lower(): cls for cls in _ALL if issubclass(cls, _RefModel)}
