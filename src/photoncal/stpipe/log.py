"""Logging configuration of steps and pipelines.

Every step logs through ``logging.getLogger("stpipe.<pipeline>.<step>")``
(:attr:`Step.log`); library code logs through its own module logger under
``photoncal``.  Without a logging configuration file, messages at INFO and
above go to stdout.  A configuration file (``--logcfg``, else
``stpipe-log.cfg`` in the working directory, else ``~/stpipe-log.cfg``,
else ``/etc/stpipe-log.cfg``) has one section per logger-name glob pattern::

    [*]
    handler = file:pipeline.log
    level = INFO

    [*.jump]
    level = DEBUG
    break_level = ERROR

Keys: ``level`` (DEBUG, INFO, WARNING, ERROR, CRITICAL), ``handler`` (a
comma-separated list of ``stdout``, ``stderr``, ``file:<path>``,
``append:<path>``, ``null``; default stderr, as seed 002 says),
``break_level`` (messages at or above it raise
:class:`~photoncal.stpipe.exceptions.LoggedException`) and ``format`` (a
:mod:`logging` format string).  A message is handled by the most specific
section whose pattern matches its logger name: the longest pattern wins,
then the later section.  ``[*]`` matches everything, ``[*.MyStep]`` the
step named MyStep, ``[*.MyStep.*]`` the steps of the pipeline MyStep.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import sys
from contextlib import contextmanager

from .exceptions import ConfigFileError, LoggedException

__all__ = [
    "STEP_LOGGER_ROOT",
    "DEFAULT_FORMAT",
    "LogSection",
    "LogConfig",
    "find_log_config_file",
    "load_log_config",
    "configure",
    "applied",
]

#: Parent logger of every step's logger.
STEP_LOGGER_ROOT = "stpipe"
#: Loggers the configuration is attached to: the steps' and the library's.
CONFIGURED_LOGGERS = (STEP_LOGGER_ROOT, "photoncal")
DEFAULT_FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"
SEARCH_PATH = ("stpipe-log.cfg", "~/stpipe-log.cfg", "/etc/stpipe-log.cfg")

_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING, "WARN": logging.WARNING,
           "ERROR": logging.ERROR, "CRITICAL": logging.CRITICAL, "NOTSET": logging.NOTSET}


def _level(value, where: str) -> int:
    if isinstance(value, int):
        return value
    text = str(value).strip().upper()
    if text.isdigit():
        return int(text)
    if text not in _LEVELS:
        raise ConfigFileError(f"{where}: unknown log level {value!r}; expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
    return _LEVELS[text]


class _StdStream(logging.StreamHandler):
    """A stream handler that looks up ``sys.stdout``/``sys.stderr`` when it
    writes, so a replaced stream (pytest's capture, a notebook) is honoured."""

    def __init__(self, name: str):
        super().__init__(getattr(sys, name))
        self._name = name

    @property
    def stream(self):
        return getattr(sys, self._name)

    @stream.setter
    def stream(self, value):
        pass

    def close(self):  # never close the process's own streams
        pass


def _make_handler(spec: str, where: str) -> logging.Handler:
    spec = spec.strip()
    if spec == "stdout":
        return _StdStream("stdout")
    if spec == "stderr":
        return _StdStream("stderr")
    if spec == "null":
        return logging.NullHandler()
    for prefix, mode in (("file:", "w"), ("append:", "a")):
        if spec.startswith(prefix):
            path = os.path.expanduser(spec[len(prefix) :].strip())
            if not path:
                raise ConfigFileError(f"{where}: handler {spec!r} names no file")
            return logging.FileHandler(path, mode, encoding="utf-8", delay=True)
    raise ConfigFileError(
        f"{where}: unknown handler {spec!r}; expected stdout, stderr, null, file:<path> or append:<path>"
    )


class LogSection:
    """One section of a logging configuration (one logger-name pattern)."""

    def __init__(self, pattern="*", level=logging.INFO, handler="stderr", break_level=None, format=None,
                 where="logging configuration"):
        self.pattern = pattern
        self.level = _level(level, where)
        self.break_level = None if break_level in (None, "", "NOTSET") else _level(break_level, where)
        self.handler_specs = [h for h in (handler if isinstance(handler, list) else str(handler).split(","))
                              if str(h).strip()]
        self.format = format or DEFAULT_FORMAT
        self.where = where
        self.handlers: list[logging.Handler] = []

    def open(self):
        formatter = logging.Formatter(self.format)
        self.handlers = [_make_handler(str(spec), self.where) for spec in self.handler_specs]
        for handler in self.handlers:
            handler.setFormatter(formatter)

    def close(self):
        for handler in self.handlers:
            handler.flush()
            handler.close()
        self.handlers = []

    def matches(self, logger_name: str) -> bool:
        return fnmatch.fnmatchcase(logger_name, self.pattern) or (
            # "[*.MyStep]" also matches a top-level step "stpipe.MyStep" and
            # "[MyStep]" the step itself
            fnmatch.fnmatchcase(logger_name, f"{STEP_LOGGER_ROOT}.{self.pattern}")
        )


class _Dispatcher(logging.Handler):
    """Sends each record to the handlers of its most specific section."""

    def __init__(self, config: LogConfig):
        super().__init__(logging.NOTSET)
        self.config = config
        self._cache: dict[str, LogSection | None] = {}

    def section_for(self, name: str) -> LogSection | None:
        if name not in self._cache:
            best = None
            for order, section in enumerate(self.config.sections):
                if section.matches(name):
                    key = (len(section.pattern), order)
                    if best is None or key >= best[0]:
                        best = (key, section)
            self._cache[name] = best[1] if best else None
        return self._cache[name]

    def emit(self, record):
        section = self.section_for(record.name)
        if section is None:
            return
        if record.levelno >= section.level:
            for handler in section.handlers:
                if record.levelno >= handler.level:
                    handler.handle(record)
        if section.break_level is not None and record.levelno >= section.break_level:
            raise LoggedException(record)


class LogConfig:
    """A logging configuration: sections applied to the step and library loggers.

    Use :meth:`context` (or :meth:`apply`/:meth:`undo`) to attach it.
    """

    def __init__(self, sections: list[LogSection], source: str = "default"):
        self.sections = sections
        self.source = source
        self._dispatcher: _Dispatcher | None = None
        self._saved: dict[str, tuple[int, bool]] = {}

    @classmethod
    def default(cls, level=logging.INFO) -> LogConfig:
        """Messages at ``level`` and above to stdout (the seed's default)."""
        return cls([LogSection("*", level, "stdout")], "default: stdout at " + logging.getLevelName(level))

    @classmethod
    def from_text(cls, text: str, source: str = "<string>") -> LogConfig:
        from .config_file import parse_cfg

        tree = parse_cfg(text, source)
        sections = []
        for pattern, values in tree.items():
            where = f"{source}, section [{pattern}]"
            if not isinstance(values, dict):
                raise ConfigFileError(f"{source}: {pattern!r} must be inside a [pattern] section, e.g. [*]")
            unknown = set(values) - {"level", "handler", "break_level", "format"}
            if unknown:
                raise ConfigFileError(
                    f"{where}: unknown key {sorted(unknown)[0]!r}; expected level, handler, break_level, format"
                )
            sections.append(
                LogSection(
                    pattern,
                    values.get("level", "INFO"),
                    values.get("handler", "stderr"),
                    values.get("break_level"),
                    values.get("format"),
                    where,
                )
            )
        if not sections:
            raise ConfigFileError(f"{source}: no [pattern] section")
        return cls(sections, source)

    @classmethod
    def from_file(cls, path) -> LogConfig:
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise ConfigFileError(f"logging configuration file {path!r} not found")
        with open(path, encoding="utf-8") as handle:
            return cls.from_text(handle.read(), path)

    @property
    def min_level(self) -> int:
        return min(section.level for section in self.sections)

    def apply(self):
        """Attach the configuration to the step and library loggers."""
        if self._dispatcher is not None:
            return
        for section in self.sections:
            section.open()
        self._dispatcher = _Dispatcher(self)
        for name in CONFIGURED_LOGGERS:
            logger = logging.getLogger(name)
            self._saved[name] = (logger.level, logger.propagate)
            logger.addHandler(self._dispatcher)
            logger.setLevel(self.min_level)
        _APPLIED.append(self)

    def undo(self):
        """Detach the configuration and restore the loggers' levels."""
        if self._dispatcher is None:
            return
        for name in CONFIGURED_LOGGERS:
            logger = logging.getLogger(name)
            logger.removeHandler(self._dispatcher)
            level, propagate = self._saved.get(name, (logging.NOTSET, True))
            logger.setLevel(level)
            logger.propagate = propagate
        for section in self.sections:
            section.close()
        self._dispatcher = None
        if self in _APPLIED:
            _APPLIED.remove(self)

    @contextmanager
    def context(self):
        self.apply()
        try:
            yield self
        finally:
            self.undo()


_APPLIED: list[LogConfig] = []


def applied() -> LogConfig | None:
    """The configuration in force now (the innermost one), or None."""
    return _APPLIED[-1] if _APPLIED else None


def find_log_config_file(explicit=None) -> str | None:
    """The logging configuration file to use: ``explicit``, else the first
    of ``./stpipe-log.cfg``, ``~/stpipe-log.cfg``, ``/etc/stpipe-log.cfg``."""
    if explicit:
        explicit = os.path.expanduser(os.fspath(explicit))
        if not os.path.isfile(explicit):
            raise ConfigFileError(f"logging configuration file {explicit!r} not found")
        return explicit
    for candidate in SEARCH_PATH:
        candidate = os.path.expanduser(candidate)
        if os.path.isfile(candidate):
            return os.path.abspath(candidate)
    return None


def load_log_config(explicit=None, *, verbose: bool = False) -> LogConfig:
    """The logging configuration for a run: a file found by
    :func:`find_log_config_file`, else the default (stdout, INFO; DEBUG when
    ``verbose``)."""
    path = find_log_config_file(explicit)
    if path is not None:
        config = LogConfig.from_file(path)
        if verbose:
            for section in config.sections:
                section.level = logging.DEBUG
        return config
    return LogConfig.default(logging.DEBUG if verbose else logging.INFO)


def configure(logcfg=None, *, verbose: bool = False) -> LogConfig:
    """Apply a logging configuration for the rest of the process.

    Steps run afterwards keep it instead of applying their own for each
    run.  Returns the configuration (call ``.undo()`` to remove it).
    """
    config = load_log_config(logcfg, verbose=verbose)
    config.apply()
    return config
