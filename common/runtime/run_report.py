"""`report.html` in a run folder: one static page a user can open or download to see how a run went.

Self-contained: the images are embedded as data: URIs and the page has no scripts and loads nothing
(a Kaggle output or a Drive folder shows it as it is). Sections: where the run stands and how to resume
it, the loss panels (common.runtime.plots), sample sheets over time (at most `MAX_SAMPLES` evenly spaced
ones and the newest, with how many there are), the evaluation (evaluation.json and the task's comparison
sheet, once `<task>.evaluate` has run) and the run config. Written at the end of every training run
(common.runtime.trainer) and again by each task's evaluate.
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
import os
import re
import shlex
from pathlib import Path

log = logging.getLogger(__name__)

REPORT_FILE = "report.html"
EVALUATION_FILE = "evaluation.json"  # where <task>.evaluate writes its results by default (common.report.results_path)
EVALUATION_SHEET = "evaluation.png"  # inpainting's side-by-side comparison sheet
MAX_SAMPLES = 8  # sample sheets embedded, evenly spaced over the run, besides the newest
MAX_IMAGE_WIDTH = 1024  # wider sheets are scaled down in the page (the PNGs in samples/ stay as they are)
MAX_TABLE_ROWS = 50  # rows of a list (e.g. skipped files) shown in an evaluation table

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1450px; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
h3 { font-size: 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f2f2f2; }
code, pre { background: #f5f5f5; padding: 0.1em 0.3em; }
pre { padding: 0.6em; white-space: pre-wrap; word-break: break-all; }
figure { margin: 0.8em 0; } figcaption { font-size: 0.9em; color: #555; }
img { max-width: 100%; height: auto; border: 1px solid #ddd; }
.note { color: #555; font-size: 0.9em; }
.gallery { display: flex; flex-wrap: wrap; gap: 0.8em; align-items: flex-start; }
.gallery figure { margin: 0; max-width: 100%; }
"""


def _read_json(path: Path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def _png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _image_uri(path: Path) -> str | None:
    """A PNG file as a data: URI, scaled down to MAX_IMAGE_WIDTH; None if it cannot be read."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
            if image.width <= MAX_IMAGE_WIDTH and image.format == "PNG":
                return _png_data_uri(Path(path).read_bytes())
            image = image.convert("RGB")
            if image.width > MAX_IMAGE_WIDTH:
                height = max(1, round(image.height * MAX_IMAGE_WIDTH / image.width))
                image = image.resize((MAX_IMAGE_WIDTH, height), Image.LANCZOS)
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            return _png_data_uri(buffer.getvalue())
    except (OSError, ValueError) as exc:
        log.warning("report: cannot embed %s: %s", path, exc)
        return None


def _img(uri: str, alt: str, caption: str) -> str:
    return (f'<figure><img src="{uri}" alt="{html.escape(alt)}"><figcaption>{html.escape(caption)}'
            "</figcaption></figure>")


def _cell(value) -> str:
    if isinstance(value, bool) or value is None:
        return html.escape(str(value))
    if isinstance(value, float):
        text = f"{value:.4f}" if 1e-3 <= abs(value) < 1e6 or value == 0 else f"{value:.6g}"
        return f'<td class="num">{text}</td>'
    if isinstance(value, int):
        return f'<td class="num">{value}</td>'
    if isinstance(value, (dict, list)):
        return f"<td><code>{html.escape(json.dumps(value, default=str))}</code></td>"
    return f"<td>{html.escape(str(value))}</td>"


def _td(value) -> str:
    cell = _cell(value)
    return cell if cell.startswith("<td") else f"<td>{cell}</td>"


def _table(header, rows, css_class: str) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(_td(v) for v in row) + "</tr>" for row in rows)
    return f'<table class="{css_class}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _is_scalar(value) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def evaluation_tables(results: dict) -> str:
    """The results of an evaluation (any task's evaluation.json) as HTML tables: the top level's scalars in
    one table, a {row: {column: scalar}} mapping (e.g. inpainting's methods) as a matrix, another mapping
    as name/value rows, a list of records (e.g. skipped files) with a column per key, other lists as items."""
    parts = []
    scalars = [(k, v) for k, v in results.items() if _is_scalar(v)]
    if scalars:
        parts.append(_table(("measure", "value"), scalars, "evaluation"))
    for key, value in results.items():
        if _is_scalar(value):
            continue
        title = f"<h3>{html.escape(key)}</h3>"
        if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            columns = list(dict.fromkeys(c for v in value.values() for c in v))
            rows = [(name, *(row.get(c) for c in columns)) for name, row in value.items()]
            parts.append(title + _table((key, *columns), rows, "evaluation"))
        elif isinstance(value, dict):
            parts.append(title + (_table(("name", "value"), value.items(), "evaluation") if value
                                  else '<p class="note">none</p>'))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            columns = list(dict.fromkeys(c for v in value for c in v))
            rows = [tuple(v.get(c) for c in columns) for v in value[:MAX_TABLE_ROWS]]
            more = (f'<p class="note">and {len(value) - MAX_TABLE_ROWS} more (all of them in the JSON)</p>'
                    if len(value) > MAX_TABLE_ROWS else "")
            parts.append(title + _table(columns, rows, "evaluation") + more)
        elif isinstance(value, list):
            items = "".join(f"<li>{html.escape(str(v))}</li>" for v in value[:MAX_TABLE_ROWS])
            parts.append(title + (f"<ul>{items}</ul>" if value else '<p class="note">none</p>'))
    return "\n".join(parts)


def sample_sheets(samples_dir: Path, limit: int = MAX_SAMPLES) -> tuple[list[tuple[int, Path]], int]:
    """([(step, path)] to show: at most `limit` evenly spaced over the run and the newest, oldest first,
    how many sheets there are). Sheets are samples/step_<step>.png."""
    sheets = []
    for path in Path(samples_dir).glob("*.png") if Path(samples_dir).is_dir() else []:
        m = re.fullmatch(r"step_(\d+)", path.stem)
        if m:
            sheets.append((int(m.group(1)), path))
    sheets.sort()
    n = len(sheets)
    if n <= limit + 1:
        return sheets, n
    # `limit` evenly spaced from the first, then the newest
    picked = sorted({round(i * (n - 1) / limit) for i in range(limit)} | {n - 1})
    return [sheets[i] for i in picked], n


def _checkpoint_state(run_dir: Path) -> dict:
    """state.json of the newest checkpoint under checkpoints/ ({} if none)."""
    names = sorted(p for p in (run_dir / "checkpoints").glob("ckpt-*")
                   if re.fullmatch(r"ckpt-\d{9}", p.name) and (p / "state.json").is_file())
    return (_read_json(names[-1] / "state.json") or {}) if names else {}


def resume_command(config: dict, run_dir: Path | None = None) -> str:
    """The command that continues this run: its task's train CLI with its --out (and --model). A resumed run
    takes every other setting from its checkpoint (common.runtime.trainer.resumed_config), --resume auto
    being the default."""
    task = config.get("task", "<task>")
    args = ["python", "-m", f"{task}.train"]
    if config.get("model") is not None:
        args += ["--model", str(config["model"])]
    args += ["--out", str(config.get("out") or run_dir)]
    return shlex.join(args)


def _section(title: str, body: str, anchor: str) -> str:
    return f'<section id="{anchor}"><h2>{html.escape(title)}</h2>\n{body}\n</section>'


def _status(config, run_dir, state, records) -> str:
    rows = [("run folder", str(run_dir)), ("task", config.get("task")), ("model", config.get("model"))]
    try:
        total = int(config["epochs"]) * int(config["steps_per_epoch"])
    except (KeyError, TypeError, ValueError):
        total = None
    if state.get("step") is not None:
        rows.append(("newest checkpoint at step", f"{state['step']}" + (f" of {total}" if total else "")))
    elif total:
        rows.append(("steps planned", total))
    if records:
        rows.append(("last logged step", records[-1]["step"]))
    if state.get("wandb_run_id"):
        rows.append(("W&B run id", state["wandb_run_id"]))
    return _table(("", "value"), [r for r in rows if r[1] is not None], "status")


def _resume(config, run_dir, state) -> str:
    command = resume_command(config, run_dir)
    body = (f"<pre>{html.escape(command)}</pre>"
            '<p class="note">Run it where the run was started (the same --out); every other setting comes from '
            "the newest checkpoint, and a setting given on the command line changes it (each change is "
            "printed).")
    if state.get("wandb_run_id"):
        body += (f" In a new session without this folder, add <code>--wandb-run-id "
                 f"{html.escape(str(state['wandb_run_id']))}</code>: an online run's checkpoints are W&amp;B "
                 "artifacts it downloads.")
    return body + "</p>"


def _losses(records, task, name) -> str:
    if not records:
        return '<p class="note">nothing logged yet (metrics.jsonl is empty or missing)</p>'
    from common.runtime.plots import loss_figure

    fig = loss_figure(records, task, name)
    if fig is None:
        return '<p class="note">no scalar values in metrics.jsonl</p>'
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=80)
    finally:
        plt.close(fig)
    titles = ", ".join(ax.get_title() for ax in fig.axes)
    return _img(_png_data_uri(buffer.getvalue()), "loss panels",
                f"{len(records)} logged steps in metrics.jsonl; panels: {titles}")


def _samples(run_dir) -> str:
    shown, count = sample_sheets(run_dir / "samples")
    if not count:
        return '<p class="note">no sample sheets yet (samples/ is empty)</p>'
    note = (f"{count} sample sheets in samples/; " + (f"showing {len(shown)}: {MAX_SAMPLES} evenly spaced over "
            "the run and the newest" if len(shown) < count else "showing all of them"))
    figures = [_img(uri, f"samples at step {step}", f"step {step} ({path.name})")
               for step, path in shown if (uri := _image_uri(path)) is not None]
    return f'<p class="note">{html.escape(note)}</p>\n<div class="gallery">\n' + "\n".join(figures) + "\n</div>"


def _evaluation(evaluation: Path, sheet: Path) -> str | None:
    results = _read_json(evaluation) if evaluation.is_file() else None
    if not isinstance(results, dict):
        return None
    when = f"from {evaluation}"
    body = f'<p class="note">{html.escape(when)}</p>\n' + evaluation_tables(results)
    if sheet.is_file() and (uri := _image_uri(sheet)) is not None:
        body += "\n" + _img(uri, "evaluation sheet", f"comparison sheet ({sheet.name})")
    return body


def _config(config) -> str:
    given = set(config.get("explicit_keys", ()))
    # exactly as saved (json), not rounded as the evaluation's numbers are
    rows = [(k, v if isinstance(v, str) else json.dumps(v, default=str), "yes" if k in given else "")
            for k, v in sorted(config.items()) if k != "explicit_keys"]
    return ('<p class="note">The run config as saved in config.json; "given" marks the settings given on the '
            "command line (or a --config file), the rest are the preset's defaults.</p>"
            + _table(("setting", "value", "given"), rows, "config"))


def write_report(run_dir, *, evaluation=None, sheet=None) -> Path:
    """Write <run_dir>/report.html (atomically) from what the run folder holds; returns its path.

    run_dir: a run folder (config.json, metrics.jsonl, samples/, checkpoints/). evaluation: the results JSON
    to show (default <run_dir>/evaluation.json; the section is left out while there is none); sheet: an
    evaluation image shown under it (default <run_dir>/evaluation.png)."""
    from common.runtime.plots import read_metrics

    run_dir = Path(run_dir)
    config = _read_json(run_dir / "config.json") or {}
    task = config.get("task")
    state = _checkpoint_state(run_dir)
    records = read_metrics(run_dir / "metrics.jsonl")
    evaluation = Path(evaluation) if evaluation is not None else run_dir / EVALUATION_FILE
    sheet = Path(sheet) if sheet is not None else run_dir / EVALUATION_SHEET
    name = run_dir.resolve().name
    sections = [
        _section("Run", _status(config, run_dir, state, records), "run"),
        _section("Resume", _resume(config, run_dir, state), "resume"),
        _section("Losses", _losses(records, task, name), "losses"),
        _section("Samples over time", _samples(run_dir), "samples"),
    ]
    evaluated = _evaluation(evaluation, sheet)
    if evaluated is not None:
        sections.append(_section("Evaluation", evaluated, "evaluation"))
    else:
        sections.append(_section("Evaluation", f'<p class="note">not evaluated yet: run <code>python -m '
                                 f'{html.escape(str(task or "<task>"))}.evaluate --checkpoint '
                                 f'{html.escape(str(config.get("out") or run_dir))}</code> (writes '
                                 f"{EVALUATION_FILE} and rewrites this page)</p>", "evaluation"))
    if config:
        sections.append(_section("Config", _config(config), "config"))
    title = html.escape(f"{task or 'run'} - {name}")
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{title}</title><style>{_STYLE}</style></head>\n<body>\n<h1>{title}</h1>\n"
            + "\n".join(sections) + "\n</body></html>\n")
    target = run_dir / REPORT_FILE
    tmp = run_dir / f".{REPORT_FILE}.tmp-{os.getpid()}"
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, target)
    return target


def rewrite_report(checkpoint, evaluation, sheet=None) -> Path | None:
    """Rewrite the report of the run `checkpoint` belongs to (what a user gave <task>.evaluate as --checkpoint)
    with the evaluation just written; None, and nothing written, when it is not in a run folder (no
    config.json) or the page cannot be written (a warning: the evaluation itself is done)."""
    from common.runtime.generator import run_folder

    folder = run_folder(checkpoint)
    if not (folder / "config.json").is_file():
        return None
    try:
        return write_report(folder, evaluation=evaluation, sheet=sheet)
    except Exception as exc:  # noqa: BLE001 - the evaluation is written; the page is a view of it
        log.warning("could not write %s: %s", folder / REPORT_FILE, exc)
        return None
