"""The table of every step and pipeline photoncal has or will have.

Each entry maps the names a user may type - the ``strun`` alias
(``jump``), the photoncal dotted name (``photoncal.steps.jump.JumpStep``),
the established pipeline's dotted names (``jwst.jump.JumpStep``,
``jwst.jump.jump_step.JumpStep``, ``jwst.step.JumpStep``), the class name
and the cfg file name (``jump.cfg``) - to a lazy ``"module:Class"`` string.
Nothing is imported until a name is resolved, so ``strun -h`` stays fast.

This table is also the allow-list of configuration files: a cfg's
``class =`` can only name an entry here (or a Step subclass the running
program has already defined, which registers itself), never an arbitrary
importable object.  Resolving a planned module that does not exist yet
raises :class:`~photoncal.stpipe.exceptions.StepNotImplementedError`.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, field
from types import MappingProxyType

from .exceptions import StepNotImplementedError, UnknownStepError

__all__ = ["Entry", "entries", "lookup", "resolve", "register", "entry_for_class", "all_names"]


@dataclass(frozen=True)
class Entry:
    """One registered step or pipeline.

    Attributes
    ----------
    alias : str
        The ``strun`` alias; for a step also its default output suffix.
    target : str
        ``"module:Class"`` of the implementation.
    is_pipeline : bool
        Whether the class is a Pipeline.
    names : tuple of str
        Dotted names accepted for it (photoncal's and the established
        pipeline's).
    aliases : tuple of str
        Other short names (the established alias where it differs).
    cfg_name : str
        The file ``collect_pipeline_cfgs`` writes for it.
    cfg_values : mapping
        Parameters the cfg file sets (``calwebb_tso1`` skips steps).
    """

    alias: str
    target: str
    is_pipeline: bool
    names: tuple = ()
    aliases: tuple = ()
    cfg_name: str = ""
    cfg_values: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))

    @property
    def module(self) -> str:
        return self.target.split(":")[0]

    @property
    def class_name(self) -> str:
        return self.target.split(":")[1]

    @property
    def dotted_name(self) -> str:
        """The photoncal dotted name, ``photoncal.steps.jump.JumpStep``."""
        return f"{self.module}.{self.class_name}"

    def all_names(self) -> tuple:
        cfg_names = tuple(dict.fromkeys((self.cfg_name, *(f"{a}.cfg" for a in (self.alias, *self.aliases)))))
        return (self.alias, *self.aliases, self.dotted_name, *self.names, self.class_name, *cfg_names)


def _step(alias, class_name, jwst_package=None, jwst_module=None, *, aliases=(), cfg_name=None):
    jwst_package = jwst_package or alias
    jwst_module = jwst_module or f"{alias}_step"
    return Entry(
        alias=alias,
        target=f"photoncal.steps.{alias}:{class_name}",
        is_pipeline=False,
        names=(
            f"photoncal.steps.{class_name}",
            f"jwst.{jwst_package}.{class_name}",
            f"jwst.{jwst_package}.{jwst_module}.{class_name}",
            f"jwst.step.{class_name}",
        ),
        aliases=tuple(aliases),
        cfg_name=cfg_name or f"{alias}.cfg",
    )


def _roman_step(name, class_name, package, module):
    """A Roman WFI step: alias ``roman_<name>`` (never a JWST alias), romancal's dotted names."""
    return Entry(
        alias=f"roman_{name}",
        target=f"photoncal.roman.steps.{name}:{class_name}",
        is_pipeline=False,
        names=(
            f"photoncal.roman.steps.{class_name}",
            f"romancal.{package}.{class_name}",
            f"romancal.{package}.{module}.{class_name}",
            f"romancal.step.{class_name}",
        ),
        cfg_name=f"roman_{name}.cfg",
    )


def _jwst_pipeline(alias, module, class_name, *, cfg_values=None, names=True):
    return Entry(
        alias=alias,
        target=f"photoncal.pipeline.{module}:{class_name}",
        is_pipeline=True,
        names=(
            (
                f"photoncal.pipeline.{class_name}",
                f"jwst.pipeline.{class_name}",
                f"jwst.pipeline.{alias}.{class_name}",
            )
            if names
            else ()
        ),
        cfg_name=f"{alias}.cfg",
        cfg_values=MappingProxyType(cfg_values or {}),
    )


_STATIC: tuple[Entry, ...] = (
    _step("group_scale", "GroupScaleStep"),
    _step("dq_init", "DQInitStep"),
    _step("saturation", "SaturationStep"),
    _step("ipc", "IPCStep"),
    _step("superbias", "SuperBiasStep"),
    _step("refpix", "RefPixStep"),
    _step("linearity", "LinearityStep"),
    _step("persistence", "PersistenceStep"),
    _step("dark_current", "DarkCurrentStep"),
    _step("jump", "JumpStep"),
    _step("ramp_fit", "RampFitStep", "ramp_fitting", "ramp_fit_step"),
    _step("gain_scale", "GainScaleStep"),
    _step("rscd", "RscdStep"),
    _step("firstframe", "FirstFrameStep"),
    _step("lastframe", "LastFrameStep"),
    _step("reset", "ResetStep"),
    _step("guider_cds", "GuiderCdsStep"),
    _step("assign_wcs", "AssignWcsStep"),
    _step("background", "BackgroundStep", aliases=("bkg_subtract",), cfg_name="bkg_subtract.cfg"),
    _step("flat_field", "FlatFieldStep", "flatfield", "flat_field_step"),
    _step("photom", "PhotomStep"),
    _step("resample", "ResampleStep"),
    _step("tweakreg", "TweakRegStep"),
    _step("skymatch", "SkyMatchStep"),
    _step("outlier_detection", "OutlierDetectionStep"),
    _step("source_catalog", "SourceCatalogStep"),
    _jwst_pipeline("calwebb_detector1", "detector1", "Detector1Pipeline"),
    _jwst_pipeline(
        "calwebb_tso1",
        "detector1",
        "Detector1Pipeline",
        # The TSO flavour of stage 1: the same pipeline with the steps that
        # do not apply to time series skipped.
        cfg_values={"steps": {"ipc": {"skip": True}, "lastframe": {"skip": True}, "persistence": {"skip": True}}},
        names=False,
    ),
    _jwst_pipeline("calwebb_dark", "dark", "DarkPipeline"),
    _jwst_pipeline("calwebb_guider", "guider", "GuiderPipeline"),
    _jwst_pipeline("calwebb_image2", "image2", "Image2Pipeline"),
    _jwst_pipeline("calwebb_image3", "image3", "Image3Pipeline"),
    # Roman WFI steps after every JWST entry, so a bare class name shared by
    # both (DQInitStep) resolves to the JWST step; the Roman ones have their
    # own aliases and the romancal dotted names.
    _roman_step("dq_init", "DQInitStep", "dq_init", "dq_init_step"),
    _roman_step("saturation", "SaturationStep", "saturation", "saturation_step"),
    _roman_step("refpix", "RefPixStep", "refpix", "refpix_step"),
    _roman_step("linearity", "LinearityStep", "linearity", "linearity_step"),
    _roman_step("ramp_fit", "RampFitStep", "ramp_fitting", "ramp_fit_step"),
    _roman_step("dark_current", "DarkCurrentStep", "dark_current", "dark_current_step"),
    _roman_step("assign_wcs", "AssignWcsStep", "assign_wcs", "assign_wcs_step"),
    _roman_step("flat_field", "FlatFieldStep", "flatfield", "flat_field_step"),
    _roman_step("photom", "PhotomStep", "photom", "photom_step"),
    _roman_step("source_catalog", "SourceCatalogStep", "source_catalog", "source_catalog_step"),
    _roman_step("tweakreg", "TweakRegStep", "tweakreg", "tweakreg_step"),
    Entry(
        alias="exposure_pipeline",
        target="photoncal.roman.pipeline:ExposurePipeline",
        is_pipeline=True,
        names=(
            "photoncal.roman.ExposurePipeline",
            "romancal.pipeline.ExposurePipeline",
            "romancal.pipeline.exposure_pipeline.ExposurePipeline",
        ),
        aliases=("roman_elp",),
        cfg_name="exposure_pipeline.cfg",
    ),
)


def _build_index() -> dict[str, Entry]:
    index: dict[str, Entry] = {}
    # Primary entries first so that a class shared by two entries
    # (Detector1Pipeline: calwebb_detector1 and calwebb_tso1) resolves by
    # class name to the plain one.
    for entry in _STATIC:
        for name in entry.all_names():
            index.setdefault(name, entry)
            index.setdefault(name.lower(), entry)
    return index


_INDEX = _build_index()

#: Step classes defined at run time (by their dotted name and alias).
_DYNAMIC: dict[str, type] = {}


def entries() -> tuple[Entry, ...]:
    """Every static entry, in pipeline order."""
    return _STATIC


def all_names() -> list[str]:
    """Every accepted name (for error messages and ``strun --list``)."""
    return sorted({n for e in _STATIC for n in e.all_names()} | set(_DYNAMIC))


def lookup(name: str) -> Entry | None:
    """The static entry for ``name`` (alias, dotted or cfg name), or None."""
    return _INDEX.get(name) or _INDEX.get(name.lower())


def entry_for_class(cls) -> Entry | None:
    """The primary static entry whose target is ``cls``."""
    target = f"{cls.__module__}:{cls.__qualname__}"
    for entry in _STATIC:
        if entry.target == target:
            return entry
    return None


def register(cls, alias: str | None = None) -> None:
    """Make a Step subclass defined at run time resolvable.

    :class:`~photoncal.stpipe.Step` calls this for every subclass, under its
    dotted name (``module.Class``) and its ``class_alias`` unless the alias
    belongs to a static entry with another target.  This is how test steps
    and user steps can be named in cfg files and on the ``strun`` command
    line: only classes the program itself defined, never arbitrary imports.
    """
    _DYNAMIC[f"{cls.__module__}.{cls.__qualname__}"] = cls
    if alias:
        static = lookup(alias)
        if static is None or static.target == f"{cls.__module__}:{cls.__qualname__}":
            _DYNAMIC[alias] = cls


def _import_entry(entry: Entry, requested: str):
    try:
        module = importlib.import_module(entry.module)
    except ModuleNotFoundError as err:
        missing = err.name or ""
        if entry.module == missing or entry.module.startswith(missing + "."):
            raise StepNotImplementedError(
                f"{requested!r} ({entry.dotted_name}) is not implemented yet in photoncal"
            ) from None
        raise
    try:
        return getattr(module, entry.class_name)
    except AttributeError:
        raise StepNotImplementedError(
            f"{requested!r} ({entry.dotted_name}) is not implemented yet in photoncal:"
            f" {entry.module} has no {entry.class_name}"
        ) from None


def resolve_entry(name: str) -> tuple[type, Entry | None]:
    """Resolve a name to its class and static entry (None for run-time classes).

    Raises
    ------
    UnknownStepError
        ``name`` is not registered.
    StepNotImplementedError
        ``name`` is registered but its module does not exist yet.
    """
    if not isinstance(name, str) or not name.strip():
        raise UnknownStepError(f"expected a step or pipeline name, got {name!r}")
    name = name.strip()
    if name in _DYNAMIC:
        return _DYNAMIC[name], None
    entry = lookup(name)
    if entry is None:
        close = difflib.get_close_matches(name, all_names(), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownStepError(
            f"unknown step or pipeline {name!r}: configuration files and strun may only name registered"
            f" steps and pipelines (list them with 'strun --list'){hint}"
        )
    cls = _import_entry(entry, name)
    from .step import Step

    if not (isinstance(cls, type) and issubclass(cls, Step)):
        raise UnknownStepError(f"{entry.dotted_name} is not a photoncal Step")
    return cls, entry


def resolve(name: str) -> type:
    """The Step or Pipeline class registered under ``name``."""
    return resolve_entry(name)[0]


def names_class(name: str, cls) -> bool:
    """Whether ``name`` designates ``cls`` (without importing anything)."""
    if _DYNAMIC.get(name) is cls:
        return True
    entry = lookup(name)
    return entry is not None and entry.target == f"{cls.__module__}:{cls.__qualname__}"
