"""A run stopped after its first epoch and resumed ends exactly where the uninterrupted run ends - every
variable a checkpoint holds (networks, optimizer slots, EMA copies, counters, pools) and every logged
value. One test for every task, through their train CLIs.

Two presets are left to tests of their own, because at test size they take minutes to compile on two
cores: StyleGAN2 (tests/watches/test_stylegan2_cli.py kills a run mid-epoch and resumes it to the
uninterrupted run, ADA's state included) and the multi-scale CycleGAN (its step is the ResNet's, the
networks aside; tests/night2day/test_cli.py resumes it)."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pytest

from common.runtime import checkpoint as ckpt
from tests.common.tiny_models import COMMON, MODELS

RUN = ("--steps-per-epoch", "2", "--checkpoint-every", "2", "--sample-every", "100", "--deterministic", "true")


def train(name, out, epochs):
    task, flags, _ = MODELS[name]
    return importlib.import_module(f"{task}.train").main([*COMMON, *flags, *RUN, "--epochs", str(epochs),
                                                         "--out", str(out)])


def saved(run):
    """{identity: value} of the run's newest checkpoint, as it is on disk."""
    path = ckpt.CheckpointManager(run / "checkpoints").latest()
    names = ckpt.read_state(path)["variable_keys"]
    with np.load(path / ckpt.VARIABLES_FILE) as data:
        return ckpt.read_state(path)["step"], {key: data[f"v{i:05d}"] for i, key in enumerate(names)}


RESUMED = sorted(set(MODELS) - {"watches-stylegan2", "night2day-multiscale"})


@pytest.mark.parametrize("name", RESUMED)
def test_a_resumed_run_ends_exactly_where_the_uninterrupted_one_does(name, tmp_path):
    assert train(name, tmp_path / "full", 2) == 0
    assert train(name, tmp_path / "cut", 1) == 0
    assert saved(tmp_path / "cut")[0] == 2
    assert train(name, tmp_path / "cut", 2) == 0
    (full_step, full), (cut_step, cut) = saved(tmp_path / "full"), saved(tmp_path / "cut")
    assert full_step == cut_step == 4 and sorted(full) == sorted(cut)
    for key in full:
        np.testing.assert_allclose(cut[key], full[key], atol=1e-6, rtol=0, err_msg=key)
    logs = [[json.loads(line) for line in (tmp_path / run / "metrics.jsonl").read_text().splitlines()]
            for run in ("full", "cut")]
    assert [r["step"] for r in logs[1]] == [1, 2, 3, 4]
    for a, b in zip(*logs):
        assert a == pytest.approx(b, abs=1e-6)
