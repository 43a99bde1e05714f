"""One command-line convention for every `python -m <task>.train`.

Precedence, lowest first: the runtime's defaults (RuntimeOptions), the task's defaults (its options
class, a subclass), the chosen preset (e.g. `--model multiscale`: a subclass of that), a `--config FILE`
(YAML or JSON with the same keys, dashes or underscores), then flags given on the command line. The
flags, their --help (each with its default) and the checks all come from those dataclasses
(common.runtime.options). Every value is checked before anything heavy starts; a bad one is a one-line
error (exit 2).
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from common.report import one_line_errors
from common.runtime.options import (ConfigError, Options, add_arguments, defaults, flag_name, option, option_fields,
                                    parse_bool, upgrade_keys)

__all__ = ["ConfigError", "RuntimeOptions", "RunConfig", "build_parser", "load_config_file", "parse_bool",
           "parse_duration", "resolve_config", "run_config", "save_config"]

STRATEGIES = ("auto", "default", "mirrored", "multi-worker", "tpu")
WANDB_MODES = ("auto", "online", "offline", "disabled")
JIT_MODES = ("auto", "on", "off")
GRAPH_OPTIMIZER_MODES = ("auto", "on", "off")

_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?$")


def parse_duration(text) -> float:
    """'11h30m' -> 41400.0 seconds; '90m', '45s', '3600' and '1d2h' also work."""
    if isinstance(text, (int, float)):
        return float(text)
    m = _DURATION.match(str(text).strip().lower())
    if not m or not any(m.groups()) or not str(text).strip():
        raise ValueError(f"not a duration: {text!r} (examples: 11h30m, 90m, 3600s)")
    d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    return d * 86400 + h * 3600 + mi * 60 + s


RUN, CHECKPOINTS, MONITORING, PERFORMANCE = "run", "checkpoints and resuming", "monitoring", "performance"


@dataclass(frozen=True)
class RuntimeOptions(Options):
    """The options every task's train module shares."""

    data: str = option("demo", "training data: a folder, 'demo' (built-in small dataset) or "
                               "'kaggle:<owner>/<dataset>'", group=RUN)
    epochs: int = option(1, "number of epochs (Keras semantics)", group=RUN)
    steps_per_epoch: int | None = option(None, "batches per epoch", group=RUN,
                                         none="one pass over the larger domain/folder")
    batch_size: int = option(1, "global batch size (split across devices)", group=RUN)
    image_size: int = option(256, "training resolution in pixels (square)", group=RUN)
    flip: bool = option(False, "flip training images left-right at random (augmentation)", group=RUN,
                        aliases=("--random-flip", "--mirror"))
    out: str | None = option(None, "run folder: checkpoints, samples, logs", metavar="DIR", group=RUN,
                             none="runs/<task>")
    resume: str = option("auto", "auto: continue from the newest checkpoint in --out (or the W&B run's latest "
                                 "checkpoint artifact); never: start fresh; PATH: that checkpoint",
                         metavar="auto|never|PATH", group=CHECKPOINTS)
    init_from: str | None = option(None, "start a new run from the networks of this run, checkpoint or converted "
                                         "model (watches.convert) at step 0: optimizers, counters and "
                                         "augmentation start fresh, and the settings that shape the networks "
                                         "come from it; ignored once this run has checkpoints of its own",
                                   metavar="PATH", group=CHECKPOINTS, none="none")
    checkpoint_every: int = option(1000, "save every N steps", metavar="N", group=CHECKPOINTS)
    keep_checkpoints: int = option(3, "keep the newest K checkpoints", metavar="K", group=CHECKPOINTS)
    max_duration: str | float | None = option(None, "stop cleanly (checkpoint, exit 0) after this long, e.g. 11h30m "
                                                    "for Kaggle's 12 h limit", metavar="TIME", group=CHECKPOINTS,
                                              none="no limit")
    seed: int = option(0, "seed for initialisation, data order and augmentation", group=CHECKPOINTS)
    deterministic: bool = option(False, "enable TensorFlow op determinism (bit-exact reruns and resumes; slower)",
                                 group=CHECKPOINTS)
    verbose: bool = option(False, "show TensorFlow's start-up and C++ log lines (hidden otherwise, unless "
                                  "TF_CPP_MIN_LOG_LEVEL is set)", group=MONITORING)
    sample_every: int = option(500, "write a sample image grid every N steps", metavar="N", group=MONITORING)
    log_every: int = option(1, "log losses every N steps", metavar="N", group=MONITORING)
    wandb: str = option("auto", "auto: online when W&B credentials exist, otherwise offline (sync later)",
                        choices=WANDB_MODES, group=MONITORING)
    wandb_project: str | None = option(None, "W&B project name", group=MONITORING, none="the task's")
    wandb_run_id: str | None = option(None, "continue this W&B run (with --resume auto, its latest checkpoint is "
                                            "downloaded)", metavar="ID", group=MONITORING)
    mixed_precision: bool = option(False, "mixed precision: float16 compute with loss scaling on a GPU, bfloat16 on "
                                          "a CPU/TPU", group=PERFORMANCE)
    jit_compile: str | bool = option("auto", "XLA compilation of the step", choices=JIT_MODES, group=PERFORMANCE)
    graph_optimizer: str = option("auto", "TensorFlow's graph optimisations before the first step (auto: off on a "
                                          "machine with no GPU or TPU, where they only lengthen the first step)",
                                  choices=GRAPH_OPTIMIZER_MODES, group=PERFORMANCE)
    strategy: str = option("auto", "auto: TPU if present, all GPUs if more than one, else one device; "
                                   "multi-worker: several machines, the cluster from TF_CONFIG (--out must be a "
                                   "folder they share)", choices=STRATEGIES, group=PERFORMANCE)

    POSITIVE = ("epochs", "batch_size", "image_size", "checkpoint_every", "sample_every", "keep_checkpoints",
                "log_every")

    def validate_types(self) -> None:
        for key in self.POSITIVE + ("steps_per_epoch",):
            value = getattr(self, key)
            if (value is not None or key != "steps_per_epoch") and value < 1:
                raise ConfigError(f"{flag_name(key)} must be a positive whole number, got {value!r}")

    def derived(self) -> "RuntimeOptions":
        jit = self.jit_compile
        if jit in (True, False):
            jit = "on" if jit else "off"
        duration = self.max_duration
        if duration is not None:
            try:
                duration = parse_duration(duration)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        return super().derived().replace(jit_compile=jit, max_duration=duration)

    def validate(self) -> None:
        super().validate()  # the choices of wandb, jit_compile and strategy among them
        if self.max_duration is not None and self.max_duration <= 0:
            raise ConfigError("--max-duration must be positive")
        if self.resume not in ("auto", "never") and not Path(self.resume).exists():
            raise ConfigError(f"--resume: checkpoint not found: {self.resume}")
        if self.init_from is not None and not Path(self.init_from).exists():
            raise ConfigError(f"--init-from: not found: {self.init_from}")
        if self.strategy == "multi-worker":
            from common.runtime.distribute import read_tf_config

            read_tf_config()  # a missing or malformed TF_CONFIG is a one-line error before anything starts


class RunConfig(Mapping):
    """A read-only view of a run's config once it is saved (config.json, every checkpoint): what a task
    reads from then on. Writing to it raises TypeError; a task that needs to change its course keeps
    that in its own state, so the saved config stays what the run was trained with."""

    def __init__(self, config: Mapping):
        self._data = dict(config)

    def __getitem__(self, key):
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)

    def __setitem__(self, key, value):
        raise TypeError(f"the run config is saved and read-only: cannot set {key!r} (keep it in the task's state)")

    __delitem__ = __setitem__

    def __repr__(self):
        return f"RunConfig({self._data!r})"


def load_config_file(path) -> dict:
    """A YAML (.yaml/.yml) or JSON file of option: value -> dict with underscore keys; ValueError in one line."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"config file not found: {path}")
    text = path.read_text()
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ValueError(f"config file {path} is not valid YAML{where}: {problem}") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"config file {path} is not valid JSON at line {exc.lineno}, column {exc.colno}: "
                             f"{exc.msg}") from None
    if not isinstance(data, dict):
        raise ValueError(f"config file {path} must hold a mapping of option: value")
    return upgrade_keys({str(k).replace("-", "_"): v for k, v in data.items()})


def build_parser(options_cls, presets=None, *, prog=None, description=None, preset_key="model"):
    """The argparse parser of an options class: --config FILE, then one flag per option of its presets
    ({name: preset class}, the choices of --model; see common.runtime.options.add_arguments)."""
    parser = argparse.ArgumentParser(prog=prog, description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=argparse.SUPPRESS, metavar="FILE",
                        help="YAML or JSON file with any of these options (flags given here win) (default none)")
    add_arguments(parser, presets or {"": options_cls}, preset_key=preset_key, runtime_cls=RuntimeOptions,
                  default_preset=defaults(options_cls)[preset_key] if presets else None)
    return parser


def check_preset_options(name, explicit, presets, preset_key="model") -> None:
    """ConfigError when an option given (explicit) is one that preset `name` does not have."""
    for key in explicit:
        if key not in defaults(presets[name]):
            readers = [other for other, cls in presets.items() if key in defaults(cls)]
            raise ConfigError(f"{flag_name(key)} applies to {flag_name(preset_key)} {' or '.join(readers)} only, "
                              f"not {name}")


def resolve_config(options_cls, argv=None, *, task: str, presets=None, preset_key="model", prog=None,
                   description=None, network_keys=(), shape_keys=()) -> dict:
    """Parse argv and merge defaults < preset < config file < flags into the run config (a JSON dict: the
    options' fields, plus "task" and "explicit_keys": what this command line or its --config file set,
    which a resumed run takes over the checkpoint's). Errors exit via parser.error (one line, exit 2).

    options_cls: the task's options (a RuntimeOptions subclass); presets: {name: subclass of it},
    chosen by `preset_key` (from the flags, the config file or options_cls's default). With --init-from,
    the `network_keys` not given come from the run it starts from (`init_settings`); network_keys may be
    a function returning (network_keys, shape_keys), called only then (so the task need not be imported).
    """
    parser = build_parser(options_cls, presets, prog=prog, description=description, preset_key=preset_key)
    one_line_errors(parser)
    given = vars(parser.parse_args(argv))
    try:
        from_file = load_config_file(given.pop("config")) if "config" in given else {}
    except (ValueError, OSError) as exc:
        parser.error(str(exc))
    known = set(option_fields(presets or {"": options_cls}))
    unknown = sorted(set(from_file) - known)
    if unknown:
        parser.error(f"unknown option(s) in config file: {', '.join(unknown)}")
    values = {**from_file, **given}
    explicit = sorted(values)
    if values.get("init_from") is not None:
        if callable(network_keys):
            network_keys, shape_keys = network_keys()
        try:
            values.update(init_settings(values, task, network_keys, shape_keys))
        except (ValueError, OSError) as exc:
            parser.error(str(exc))
    chosen = options_cls
    if presets:
        name = values.get(preset_key, defaults(options_cls)[preset_key])
        if name not in presets:
            parser.error(f"unknown {flag_name(preset_key)} {name!r}; choose from {', '.join(presets)}")
        chosen = presets[name]
    if values.get("out") is None:
        values["out"] = str(Path("runs") / task)
    try:
        if presets:
            check_preset_options(name, explicit, presets, preset_key)
        return run_config(chosen, task, explicit=explicit, **values)
    except ValueError as exc:
        parser.error(str(exc))


def init_settings(values: dict, task: str, network_keys=(), shape_keys=()) -> dict:
    """The settings a run started with --init-from takes from the checkpoint it starts from: those of
    `network_keys` (what defines the networks) that `values` (given) lacks. A given value of one of
    `shape_keys` (what fixes the networks' shapes) that differs from the checkpoint's is a ConfigError."""
    from common.runtime import checkpoint as ckpt

    path = values["init_from"]
    try:
        saved = ckpt.open_checkpoint(path, task)[1]["config"]
    except ValueError as exc:  # DataError: none there, unreadable, another task's
        raise ConfigError(f"--init-from {path}: {exc}") from None
    for key in shape_keys:
        if key in values and key in saved and values[key] != saved[key]:
            raise ConfigError(f"{flag_name(key)} {values[key]} differs from the {saved[key]} of --init-from {path}: "
                              "the networks it starts from have that shape (leave the flag out)")
    return {key: saved[key] for key in network_keys if key in saved and key not in values}


def run_config(options_cls, task: str, *, explicit=None, **values) -> dict:
    """The run config of options_cls (a preset) with `values` set: resolved and checked (ConfigError), as
    the train CLI makes it - e.g. for a notebook or a benchmark: run_config(StyleGAN2Options, "watches",
    image_size=64). explicit: the keys the user gave (default: those of `values`)."""
    options = options_cls(**values).resolved()
    return {**options.asdict(), "task": task, "explicit_keys": sorted(values if explicit is None else explicit)}


def save_config(config: dict, path) -> None:
    Path(path).write_text(json.dumps(config, indent=2, sort_keys=True, default=str) + "\n")
