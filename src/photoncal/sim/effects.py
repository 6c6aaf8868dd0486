"""Switches of the simulated signal chain."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

__all__ = ["Effects"]


@dataclass(frozen=True)
class Effects:
    """Which parts of the signal chain a simulation includes.

    Every switch defaults to on (``Effects()`` is the realistic chain).
    Presets: ``Effects.preset("all")``, ``"none"`` (a flat, noiseless,
    linear detector with only the scene), ``"noiseless"`` (every systematic
    effect, no Poisson noise, read noise or cosmic rays).

    Attributes
    ----------
    sky, sources : bool
        The sky background and the scene's sources.
    poisson : bool
        Poisson noise of the collected charge.
    read_noise : bool
        Read noise, and the frame-to-frame jitter of the amplifier offsets.
    dark : bool
        Dark current (hot and warm pixels only with ``bad_pixels``).
    superbias : bool
        The structured bias; otherwise a uniform level.
    refpix_offsets : bool
        Per-amplifier offsets that drift from frame to frame, with an
        even/odd column (MIRI: row) difference, in reference and science
        pixels alike.
    nonlinearity : bool
        The inverse of the LINEARITY polynomial.
    saturation : bool
        Reads clip at the full well.
    bad_pixels : bool
        Hot, warm, dead and low-QE pixels.
    flat : bool
        Pixel-to-pixel and large-scale response variations (the pixel area
        variation from the distortion is geometry and always present).
    ipc : bool
        Inter-pixel capacitance (charge convolved with the forward kernel).
    cosmic_rays : bool
        Cosmic-ray hits at ``cosmic_ray_rate`` events/cm^2/s.
    reset_anomaly, rscd, first_last_frame : bool
        MIRI only: the reset anomaly, reset-switch charge decay in later
        integrations, the first- and last-frame effects.
    cosmic_ray_rate : float
        Cosmic-ray events per cm^2 per second.
    """

    sky: bool = True
    sources: bool = True
    poisson: bool = True
    read_noise: bool = True
    dark: bool = True
    superbias: bool = True
    refpix_offsets: bool = True
    nonlinearity: bool = True
    saturation: bool = True
    bad_pixels: bool = True
    flat: bool = True
    ipc: bool = True
    cosmic_rays: bool = True
    reset_anomaly: bool = True
    rscd: bool = True
    first_last_frame: bool = True
    cosmic_ray_rate: float = 5.0

    @classmethod
    def preset(cls, name: str) -> "Effects":
        """Return a named preset: ``all``, ``none`` or ``noiseless``."""
        key = name.lower()
        if key in ("all", "default", "realistic"):
            return cls()
        switches = [f.name for f in fields(cls) if f.type in (bool, "bool")]
        if key == "none":
            return cls(**{n: n in ("sky", "sources") for n in switches})
        if key == "noiseless":
            return cls(poisson=False, read_noise=False, cosmic_rays=False)
        raise ValueError(f"unknown effects preset {name!r}; expected 'all', 'none' or 'noiseless'")

    @classmethod
    def coerce(cls, value) -> "Effects":
        """Accept an Effects, a preset name, a dict of switches or None (all on)."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            return cls.preset(value)
        if isinstance(value, dict):
            base = value.get("preset")
            effects = cls.preset(base) if base else cls()
            changes = {k: v for k, v in value.items() if k != "preset"}
            unknown = set(changes) - {f.name for f in fields(cls)}
            if unknown:
                raise ValueError(
                    f"unknown effect switch(es) {sorted(unknown)}; expected some of "
                    f"{[f.name for f in fields(cls)]}"
                )
            return replace(effects, **changes)
        raise TypeError(f"effects must be an Effects, a preset name or a dict, got {type(value).__name__}")

    def to_dict(self) -> dict:
        return asdict(self)
