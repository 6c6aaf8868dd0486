"""Telescope attitudes for simulated observations: apertures, dithers and pointing errors.

An :class:`Attitude` is one orientation of the observatory, stored the way
the headers describe it: a V2/V3 reference point and the sky position and V3
position angle there.  It can be re-expressed at any other V2/V3 point
(another detector's aperture), moved by a dither offset, or perturbed by a
pointing error.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from photoncal.wcs.pointing import (
    attitude_matrix,
    compute_roll_ref,
    radec_to_v2v3,
    v2v3_to_radec,
)

__all__ = ["Attitude"]


@dataclass(frozen=True)
class Attitude:
    """One telescope attitude.

    Attributes
    ----------
    v2_ref, v3_ref : float
        Reference point in the V2/V3 frame (arcsec).
    ra_ref, dec_ref : float
        Sky position of the reference point (deg).
    roll_ref : float
        Position angle of V3 at the reference point (deg, east of north).
    """

    v2_ref: float
    v3_ref: float
    ra_ref: float
    dec_ref: float
    roll_ref: float

    @property
    def matrix(self) -> np.ndarray:
        """V-frame -> ICRS rotation matrix."""
        return attitude_matrix(self.v2_ref, self.v3_ref, self.roll_ref, self.ra_ref, self.dec_ref)

    def sky(self, v2, v3):
        """RA, Dec (deg) of V2/V3 positions (arcsec)."""
        return v2v3_to_radec(self.matrix, v2, v3)

    def v2v3(self, ra, dec):
        """V2, V3 (arcsec) of sky positions (deg)."""
        return radec_to_v2v3(self.matrix, ra, dec)

    def roll_at(self, v2, v3) -> float:
        """Position angle of V3 (deg) at a V2/V3 point."""
        return compute_roll_ref(self.v2_ref, self.v3_ref, self.roll_ref, self.ra_ref,
                                self.dec_ref, v2, v3)

    def at(self, v2_ref: float, v3_ref: float) -> "Attitude":
        """The same attitude referred to another V2/V3 point (e.g. another aperture)."""
        ra, dec = self.sky(v2_ref, v3_ref)
        return Attitude(float(v2_ref), float(v3_ref), float(ra), float(dec),
                        self.roll_at(v2_ref, v3_ref))

    @property
    def ra_v1(self) -> float:
        return float(self.sky(0.0, 0.0)[0])

    @property
    def dec_v1(self) -> float:
        return float(self.sky(0.0, 0.0)[1])

    @property
    def pa_v3(self) -> float:
        """Position angle of V3 at the V1 axis (PA_V3)."""
        return self.roll_at(0.0, 0.0)

    def slew(self, dv2: float, dv3: float) -> "Attitude":
        """Move the telescope so that the sky moves by (+dv2, +dv3) arcsec in the V frame.

        The sky position that was at ``(v2_ref - dv2, v3_ref - dv3)`` ends up
        at the reference point.
        """
        ra, dec = self.sky(self.v2_ref - dv2, self.v3_ref - dv3)
        roll = self.roll_at(self.v2_ref - dv2, self.v3_ref - dv3)
        return replace(self, ra_ref=float(ra), dec_ref=float(dec), roll_ref=roll)

    def perturbed(self, d_east: float, d_north: float, d_roll: float = 0.0) -> "Attitude":
        """The attitude with its reference point moved on the sky and rolled.

        Parameters
        ----------
        d_east, d_north : float
            Sky offset of the reference point in arcsec.
        d_roll : float
            Change of ROLL_REF in degrees.
        """
        dec = self.dec_ref + d_north / 3600.0
        ra = self.ra_ref + d_east / 3600.0 / np.cos(np.deg2rad(dec))
        return replace(self, ra_ref=float(np.mod(ra, 360.0)), dec_ref=float(dec),
                       roll_ref=float(np.mod(self.roll_ref + d_roll, 360.0)))

    def wcsinfo(self) -> dict:
        """The pointing as ``meta.wcsinfo`` entries."""
        return {"v2_ref": self.v2_ref, "v3_ref": self.v3_ref, "ra_ref": self.ra_ref,
                "dec_ref": self.dec_ref, "roll_ref": self.roll_ref}
