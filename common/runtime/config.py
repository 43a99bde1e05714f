"""One command-line convention for every `python -m <task>.train`.

Precedence, lowest first: the runtime's defaults, the task's defaults, the chosen
preset (e.g. `--model multiscale`), a `--config FILE` (YAML or JSON with the same
keys, dashes or underscores), then flags given on the command line. Every value is
checked before anything heavy starts; a bad one is a one-line error (exit 2).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from common.report import one_line_errors

RUNTIME_DEFAULTS = {
    "data": "demo",
    "epochs": 1,
    "steps_per_epoch": None,  # None: the task derives it from the data (one pass)
    "batch_size": 1,
    "image_size": 256,
    "out": None,  # None: runs/<task>
    "resume": "auto",
    "checkpoint_every": 1000,
    "sample_every": 500,
    "log_every": 1,
    "keep_checkpoints": 3,
    "max_duration": None,
    "seed": 0,
    "deterministic": False,
    "wandb": "auto",
    "wandb_project": None,
    "wandb_run_id": None,
    "mixed_precision": False,
    "jit_compile": "auto",
    "strategy": "auto",
}

STRATEGIES = ("auto", "default", "mirrored", "multi-worker", "tpu")


class ConfigError(ValueError):
    """A setting that cannot work (reported as one line, before training starts)."""


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


def parse_bool(text) -> bool:
    """true/false, yes/no, on/off, 1/0 (any case) -> bool; anything else (a typo) is an error."""
    if isinstance(text, bool):
        return text
    value = str(text).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def add_runtime_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags every task's train module shares (defaults are resolved later)."""
    S = argparse.SUPPRESS
    g = parser.add_argument_group("run")
    g.add_argument("--config", default=S, metavar="FILE",
                   help="YAML or JSON file with any of these options (flags given here win)")
    g.add_argument("--data", default=S,
                   help="training data: a folder, 'demo' (built-in small dataset) or 'kaggle:<owner>/<dataset>'")
    g.add_argument("--epochs", type=int, default=S, help="number of epochs (Keras semantics)")
    g.add_argument("--steps-per-epoch", type=int, default=S,
                   help="batches per epoch; default: one pass over the larger domain/folder")
    g.add_argument("--batch-size", type=int, default=S, help="global batch size (split across devices)")
    g.add_argument("--image-size", type=int, default=S, help="training resolution in pixels (square)")
    g.add_argument("--out", default=S, metavar="DIR",
                   help="run folder: checkpoints, samples, logs (default runs/<task>)")
    g = parser.add_argument_group("checkpoints and resuming")
    g.add_argument("--resume", default=S, metavar="auto|never|PATH",
                   help="auto: continue from the newest checkpoint in --out (or the W&B run's "
                        "latest checkpoint artifact); never: start fresh; PATH: that checkpoint")
    g.add_argument("--checkpoint-every", type=int, default=S, metavar="N", help="save every N steps")
    g.add_argument("--keep-checkpoints", type=int, default=S, metavar="K", help="keep the newest K checkpoints")
    g.add_argument("--max-duration", default=S, metavar="TIME",
                   help="stop cleanly (checkpoint, exit 0) after this long, e.g. 11h30m for Kaggle's 12 h limit")
    g.add_argument("--seed", type=int, default=S, help="seed for initialisation, data order and augmentation")
    g.add_argument("--deterministic", type=parse_bool, default=S, metavar="BOOL",
                   help="enable TensorFlow op determinism (bit-exact reruns and resumes; slower)")
    g = parser.add_argument_group("monitoring")
    g.add_argument("--sample-every", type=int, default=S, metavar="N", help="write a sample image grid every N steps")
    g.add_argument("--log-every", type=int, default=S, metavar="N", help="log losses every N steps")
    g.add_argument("--wandb", default=S, choices=["auto", "online", "offline", "disabled"],
                   help="auto: online when W&B credentials exist, otherwise offline (sync later)")
    g.add_argument("--wandb-project", default=S, help="W&B project name")
    g.add_argument("--wandb-run-id", default=S, metavar="ID",
                   help="continue this W&B run (with --resume auto, its latest checkpoint is downloaded)")
    g = parser.add_argument_group("performance")
    g.add_argument("--mixed-precision", type=parse_bool, default=S, metavar="BOOL",
                   help="mixed precision: float16 compute with loss scaling on a GPU, bfloat16 on a CPU/TPU")
    g.add_argument("--jit-compile", default=S, choices=["auto", "on", "off"], help="XLA compilation of the step")
    g.add_argument("--strategy", default=S, choices=list(STRATEGIES),
                   help="auto: TPU if present, all GPUs if more than one, else one device; multi-worker: "
                        "several machines, the cluster from TF_CONFIG (--out must be a folder they share)")


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
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def resolve_config(parser, argv=None, *, task: str, task_defaults=None, presets=None,
                   preset_key="model", validators=()):
    """Parse argv and merge defaults < preset < config file < flags; errors exit via parser.error.

    presets: {preset name: {option: value}}; the preset is chosen by `preset_key`
    (from flags, the config file or task_defaults).
    validators: callables taking the merged dict and raising ValueError with a message.
    """
    one_line_errors(parser)
    given = vars(parser.parse_args(argv))
    try:
        from_file = load_config_file(given.pop("config")) if "config" in given else {}
    except (ValueError, OSError) as exc:
        parser.error(str(exc))
    known = set(RUNTIME_DEFAULTS) | set(task_defaults or {}) | {a.dest for a in parser._actions}
    unknown = sorted(set(from_file) - known)
    if unknown:
        parser.error(f"unknown option(s) in config file: {', '.join(unknown)}")
    merged = dict(RUNTIME_DEFAULTS)
    merged.update(task_defaults or {})
    if presets:
        name = given.get(preset_key, from_file.get(preset_key, merged.get(preset_key)))
        if name not in presets:
            parser.error(f"unknown --{preset_key.replace('_', '-')} {name!r}; choose from {', '.join(presets)}")
        merged.update(presets[name])
    merged.update(from_file)
    merged.update(given)
    merged["task"] = task
    # what this command line (or its --config file) set: a resumed run keeps the checkpoint's other values
    merged["explicit_keys"] = sorted((set(given) | set(from_file)) - {"config"})
    if merged.get("out") is None:
        merged["out"] = str(Path("runs") / task)
    try:
        _validate_runtime(merged)
        for check in validators:
            check(merged)
    except ValueError as exc:
        parser.error(str(exc))
    return merged


def _validate_runtime(c: dict) -> None:
    for key in ("epochs", "batch_size", "image_size", "checkpoint_every", "sample_every",
                "keep_checkpoints", "log_every"):
        if not isinstance(c[key], int) or c[key] < 1:
            raise ValueError(f"--{key.replace('_', '-')} must be a positive whole number, got {c[key]!r}")
    if c["steps_per_epoch"] is not None and (not isinstance(c["steps_per_epoch"], int) or c["steps_per_epoch"] < 1):
        raise ValueError(f"--steps-per-epoch must be a positive whole number, got {c['steps_per_epoch']!r}")
    if c["max_duration"] is not None:
        c["max_duration"] = parse_duration(c["max_duration"])
        if c["max_duration"] <= 0:
            raise ValueError("--max-duration must be positive")
    if c["resume"] not in ("auto", "never") and not Path(c["resume"]).exists():
        raise ValueError(f"--resume: checkpoint not found: {c['resume']}")
    if c["wandb"] not in ("auto", "online", "offline", "disabled"):
        raise ValueError(f"--wandb must be auto, online, offline or disabled, got {c['wandb']!r}")
    if c["jit_compile"] in (True, False):
        c["jit_compile"] = "on" if c["jit_compile"] else "off"
    if c["jit_compile"] not in ("auto", "on", "off"):
        raise ValueError(f"--jit-compile must be auto, on or off, got {c['jit_compile']!r}")
    if c["strategy"] not in STRATEGIES:
        raise ValueError(f"--strategy must be {', '.join(STRATEGIES[:-1])} or {STRATEGIES[-1]}, got {c['strategy']!r}")
    if c["strategy"] == "multi-worker":
        from common.runtime.distribute import read_tf_config

        read_tf_config()  # a missing or malformed TF_CONFIG is a one-line error before anything starts
    for key in ("mixed_precision", "deterministic"):
        c[key] = parse_bool(c[key])


def save_config(config: dict, path) -> None:
    Path(path).write_text(json.dumps(config, indent=2, sort_keys=True, default=str) + "\n")
