"""notebooks/inpainting.ipynb, executed as a user runs it: the very .ipynb file, in a Jupyter kernel of this
interpreter (nbclient + ipykernel), on the built-in demo data at a tiny size.

Parameters are injected papermill-style: a cell inserted right after the cell tagged `parameters`
overrides its values (demo data, a tiny model, a temporary run folder, W&B disabled, no FID/KID or
perceptual distance because their ImageNet weights cannot be downloaded offline).
"""

import json
import re
import sys
from pathlib import Path

import ipykernel  # noqa: F401 - the kernel the notebook runs in (the `test` extra installs it)
import nbclient
import nbformat

from tests.notebook_params import assert_sample_sheets, parameters

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "inpainting.ipynb"
TINY = ("--image-size 32 --filters 4 --bottleneck 16 --batch-size 2 --epochs 1 --steps-per-epoch 2 "
        "--sample-every 100 --checkpoint-every 2")  # the sheets: the one at the end of each run


def read_notebook():
    return nbformat.read(NOTEBOOK, as_version=4)


def test_parameters_and_no_hidden_failures():
    nb = read_notebook()
    nbformat.validate(nb)
    _, p = parameters(nb)
    for name in ("REPO_URL", "DATA", "PLACES", "OUT", "RUN_ID", "WANDB", "TRAIN_ARGS", "DEMO_ARGS", "EXTRA_EPOCHS",
                 "MY_PHOTO", "MY_MASK", "EVAL_METRICS", "PERCEPTUAL"):
        assert name in p, f"parameters cell lacks {name}"
    # the real run is the experiment's preset (no --model: improved is the default), stopping before 12 h
    assert "--max-duration 11h30m" in p["TRAIN_ARGS"] and "--model" not in p["TRAIN_ARGS"]
    assert p["DATA"] == "demo" and p["PLACES"] == "" and p["RUN_ID"] == ""
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "2>/dev/null" not in code and not re.search(r"^\s*[!%]", code, re.MULTILINE)


def test_notebook_runs_end_to_end_on_demo_data(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    out = tmp_path / "run"
    nb = read_notebook()
    at, _ = parameters(nb)
    overrides = {"OUT": str(out), "WANDB": "disabled", "DEMO_ARGS": TINY, "EVAL_METRICS": "", "PERCEPTUAL": "off",
                 "N_FILL": 2, "EVAL_MAX_IMAGES": 4}
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell("\n".join(f"{k} = {v!r}" for k, v in overrides.items())))
    check = nbformat.v4.new_code_cell("import sys, json\nprint(json.dumps({'prefix': sys.prefix}))")
    nb.cells.append(check)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(REPO)}}).execute()

    def text(cell):
        return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")

    assert json.loads(text(check).strip().splitlines()[-1])["prefix"] == sys.prefix
    config = json.loads((out / "config.json").read_text())
    assert (config["model"], config["image_size"], config["epochs"]) == ("improved", 32, 2)  # resumed for 1 more
    states = sorted((out / "checkpoints").glob("ckpt-*/state.json"))
    assert json.loads(states[-1].read_text())["step"] == 4
    assert assert_sample_sheets(out, 4) == ["step_000000002.png", "step_000000004.png"]  # each run's last step
    printed = "\n".join(text(c) for c in nb.cells if c.cell_type == "code")
    assert "resuming from" in printed and "at step 2/4" in printed
    filled = sorted(p.name for p in (out / "filled").glob("*.png"))
    assert len([n for n in filled if not n.endswith("_mask.png")]) == 2
    assert len([n for n in filled if n.endswith("_mask.png")]) == 2
    results = json.loads((out / "evaluation.json").read_text())
    assert results["images"] == 4 and set(results["methods"]) == {"model", "telea", "ns"}
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "display_data" and "image/png" in o.get("data", {})]
    assert len(images) == 4  # latest samples, loss plot, a filled photo, the evaluation sheet
