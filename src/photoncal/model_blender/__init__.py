"""photoncal.model_blender: blend the metadata of combined products (the spec's model_blender).

>>> from photoncal.model_blender import ModelBlender, blendmodels
>>> blendmodels(i2d_model, inputs=[cal1, cal2, cal3])  # doctest: +SKIP
"""

from .blender import HDRTAB_SCHEMA, ModelBlender, parse_schema
from .blendmeta import (
    RESAMPLED_PRODUCT_KEEPS,
    blend_resampled_product,
    blendmodels,
    extract_filenames_from_product,
    get_blended_metadata,
)
from .rules import RULES, AttributeBlender, make_blender

__all__ = [
    "ModelBlender",
    "blendmodels",
    "blend_resampled_product",
    "RESAMPLED_PRODUCT_KEEPS",
    "get_blended_metadata",
    "extract_filenames_from_product",
    "parse_schema",
    "RULES",
    "AttributeBlender",
    "make_blender",
    "HDRTAB_SCHEMA",
]
