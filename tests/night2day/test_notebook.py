"""notebooks/night2day.ipynb, executed as a user runs it: the very .ipynb file, in a Jupyter kernel
(nbclient + ipykernel) of this interpreter, on the built-in demo data at a tiny size.

Parameters are injected papermill-style: a cell inserted right after the cell tagged `parameters`
overrides its values (demo data, a tiny ResNet, a temporary run folder, W&B disabled, no FID/KID
because the InceptionV3 weights cannot be downloaded offline).
"""

import importlib.util
import json
import re
import sys
from pathlib import Path

import ipykernel  # noqa: F401 - the kernel the notebook runs in (the `test` extra installs it)
import nbclient
import nbformat
import pytest

from tests.notebook_params import assert_sample_sheets

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "night2day.ipynb"
CELL_TIMEOUT = 600  # seconds per cell; the whole notebook takes about a minute on 2 CPU cores
TINY = ("--model resnet --image-size 32 --filters 4 --res-blocks 1 --epochs 1 --steps-per-epoch 2 "
        "--sample-every 100")  # the sample sheet: the one at the end of the run


def read_notebook():
    return nbformat.read(NOTEBOOK, as_version=4)


def parameters_index(nb) -> int:
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"expected exactly one cell tagged 'parameters', found {len(tagged)}"
    assert nb.cells[tagged[0]].cell_type == "code"
    return tagged[0]


def code_cell(nb, marker):
    """The one code cell whose source contains `marker`."""
    found = [c for c in nb.cells if c.cell_type == "code" and marker in c.source]
    assert len(found) == 1, f"{len(found)} code cells contain {marker!r}"
    return found[0]


def parameter_defaults(nb) -> dict:
    namespace = {}
    exec(nb.cells[parameters_index(nb)].source, namespace)
    return {k: v for k, v in namespace.items() if k.isupper()}


def test_parameters_cell_and_defaults():
    nb = read_notebook()
    nbformat.validate(nb)
    p = parameter_defaults(nb)
    for name in ("REPO_URL", "DATA", "OUT", "RUN_ID", "WANDB", "WANDB_ENTITY", "TRAIN_ARGS", "DEMO_ARGS",
                 "MY_PHOTOS", "N_TRANSLATE", "EVAL_METRICS"):
        assert name in p, f"parameters cell lacks {name}"
    # the full run is the source notebook's multi-scale preset, stopping before Kaggle's 12 h
    assert "--epochs 30000" in p["TRAIN_ARGS"] and "--max-duration 11h30m" in p["TRAIN_ARGS"]
    assert "--model" not in p["TRAIN_ARGS"]  # multiscale is the default preset
    # the demo data never gets the 30,000-step command
    assert "30000" not in p["DEMO_ARGS"] and "--epochs" in p["DEMO_ARGS"]
    assert p["EVAL_METRICS"] == "fid,kid" and p["RUN_ID"] == "" and p["MY_PHOTOS"] == ""


def test_no_hidden_failures_or_made_up_paths():
    nb = read_notebook()
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "2>/dev/null" not in code and "|| (" not in code
    assert "my-night-photos" not in code
    # `!cmd` does not fail the cell when cmd fails: every command goes through run(), which raises
    assert not re.search(r"^\s*[!%]", code, re.MULTILINE)


def test_placeholder_repo_url_fails_loudly(tmp_path, monkeypatch):
    """Outside a checkout and not installed, the install cell refuses the placeholder URL (no git call)."""
    nb = read_notebook()
    install = code_cell(nb, "find_spec(")
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a, **k: None if name == "night2day" else real_find_spec(name, *a, **k))
    monkeypatch.chdir(tmp_path)
    calls = []
    monkeypatch.setattr("subprocess.Popen", lambda *a, **k: calls.append(a) or pytest.fail("ran a command"))
    namespace = dict(parameter_defaults(nb))
    with pytest.raises(RuntimeError, match="REPO_URL"):
        exec(install.source, namespace)
    assert calls == []
    assert not (tmp_path / "ganworks").exists()


def test_notebook_runs_end_to_end_on_demo_data(tmp_path, monkeypatch):
    from night2day.demo import demo_dataset

    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    out = tmp_path / "run"
    n_translate = 3

    nb = read_notebook()
    at = parameters_index(nb)
    overrides = {"DATA": "demo", "OUT": str(out), "WANDB": "disabled", "DEMO_ARGS": TINY, "EVAL_METRICS": "",
                 "N_TRANSLATE": n_translate}
    injected = nbformat.v4.new_code_cell("# injected by tests/night2day/test_notebook.py\n" + "\n".join(
        f"{k} = {v!r}" for k, v in overrides.items()), metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(at + 1, injected)
    check = nbformat.v4.new_code_cell("import sys, json\nprint(json.dumps({'prefix': sys.prefix}))")
    nb.cells.append(check)

    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(REPO)}})
    client.execute()  # raises CellExecutionError naming the cell if any cell fails

    def text(cell):
        return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")

    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not [o for o in cell.outputs if o.output_type == "error"], cell.source[:200]

    # the kernel is this interpreter's environment (the .venv), and nothing was cloned or installed
    assert json.loads(text(check).strip().splitlines()[-1])["prefix"] == sys.prefix
    install = code_cell(nb, "find_spec(")
    assert "already installed" in text(install)
    assert not (REPO / "ganworks" / "setup.cfg").exists()  # no clone (ganworks/ itself is the app package)

    # the tiny demo configuration ran, not the 30,000-step command
    config = json.loads((out / "config.json").read_text())
    assert (config["model"], config["image_size"], config["epochs"], config["steps_per_epoch"]) == (
        "resnet", 32, 1, 2)
    train = code_cell(nb, '"night2day.train"')
    command = next(line for line in text(train).splitlines() if line.startswith("$ "))
    assert "-m night2day.train --data demo" in command and TINY in command and "30000" not in command

    # checkpoint, sample grid, loss plot, translated images with their sheets, evaluation
    states = sorted((out / "checkpoints").glob("ckpt-*/state.json"))
    assert states and json.loads(states[-1].read_text())["step"] == 2
    assert assert_sample_sheets(out, 2) == ["step_000000002.png"]
    assert (out / "losses.png").is_file()
    night = sorted(p.stem for p in (demo_dataset() / "testA").iterdir() if not p.name.startswith("."))
    expected = night[:n_translate]
    translated = out / "translated"
    assert sorted(p.stem for p in translated.glob("*.png") if not p.stem.endswith("_grid")) == expected
    assert sorted(p.stem for p in translated.glob("*_grid.png")) == [f"{s}_grid" for s in expected]
    results = json.loads((out / "evaluation.json").read_text())
    assert results["n_test_night"] == len(night) and "cycle_night_psnr" in results
    assert not any("fid" in k for k in results)

    # the samples and a translated sheet were displayed as images; the run id cell says why there is none
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "display_data" and "image/png" in o.get("data", {})]
    assert len(images) == 3  # latest sample grid, loss plot, one translated sheet
    run_id_cell = code_cell(nb, '"wandb_run_id"')
    assert "no W&B run id (W&B disabled)" in text(run_id_cell)
