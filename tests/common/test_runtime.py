"""The training runtime: config resolution, checkpoints, exact resume, interrupts, NaN guard, W&B."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from common.runtime import checkpoint as ckpt
from common.runtime.config import add_runtime_arguments, parse_duration, resolve_config
from common.runtime.tracking import LocalArtifactStore
from common.runtime.trainer import train
from tests.common.toy_gan import ToyTask, parse

REPO = Path(__file__).resolve().parents[2]


def toy_config(tmp_path, *args):
    return parse(["--out", str(tmp_path), "--steps-per-epoch", "4", *args])


def weights_of(model):
    return [np.asarray(v) for v in ckpt.collect_variables(model)]


def read_log(out):
    return [json.loads(line) for line in (Path(out) / "metrics.jsonl").read_text().splitlines()]


# --------------------------------------------------------------------------- config
def make_parser():
    p = argparse.ArgumentParser(prog="train")
    add_runtime_arguments(p)
    p.add_argument("--model", default=argparse.SUPPRESS)
    p.add_argument("--lr", type=float, default=argparse.SUPPRESS)
    return p


PRESETS = {"small": {"lr": 0.1, "batch_size": 4}, "big": {"lr": 0.2, "batch_size": 8, "epochs": 7}}


def test_config_precedence_is_defaults_preset_file_flags(tmp_path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("model: big\nbatch-size: 16\nlr: 0.3\n")
    c = resolve_config(make_parser(), ["--config", str(cfg_file), "--lr", "0.5"], task="t",
                       task_defaults={"model": "small", "lr": 0.0}, presets=PRESETS)
    assert c["model"] == "big"  # from the file
    assert c["epochs"] == 7  # from the big preset
    assert c["batch_size"] == 16  # file beats preset
    assert c["lr"] == 0.5  # flag beats file
    assert c["out"] == os.path.join("runs", "t")
    c = resolve_config(make_parser(), [], task="t", task_defaults={"model": "small"}, presets=PRESETS)
    assert (c["batch_size"], c["lr"], c["epochs"]) == (4, 0.1, 1)


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "-3"], "--epochs must be a positive"),
    (["--steps-per-epoch", "0"], "--steps-per-epoch must be a positive"),
    (["--model", "huge"], "unknown --model 'huge'"),
    (["--resume", "/no/such/ckpt"], "checkpoint not found"),
    (["--max-duration", "soon"], "not a duration"),
    (["--config", "/no/such.yaml"], "config file not found"),
])
def test_bad_values_are_one_line_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        resolve_config(make_parser(), argv, task="t", task_defaults={"model": "small"}, presets=PRESETS)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1]


def test_parse_duration():
    assert parse_duration("11h30m") == 41400
    assert parse_duration("90m") == 5400
    assert parse_duration("45s") == 45
    assert parse_duration("3600") == 3600
    assert parse_duration("1d2h") == 93600


# --------------------------------------------------------------------------- checkpoints
def built_toy(config):
    task = ToyTask()
    task.prepare(config)
    model = task.build_model(config)
    model.build_optimizers()
    return model


def test_checkpoint_round_trip_restores_networks_optimizers_and_rng(tmp_path):
    config = toy_config(tmp_path)
    a = built_toy(config)
    for v in ckpt.collect_variables(a):  # distinctive values everywhere, optimizer slots included
        v.assign(np.random.default_rng(len(v.shape)).normal(size=v.shape).astype(v.dtype))
    manager = ckpt.CheckpointManager(tmp_path / "ck", keep=2)
    path = manager.save(a, 5, {"hello": "world"})
    b = built_toy(config)
    meta = ckpt.restore(b, path)
    assert meta["step"] == 5 and meta["hello"] == "world"
    keys_a, keys_b = ckpt.keyed_variables(a), ckpt.keyed_variables(b)
    assert list(keys_a) == list(keys_b)
    for key in keys_a:
        if key.endswith("/learning_rate"):  # set by the config, not restored
            assert float(keys_b[key]) == pytest.approx(1e-3)
        else:
            np.testing.assert_array_equal(np.asarray(keys_a[key]), np.asarray(keys_b[key]), err_msg=key)
    # optimizer step counters and the noise seed generator are part of it
    keys = meta["variable_keys"]
    assert "optimizer/g/adam/iteration" in keys and "model/label_seed/seed_generator_state" in keys


def test_checkpoint_keeps_k_and_ignores_half_written_ones(tmp_path):
    config = toy_config(tmp_path)
    model = built_toy(config)
    manager = ckpt.CheckpointManager(tmp_path / "ck", keep=2)
    for step in (1, 2, 3):
        manager.save(model, step, {})
    assert [p.name for p in manager.complete_checkpoints()] == ["ckpt-000000002", "ckpt-000000003"]
    assert (manager.root / "latest").read_text().strip() == "ckpt-000000003"
    # a kill during a write leaves a temp dir: never loaded, removed by the next save
    stale = manager.root / "ckpt-000000004.tmp-999"
    stale.mkdir()
    (stale / "variables.npz").write_bytes(b"partial")
    assert manager.latest().name == "ckpt-000000003"
    # a truncated newest checkpoint is skipped in favour of the previous one
    newest = manager.root / "ckpt-000000003" / "variables.npz"
    newest.write_bytes(newest.read_bytes()[:100])
    assert manager.latest().name == "ckpt-000000002"
    manager.save(model, 5, {})
    assert not stale.exists()


def test_checkpoint_refuses_nan_weights(tmp_path):
    model = built_toy(toy_config(tmp_path))
    v = model.networks["generator"].trainable_variables[0]
    v.assign(np.full(v.shape, np.nan, "float32"))
    manager = ckpt.CheckpointManager(tmp_path / "ck")
    with pytest.raises(ckpt.CheckpointError, match="NaN"):
        manager.save(model, 1, {})
    assert manager.latest() is None and not list(manager.root.glob("*tmp*"))


def test_restore_rejects_a_checkpoint_of_another_model(tmp_path):
    model = built_toy(toy_config(tmp_path))
    path = ckpt.CheckpointManager(tmp_path / "ck").save(model, 1, {})
    data = dict(np.load(path / "variables.npz"))
    data["v00000"] = np.zeros((3, 3), "float32")
    np.savez(path / "variables.npz", **data)
    with pytest.raises(ckpt.CheckpointError, match="shape"):
        ckpt.restore(built_toy(toy_config(tmp_path)), path)


# --------------------------------------------------------------------------- exact resume
class SignalAtStep(keras.callbacks.Callback):
    """Sends this process a real SIGTERM after `step` batches of this fit call."""

    def __init__(self, step):
        super().__init__()
        self.step, self.seen = step, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.step:
            os.kill(os.getpid(), signal.SIGTERM)


def test_sigterm_then_resume_equals_uninterrupted_run(tmp_path):
    # 3 epochs x 4 steps; the interrupted run stops mid-epoch (step 6) and resumes
    full = train(ToyTask(), toy_config(tmp_path / "full", "--epochs", "3", "--deterministic", "true"))
    assert full.step == 12 and full.stop_reason is None
    cut = train(ToyTask(), toy_config(tmp_path / "cut", "--epochs", "3", "--deterministic", "true"),
                extra_callbacks=[SignalAtStep(5)])  # arrives during step 6, which is finished
    assert cut.step == 6 and cut.stop_reason == "signal" and cut.exit_code == 0
    assert cut.checkpoint.name == "ckpt-000000006"
    resumed = train(ToyTask(), toy_config(tmp_path / "cut", "--epochs", "3", "--deterministic", "true"))
    assert resumed.step == 12
    for x, y in zip(weights_of(full.model), weights_of(resumed.model)):
        np.testing.assert_allclose(x, y, atol=1e-6, rtol=0)
    full_log, resumed_log = read_log(tmp_path / "full"), read_log(tmp_path / "cut")
    assert [r["step"] for r in resumed_log] == list(range(1, 13))
    for a, b in zip(full_log, resumed_log):
        assert a == pytest.approx(b, abs=1e-6)
    assert (tmp_path / "cut" / "losses.png").stat().st_size > 1000
    assert sorted(p.name for p in (tmp_path / "cut" / "samples").iterdir()) == [
        "step_000000004.png", "step_000000008.png", "step_000000012.png"]


def test_max_duration_stops_cleanly_with_a_checkpoint(tmp_path):
    result = train(ToyTask(), toy_config(tmp_path, "--epochs", "50", "--max-duration", "0.001s"))
    assert result.stop_reason == "duration" and result.exit_code == 0
    assert result.step == 1 and result.checkpoint.name == "ckpt-000000001"


def test_nan_loss_stops_without_writing_a_nan_checkpoint(tmp_path, capsys):
    result = train(ToyTask(), toy_config(tmp_path, "--epochs", "3", "--nan-at-step", "5"))
    assert result.stop_reason == "nan" and result.exit_code == 1
    assert "g_loss became nan at step 5" in capsys.readouterr().err
    assert result.checkpoint.name == "ckpt-000000004"
    for array in np.load(result.checkpoint / "variables.npz").values():
        assert np.all(np.isfinite(array))


# --------------------------------------------------------------------------- W&B
def test_wandb_offline_run_writes_files_and_artifacts_restore_on_a_fresh_machine(tmp_path):
    store = LocalArtifactStore(tmp_path / "artifacts")
    out = tmp_path / "session1"
    first = train(ToyTask(), toy_config(out, "--epochs", "1", "--wandb", "offline"), artifact_store=store)
    assert first.step == 4
    runs = list((out / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("run-*.wandb"))
    config = json.loads((out / "config.json").read_text())
    assert config["wandb"] == "offline" and config["steps_per_epoch"] == 4
    assert sorted(p.name for p in store.root.iterdir()) == ["step-000000002", "step-000000004"]
    # a new session: empty out dir, same store -> continues from step 4 to 8
    second = train(ToyTask(), toy_config(tmp_path / "session2", "--epochs", "2", "--wandb", "disabled"),
                   artifact_store=store)
    assert second.step == 8
    assert [r["step"] for r in read_log(tmp_path / "session2")] == [5, 6, 7, 8]


# --------------------------------------------------------------------------- kill -9
def _spawn(out, *extra, env=None):
    cmd = [sys.executable, "-m", "tests.common.toy_gan", "--out", str(out), "--epochs", "6",
           "--steps-per-epoch", "4", "--checkpoint-every", "3", "--sample-every", "100", *extra]
    return subprocess.Popen(cmd, cwd=REPO, env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for(predicate, proc, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.02)
    return False


def test_sigkill_at_any_moment_resumes_from_last_complete_checkpoint(tmp_path):
    out = tmp_path / "run"
    root = out / "checkpoints"
    # 1) killed right after its first checkpoint
    proc = _spawn(out)
    assert _wait_for(lambda: (root / "latest").exists(), proc)
    proc.kill()
    proc.wait()
    # 2) killed in the middle of writing a checkpoint (slowed down so the kill lands there)
    proc = _spawn(out, "--checkpoint-delay", "30")
    assert _wait_for(lambda: any(".tmp-" in p.name for p in root.iterdir()), proc)
    proc.kill()
    proc.wait()
    half_written = [p for p in root.iterdir() if ".tmp-" in p.name]
    assert half_written and not (half_written[0] / "state.json").exists()
    before = ckpt.CheckpointManager(root).latest()
    assert before is not None
    # 3) runs to the end from the last complete checkpoint
    proc = _spawn(out)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, output
    assert f"resuming from {before}" in output
    assert "finished 24 steps" in output
    assert ckpt.read_state(ckpt.CheckpointManager(root).latest())["step"] == 24
    steps = [r["step"] for r in read_log(out)]
    assert steps == list(range(1, 25))


def test_cli_reports_a_missing_data_folder_in_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tests.common.toy_gan", "--out", str(tmp_path),
                           "--data", str(tmp_path / "nowhere")], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "nowhere" in lines[0]
    assert "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- two devices
def test_two_replica_step_equals_one_device_step():
    proc = subprocess.run([sys.executable, "-m", "tests.common.two_device_check"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert result["max_abs_diff"] <= 1e-5
    assert result["changed"] > 1e-4  # the step really moved the weights
