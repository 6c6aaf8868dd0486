"""``strun``: run a step or pipeline from the command line.

::

    strun <alias | class name | cfg file | ASDF parameter file> [input ...]
          [--<param>=<value> ...] [--steps.<step>.<param>=<value> ...]
          [-h] [--list] [--print-config] [--save-parameters FILE]
          [--logcfg FILE] [-v] [--debug]

Exit status: 0 success, 1 error (one line on stderr; ``--debug`` adds the
traceback), 64 no science data on the detector.
"""

from __future__ import annotations

import os
import sys
import textwrap
import traceback

USAGE = (
    "usage: strun <step | pipeline | cfg file | asdf file> [input ...] [--param=value ...]"
    " [--steps.<step>.<param>=value ...]\n"
    "             [-h] [--list] [--print-config] [--save-parameters FILE] [--logcfg FILE] [-v] [--debug]"
)

GLOBAL_HELP = """\
options:
  -h, --help              show this help, or the parameters of the named step or pipeline
  --list                  list every registered step and pipeline name
  --print-config          print the effective configuration and where each value came from, then exit
  --save-parameters FILE  write the effective configuration to FILE (.cfg or .asdf)
  --logcfg FILE           logging configuration file (default: ./stpipe-log.cfg if present, else stdout at INFO)
  -v, --verbose           log at DEBUG level
  --debug                 show the traceback of an error
exit status: 0 success, 1 error, 64 no science data found"""

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_NO_DATA = 64

_FLAG_OPTIONS = {"-h": "help", "--help": "help", "--list": "list", "--print-config": "print_config",
                 "-v": "verbose", "--verbose": "verbose", "--debug": "debug"}
_VALUE_OPTIONS = {"--logcfg": "logcfg", "--save-parameters": "save_parameters"}


class _UsageError(Exception):
    pass


def _split_argv(argv):
    """Separate strun's own options, the step name, the inputs and the raw
    ``--param`` tokens (interpreted once the step's spec is known)."""
    options = {"help": False, "list": False, "print_config": False, "verbose": False, "debug": False,
               "logcfg": None, "save_parameters": None}
    positionals = []
    params = []  # (name, value or None)
    index = 0
    while index < len(argv):
        token = argv[index]
        index += 1
        if token in _FLAG_OPTIONS:
            options[_FLAG_OPTIONS[token]] = True
            continue
        name, eq, value = token.partition("=")
        if name in _VALUE_OPTIONS:
            if not eq:
                if index >= len(argv):
                    raise _UsageError(f"{name} needs a value")
                value = argv[index]
                index += 1
            options[_VALUE_OPTIONS[name]] = value
            continue
        if token.startswith("--") and len(token) > 2:
            params.append([name[2:], value if eq else None, index])
            continue
        if token.startswith("-") and token != "-":
            raise _UsageError(f"unknown option {token!r}")
        positionals.append((token, index - 1))
    return options, positionals, params


def _resolve_target(name):
    """The class, config file and built-in layers named by strun's first argument."""
    from photoncal.stpipe import registry
    from photoncal.stpipe.exceptions import ConfigFileError

    lower = name.lower()
    if lower.endswith((".cfg", ".asdf")) and os.path.isfile(name):
        from photoncal.stpipe import Step

        return Step, name, []
    entry = registry.lookup(name)
    if entry is None and name not in registry._DYNAMIC:
        if lower.endswith((".cfg", ".asdf")):
            raise ConfigFileError(
                f"config file {name!r} not found (and it is not the name of a registered cfg; see strun --list)"
            )
    cls, entry = registry.resolve_entry(name)
    layers = []
    if entry is not None and entry.cfg_values:
        layers.append((f"{entry.cfg_name} (built-in)", dict(entry.cfg_values)))
    return cls, None, layers


def _spec_for(cls, dotted):
    """The ParamSpec of ``name`` or ``steps.<step>.<name>`` (None if unknown)."""
    parts = dotted.split(".")
    if len(parts) == 3 and parts[0] == "steps":
        step_cls = getattr(cls, "step_defs", {}).get(parts[1])
        if step_cls is None:
            return None
        return step_cls.merged_spec().params.get(parts[2])
    if len(parts) == 1:
        return cls.merged_spec().params.get(parts[0])
    return None


def _collect_params(cls, raw_params, positionals):
    """Turn raw ``--param`` tokens into nested override values; a boolean
    given without a value is True, any other parameter takes the next word."""
    consumed = set()
    overrides = {}
    positions = {pos: token for token, pos in positionals}
    for name, value, position in raw_params:
        param = _spec_for(cls, name)
        if value is None:
            if param is not None and param.check == "boolean":
                value = "True"
            elif position in positions:
                value = positions[position]
                consumed.add(position)
            else:
                raise _UsageError(f"--{name} needs a value")
        parts = name.split(".")
        if parts[0] == "steps":
            if len(parts) != 3:
                raise _UsageError(f"--{name}: sub-step parameters are written --steps.<step>.<parameter>=<value>")
            if not getattr(cls, "step_defs", None):
                raise _UsageError(f"--{name}: {cls.__name__} is not a pipeline, it has no steps")
            if parts[1] not in cls.step_defs:
                raise _UsageError(
                    f"--{name}: {cls.__name__} has no step {parts[1]!r}; its steps are {', '.join(cls.step_defs)}"
                )
            if param is None and parts[2] != "config_file":
                raise _UsageError(
                    f"--{name}: step {parts[1]!r} has no parameter {parts[2]!r} (see strun {_display(cls)} -h)"
                )
            overrides.setdefault("steps", {}).setdefault(parts[1], {})[parts[2]] = value
        else:
            if len(parts) != 1:
                raise _UsageError(f"--{name}: unknown parameter")
            if param is None:
                raise _UsageError(f"unknown parameter --{name} for {_display(cls)} (see strun {_display(cls)} -h)")
            overrides[name] = value
    inputs = [token for token, pos in positionals[1:] if pos not in consumed]
    return overrides, inputs


def _display(cls):
    return getattr(cls, "class_alias", None) or cls.__name__


def format_step_help(cls) -> str:
    """The ``strun <step> -h`` text: every parameter, overrides included,
    with its type, default and help (the step's own parameters first)."""
    from photoncal.stpipe import Pipeline, Step

    base = {**Step.merged_spec().params, **Pipeline.merged_spec().params}

    def is_universal(name, param):
        # a universal parameter whose default the class changed is its own
        return name in base and base[name].default == param.default
    lines = [USAGE.replace("<step | pipeline | cfg file | asdf file>", _display(cls)), ""]
    doc = (cls.__doc__ or "").strip()
    if doc:
        lines.append(textwrap.dedent(doc).split("\n\n")[0].strip())
        lines.append("")

    def describe(prefix, name, param):
        lines.append(f"  --{prefix}{name}")
        text = param.help + " " if param.help else ""
        lines.append(textwrap.fill(f"{text}({param.describe()})", width=100,
                                   initial_indent="        ", subsequent_indent="        "))

    spec = cls.merged_spec()
    lines.append(f"parameters of {_display(cls)} ({cls.dotted_name()}):")
    own = [(n, p) for n, p in spec.params.items() if not is_universal(n, p)]
    for name, param in own:
        describe("", name, param)
    if not own:
        lines.append("  (none of its own)")
    lines.append("")
    lines.append("universal parameters (every step and pipeline has them):")
    for name, param in spec.params.items():
        if is_universal(name, param):
            describe("", name, param)
    for key, step_cls in getattr(cls, "step_defs", {}).items():
        lines.append("")
        lines.append(f"parameters of step {key} ({step_cls.__name__}):")
        for name, param in step_cls.merged_spec().params.items():
            if not is_universal(name, param):
                describe(f"steps.{key}.", name, param)
        lines.append(f"  --steps.{key}.config_file\n        a cfg file with this step's parameters")
        lines.append(f"  --steps.{key}.<universal parameter>\n        skip, save_results, output_file, output_dir, suffix, ...")
    lines.append("")
    lines.append(GLOBAL_HELP)
    return "\n".join(lines)


def _list_text() -> str:
    from photoncal.stpipe import registry

    lines = ["registered steps and pipelines (alias, photoncal class, cfg file, other names):"]
    for entry in registry.entries():
        others = ", ".join((*entry.aliases, *[n for n in entry.names if n.startswith(("jwst.", "romancal."))][:2]))
        lines.append(f"  {entry.alias:<20} {entry.dotted_name:<50} {entry.cfg_name:<24} {others}")
    return "\n".join(lines)


def _build_step(cls, config_file, layers, overrides):
    from photoncal.stpipe import Step

    base_layers = [("strun (saves the result)", {"save_results": True}), *layers]
    step_class, name, values, sources, logcfg = (cls if config_file is None else Step).build_config(
        config_file, overrides, override_label="command line", base_layers=base_layers
    )
    if step_class is Step:
        from photoncal.stpipe.exceptions import ConfigFileError

        raise ConfigFileError(f"{config_file}: no 'class' naming the step or pipeline to run")
    step = step_class(name=name, config_file=config_file, _sources=sources, **values)
    return step, logcfg


def _effective_config_text(step) -> str:
    from photoncal.stpipe.config_file import format_cfg

    config = step.effective_config()
    sources = step.get_par_sources()
    return format_cfg(config, sources, header=f"effective configuration of {step.name} ({type(step).__name__});"
                                              " each value's source follows it")


def _check_inputs(step, inputs):
    for item in inputs:
        path = step.make_input_path(item)
        if not os.path.exists(path):
            raise FileNotFoundError(f"input file {item!r} not found")


def _run(argv) -> int:
    options, positionals, raw_params = _split_argv(argv)
    if options["list"]:
        print(_list_text())
        return EXIT_OK
    if not positionals:
        if options["help"]:
            print(USAGE)
            print()
            print(GLOBAL_HELP)
            print()
            print(_list_text())
            return EXIT_OK
        raise _UsageError("no step, pipeline or config file given (strun -h for help)")
    target = positionals[0][0]
    cls, config_file, layers = _resolve_target(target)
    if config_file is not None:
        # the cfg's class decides the spec used to read the parameters
        from photoncal.stpipe import Step

        cls = Step.build_config(config_file)[0]
        if cls is Step:
            from photoncal.stpipe.exceptions import ConfigFileError

            raise ConfigFileError(f"{config_file}: no 'class' naming the step or pipeline to run")
    if options["help"]:
        print(format_step_help(cls))
        return EXIT_OK
    overrides, inputs = _collect_params(cls, raw_params, positionals)
    step, cfg_logcfg = _build_step(cls, config_file, layers, overrides)
    if options["print_config"]:
        print(_effective_config_text(step), end="")
        return EXIT_OK
    if options["save_parameters"]:
        path = step.export_config(options["save_parameters"])
        print(f"strun: parameters written to {path}", file=sys.stderr)
        if not inputs:
            return EXIT_OK
    if not inputs:
        raise _UsageError(f"no input file given for {_display(cls)} (strun {target} <input> ...)")
    _check_inputs(step, inputs)
    from photoncal.stpipe import log

    with log.load_log_config(options["logcfg"] or cfg_logcfg, verbose=options["verbose"]).context():
        step.run(*inputs)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``strun``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        return _run(argv)
    except _UsageError as err:
        print(f"strun: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as err:  # noqa: BLE001 - every failure becomes one line and an exit status
        from photoncal.stpipe.exceptions import NoDataOnDetectorError, StpipeError

        if debug:
            traceback.print_exc()
        message = " ".join(str(err).split("\n")) or type(err).__name__
        if not isinstance(err, (StpipeError, FileNotFoundError)):
            message = f"{type(err).__name__}: {message}"
        if isinstance(err, NoDataOnDetectorError):
            print(f"strun: no science data: {message}", file=sys.stderr)
            return EXIT_NO_DATA
        print(f"strun: error: {message}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
