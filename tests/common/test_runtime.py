"""The training runtime: config resolution, checkpoints, exact resume, interrupts, NaN guard, W&B."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from common.gan import GANModel
from common.runtime import checkpoint as ckpt
from common.runtime.config import ConfigError, RuntimeOptions, parse_duration, resolve_config
from common.runtime.options import option
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
@dataclass(frozen=True)
class TinyOptions(RuntimeOptions):
    model: str = option("small", "which preset")
    lr: float = option(0.0, "learning rate")


@dataclass(frozen=True)
class Small(TinyOptions):
    model: str = "small"
    lr: float = 0.1
    batch_size: int = 4


@dataclass(frozen=True)
class Big(TinyOptions):
    model: str = "big"
    lr: float = 0.2
    batch_size: int = 8
    epochs: int = 7


PRESETS = {"small": Small, "big": Big}


def resolve(argv):
    return resolve_config(TinyOptions, argv, task="t", presets=PRESETS)


def test_config_precedence_is_defaults_preset_file_flags(tmp_path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("model: big\nbatch-size: 16\nlr: 0.3\n")
    c = resolve(["--config", str(cfg_file), "--lr", "0.5"])
    assert c["model"] == "big"  # from the file
    assert c["epochs"] == 7  # from the big preset
    assert c["batch_size"] == 16  # file beats preset
    assert c["lr"] == 0.5  # flag beats file
    assert c["out"] == os.path.join("runs", "t")
    assert c["explicit_keys"] == ["batch_size", "lr", "model"]  # what the user gave (a resume keeps the rest)
    c = resolve([])
    assert (c["batch_size"], c["lr"], c["epochs"]) == (4, 0.1, 1)  # the default preset over the runtime's
    assert c["explicit_keys"] == []


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "-3"], "--epochs must be a positive"),
    (["--steps-per-epoch", "0"], "--steps-per-epoch must be a positive"),
    (["--model", "huge"], "invalid choice: 'huge'"),
    (["--resume", "/no/such/ckpt"], "checkpoint not found"),
    (["--max-duration", "soon"], "not a duration"),
    (["--config", "/no/such.yaml"], "config file not found"),
])
def test_bad_values_are_one_line_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        resolve(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1]


def test_config_file_values_take_the_options_types(tmp_path):
    (tmp_path / "c.yaml").write_text("lr: 2e-4\ndeterministic: 'yes'\njit-compile: true\nmax-duration: 1h30m\n")
    c = resolve(["--config", str(tmp_path / "c.yaml")])
    assert (c["lr"], c["deterministic"], c["jit_compile"], c["max_duration"]) == (2e-4, True, "on", 5400.0)


def test_help_shows_every_flag_with_its_default_per_preset(capsys):
    with pytest.raises(SystemExit):
        resolve(["--help"])
    text = " ".join(capsys.readouterr().out.split()).split(" options: ", 1)[1]  # after the usage lines
    assert "--lr LR learning rate (small 0.1, big 0.2)" in text
    assert "--model {small,big} which preset (default small)" in text
    for flag, shown in (("--epochs EPOCHS", "(small 1, big 7)"), ("--batch-size BATCH_SIZE", "(small 4, big 8)"),
                        ("--checkpoint-every N", "(default 1000)"), ("--sample-every N", "(default 500)"),
                        ("--deterministic [BOOL]", "(default false)"),  # a bool flag alone is true
                        ("--steps-per-epoch STEPS_PER_EPOCH", "(default one pass over")):
        assert flag in text
        assert shown in text.split(flag, 1)[1].split(" --", 1)[0], flag


def test_options_are_frozen_and_resolving_returns_a_new_instance():
    small = Small(max_duration="90m", jit_compile=False)
    resolved = small.resolved()
    assert (resolved.max_duration, resolved.jit_compile) == (5400.0, "off")
    assert (small.max_duration, small.jit_compile) == ("90m", False)  # not mutated
    with pytest.raises(dataclasses.FrozenInstanceError):
        small.lr = 1.0


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
    # a run stopped on request has its report too (common.runtime.run_report), at the step it stopped
    assert "<td>newest checkpoint at step</td><td>6 of 12</td>" in (tmp_path / "cut" / "report.html").read_text()
    resumed = train(ToyTask(), toy_config(tmp_path / "cut", "--epochs", "3", "--deterministic", "true"))
    assert resumed.step == 12
    for x, y in zip(weights_of(full.model), weights_of(resumed.model)):
        np.testing.assert_allclose(x, y, atol=1e-6, rtol=0)
    full_log, resumed_log = read_log(tmp_path / "full"), read_log(tmp_path / "cut")
    assert [r["step"] for r in resumed_log] == list(range(1, 13))
    for a, b in zip(full_log, resumed_log):
        assert a == pytest.approx(b, abs=1e-6)
    assert (tmp_path / "cut" / "losses.png").stat().st_size > 1000
    report = (tmp_path / "cut" / "report.html").read_text()  # rewritten at the end of the resumed run
    assert report.count("<img ") == 1 + 4 and "4 sample sheets in samples/" in report
    assert "<td>newest checkpoint at step</td><td>12 of 12</td>" in report
    # every 4 steps, and the interrupted session's last step (6)
    assert sorted(p.name for p in (tmp_path / "cut" / "samples").iterdir()) == [
        "step_000000004.png", "step_000000006.png", "step_000000008.png", "step_000000012.png"]


class CountingSheets(ToyTask):
    """Counts the sheets asked for, and the step each was asked at."""

    def prepare(self, config):
        super().prepare(config)
        self.asked = 0

    def sample_grid(self, model):
        self.asked += 1
        return super().sample_grid(model)


@pytest.mark.parametrize("steps, every, expected", [(1, 100, [1]), (6, 4, [4, 6]), (8, 4, [4, 8])])
def test_every_run_ends_with_one_sample_sheet_however_short(tmp_path, steps, every, expected):
    task = CountingSheets()
    result = train(task, parse(["--out", str(tmp_path), "--epochs", "1", "--steps-per-epoch", str(steps),
                                "--sample-every", str(every)]))
    assert result.step == steps
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [f"step_{s:09d}.png" for s in expected]
    assert task.asked == len(expected)  # the last step's sheet once, also when it is a multiple of every


def test_max_duration_stops_cleanly_with_a_checkpoint_and_the_task_exports(tmp_path):
    class Exporting(ToyTask):
        exported_at = None

        def on_finish(self, model, config, step=None):
            Exporting.exported_at = int(model.optimizers["g"].iterations)

    result = train(Exporting(), toy_config(tmp_path, "--epochs", "50", "--max-duration", "0.001s"))
    assert result.stop_reason == "duration" and result.exit_code == 0
    assert result.step == 1 and result.checkpoint.name == "ckpt-000000001"
    assert Exporting.exported_at == 1  # a session cut short still leaves usable generators


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
    # (its own temporary folder: under load the first run may have got as far as a second, unfinished one)
    proc = _spawn(out, "--checkpoint-delay", "30")
    mine = f".tmp-{proc.pid}"
    assert _wait_for(lambda: any(p.name.endswith(mine) for p in root.iterdir()), proc)
    proc.kill()
    proc.wait()
    half_written = [p for p in root.iterdir() if p.name.endswith(mine)]
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


# --------------------------------------------------------------------------- two devices
def test_two_replica_step_equals_one_device_step():
    proc = subprocess.run([sys.executable, "-m", "tests.common.two_device_check"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert result["max_abs_diff"] <= 1e-5
    assert result["changed"] > 1e-4  # the step really moved the weights


# --------------------------------------------------------------------------- hardening
class TwoLookalikes(GANModel):
    """Two networks of identical shapes: a positional restore would swap them without a word."""

    def __init__(self, order=("first", "second"), swap_optimizers=False):
        nets = {}
        for name in order:
            keras.utils.set_random_seed(0 if name == "first" else 1)
            nets[name] = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="dense")], name=name)
        super().__init__(nets)
        first, second = sorted(order)
        targets = (second, first) if swap_optimizers else (first, second)
        self.compile(optimizers={"opt_a": (keras.optimizers.Adam(0.1), [targets[0]]),
                                 "opt_b": (keras.optimizers.Adam(0.1), [targets[1]])}, loss_names=[])
        self.build_optimizers()


def test_restore_is_by_identity_whatever_the_order_of_networks(tmp_path):
    saved = TwoLookalikes()
    saved.networks["first"].layers[0].kernel.assign(np.ones((3, 2), "float32"))
    saved.networks["second"].layers[0].kernel.assign(np.full((3, 2), 2.0, "float32"))
    path = ckpt.CheckpointManager(tmp_path).save(saved, 1, {})
    reordered = TwoLookalikes(order=("second", "first"))
    ckpt.restore(reordered, path)
    assert np.all(np.asarray(reordered.networks["first"].layers[0].kernel) == 1.0)
    assert np.all(np.asarray(reordered.networks["second"].layers[0].kernel) == 2.0)


def test_restore_refuses_other_networks_and_swapped_optimizers_naming_them(tmp_path):
    path = ckpt.CheckpointManager(tmp_path).save(TwoLookalikes(), 1, {})
    with pytest.raises(ckpt.CheckpointError, match="optimizer 'opt_a' stepped different variables"):
        ckpt.restore(TwoLookalikes(swap_optimizers=True), path)
    renamed = TwoLookalikes(order=("first", "third"))
    with pytest.raises(ckpt.CheckpointError, match="network/second/dense/.*network/third/dense"):
        ckpt.restore(renamed, path)


def test_each_log_line_is_on_disk_before_the_checkpoint_that_covers_it(tmp_path, monkeypatch):
    seen = []

    fsync_file = ckpt._fsync_file

    def record(path):  # runs as each checkpoint's variables reach the disk, before its state file
        fsync_file(path)
        if path.name == ckpt.VARIABLES_FILE:
            lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
            seen.append((json.loads(lines[-1])["step"], int(path.parent.name.split(".")[0].split("-")[1])))

    monkeypatch.setattr(ckpt, "_fsync_file", record)
    train(ToyTask(), toy_config(tmp_path, "--epochs", "2", "--checkpoint-every", "1"))
    assert seen == [(step, step) for step in range(1, 9)]


def test_a_resumed_run_takes_new_learning_rates_and_keeps_the_rest(tmp_path, capsys):
    first = train(ToyTask(), toy_config(tmp_path, "--epochs", "1", "--lr", "0.002"))
    assert float(first.model.optimizers["g"].learning_rate) == pytest.approx(0.002)
    second = train(ToyTask(), toy_config(tmp_path, "--epochs", "2", "--lr", "0.0005"))
    assert "resuming with a changed setting: lr 0.002 -> 0.0005" in capsys.readouterr().out
    assert float(second.model.optimizers["g"].learning_rate) == pytest.approx(0.0005)
    assert json.loads((tmp_path / "config.json").read_text())["lr"] == 0.0005
    # a shorter command later keeps the checkpoint's settings, not the defaults
    third = train(ToyTask(), toy_config(tmp_path, "--epochs", "3"))
    assert float(third.model.optimizers["g"].learning_rate) == pytest.approx(0.0005)
    assert json.loads((tmp_path / "config.json").read_text())["lr"] == 0.0005 and third.step == 12


def test_a_resumed_run_refuses_to_change_a_network_shape(tmp_path):
    class Fixed(ToyTask):
        fixed_on_resume = ("image_size",)

    train(Fixed(), toy_config(tmp_path, "--epochs", "1"))
    with pytest.raises(ConfigError, match="--image-size 16 differs from the checkpoint's 8"):
        train(Fixed(), toy_config(tmp_path, "--epochs", "2", "--image-size", "16"))


def test_nan_before_any_checkpoint_says_so_and_the_log_stays_strict_json(tmp_path, capsys):
    result = train(ToyTask(), toy_config(tmp_path, "--nan-at-step", "1"))
    assert result.stop_reason == "nan" and result.checkpoint is None
    err = capsys.readouterr().err
    assert "no checkpoint had been written yet" in err and "None" not in err

    def refuse(token):
        raise ValueError(f"bare {token} in metrics.jsonl")

    records = [json.loads(line, parse_constant=refuse) for line in
               (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["g_loss"] == "nan"


def run_toy_cli(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "tests.common.toy_gan", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def one_error_line(proc):
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "usage:" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, proc.stderr
    return errors[0]


@pytest.mark.parametrize("name, text, expected", [
    ("bad.yaml", "epochs: [1, 2\nlr: 3\n", "is not valid YAML at line"),
    ("bad.json", '{"epochs": 2,}', "is not valid JSON at line 1"),
])
def test_a_malformed_config_file_is_one_line_naming_it(tmp_path, capsys, name, text, expected):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(SystemExit) as exc:
        toy_config(tmp_path, "--config", str(path))
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0] and str(path) in err[0]


def test_argparse_errors_are_one_line_without_the_usage_block(capsys):
    with pytest.raises(SystemExit):
        toy_config(Path("unused"), "--epochs", "many")
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--epochs" in err[0] and "usage" not in err[0]


def test_an_unwritable_out_folder_is_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    line = one_error_line(run_toy_cli("--out", str(blocker / "run")))
    assert "--out" in line and "not writable" in line


def test_a_full_disk_during_a_checkpoint_is_one_line_and_leaves_no_partial_folder(tmp_path, monkeypatch, capsys):
    import errno

    from common.runtime.trainer import run_cli

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ckpt.np, "savez", full_disk)
    assert run_cli(ToyTask(), toy_config(tmp_path, "--epochs", "1"), []) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: could not write the checkpoint of step 2") and "No space left" in err[-1]
    assert not list((tmp_path / "checkpoints").glob("*tmp*"))


def test_missing_data_is_reported_before_the_out_folder_or_a_wandb_run_exists(tmp_path):
    out = tmp_path / "run"
    line = one_error_line(run_toy_cli("--out", str(out), "--data", str(tmp_path / "nowhere"), "--wandb", "offline"))
    assert "nowhere" in line
    assert not out.exists()


def test_a_wandb_run_id_without_any_checkpoint_is_an_error_unless_starting_over(tmp_path):
    line = one_error_line(run_toy_cli("--out", str(tmp_path / "a"), "--wandb", "offline", "--wandb-run-id", "abc123"))
    assert "--wandb-run-id abc123: no checkpoint" in line and "--resume never" in line
    proc = run_toy_cli("--out", str(tmp_path / "b"), "--wandb", "offline", "--wandb-run-id", "abc123",
                       "--resume", "never", "--epochs", "1")
    assert proc.returncode == 0, proc.stderr
    assert "W&B run id: abc123" in proc.stdout
    assert "to continue this run in a new session: python -m toy.train" in proc.stdout
    assert "W&B offline (--wandb offline)" in proc.stdout


def test_a_disabled_wandb_run_records_no_made_up_run_id(tmp_path):
    result = train(ToyTask(), toy_config(tmp_path, "--epochs", "1", "--wandb", "disabled"))
    assert ckpt.read_state(result.checkpoint)["wandb_run_id"] is None


def test_an_offline_run_resumed_twice_keeps_one_wandb_folder_with_every_step(tmp_path):
    train(ToyTask(), toy_config(tmp_path, "--epochs", "1", "--wandb", "offline"))
    train(ToyTask(), toy_config(tmp_path, "--epochs", "2", "--wandb", "offline"))
    train(ToyTask(), toy_config(tmp_path, "--epochs", "3", "--wandb", "offline"))
    folders = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(folders) == 1
    run_id = json.loads((tmp_path / "config.json").read_text()).get("wandb_run_id") or \
        ckpt.read_state(ckpt.CheckpointManager(tmp_path / "checkpoints").latest())["wandb_run_id"]
    assert run_id in folders[0].name  # offline-run-<time>-<id>[-n]
    history = _offline_history(folders[0])
    assert sorted(history) == list(range(1, 13))


def test_an_offline_run_s_wandb_file_is_complete_when_train_returns(tmp_path, monkeypatch):
    # wandb-core writes the file's buffered tail when it closes the run's stream, after run.finish()
    # has returned: a `wandb sync` right after training (or the test above, on a loaded machine)
    # could find the bare header. A core that is slow to close it, made certain: it never hears
    # the finish message, so only the runtime's own wait can complete the file.
    # the wandb-core service connection of wandb >= 0.2x; the floors' wandb has no such module
    ServiceConnection = pytest.importorskip("wandb.sdk.lib.service.service_connection").ServiceConnection

    monkeypatch.setattr(ServiceConnection, "inform_finish", lambda self, run_id: None)
    train(ToyTask(), toy_config(tmp_path, "--epochs", "1", "--wandb", "offline"))
    (folder,) = (tmp_path / "wandb").glob("offline-run-*")
    kinds = _record_types(folder)
    assert kinds and kinds[-1] == "exit", kinds
    assert sorted(_offline_history(folder)) == [1, 2, 3, 4]


def _wandb_records(path):
    """The protobuf payloads of a .wandb file: LevelDB's log format (32 KiB blocks of
    [crc32c:4][length:2][type:1] chunks) after W&B's 7-byte header. wandb 0.31 has no Python
    reader for the file (only wandb-core, in Go, reads it), hence this one."""
    data = Path(path).read_bytes()
    assert data[:4] == b":W&B"
    pos, block, pending = 7, 32768, b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # block trailer padding
            pos += block - pos % block
            continue
        length = int.from_bytes(data[pos + 4:pos + 6], "little")
        kind = data[pos + 6]
        chunk = data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind == 0 and length == 0:
            continue
        pending += chunk
        if kind in (1, 4):  # FULL or LAST
            yield pending
            pending = b""


def _record_types(folder) -> list:
    """The kinds of the records of an offline W&B run's file, in order ("history", ..., "exit")."""
    from wandb.proto import wandb_internal_pb2

    (path,) = folder.glob("run-*.wandb")
    kinds = []
    for payload in _wandb_records(path):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(payload)
        kinds.append(record.WhichOneof("record_type"))
    return kinds


def _offline_history(folder) -> list:
    """global_step values of the scalar rows logged in an offline W&B run."""
    from wandb.proto import wandb_internal_pb2

    (path,) = folder.glob("run-*.wandb")
    steps = []
    for payload in _wandb_records(path):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(payload)
        if record.WhichOneof("record_type") != "history":
            continue
        items = {item.key or "/".join(item.nested_key): item.value_json for item in record.history.item}
        if "global_step" in items and "loss/g_loss" in items:  # W&B's name of g_loss (plots.wandb_key)
            steps.append(int(float(items["global_step"])))
    return steps


def test_history_pool_is_refused_or_dropped_when_the_strategy_has_several_devices():
    from night2day.train import Night2DayTask

    with pytest.raises(ConfigError, match="--history-pool.*2 devices"):
        Night2DayTask().check_devices({"history_pool": 50, "explicit_keys": ["history_pool"]}, replicas=2)
    config = {"history_pool": 50, "explicit_keys": []}
    assert Night2DayTask().check_devices(config, replicas=1) == {}
    # the ResNet preset's pool, not asked for: dropped (with a note) rather than refusing to train
    (value, why), = Night2DayTask().check_devices(config, replicas=2).values()
    assert value == 0 and "2 devices" in why
    assert config["history_pool"] == 50  # the change is returned, for the trainer to apply before saving


def test_the_trainer_applies_device_changes_before_the_config_is_saved(capsys):
    from common.runtime.trainer import device_changes
    from night2day.train import Night2DayTask

    config = {"history_pool": 50, "explicit_keys": []}
    assert device_changes(Night2DayTask(), config, 2) == {"history_pool": 0, "explicit_keys": []}
    assert "training with --history-pool 0" in capsys.readouterr().out
    assert config["history_pool"] == 50


class WritesConfigTask(ToyTask):
    """A task that changes the run config after it was saved (as watches once turned --metrics-every off)."""

    def step_metrics(self, model, step):
        self.config["lr"] = 0.5
        return {}


def test_the_saved_config_is_what_was_resolved_and_a_task_cannot_write_to_it_after(tmp_path):
    config = toy_config(tmp_path, "--epochs", "1")
    result = train(ToyTask(), dict(config))
    saved = json.loads((tmp_path / "config.json").read_text())
    assert result.exit_code == 0 and saved == {**config, "steps_per_epoch": 4}
    with pytest.raises(TypeError, match="read-only: cannot set 'lr'"):
        train(WritesConfigTask(), toy_config(tmp_path / "w", "--epochs", "1"))


@pytest.mark.skipif(len(tf.config.list_logical_devices("GPU")) > 1, reason="this machine can mirror")
def test_mirrored_without_two_gpus_is_a_one_line_config_error():
    from common.runtime.distribute import make_strategy

    with pytest.raises(ConfigError, match=r"^--strategy mirrored needs two or more GPUs, but [01] (is|are) visible"):
        make_strategy("mirrored")


def test_a_half_deleted_old_checkpoint_is_removed_by_the_next_save(tmp_path):
    model = built_toy(toy_config(tmp_path))
    manager = ckpt.CheckpointManager(tmp_path / "ck", keep=2)
    for step in (1, 2):
        manager.save(model, step, {})
    (manager.root / "ckpt-000000001" / "state.json").unlink()  # a kill in the middle of pruning it
    assert [p.name for p in manager.complete_checkpoints()] == ["ckpt-000000002"]
    manager.save(model, 3, {})
    assert sorted(p.name for p in manager.root.iterdir() if p.is_dir()) == ["ckpt-000000002", "ckpt-000000003"]
