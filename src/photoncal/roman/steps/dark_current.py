"""Dark-current subtraction from the Roman rate image."""

from __future__ import annotations

from photoncal.roman.stpipe import RomanStep

__all__ = ["DarkCurrentStep"]

BORDER = 4


class DarkCurrentStep(RomanStep):
    """Subtract the DARK reference's dark rate (DN/s) from the rate image.

    The reference covers the whole detector; its border is trimmed to the
    science pixels, its DQ OR-ed into the image DQ (as romancal 1.x, after
    ramp fitting).
    """

    class_alias = "roman_dark_current"
    cal_step = "dark"
    reference_file_types = ["dark"]

    def default_suffix(self):
        return "darkcurrent" if self.parent is None else super().default_suffix()

    def process(self, step_input):
        model = self.open_model(step_input)
        if type(model).__name__ != "ImageModel":
            raise TypeError(f"dark_current: expects the rate image (after ramp_fit), got {type(model).__name__}")
        dark = self.get_reference_file_model(model, "dark")
        inner = (slice(BORDER, -BORDER), slice(BORDER, -BORDER))
        slope = dark.dark_slope[inner]
        if slope.shape != model.data.shape:
            raise ValueError(f"DARK {dark.meta.filename}: trimmed shape {slope.shape} does not match the image "
                             f"{model.data.shape}")
        model.data -= slope
        model.dq |= dark.dq[inner]
        dark.close()
        return model
