"""The Step base class.

A step author writes a ``spec`` (its parameters), lists its
``reference_file_types`` and implements :meth:`Step.process`; the framework
does the rest: parameters from spec defaults, config files and keyword
arguments (in that order of precedence), hooks, skipping, status keywords
(``meta.cal_step.<name>``), reference-file lookup and provenance
(``meta.ref_file.<reftype>.name``), output naming and saving, logging and
timing.  See ``docs/stpipe.md``.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import ClassVar

from . import log as _log
from . import naming, registry
from .config_file import load_config_file, merge_config, resolve_step_config_files, tag_sources, write_config_file
from .exceptions import ParameterError, ReferenceFileNotFoundError, StepNotImplementedError, UnknownStepError
from .spec import DEFAULT_SOURCE, ParamSpec, Source, Spec, format_value, parse_spec

__all__ = ["Step", "is_model", "iter_models"]

_framework_log = logging.getLogger("stpipe")


# ----------------------------------------------------------------------
# duck typing of data models, kept free of data-model imports
# ----------------------------------------------------------------------
def is_model(obj) -> bool:
    """Whether ``obj`` is a data model (has ``meta`` and ``save``), not a container."""
    return hasattr(obj, "meta") and hasattr(obj, "save") and not is_container(obj)


def is_container(obj) -> bool:
    """Whether ``obj`` is a list/tuple or a ModelContainer-like sequence of models."""
    if isinstance(obj, (list, tuple)):
        return True
    if isinstance(obj, (str, bytes, dict)) or not hasattr(obj, "__len__") or not hasattr(obj, "__getitem__"):
        return False
    # Only look at an already imported container module: nothing can be a
    # ModelContainer before it is imported, and importing it costs time.
    container_module = sys.modules.get("photoncal.datamodels.container")
    container_cls = getattr(container_module, "ModelContainer", None)
    if container_cls is not None and isinstance(obj, container_cls):
        return True
    return type(obj).__name__.endswith(("Container", "Library"))


def iter_models(obj):
    """The data models in a step input or result (a model, a container or a
    list/tuple of models); other objects give nothing."""
    if is_container(obj):
        for item in obj:
            yield from iter_models(item)
    elif is_model(obj):
        yield obj


def _set_meta(model, dotted: str, value, logger: logging.Logger) -> bool:
    """Set ``model.meta.<dotted>`` creating intermediate nodes as needed."""
    node = model.meta
    parts = dotted.split(".")
    try:
        for part in parts[:-1]:
            try:
                child = node[part] if isinstance(node, dict) else getattr(node, part)
            except (AttributeError, KeyError):
                child = None
            if child is None:
                # a branch the schema does not declare (a new reference type)
                if isinstance(node, dict):
                    node[part] = {}
                else:
                    setattr(node, part, {})
                child = node[part] if isinstance(node, dict) else getattr(node, part)
            node = child
        if isinstance(node, dict):
            node[parts[-1]] = value
        else:
            setattr(node, parts[-1], value)
        return True
    except (AttributeError, KeyError, TypeError, ValueError) as err:
        logger.warning("Could not record meta.%s = %r in %s: %s", dotted, value, type(model).__name__, err)
        return False


def _model_filename(model) -> str | None:
    name = getattr(getattr(model, "meta", None), "filename", None)
    return str(name) if name else None


def _copy_input(obj):
    if is_model(obj) and hasattr(obj, "copy"):
        return obj.copy()
    if is_container(obj):
        if hasattr(obj, "copy") and not isinstance(obj, (list, tuple)):
            return obj.copy()
        if any(is_model(m) for m in obj):
            return type(obj)(m.copy() if is_model(m) and hasattr(m, "copy") else m for m in obj)
    return obj


def _describe_input(obj) -> str:
    if isinstance(obj, (str, os.PathLike)):
        return os.fspath(obj)
    if is_model(obj):
        name = _model_filename(obj)
        return f"<{type(obj).__name__} {name}>" if name else f"<{type(obj).__name__}>"
    if is_container(obj):
        return f"<{type(obj).__name__} of {len(obj)}>"
    return repr(obj)[:80]


def _association_product_name(path: str) -> str | None:
    """The first product name of an association JSON file, if readable."""
    import json

    try:
        with open(path, encoding="utf-8") as handle:
            asn = json.load(handle)
        return str(asn["products"][0]["name"])
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None


_STEP_SPEC = """
    pre_hooks = list(default=list())           # registered steps (aliases) or Python callables run on the input first
    post_hooks = list(default=list())          # registered steps (aliases) or Python callables run on the result
    output_file = string(default=None)         # base name of the output file (its known suffix is replaced)
    output_dir = string(default=None)          # directory of output files (created if needed); default: current directory
    output_ext = string(default=None)          # extension of output files; default: the input's (.fits or .asdf)
    output_use_model = boolean(default=False)  # base output names on each model's meta.filename
    output_use_index = boolean(default=True)   # number the output files when a step returns several models
    save_results = boolean(default=False)      # save the result to a file
    skip = boolean(default=False)              # skip this step (status SKIPPED)
    suffix = string(default=None)              # output file suffix; default: the step's alias
    search_output_file = boolean(default=True) # inherit output_file from the parent pipeline
    input_dir = string(default=None)           # directory of input files; default: that of the primary input
    reference_dir = string(default=None)       # local reference-file directories (os.pathsep-separated), before CRDS
"""


class Step:
    """Base class of every calibration step.

    Parameters
    ----------
    name : str, optional
        Instance name, used in log messages and, without ``class_alias``,
        as output suffix.  Default: ``class_alias`` or the class name.
    parent : Step, optional
        The pipeline this step belongs to.
    config_file : str, optional
        The config file the parameters came from (relative paths in it are
        resolved against its directory).
    **params
        Parameter values; unknown names and values that do not fit the spec
        raise :class:`~photoncal.stpipe.exceptions.ParameterError`.
    """

    spec: ClassVar[str] = _STEP_SPEC
    #: strun alias, default output suffix, and default status-keyword name.
    class_alias: ClassVar[str | None] = None
    #: Name of the status keyword ``meta.cal_step.<cal_step>``; default: ``class_alias``.
    cal_step: ClassVar[str | None] = None
    #: Reference types fetched with :meth:`get_reference_file`; each adds an
    #: ``override_<reftype>`` parameter.
    reference_file_types: ClassVar[list] = []
    #: Reference types whose ``N/A`` override is handed to :meth:`process`
    #: (``get_reference_file`` returns ``"N/A"``) instead of skipping the step.
    optional_reference_file_types: ClassVar[list] = []

    _merged_specs: ClassVar[dict] = {}

    # ------------------------------------------------------------------
    # class set-up
    # ------------------------------------------------------------------
    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "spec" in cls.__dict__:
            # Parse now so a spec mistake shows at import, naming the class.
            parse_spec(cls.spec, source=f"{cls.__qualname__}.spec")
        if not cls.__module__.startswith("photoncal.stpipe."):
            registry.register(cls, cls.__dict__.get("class_alias"))
        alias = cls.__dict__.get("class_alias")
        if alias:
            naming.add_known_suffix(alias)

    @classmethod
    def merged_spec(cls) -> Spec:
        """The class's parameters: every spec along the class hierarchy
        (subclasses override), plus one ``override_<reftype>`` per reference
        type."""
        cached = Step._merged_specs.get(cls)
        if cached is not None:
            return cached
        spec = Spec()
        for klass in reversed(cls.__mro__):
            if "spec" in klass.__dict__:
                spec.update(parse_spec(klass.__dict__["spec"], source=f"{klass.__qualname__}.spec"))
        for reftype in cls.reference_file_types:
            name = f"override_{reftype}"
            if name not in spec:
                spec.params[name] = ParamSpec(
                    name,
                    "is_string_or_datamodel",
                    default=None,
                    help=f"use this {reftype.upper()} reference file (a path, a model, or N/A to skip)",
                )
        Step._merged_specs[cls] = spec
        return spec

    @classmethod
    def print_configspec(cls, file=None):
        """Print the class's parameter spec (configspec text)."""
        print(cls.configspec_text(), file=file or sys.stdout)

    @classmethod
    def configspec_text(cls) -> str:
        return cls.merged_spec().format()

    @classmethod
    def status_name(cls) -> str | None:
        """The ``meta.cal_step`` attribute this step sets (None: none)."""
        return cls.cal_step or cls.class_alias

    @classmethod
    def dotted_name(cls) -> str:
        """The name a cfg file's ``class =`` uses for this class."""
        entry = registry.entry_for_class(cls)
        return entry.dotted_name if entry else f"{cls.__module__}.{cls.__qualname__}"

    # ------------------------------------------------------------------
    # construction
    # ------------------------------------------------------------------
    def __init__(self, name=None, parent=None, config_file=None, _sources=None, **params):
        self.name = name or type(self).class_alias or type(self).__name__
        self.parent = parent
        self.config_file = os.fspath(config_file) if config_file else None
        if parent is None:
            self.qualified_name = f"{_log.STEP_LOGGER_ROOT}.{self.name}"
        else:
            self.qualified_name = f"{parent.qualified_name}.{self.name}"
        self._log = logging.getLogger(self.qualified_name)
        sources = dict(_sources or {})
        spec = self.merged_spec()
        self._root_dir = os.path.dirname(os.path.abspath(self.config_file)) if self.config_file else None
        sources = {k: (v if isinstance(v, Source) else Source(str(v))) for k, v in sources.items()
                   if not isinstance(v, dict)}
        values = spec.convert_all(
            params, sources, owner=f"step {self.name!r} ({type(self).__name__})",
            default_source=Source("argument"),
        )
        for key, value in values.items():
            setattr(self, key, value)
        self._param_sources = {key: sources.get(key, Source("argument") if key in params else DEFAULT_SOURCE)
                               for key in values}
        self._reference_files_used: list[tuple[str, str]] = []
        self._skip_reason: str | None = None
        self._input_filename: str | None = None
        self._input_dir: str | None = None
        self._logcfg = None

    @property
    def log(self) -> logging.Logger:
        """This step's logger, ``stpipe.<pipeline>.<step>``."""
        return self._log

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r}>"

    # ------------------------------------------------------------------
    # configuration
    # ------------------------------------------------------------------
    @classmethod
    def build_config(cls, config_file=None, overrides=None, *, override_label="keyword argument", base_layers=()):
        """Merge the configuration layers of a run.

        Precedence, lowest first: spec defaults, ``base_layers`` (``(label,
        values)`` pairs such as the values of a registered cfg like
        calwebb_tso1), the config file, ``overrides`` (keyword arguments or
        the command line).

        Returns
        -------
        step_class, name, values, sources, logcfg
            The class to instantiate (a cfg may name a subclass), the
            instance name from the cfg, the merged parameter values with
            their sources, and a logging cfg named by the config (or None).
        """
        values: dict = {}
        sources: dict = {}
        step_class = cls
        name = None
        for label, layer_values in base_layers:
            layer_values = _plain_copy(layer_values)
            merge_config(values, sources, layer_values, tag_sources(layer_values, Source(label)))
        if config_file is not None:
            cfg_values, cfg_sources = load_config_file(config_file)
            cfg_class = cfg_values.pop("class", None)
            cfg_sources.pop("class", None)
            name = cfg_values.pop("name", None)
            cfg_sources.pop("name", None)
            if cfg_class:
                step_class = _class_from_config(cfg_class, cls, os.fspath(config_file))
            merge_config(values, sources, cfg_values, cfg_sources)
        if overrides:
            overrides = dict(overrides)
            over_sources = tag_sources(overrides, Source(override_label))
            resolve_step_config_files(overrides, over_sources, os.getcwd(), where=override_label)
            merge_config(values, sources, overrides, over_sources)
        logcfg = values.pop("logcfg", None)
        logcfg_source = sources.pop("logcfg", None)
        if logcfg and isinstance(logcfg_source, Source) and logcfg_source.root_dir and not os.path.isabs(logcfg):
            candidate = os.path.join(logcfg_source.root_dir, os.path.expanduser(logcfg))
            if os.path.isfile(candidate):
                logcfg = candidate
        return step_class, name, values, sources, logcfg

    @classmethod
    def from_config_file(cls, config_file, parent=None, name=None):
        """Create a step from a ``.cfg`` or ASDF parameter file.

        The file's ``class`` must name a registered step or pipeline that is
        this class or a subclass of it (a cfg naming another class raises
        :class:`~photoncal.stpipe.exceptions.ParameterError`).
        """
        step_class, cfg_name, values, sources, _ = cls.build_config(config_file)
        return step_class(name=name or cfg_name, parent=parent, config_file=config_file, _sources=sources, **values)

    @classmethod
    def call(cls, *args, config_file=None, logcfg=None, configure_log=True, **params):
        """Create a new instance from ``config_file`` and ``params`` and run it.

        Parameters
        ----------
        *args
            Inputs passed to :meth:`process` (a path, a model, an
            association file, a container).
        config_file : str, optional
            A ``.cfg`` or ASDF parameter file; keyword arguments override it.
        logcfg : str, optional
            A logging configuration file for this run.
        configure_log : bool
            Apply a logging configuration for the run (default True).
        **params
            Parameter values, e.g. ``rejection_threshold=5.0`` or, for a
            pipeline, ``steps={"jump": {"rejection_threshold": 5.0}}``.
        """
        step_class, name, values, sources, cfg_logcfg = cls.build_config(config_file, params)
        instance = step_class(name=name, config_file=config_file, _sources=sources, **values)
        instance._logcfg = logcfg or cfg_logcfg
        instance._configure_log = configure_log
        return instance.run(*args)

    def get_pars(self) -> dict:
        """The parameter values of this step (and of its steps, for a pipeline)."""
        return {name: getattr(self, name) for name in self.merged_spec()}

    def get_par_sources(self) -> dict:
        """Where each parameter value came from (same nesting as :meth:`get_pars`)."""
        return {name: str(self._param_sources.get(name, DEFAULT_SOURCE)) for name in self.merged_spec()}

    def effective_config(self) -> dict:
        """``get_pars()`` with ``name`` and ``class`` first, as a cfg file holds it."""
        return {"name": self.name, "class": self.dotted_name(), **self.get_pars()}

    def export_config(self, path) -> str:
        """Write this step's parameters as a ``.cfg`` file, or an ASDF
        parameter file when ``path`` ends in ``.asdf``; returns the path."""
        return write_config_file(path, self.effective_config())

    def update_pars(self, parameters: dict):
        """Set parameters from a dict (validated; ``steps`` for pipelines)."""
        spec = self.merged_spec()
        for key, value in parameters.items():
            if key not in spec:
                raise ParameterError(f"step {self.name!r}: unknown parameter {key!r}")
            setattr(self, key, spec[key].convert(value, Source("update_pars")))
            self._param_sources[key] = Source("update_pars")

    def _changed_parameters(self):
        spec = self.merged_spec()
        changed = []
        for name, param in spec.params.items():
            value = getattr(self, name, None)
            default = param.default if param.check != "section" else param.section.defaults()
            if is_model(value) or value != default:
                changed.append((name, value, self._param_sources.get(name, DEFAULT_SOURCE)))
        return changed

    # ------------------------------------------------------------------
    # hierarchy helpers
    # ------------------------------------------------------------------
    def search_attr(self, attribute, default=None):
        """The first non-None ``attribute`` of this step or its parents."""
        step = self
        while step is not None:
            value = getattr(step, attribute, None)
            if value is not None:
                return value
            step = step.parent
        return default

    def default_suffix(self) -> str:
        """The output suffix when ``suffix`` is not set: inside a pipeline
        the step's name there (``steps.<name>``), else the class alias, else
        the step name, in lower case."""
        if self.parent is not None:
            return self.name.lower()
        return (type(self).class_alias or self.name).lower()

    # ------------------------------------------------------------------
    # running
    # ------------------------------------------------------------------
    def __call__(self, *args):
        return self.run(*args)

    def process(self, *args):
        """Do the step's work; every step overrides this."""
        raise NotImplementedError(f"{type(self).__name__} does not implement process()")

    def run(self, *args):
        """Run the step on ``args`` with the instance's parameters.

        Top-level runs (no parent) apply the logging configuration unless one
        is already in force, and work on a copy of model inputs so that the
        caller's models are left unchanged; inside a pipeline, models pass
        between steps without copies.
        """
        if self.parent is None and _log.applied() is None and getattr(self, "_configure_log", True):
            with _log.load_log_config(self._logcfg).context():
                return self._run(args)
        return self._run(args)

    def _run(self, args):
        start = time.perf_counter()
        log = self.log
        log.info("Step %s running with args %s.", self.name, tuple(_describe_input(a) for a in args))
        changed = self._changed_parameters()
        if changed:
            log.info(
                "Step %s parameters differing from the defaults:%s",
                self.name,
                "".join(f"\n  {n} = {format_value(v)}  ({s})" for n, v, s in changed),
            )
        if args:
            self.set_primary_input(args[0])
        if self.output_file:
            self.save_results = True
        if self.output_dir:
            os.makedirs(os.path.expandvars(os.path.expanduser(self.output_dir)), exist_ok=True)

        self._reference_files_used = []
        self._skip_reason = None
        self._recorded_status = {}
        self._before_process()
        try:
            reason = self._skip_request()
            if self.parent is None:
                # work on copies so the caller's models are left unchanged
                args = tuple(_copy_input(a) for a in args)
            args = self._run_hooks("pre", args)
            if reason is not None:
                result = self._skipped_result(args, reason)
            else:
                result = self.process(*args)
            result = self._run_hooks("post", result)
            self._finalize_result(result)
            if self.save_results and self._skip_reason is None:
                self._save_results(result)
        finally:
            elapsed = time.perf_counter() - start
            self._after_process(elapsed)
        if self._reference_files_used:
            log.info(
                "Step %s used reference files: %s",
                self.name,
                ", ".join(f"{t}={n}" for t, n in self._reference_files_used),
            )
        log.info("Step %s %s in %.3f s", self.name, "skipped" if self._skip_reason else "done", elapsed)
        if self.parent is not None and hasattr(self.parent, "_substep_finished"):
            self.parent._substep_finished(self, elapsed)
        return result

    def _before_process(self):
        """Hook for Pipeline (progress bar set-up)."""

    def _after_process(self, elapsed):
        """Hook for Pipeline (progress bar tear-down, timing summary)."""

    def _skip_request(self) -> str | None:
        if self.skip:
            return "skip = True"
        optional = {t.lower() for t in self.optional_reference_file_types}
        for reftype in self.reference_file_types:
            override = getattr(self, f"override_{reftype}", None)
            if isinstance(override, str) and override.strip().upper() == "N/A" and reftype.lower() not in optional:
                return f"override_{reftype} = N/A"
        return None

    def _skipped_result(self, args, reason):
        if not args:
            self._skip_reason = reason
            self.log.info("Step %s skipped: %s", self.name, reason)
            return None
        primary = args[0]
        if isinstance(primary, (str, os.PathLike)) and not str(primary).lower().endswith(".json"):
            primary = self.open_model(os.fspath(primary))
        self.skip_step(primary, reason)
        return primary

    def skip_step(self, model, reason: str):
        """Mark the step SKIPPED on ``model`` (a model or container) and log why.

        A step calls this from :meth:`process` when it decides not to apply
        (e.g. a reference file that does not apply); the framework then
        records SKIPPED instead of COMPLETE and does not save the result.
        Returns ``model``.
        """
        self._skip_reason = reason
        status = self.status_name()
        if status:
            for item in iter_models(model):
                _set_meta(item, f"cal_step.{status}", "SKIPPED", self.log)
        self.log.info("Step %s skipped: %s", self.name, reason)
        return model

    def record_provenance(self, model, status: str | None = None):
        """Write this step's status and the reference files it has fetched so
        far into ``model``, a side product that is not the step's result
        (``_rateints``, ``_fitopt``); the result gets them from the framework
        after :meth:`process`.  ``status`` defaults to COMPLETE (SKIPPED after
        :meth:`skip_step`).  Returns ``model``."""
        name = self.status_name()
        if name:
            state = status or ("SKIPPED" if self._skip_reason else "COMPLETE")
            for item in iter_models(model):
                _set_meta(item, f"cal_step.{name}", state, self.log)
        for item in iter_models(model):
            for reftype, recorded in self._reference_files_used:
                _set_meta(item, f"ref_file.{reftype}.name", recorded, self.log)
        return model

    def record_status(self, model, status: str):
        """Set this step's status keyword of one model to ``status`` and keep it.

        For steps that decide per model (skymatch: an image whose sky could
        not be found is SKIPPED while the others are COMPLETE): the
        framework's final COMPLETE/SKIPPED pass leaves such models alone.
        """
        name = self.status_name()
        if name:
            _set_meta(model, f"cal_step.{name}", status, self.log)
        recorded = getattr(self, "_recorded_status", None)
        if recorded is None:
            recorded = self._recorded_status = {}
        recorded[id(model)] = status
        return model

    def _run_hooks(self, kind: str, value):
        hooks = getattr(self, f"{kind}_hooks", None) or []
        if not hooks:
            return value
        for index, hook in enumerate(hooks):
            runner = self._hook_runner(kind, index, hook)
            if kind == "pre":
                outcome = runner(*value)
                if outcome is not None:
                    value = (outcome,) + tuple(value[1:])
            else:
                outcome = runner(value)
                if outcome is not None:
                    value = outcome
        return value

    def _hook_runner(self, kind, index, hook):
        if isinstance(hook, Step):
            return hook.run
        if isinstance(hook, type) and issubclass(hook, Step):
            return hook(name=f"{kind}_hook{index}", parent=self).run
        if callable(hook):
            return hook
        if isinstance(hook, str):
            try:
                hook_class = registry.resolve(hook)
            except UnknownStepError:
                raise UnknownStepError(
                    f"step {self.name!r}: {kind}_hooks entry {hook!r} is not a registered step; hooks are registered"
                    " step names or Python callables (shell commands and arbitrary dotted paths are not run)"
                ) from None
            return hook_class(name=f"{kind}_hook{index}", parent=self).run
        raise ParameterError(f"step {self.name!r}: {kind}_hooks entry {hook!r} is neither a step nor a callable")

    def _finalize_result(self, result):
        status = self.status_name()
        state = "SKIPPED" if self._skip_reason else "COMPLETE"
        recorded = getattr(self, "_recorded_status", None) or {}
        for model in iter_models(result):
            if status and id(model) not in recorded:
                _set_meta(model, f"cal_step.{status}", state, self.log)
            for reftype, recorded in self._reference_files_used:
                _set_meta(model, f"ref_file.{reftype}.name", recorded, self.log)

    # ------------------------------------------------------------------
    # inputs
    # ------------------------------------------------------------------
    def set_primary_input(self, obj, exclusive=True):
        """Remember the name and directory of the primary input (used for
        output names); a pipeline's sub-steps keep the pipeline's."""
        if not exclusive or self.search_attr("_input_filename") is None:
            name = None
            if isinstance(obj, (str, os.PathLike)):
                path = os.fspath(obj)
                if path.lower().endswith(".json"):
                    name = _association_product_name(self.make_input_path(path))
                name = name or os.path.basename(path)
            elif is_model(obj):
                name = _model_filename(obj)
            elif is_container(obj):
                table = getattr(obj, "asn_table", None) or getattr(getattr(obj, "meta", None), "asn_table", None)
                try:
                    name = table["products"][0]["name"] if isinstance(table, dict) else table.products[0].name
                except (AttributeError, IndexError, KeyError, TypeError):
                    name = None
                if not name and len(obj):
                    name = _model_filename(obj[0])
            if name:
                self._input_filename = str(name)
        if self.search_attr("_input_dir") is None and isinstance(obj, (str, os.PathLike)):
            path = os.fspath(obj)
            if os.path.isfile(path):
                self._input_dir = os.path.dirname(path)

    @property
    def effective_input_dir(self) -> str:
        """``input_dir`` if set, else the directory of the primary input."""
        return self.search_attr("input_dir") or self.search_attr("_input_dir") or ""

    def make_input_path(self, file_path):
        """Put ``effective_input_dir`` in front of a bare file name."""
        if isinstance(file_path, (str, os.PathLike)):
            path = os.fspath(file_path)
            if not os.path.dirname(path) and self.effective_input_dir:
                return os.path.join(self.effective_input_dir, path)
            return path
        return file_path

    def open_model(self, obj, **kwargs):
        """Open a path (relative to ``input_dir``) or association with
        ``photoncal.datamodels.open``; a model or container is returned as
        it is (the framework already copied it if the caller's must be kept)."""
        if (is_model(obj) or is_container(obj)) and not kwargs:
            return obj
        from photoncal import datamodels

        return datamodels.open(self.make_input_path(obj), **kwargs)

    # ------------------------------------------------------------------
    # reference files
    # ------------------------------------------------------------------
    def _record_reference(self, reftype: str, recorded: str):
        entry = (reftype, recorded)
        if entry not in self._reference_files_used:
            self._reference_files_used = [e for e in self._reference_files_used if e[0] != reftype]
            self._reference_files_used.append(entry)

    def get_reference_file(self, model, reftype: str):
        """The reference file of ``reftype`` for ``model``.

        Order: ``override_<reftype>`` (a path, a model - returned as is - or
        ``N/A``), the local reference directories, CRDS when configured,
        then the default simulated references for simulated exposures (see
        :mod:`photoncal.stpipe.references`).  The file used is recorded and
        the framework writes it to ``meta.ref_file.<reftype>.name``.

        Returns
        -------
        str or model
            An absolute path, ``"N/A"``, or the override model.

        Raises
        ------
        ReferenceFileNotFoundError
            Nothing found, or an override path that does not exist.
        """
        reftype = reftype.lower()
        override = getattr(self, f"override_{reftype}", None)
        if override is not None and not (isinstance(override, str) and not override.strip()):
            if is_model(override):
                recorded = _model_filename(override) or f"<{type(override).__name__}>"
                self._record_reference(reftype, recorded)
                self.log.info("Using %s reference model %s (override_%s)", reftype.upper(), recorded, reftype)
                return override
            text = os.fspath(override).strip()
            if text.upper() == "N/A":
                self._record_reference(reftype, "N/A")
                self.log.info("%s reference file: N/A (override_%s)", reftype.upper(), reftype)
                return "N/A"
            path = os.path.expanduser(text)
            if not os.path.isabs(path) and self._root_dir and os.path.exists(os.path.join(self._root_dir, path)):
                path = os.path.join(self._root_dir, path)
            path = os.path.abspath(path)
            if not os.path.isfile(path):
                raise ReferenceFileNotFoundError(
                    f"step {self.name!r}: override_{reftype} = {text!r}: file not found ({path})"
                )
            self._record_reference(reftype, path)
            self.log.info("Using %s reference file %s (override_%s)", reftype.upper(), path, reftype)
            return path
        from .references import find_reference

        target = model
        if isinstance(target, (str, os.PathLike)):
            target = self.open_model(os.fspath(target))
        if is_container(target):
            target = next(iter_models(target), None)
            if target is None:
                raise ReferenceFileNotFoundError(f"step {self.name!r}: no model to select a {reftype} reference for")
        resolved = find_reference(target, reftype, reference_dir=self.search_attr("reference_dir"), logger=self.log)
        self._record_reference(reftype, resolved.recorded_name)
        self.log.info("Using %s reference file %s (%s)", reftype.upper(), resolved.path, resolved.origin)
        return resolved.path

    def get_reference_file_model(self, model, reftype: str):
        """The reference file of ``reftype`` opened as a data model
        (None when it is ``N/A``)."""
        found = self.get_reference_file(model, reftype)
        if is_model(found):
            return found
        if found == "N/A":
            return None
        from photoncal import datamodels

        return datamodels.open(found)

    # ------------------------------------------------------------------
    # outputs
    # ------------------------------------------------------------------
    def make_output_path(self, basepath=None, suffix=None, ext=None, idx=None, **components):
        """The output path of this step's result (see :mod:`photoncal.stpipe.naming`).

        The base name is, in order: ``basepath``, ``output_file`` (this
        step's, or its pipeline's when ``search_output_file``), the primary
        input's name (or association product name), ``step_<name>``.  The
        suffix is ``suffix`` (``False`` for none), else the ``suffix``
        parameter, else :meth:`default_suffix`.  The directory is the one in
        ``output_file`` when it names one, else ``output_dir`` (this step's or
        its pipeline's), else the current directory.
        """
        explicit_dir = False
        if basepath is None:
            basepath = self.search_attr("output_file") if self.search_output_file else self.output_file
            explicit_dir = basepath is not None
        else:
            explicit_dir = True
        if basepath is None:
            basepath = self.search_attr("_input_filename")
            basepath = os.path.basename(basepath) if basepath else None
        if basepath is None:
            basepath = f"step_{self.name}"
        basepath = os.fspath(basepath)
        if suffix is None:
            suffix = self.suffix or self.default_suffix()
        elif suffix is False:
            suffix = None
        if ext is None:
            ext = self.search_attr("output_ext")
        if ext is None:
            base_ext = naming.split_extension(os.path.basename(basepath))[1].lower()
            ext = base_ext if base_ext in (".fits", ".asdf", ".fits.gz") else ".fits"
        output_dir = self.search_attr("output_dir")
        if explicit_dir and os.path.dirname(basepath):
            output_dir = None
        comps = list(components.values())
        if idx is not None:
            comps.insert(0, idx)
        return naming.output_filename(basepath, suffix, ext=ext, output_dir=output_dir, components=comps)

    def save_model(self, model, suffix=None, idx=None, output_file=None, force=False, ext=None, *,
                   _use_model=False, **components):
        """Save ``model`` under the framework's name; returns the path (or
        the list of paths for a container), or None when nothing was saved
        because ``save_results`` is False."""
        if output_file in (None, ""):
            output_file = self.output_file
        if not force and not self.save_results and not output_file:
            return None
        if is_container(model):
            # one member at a time: an on-disk container opens each on access,
            # so saving never holds more than one of them
            members = getattr(model, "_members", model)  # a ModelContainer keeps paths or models there
            nested = any(is_container(m) for m in members)
            count = len(list(iter_models(model))) if nested else len(members)
            paths = []
            for index, item in enumerate(iter_models(model)):
                item_idx = index if (count > 1 and self.output_use_index) else None
                if output_file is None and not self.search_attr("output_file") and _model_filename(item):
                    # each member keeps its own name, as the established pipeline does
                    paths.append(self.save_model(item, suffix=suffix, output_file=None, force=True, ext=ext,
                                                 _use_model=True, **components))
                else:
                    paths.append(self.save_model(item, suffix=suffix, idx=item_idx, output_file=output_file,
                                                 force=True, ext=ext, **components))
            return paths
        basepath = output_file
        if _use_model or self.output_use_model or (basepath is None and not self.search_output_file):
            basepath = _model_filename(model) or basepath
            idx = None
        path = self.make_output_path(basepath=basepath, suffix=suffix, ext=ext, idx=idx, **components)
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        try:
            model.meta.filename = os.path.basename(path)
        except (AttributeError, TypeError, ValueError):
            pass
        saved = model.save(path)
        path = os.fspath(saved) if isinstance(saved, (str, os.PathLike)) else path
        self.log.info("Saved model in %s", path)
        return path

    def _save_results(self, result):
        if is_model(result) or is_container(result):
            if is_container(result) and not any(True for _ in iter_models(result)):
                self.log.warning("save_results is set but the result holds no data model to save")
                return
            self.save_model(result)
        elif result is not None and hasattr(result, "save"):
            path = self.make_output_path()
            result.save(path)
            self.log.info("Saved result in %s", path)
        elif hasattr(result, "colnames") and hasattr(result, "write"):
            # a table result (source_catalog's _cat) is written as ECSV
            path = self.make_output_path(ext=".ecsv")
            directory = os.path.dirname(path)
            if directory:
                os.makedirs(directory, exist_ok=True)
            result.write(path, format="ascii.ecsv", overwrite=True)
            self.log.info("Saved table in %s", path)
        elif result is None:
            self.log.info("Step %s produced no result to save", self.name)
        else:
            self.log.warning("save_results is set but the result (%s) cannot be saved", type(result).__name__)


def _plain_copy(values):
    """A deep copy of nested mappings (registry cfg values are read-only)."""
    return {k: _plain_copy(v) if hasattr(v, "items") and not is_model(v) else v for k, v in dict(values).items()}


def _class_from_config(class_name: str, expected: type, where: str) -> type:
    """The class a config file names, which must be ``expected`` or a
    subclass (or, when ``expected`` is a base class, any registered step)."""
    if registry.names_class(class_name, expected):
        return expected
    try:
        resolved = registry.resolve(class_name)
    except (UnknownStepError, StepNotImplementedError) as err:
        raise type(err)(f"{where}: class = {class_name!r}: {err}") from None
    if issubclass(resolved, expected):
        return resolved
    if issubclass(expected, resolved):
        return expected
    raise ParameterError(
        f"{where}: class = {class_name!r} is {resolved.__name__}, which is not a {expected.__name__}"
    )
