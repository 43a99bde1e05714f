"""notebooks/watches.ipynb, executed as a user runs it: the very .ipynb file, in a Jupyter kernel of this
interpreter (nbclient + ipykernel), on the built-in demo data at a tiny size, with parameters injected
papermill-style after the cell tagged `parameters` (W&B disabled, a tiny random feature model saved as .keras);
the data is first cleaned by its watches.prepare cell."""

import json
import re
import sys
from pathlib import Path

import ipykernel  # noqa: F401 - the kernel the notebook runs in
import nbclient
import nbformat

from tests.notebook_params import assert_sample_sheets, parameters

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "watches.ipynb"
# the notebook's StyleGAN2 demo (STYLEGAN2 = True, --cfg cpu) with tinier networks, one step a run (each new set
# of StyleGAN2's phases is traced anew: step 0 has all four, step 1 the main ones); the sample sheets are those
# written at the end of each run (--sample-every is larger than the run)
TINY = ("--model stylegan2 --cfg cpu --image-size 16 --latent-dim 8 --w-dim 8 --channel-base 64 --channel-max 8 "
        "--batch-size 4 --mbstd-group 2 --epochs 1 --steps-per-epoch 1 --sample-every 100")


def test_parameters_and_no_hidden_failures():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    _, p = parameters(nb)
    assert p["DATA"] == "demo" and p["RUN_ID"] == "" and p["EVAL_EXTRACTOR"] == "inception"
    assert "--max-duration 11h30m" in p["TRAIN_ARGS"] and "--max-duration 11h30m" in p["STYLEGAN2_ARGS"]
    assert p["STYLEGAN2"] is False and "--model stylegan2 --cfg cpu" in p["STYLEGAN2_DEMO_ARGS"]
    assert p["PREPARE"] is True and p["PREPARE_ARGS"] == "--size 128"
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "2>/dev/null" not in code and not re.search(r"^\s*[!%]", code, re.MULTILINE)


def test_notebook_runs_end_to_end_on_demo_data(tmp_path, monkeypatch, feature_model):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    out = tmp_path / "run"
    nb = nbformat.read(NOTEBOOK, as_version=4)
    at, _ = parameters(nb)
    overrides = {"OUT": str(out), "WANDB": "disabled", "STYLEGAN2": True, "STYLEGAN2_DEMO_ARGS": TINY, "SEEDS": "0-3",
                 "STYLE_MIX": "0,1:2,3", "EVAL_NUM_FAKE": 16, "EVAL_EXTRACTOR": str(feature_model)}
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell("\n".join(f"{k} = {v!r}" for k, v in overrides.items())))
    check = nbformat.v4.new_code_cell("import sys, json\nprint(json.dumps({'prefix': sys.prefix}))")
    nb.cells.append(check)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(REPO)}}).execute()
    text = "".join(o.get("text", "") for o in check.outputs if o.output_type == "stream")
    assert json.loads(text.strip().splitlines()[-1])["prefix"] == sys.prefix
    states = sorted((out / "checkpoints").glob("ckpt-*/state.json"))
    assert json.loads(states[-1].read_text())["step"] == 2  # 1 step, then resumed for one more epoch
    config = json.loads((out / "config.json").read_text())
    assert (config["model"], config["cfg"], config["image_size"]) == ("stylegan2", "cpu", 16)
    # the prepare cell cleaned the demo set into OUT-data (48 distinct 64-px watches), and the training read that
    prepared = json.loads((tmp_path / "run-data" / "summary.json").read_text())
    assert prepared["counts"]["written"] == 48 and prepared["counts"]["unreadable"] == 0
    assert len(list((tmp_path / "run-data").glob("img*.png"))) == 48 and config["data"] == str(tmp_path / "run-data")
    assert assert_sample_sheets(out, 2) == ["step_000000001.png", "step_000000002.png"]  # each run's last step
    # the generate cell's images and sheets, then the truncation and style-mixing sheets (inference library)
    assert sorted(str(p.relative_to(out / "generated")) for p in (out / "generated").rglob("*.png")) == [
        "grid.png", "interpolation_0_1.png", *(f"seeds/seed000{s}.png" for s in range(4)), "style_mixing.png",
        "truncation.png"]
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "display_data" and "image/png" in o.get("data", {})]
    assert len(images) == 5  # the latest samples, the loss plot, the grid, truncation, style mixing
    results = json.loads((out / "evaluation.json").read_text())
    assert results["n_fake"] == 16 and "fid" in results and "recall" in results
