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
    """Make an argparse parser's errors one line, `<prog>: error: <message>`, exit 2.

    argparse would print its whole usage block first; a user needs only the line that
    says what is wrong. Returns the parser.
    """
    def error(message):
        parser.exit(2, f"{parser.prog}: error: {message}\n")

    parser.error = error
    return parser


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


def evaluation_parser(prog: str, doc: str, *, data_help: str, metrics: str, max_images_help: str):
    """The flags every `python -m <task>.evaluate` shares, on a parser with one-line errors:
    --checkpoint (anything common.runtime.generator.load takes), --data, --metrics, --max-images,
    --inception-weights and --json (default <run>/evaluation.json)."""
    p = argparse.ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="run folder, checkpoint folder or exported .keras generator")
    p.add_argument("--data", required=True, help=data_help)
    p.add_argument("--metrics", default=metrics, help=f"comma list ('' for none) ({metrics})")
    p.add_argument("--max-images", type=int, default=None, help=max_images_help)
    p.add_argument("--inception-weights", default=None,
                   help="local InceptionV3 weights file (else Keras's ImageNet download; env GANWORKS_INCEPTION_WEIGHTS)")
    p.add_argument("--json", default=None, help="results file (default <run>/evaluation.json)")
    return one_line_errors(p)


def evaluation_args(parser, argv=None):
    """Parse an evaluation_parser's arguments -> (args, [metric names]); one-line errors for a missing
    --checkpoint or a --max-images below 1."""
    from pathlib import Path

    args = parser.parse_args(argv)
    if not Path(args.checkpoint).exists():
        parser.error(f"--checkpoint not found: {args.checkpoint}")
    if args.max_images is not None and args.max_images < 1:
        parser.error("--max-images must be positive")
    return args, [m.strip() for m in args.metrics.split(",") if m.strip()]


def results_path(checkpoint, given=None, name: str = "evaluation.json"):
    """Where an evaluation writes `name`: the path a flag gave (--json, --sheet), else the run folder of
    --checkpoint (common.runtime.generator.run_folder)."""
    from pathlib import Path

    from common.runtime.generator import run_folder

    return Path(given) if given else run_folder(checkpoint) / name
