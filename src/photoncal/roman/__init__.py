"""photoncal.roman: the Roman WFI exposure pipeline.

* :mod:`photoncal.roman.pipeline` - ``ExposurePipeline`` (``strun exposure_pipeline``);
* :mod:`photoncal.roman.steps` - its steps (aliases ``roman_<step>``, romancal's dotted names);
* :mod:`photoncal.roman.datamodels` - the Roman data models, read and written as Roman ASDF files;
* :mod:`photoncal.roman.kernels` - the Roman-only kernels (reference-pixel correction);
* :mod:`photoncal.roman.dqflags` - the Roman DQ flag names.

The simulator lives in :mod:`photoncal.sim.roman`.  See ``docs/roman.md``.
"""
