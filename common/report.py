"""What the command-line tools print: aligned tables, skipped-file lists, one-line errors, a progress line.

One implementation of each, shared by training (`common.runtime`), metrics
(`common.metrics`) and every task's CLIs.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time

_FUNCTION_NODE = re.compile(r"\{\{function_node [^}]*\}\}\s*")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def format_table(rows, header=None) -> str:
    """rows: (label, value, ...) tuples -> aligned text; first column left, the others right-aligned.

    Floats are shown with 4 decimals (6 significant digits when tiny or huge); a header,
    if given, is underlined.
    """
    def cell(value) -> str:
        if isinstance(value, float):
            return f"{value:.4f}" if 1e-3 <= abs(value) < 1e6 or value == 0 else f"{value:.6g}"
        return "" if value is None else str(value)

    table = [tuple(cell(v) for v in row) for row in ([header] if header else []) + list(rows)]
    if not table:
        return ""
    ncols = max(len(r) for r in table)
    table = [r + ("",) * (ncols - len(r)) for r in table]
    widths = [max(len(r[i]) for r in table) for i in range(ncols)]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
             for r in table]
    if header:
        lines.insert(1, "-" * max(len(line) for line in lines))
    return "\n".join(lines)


def format_skipped(skipped, what: str = "image file") -> list[str]:
    """Lines naming the skipped files: a header, then "  path: reason" each; [] if none.

    skipped: [{"path": str, "reason": str}, ...]
    """
    if not skipped:
        return []
    return [f"skipped {len(skipped)} unreadable {what}(s):"] + [f"  {s['path']}: {s['reason']}" for s in skipped]


def one_line_error(exc: BaseException) -> str:
    """An exception as one readable line: TensorFlow's ``{{function_node ...}}`` prefix, its
    ``[Op:...] name:`` tail and terminal colour codes removed, and Keras's "Exception encountered
    when calling ..." header skipped, so the first line that says what went wrong is kept."""
    text = _FUNCTION_NODE.sub("", _ANSI.sub("", str(exc)))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("Exception encountered when calling")] or lines
    line = re.sub(r"\s*\[Op:[^\]]*\]|\s*name:\s*$", "", lines[0]) if lines else ""
    return line or type(exc).__name__


def one_line_errors(parser):
    """Make an argparse parser's errors one line, `<prog>: error: <message>`, exit 2, and its --help show
    every option's default (DefaultsHelpFormatter, keeping a raw description raw).

    argparse would print its whole usage block first; a user needs only the line that
    says what is wrong. Returns the parser.
    """
    def error(message):
        parser.exit(2, f"{parser.prog}: error: {message}\n")

    parser.error = error
    if parser.formatter_class is argparse.RawDescriptionHelpFormatter:
        parser.formatter_class = RawDefaultsHelpFormatter
    elif parser.formatter_class is argparse.HelpFormatter:
        parser.formatter_class = DefaultsHelpFormatter
    return parser


def default_shown(value) -> str:
    """A default as --help shows it: none, on/off, a list as a comma list, else str()."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Every optional flag's help ends with "(default: X)" unless it already names its default; required
    flags, positionals and --help are left as they are."""

    def _format_action(self, action):
        if (action.option_strings and not (action.help or "").strip() and not action.required
                and action.default is not argparse.SUPPRESS and not isinstance(action, argparse._HelpAction)):
            import copy

            action = copy.copy(action)  # argparse shows no help line at all for a flag without help
            action.help = f"(default: {default_shown(action.default).replace('%', '%%')})"
        return super()._format_action(action)

    def _get_help_string(self, action):
        text = action.help or ""
        if (not action.option_strings or action.required or action.default is argparse.SUPPRESS
                or "default" in text.lower() or isinstance(action, argparse._HelpAction)):
            return text
        value = default_shown(action.default)
        if isinstance(action, argparse._StoreConstAction) and not isinstance(action, argparse._StoreTrueAction):
            return text
        return f"{text} (default: {value.replace('%', '%%')})".strip()


class RawDefaultsHelpFormatter(DefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """DefaultsHelpFormatter with the description kept as written (a module docstring's examples)."""


# --------------------------------------------------------------------------- TensorFlow's start-up noise

# what TensorFlow's C++ side prints before its own log level applies (TF 2.16+): the absl pre-init notice
# and INFO/WARNING lines such as the oneDNN and CUDA-driver notes, each twice (two shared libraries)
_TF_NOISE = re.compile(r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
                       r"|[IW]\d{4} [\d:.]+\s+\d+ \S+:\d+\]"
                       r"|To enable the following instructions: .* rebuild TensorFlow)")


def add_verbose(parser):
    """The shared --verbose flag (TensorFlow's start-up and C++ log lines are hidden without it)."""
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's start-up and C++ log lines (hidden otherwise, unless "
                             "TF_CPP_MIN_LOG_LEVEL is set)")
    return parser


def quiet_tensorflow(verbose: bool = False) -> None:
    """Call after the arguments are parsed, before TensorFlow is imported. Unless verbose (or the user set
    TF_CPP_MIN_LOG_LEVEL), TensorFlow's C++ logging is limited to fatal errors (no oneDNN, CPU-feature
    or `failed call to cuInit` lines), absl's Python logging to errors, and TensorFlow is imported here
    with the lines it prints before its log level applies filtered out of stderr (anything else it
    prints is passed on)."""
    import os

    if verbose or "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if "tensorflow" not in sys.modules:
        _import_filtered()
    try:
        import logging

        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
    except ImportError:  # pragma: no cover - absl comes with TensorFlow
        pass


def _import_filtered() -> None:
    """import tensorflow with file descriptor 2 captured; its start-up noise dropped, the rest re-printed."""
    import os
    import tempfile

    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real stderr (some notebook front ends)
        import tensorflow  # noqa: F401
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            try:
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode("utf-8", "replace")
            kept = [line for line in text.splitlines() if line.strip() and not _TF_NOISE.match(line)]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")
                sys.stderr.flush()


def output_folder(path, flag: str = "--out"):
    """The folder a CLI writes into, created (with its parents) if missing -> Path.

    One-line ValueError (a DataError) when `path` names an existing file or cannot be created
    (read-only place, a parent that is a file): what a user gets instead of FileExistsError."""
    from pathlib import Path

    from common.data import DataError

    folder = Path(path).expanduser()
    if folder.exists() and not folder.is_dir():
        raise DataError(f"{flag} {folder} is a file; give a folder (it is created if missing)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{flag} {folder} cannot be created: {exc.strerror or exc}") from None
    return folder


def hms(seconds: float) -> str:
    """Seconds -> "H:MM:SS" ("?" when unknown or infinite)."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """One progress line, redrawn in place on a terminal or notebook, else printed every `interval` s.

    Counts items done out of `total` (None: unknown), with the rate and the time left:
    `label: [####......] 120/400 3.2 it/s ETA 0:01:27 <extra text>`.
    """

    def __init__(self, total=None, label="", *, unit="it", stream=None, enabled=True, interval=0.5,
                 file_interval=30.0, start_count=0):
        self.total, self.label, self.unit, self.enabled = total, label, unit, enabled
        self.stream = stream or sys.stderr
        self.tty = (hasattr(self.stream, "isatty") and self.stream.isatty()) or "ipykernel" in sys.modules
        self.interval = interval if self.tty else max(interval, file_interval)
        self.count = start_count
        self.start_count = start_count
        self.started = time.monotonic()
        self._last = None

    def restart_clock(self) -> None:
        """Measure the rate from now (e.g. after the first step, which includes compilation)."""
        self.started, self.start_count = time.monotonic(), self.count

    @property
    def rate(self) -> float:
        return (self.count - self.start_count) / max(time.monotonic() - self.started, 1e-9)

    def update(self, n=1, *, count=None, text="") -> None:
        self.count = count if count is not None else self.count + n
        now = time.monotonic()
        finished = self.total is not None and self.count >= self.total
        if not self.enabled or (self._last is not None and now - self._last < self.interval and not finished):
            return
        self._last = now
        rate = self.rate
        if self.total:
            width = 20
            filled = int(width * min(self.count, self.total) / self.total)
            bar = f"[{'#' * filled}{'.' * (width - filled)}] {self.count}/{self.total}"
            eta = (self.total - self.count) / rate if rate > 0 else float("inf")
            bar += f" {rate:.2f} {self.unit}/s ETA {hms(eta)}"
        else:
            bar = f"{self.count} {rate:.2f} {self.unit}/s"
        line = " ".join(p for p in (f"{self.label}:" if self.label else "", bar, text) if p)
        self.stream.write(line.ljust(100) + ("\r" if self.tty else "\n"))
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty and self._last is not None:
            self.stream.write("\n")
            self.stream.flush()


def parse_seeds(text) -> list[int]:
    """'0-3,7' -> [0, 1, 2, 3, 7]."""
    seeds = []
    for part in str(text).split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not m or (m.group(2) and int(m.group(2)) < int(m.group(1))):
            raise argparse.ArgumentTypeError(f"not a seed list: {text!r} (examples: 0-63, 1,5,9)")
        seeds += list(range(int(m.group(1)), int(m.group(2) or m.group(1)) + 1))
    return seeds


# ----------------------------------------------------------------------------- evaluate CLIs

EXTRACTORS = ("inception", "inception-2015")  # by name; any other feature network is given as a .keras file


def extractor_arg(value: str) -> str:
    """argparse type of an --extractor option: a name in EXTRACTORS or a path ending in .keras."""
    if value in EXTRACTORS or value.endswith(".keras"):
        return value
    raise argparse.ArgumentTypeError(f"{value!r} is neither {' nor '.join(EXTRACTORS)} nor a .keras feature model file")



def evaluation_parser(prog: str, doc: str, *, data_help: str, metrics: str, max_images_help: str):
    """The flags every `python -m <task>.evaluate` shares, on a parser with one-line errors:
    --checkpoint (anything common.runtime.generator.load takes), --data, --metrics, --max-images,
    --inception-weights, --json (default <run>/evaluation.json) and --verbose."""
    p = argparse.ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="run folder, checkpoint folder or exported .keras generator")
    p.add_argument("--data", required=True, help=data_help)
    p.add_argument("--metrics", default=metrics, help="comma list ('' for none)")
    p.add_argument("--max-images", type=int, default=None, metavar="N", help=f"{max_images_help} (default: all)")
    p.add_argument("--inception-weights", default=None,
                   help="local InceptionV3 weights file (else Keras's ImageNet download; env "
                        "GANWORKS_INCEPTION_WEIGHTS)")
    p.add_argument("--json", default=None, metavar="FILE", help="results file (default <run>/evaluation.json)")
    return add_verbose(one_line_errors(p))


def evaluation_args(parser, argv=None):
    """Parse an evaluation_parser's arguments -> (args, [metric names]); one-line errors for a missing
    --checkpoint or a --max-images below 1. TensorFlow's start-up logging is quietened (quiet_tensorflow)
    unless --verbose."""
    from pathlib import Path

    args = parser.parse_args(argv)
    if not Path(args.checkpoint).exists():
        parser.error(f"--checkpoint not found: {args.checkpoint}")
    if args.max_images is not None and args.max_images < 1:
        parser.error("--max-images must be positive")
    quiet_tensorflow(args.verbose)
    return args, [m.strip() for m in args.metrics.split(",") if m.strip()]


def results_path(checkpoint, given=None, name: str = "evaluation.json"):
    """Where an evaluation writes `name`: the path a flag gave (--json, --sheet), else the run folder of
    --checkpoint (common.runtime.generator.run_folder)."""
    from pathlib import Path

    from common.runtime.generator import run_folder

    return Path(given) if given else run_folder(checkpoint) / name
