"""photoncal.wcs: pure functions on gwcs/astropy.modeling objects.

The v2v3-to-sky pointing transform, the imaging WCS builder, pixel maps
between two WCSs, footprints and the tangent-plane correction of tweakreg.
Sits beside the kernels: it imports no data models.
"""
