"""The Pipeline base class: a step made of steps.

A pipeline declares ``step_defs`` (step name -> Step class) and writes the
data flow in :meth:`process`, calling its steps as attributes
(``self.jump.run(model)``).  Sub-step parameters are addressed as
``steps.<name>.<param>`` on the command line and in cfg files
(``[steps]``/``[[jump]]``) and as ``steps={"jump": {...}}`` in Python.
Results pass between steps in memory, without copies; ``output_dir`` of
the pipeline is the default of every step; a progress bar over the steps is
shown on a terminal, and each step's time is logged.
"""

from __future__ import annotations

import os
import sys
from typing import ClassVar

from . import registry
from .config_file import resolve_step_config_files
from .exceptions import ParameterError
from .step import Step

__all__ = ["Pipeline"]


class Pipeline(Step):
    """Base class of pipelines (a Pipeline is also a Step).

    Parameters
    ----------
    steps : dict, optional
        Parameters of each step, ``{"jump": {"rejection_threshold": 5.0}}``;
        a step's ``config_file`` entry loads that cfg first.
    name, parent, config_file, **params
        As for :class:`~photoncal.stpipe.Step`.
    """

    spec = """
        progress = boolean(default=True)  # show a progress bar over the steps (on a terminal only)
    """
    #: The steps: name -> Step subclass.  They become attributes of the instance.
    step_defs: ClassVar[dict] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for key, value in cls.__dict__.get("step_defs", {}).items():
            if not (isinstance(value, type) and issubclass(value, Step)):
                raise TypeError(f"{cls.__qualname__}.step_defs[{key!r}] is not a Step subclass")
            if not key.isidentifier() or hasattr(Pipeline, key) or key in cls.merged_spec():
                raise TypeError(
                    f"{cls.__qualname__}.step_defs[{key!r}]: the step name must be an identifier that is"
                    " not already an attribute or parameter of the pipeline"
                )

    @classmethod
    def status_name(cls):
        # A pipeline's steps record their own status; the pipeline records
        # one only when its author sets cal_step.
        return cls.cal_step

    @classmethod
    def configspec_text(cls) -> str:
        lines = [super().configspec_text(), "[steps]"]
        for key, step_cls in cls.step_defs.items():
            lines.append(f"    [[{key}]]")
            lines.append("        config_file = string(default=None)  # a cfg file with this step's parameters")
            lines.extend("        " + line for line in step_cls.configspec_text().splitlines())
        return "\n".join(lines)

    def __init__(self, name=None, parent=None, config_file=None, _sources=None, steps=None, **params):
        own_sources = {k: v for k, v in (_sources or {}).items() if k != "steps"}
        super().__init__(name=name, parent=parent, config_file=config_file, _sources=own_sources, **params)
        steps = {k: dict(v) for k, v in (steps or {}).items()} if steps else {}
        step_sources = dict((_sources or {}).get("steps") or {})
        for key, value in steps.items():
            if key not in self.step_defs:
                raise ParameterError(
                    f"pipeline {self.name!r} ({type(self).__name__}) has no step {key!r};"
                    f" its steps are {', '.join(self.step_defs) or 'none'}"
                )
            if not isinstance(value, dict):
                raise ParameterError(f"pipeline {self.name!r}: steps.{key} must be a mapping of parameters")
        if any("config_file" in v for v in steps.values()):
            base = os.path.dirname(os.path.abspath(self.config_file)) if self.config_file else os.getcwd()
            holder_values, holder_sources = {"steps": steps}, {"steps": step_sources}
            resolve_step_config_files(holder_values, holder_sources, base, where=self.config_file or "steps")
            steps, step_sources = holder_values["steps"], holder_sources["steps"]
        self._step_times: list[tuple[str, float]] = []
        self._progress_bar = None
        for key, step_cls in self.step_defs.items():
            config = dict(steps.get(key) or {})
            sources = step_sources.get(key) or {}
            sources = sources if isinstance(sources, dict) else {}
            config.pop("name", None)
            class_name = config.pop("class", None)
            if class_name and not registry.names_class(class_name, step_cls):
                resolved = registry.resolve(class_name)
                if not (issubclass(resolved, step_cls) or issubclass(step_cls, resolved)):
                    raise ParameterError(
                        f"pipeline {self.name!r}: steps.{key} names class {class_name!r}, but the step is a"
                        f" {step_cls.__name__}"
                    )
            sub = step_cls(name=key, parent=self, config_file=self.config_file, _sources=sources, **config)
            setattr(self, key, sub)

    @property
    def steps(self) -> dict:
        """The step instances by name."""
        return {key: getattr(self, key) for key in self.step_defs}

    def get_pars(self) -> dict:
        pars = super().get_pars()
        pars["steps"] = {key: getattr(self, key).get_pars() for key in self.step_defs}
        return pars

    def get_par_sources(self) -> dict:
        sources = super().get_par_sources()
        sources["steps"] = {key: getattr(self, key).get_par_sources() for key in self.step_defs}
        return sources

    def effective_config(self) -> dict:
        config = super().effective_config()
        config["steps"] = {
            key: {k: v for k, v in getattr(self, key).get_pars().items()} for key in self.step_defs
        }
        return config

    def update_pars(self, parameters: dict):
        parameters = dict(parameters)
        for key, values in (parameters.pop("steps", None) or {}).items():
            if key not in self.step_defs:
                raise ParameterError(f"pipeline {self.name!r} has no step {key!r}")
            getattr(self, key).update_pars(values)
        super().update_pars(parameters)

    # ------------------------------------------------------------------
    # progress and timing
    # ------------------------------------------------------------------
    def progress_enabled(self) -> bool:
        """Whether to show the progress bar: ``progress`` is set and stderr
        is a terminal."""
        stream = sys.stderr
        return bool(self.progress) and hasattr(stream, "isatty") and stream.isatty()

    def _before_process(self):
        self._step_times = []
        self._progress_bar = None
        if self.progress_enabled():
            from tqdm import tqdm

            total = sum(1 for key in self.step_defs if not getattr(self, key).skip)
            self._progress_bar = tqdm(total=total, desc=self.name, unit="step", file=sys.stderr, leave=False)

    def _substep_finished(self, step, elapsed):
        self._step_times.append((step.name, elapsed))
        bar = self._progress_bar
        if bar is not None:
            bar.set_postfix_str(step.name, refresh=False)
            bar.update(1)

    def _after_process(self, elapsed):
        if self._progress_bar is not None:
            self._progress_bar.close()
            self._progress_bar = None
        if self._step_times:
            width = max(len(name) for name, _ in self._step_times)
            lines = [f"{name:<{width}} {seconds:8.3f} s" for name, seconds in self._step_times]
            lines.append(f"{'total':<{width}} {elapsed:8.3f} s")
            self.log.info("Pipeline %s step times:%s", self.name, "".join("\n  " + line for line in lines))

