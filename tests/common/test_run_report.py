"""report.html of a run folder (common.runtime.run_report): self-contained, what it shows, when it is written."""

from __future__ import annotations

import base64
import io
import json
import shlex
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from common.runtime.run_report import MAX_IMAGE_WIDTH, MAX_SAMPLES, rewrite_report, sample_sheets, write_report
from tests.common.test_plots import stylegan2_rows
from tests.common.tiny_models import COMMON, MODELS, task_and_parser

SHEETS = 20  # sample sheets in the fake run, every 100 steps


class Page(HTMLParser):
    """The parts of a page the tests look at: every tag with its attributes, tables' cells, <pre> texts, headings."""

    def __init__(self, text):
        super().__init__()
        self.tags, self.tables, self.pre, self.headings = [], [], [], []
        self._in, self._cell = [], None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in.append(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append(self._cell.strip())
            self._cell = None
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data
        if self._in and self._in[-1] == "pre":
            self.pre.append(data)
        if self._in and self._in[-1] in ("h2", "h3"):
            self.headings.append(data)

    def images(self):
        return [attrs for tag, attrs in self.tags if tag == "img"]

    def table_with(self, first_cell):
        """The rows of the first table one of whose rows starts with `first_cell`."""
        for table in self.tables:
            if any(row and row[0] == first_cell for row in table):
                return table
        raise AssertionError(f"no table has a row {first_cell!r}: {self.tables}")


def fake_run(root: Path, model="watches-stylegan2", sheets=SHEETS) -> Path:
    """A run folder as training leaves it: the config the train CLI resolves, a StyleGAN2-like metrics.jsonl,
    sample sheets every 100 steps (each a different grey) and the newest checkpoint's state.json."""
    task_name, flags, _ = MODELS[model]
    _, parse = task_and_parser(task_name)
    run = root / "runs" / "my-run"
    config = {**parse([*COMMON, *flags, "--out", str(run), "--epochs", "4"]), "steps_per_epoch": 500}  # (prepare's)
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True, default=str))
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in stylegan2_rows(60)))
    (run / "samples").mkdir()
    for k in range(1, sheets + 1):
        Image.fromarray(np.full((24, 40, 3), 10 * k, np.uint8)).save(run / "samples" / f"step_{100 * k:09d}.png")
    state = run / "checkpoints" / "ckpt-000002000"
    state.mkdir(parents=True)
    (state / "state.json").write_text(json.dumps({"step": 2000, "wandb_run_id": "abc123", "config": config}))
    return run


def decoded(uri) -> np.ndarray:
    assert uri.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))


def test_the_report_embeds_the_loss_panels_and_evenly_spaced_samples_with_the_newest(tmp_path):
    run = fake_run(tmp_path)
    page = Page(write_report(run).read_text())
    images = page.images()
    assert len(images) == 1 + MAX_SAMPLES + 1  # the loss panels, 8 spaced sheets and the newest
    losses = decoded(images[0]["src"])
    assert losses.shape[0] > 300 and losses.shape[1] > 600
    # the sheets in step order, from the first to the newest, each the image it was (its grey)
    greys = [int(decoded(img["src"])[0, 0, 0]) for img in images[1:]]
    assert greys[0] == 10 and greys[-1] == 10 * SHEETS and greys == sorted(greys) and len(set(greys)) == len(greys)
    text = (run / "report.html").read_text()
    assert f"{SHEETS} sample sheets in samples/" in text and "step 2000 (step_000002000.png)" in text
    assert "Generator losses" in text and "Regularisers" in text  # the panels named in the caption
    assert [h for h in page.headings if h in ("Run", "Resume", "Losses", "Samples over time", "Evaluation",
                                              "Config")] == ["Run", "Resume", "Losses", "Samples over time",
                                                             "Evaluation", "Config"]


def test_the_report_loads_nothing_and_runs_nothing(tmp_path):
    run = fake_run(tmp_path)
    page = Page(write_report(run).read_text())
    assert not [tag for tag, _ in page.tags if tag in ("script", "link", "iframe", "object", "embed")]
    for tag, attrs in page.tags:
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)  # no event handlers
            if name in ("src", "href"):
                assert value.startswith("data:image/png;base64,"), (tag, name, value[:40])
    assert "url(" not in (run / "report.html").read_text()


def test_the_config_table_marks_the_settings_given(tmp_path):
    run = fake_run(tmp_path)
    page = Page(write_report(run).read_text())
    config = json.loads((run / "config.json").read_text())
    table = page.table_with("batch_size")
    rows = {row[0]: row[1:] for row in table[1:]}
    assert set(rows) == set(config) - {"explicit_keys"}
    for key, value in config.items():  # each value exactly as saved (not rounded)
        if key != "explicit_keys":
            assert rows[key][0] == (value if isinstance(value, str) else json.dumps(value)), key
    assert rows["batch_size"] == [str(config["batch_size"]), "yes"]
    assert rows["model"] == ["stylegan2", "yes"]
    assert any(mark == "" for _, mark in rows.values())  # a preset's default
    status = {row[0]: row[1] for row in page.table_with("task")[1:]}
    assert status["newest checkpoint at step"] == "2000 of 2000"
    assert status["last logged step"] == "60" and status["W&B run id"] == "abc123"


@pytest.mark.parametrize("model", ["watches-stylegan2", "inpainting-improved", "night2day-resnet"])
def test_the_resume_command_continues_the_run_with_its_checkpoint_s_settings(model, tmp_path):
    from common.runtime.trainer import SESSION_KEYS, resumed_config

    run = fake_run(tmp_path, model)
    page = Page(write_report(run).read_text())
    (command,) = page.pre
    args = shlex.split(command)
    task_name = MODELS[model][0]
    assert args[:3] == ["python", "-m", f"{task_name}.train"]
    _, parse = task_and_parser(task_name)
    given = parse(args[3:])
    saved = json.loads((run / "config.json").read_text())
    assert given["out"] == str(run) and given["resume"] == "auto"
    merged, changed = resumed_config(given, saved, ())
    assert changed == {}
    assert {k: v for k, v in merged.items() if k not in SESSION_KEYS} == \
        {k: v for k, v in saved.items() if k not in SESSION_KEYS}
    assert "--wandb-run-id abc123" in (run / "report.html").read_text()


# what each task's evaluate writes (its evaluation.json's shape)
EVALUATIONS = {
    "night2day": ({"checkpoint": "runs/my-run", "model": "resnet", "fid": 81.5, "kid": 0.0412,
                   "cycle_night_psnr": 24.1, "n_test_night": 12,
                   "skipped_files": [{"path": "data/testA/bad.png", "reason": "empty file (0 bytes)"}]},
                  [("fid", "81.5000"), ("kid", "0.0412")], ("data/testA/bad.png", "empty file (0 bytes)")),
    "inpainting": ({"images": 6, "mask": "centre", "image_size": 32, "seed": 0,
                    "methods": {"model": {"psnr_hole": 21.5, "ssim_full": 0.93},
                                "telea": {"psnr_hole": 18.25, "ssim_full": 0.91}}, "notes": ["fid skipped"]},
                   [("images", "6"), ("mask", "centre")], ("telea", "18.2500", "0.9100")),
    "watches": ({"n_real": 48, "n_fake": 24, "extractor": "inception", "fid": 120.25, "is": 1.5,
                 "precision": 0.5, "recall": 0.25}, [("fid", "120.2500"), ("recall", "0.2500")], None),
}


@pytest.mark.parametrize("task_name", sorted(EVALUATIONS))
def test_the_evaluation_appears_once_an_evaluate_result_exists(task_name, tmp_path):
    model = {"night2day": "night2day-resnet", "inpainting": "inpainting-improved",
             "watches": "watches-dcgan"}[task_name]
    run = fake_run(tmp_path, model)
    (run / "metrics.jsonl").unlink()  # (no loss panels to draw: three pages in a second)
    text = write_report(run).read_text()
    assert "not evaluated yet" in text and f"python -m {task_name}.evaluate --checkpoint {run}" in text
    results, scalars, row = EVALUATIONS[task_name]
    (run / "evaluation.json").write_text(json.dumps(results))
    # evaluate rewrites the report of the run its --checkpoint is in (here: a checkpoint folder inside it)
    assert rewrite_report(run / "checkpoints" / "ckpt-000002000", run / "evaluation.json") == run / "report.html"
    page = Page((run / "report.html").read_text())
    assert "not evaluated yet" not in (run / "report.html").read_text()
    measures = page.table_with("measure")
    for name, value in scalars:
        assert [name, value] in measures
    if row is not None:
        assert any(r == list(row) for table in page.tables for r in table), page.tables
    # the training-end rewrite keeps the evaluation
    assert "not evaluated yet" not in write_report(run).read_text()


def test_an_evaluation_outside_a_run_folder_writes_no_report(tmp_path):
    (tmp_path / "model.keras").write_bytes(b"")
    (tmp_path / "e.json").write_text("{}")
    assert rewrite_report(tmp_path / "model.keras", tmp_path / "e.json") is None
    assert not (tmp_path / "report.html").exists()


def test_an_empty_run_folder_gives_a_page_that_says_what_is_missing(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"task": "watches", "out": str(tmp_path)}))
    page = Page(write_report(tmp_path).read_text())
    text = (tmp_path / "report.html").read_text()
    assert page.images() == [] and "nothing logged yet" in text and "no sample sheets yet" in text


@pytest.mark.parametrize("count, shown", [(0, []), (3, [0, 1, 2]), (9, list(range(9))),
                                          (10, [0, 1, 2, 3, 4, 6, 7, 8, 9]),
                                          (100, [0, 12, 25, 37, 50, 62, 74, 87, 99])])
def test_sample_sheets_are_evenly_spaced_with_the_newest(count, shown, tmp_path):
    (tmp_path / "samples").mkdir()
    for k in range(count):
        (tmp_path / "samples" / f"step_{k:09d}.png").write_bytes(b"")
    (tmp_path / "samples" / "notes.png").write_bytes(b"")  # not a sheet
    picked, total = sample_sheets(tmp_path / "samples")
    assert total == count and [step for step, _ in picked] == shown


def test_a_sheet_wider_than_the_page_is_embedded_scaled_down_and_the_file_is_left_as_it_is(tmp_path):
    run = fake_run(tmp_path, sheets=1)
    (run / "metrics.jsonl").unlink()
    wide = np.zeros((30, 3 * MAX_IMAGE_WIDTH, 4), np.uint8)
    wide[..., 0], wide[..., 3] = 200, 255
    Image.fromarray(wide).save(run / "samples" / "step_000000200.png")
    (first, second) = [decoded(img["src"]) for img in Page(write_report(run).read_text()).images()]
    assert first.shape == (24, 40, 3)  # as it was
    assert second.shape == (10, MAX_IMAGE_WIDTH, 3) and second[5, 5, 0] == 200
    assert Image.open(run / "samples" / "step_000000200.png").size == (3 * MAX_IMAGE_WIDTH, 30)
