"""Photometric calibration keywords of the Roman rate image."""

from __future__ import annotations

from photoncal.roman.stpipe import RomanStep

__all__ = ["PhotomStep"]


class PhotomStep(RomanStep):
    """Record the flux conversion of the exposure's optical element.

    ``meta.photometry.conversion_megajanskys`` (MJy/sr per DN/s), its
    uncertainty and the nominal ``pixel_area`` (sr) come from the PHOTOM
    table row of ``meta.instrument.optical_element``; the data stay in DN/s
    (as romancal).
    """

    class_alias = "roman_photom"
    cal_step = "photom"
    reference_file_types = ["photom"]

    def process(self, step_input):
        model = self.open_model(step_input)
        ref = self.get_reference_file_model(model, "photom")
        element = str(model.meta.instrument.optical_element or "").upper()
        table = ref._instance.get("phot_table")
        if hasattr(table, "load"):  # a value only asdf can read
            table = table.load()
        row = table.get(element) if isinstance(table, dict) else None
        if row is None:
            self.log.warning("PHOTOM %s has no row for optical element %s", ref.meta.filename, element)
            return self.skip_step(model, f"no photometric calibration for {element}")

        def get(key):
            value = row[key] if isinstance(row, dict) else getattr(row, key)
            return None if value is None else float(value)

        photometry = model.meta.photometry
        photometry.conversion_megajanskys = get("photmjsr")
        photometry.conversion_megajanskys_uncertainty = get("uncertainty")
        photometry.pixel_area = get("pixelareasr")
        self.log.info("photmjsr %s MJy/sr per DN/s, pixel area %s sr", photometry.conversion_megajanskys,
                      photometry.pixel_area)
        ref.close()
        return model
