"""The loss panels of metrics.jsonl and the metric kinds behind them (common.runtime.plots), on the plot and on W&B."""

import json
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.axes  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from common.runtime.plots import (PANELS, ema, loss_figure, metric_kind, plot_losses, read_metrics,  # noqa: E402
                                  wandb_key)
from tests.common.tiny_models import COMMON, MODELS, task_and_parser  # noqa: E402

# what each name a task logs is (a multi-scale CycleGAN's `<name>_scaleK` is its `<name>` at scale K)
EXPECTED = {
    "night2day": {
        "g_target": "generator", "f_source": "generator", "g_total": "generator",
        "d_source": "discriminator", "d_target": "discriminator",
        "cycle_forward": "regulariser", "cycle_backward": "regulariser", "identity_target": "regulariser",
        "identity_source": "regulariser", "g_regularization": "regulariser",
    },
    "inpainting": {
        "g_adv": "generator", "g_recon": "generator", "g_total": "generator",
        "d_real": "discriminator", "d_fake": "discriminator", "d_total": "discriminator",
        "d_x": "probability", "d_g_z1": "probability", "d_g_z2": "probability",
    },
    "watches": {
        "g_loss": "generator", "d_loss": "discriminator",
        "d_x": "probability", "d_g_z": "probability", "d_acc_real": "probability", "d_acc_fake": "probability",
        "flip_share": "probability",
        "r1": "regulariser", "pl": "regulariser", "pl_mean": "regulariser",
        "d_real": "score", "d_fake": "score", "augment_p": "ada", "rt": "ada", "kimg": "progress",
        "fid": "evaluation", "kid": "evaluation",
    },
}


def logged_names(model_name, tmp_path):
    """The names a model's train_step logs (its trackers), with the task's step metrics (watches: FID/KID)."""
    from common.runtime.config import RunConfig

    task_name, flags, _ = MODELS[model_name]
    task, parse = task_and_parser(task_name)
    config = parse([*COMMON, *flags, "--out", str(tmp_path)])
    task.prepare(config)
    config = RunConfig(config)
    task.start(config)
    names = [m.name for m in task.build_model(config).metrics]
    if task_name == "watches":  # step_metrics' keys, as watches.task names them
        names += [f"fid{config['metrics_fake']}", f"kid{config['metrics_fake']}"]
    return task_name, names


@pytest.mark.parametrize("model_name", sorted(MODELS))
def test_every_metric_a_model_logs_has_its_kind(model_name, tmp_path):
    task, names = logged_names(model_name, tmp_path)
    assert names
    for name in names:
        base = re.sub(r"_scale\d+$", "", name)
        base = re.sub(r"^(fid|kid)\d+$", r"\1", base)
        assert base in EXPECTED[task], f"{task} logs {name}: add its kind to EXPECTED (and a rule if needed)"
        assert metric_kind(name, task) == EXPECTED[task][base], name


def test_the_same_name_is_what_its_task_means():
    # inpainting's d_real is D's loss on real images, StyleGAN2's the mean logit on them
    assert metric_kind("d_real", "inpainting") == "discriminator"
    assert metric_kind("d_real", "watches") == "score"
    assert metric_kind("f_source", "night2day") == "generator"
    assert metric_kind("something_new", "watches") == "other"


def test_wandb_names_carry_their_section():
    assert wandb_key("g_loss", "watches") == "loss/g_loss"
    assert wandb_key("d_loss", "watches") == "loss/d_loss"
    assert wandb_key("f_source_scale2", "night2day") == "loss/f_source_scale2"
    assert wandb_key("cycle_forward", "night2day") == "reg/cycle_forward"
    assert wandb_key("r1", "watches") == "reg/r1"
    assert wandb_key("augment_p", "watches") == "ada/p"
    assert wandb_key("rt", "watches") == "ada/r_t"
    assert wandb_key("d_acc_real", "watches") == "prob/d_acc_real"
    assert wandb_key("d_real", "watches") == "score/d_real"
    assert wandb_key("kimg", "watches") == "progress/kimg"
    assert wandb_key("fid1000", "watches") == "eval/fid1000"
    assert wandb_key("lr/g", "watches") == "lr/g"  # already in a section


def test_an_offline_wandb_run_records_each_metric_under_its_section(tmp_path):
    from common.runtime.tracking import Tracker
    from tests.common.test_runtime import _wandb_records
    from wandb.proto import wandb_internal_pb2

    tracker = Tracker(mode="offline", project="ganworks-test", config={}, out_dir=tmp_path, task="watches")
    tracker.log({"g_loss": 1.5, "r1": 0.2, "augment_p": 0.1, "rt": 0.6, "d_real": -0.3, "kimg": 0.004,
                 "lr/g": 0.002}, step=1)
    tracker.finish()
    (path,) = tmp_path.glob("wandb/offline-run-*/run-*.wandb")
    logged = {}
    for payload in _wandb_records(path):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(payload)
        if record.WhichOneof("record_type") == "history":
            logged.update({item.key or "/".join(item.nested_key): json.loads(item.value_json)
                           for item in record.history.item})
    assert {k: v for k, v in logged.items() if not k.startswith("_")} == {
        "loss/g_loss": 1.5, "reg/r1": pytest.approx(0.2), "ada/p": pytest.approx(0.1), "ada/r_t": pytest.approx(0.6),
        "score/d_real": pytest.approx(-0.3), "progress/kimg": pytest.approx(0.004), "lr/g": pytest.approx(0.002),
        "global_step": 1}


def write_log(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def stylegan2_rows(steps=40):
    """A StyleGAN2-like log: R1 every 16 steps and path length every 4 (lazy regularisation), ADA's p from 0."""
    rows = []
    for s in range(1, steps + 1):
        row = {"step": s, "g_loss": 1.0 + 0.5 * np.sin(s), "d_loss": 1.2 + 0.1 * np.cos(s),
               "d_real": 0.3 - 0.02 * s, "d_fake": -0.3, "pl_mean": 0.1 * s,
               "augment_p": 0.001 * (s - 1), "rt": 0.5 + 0.01 * s, "kimg": 0.004 * s}
        if s % 16 == 1:
            row["r1"] = 0.05 * s
        if s % 4 == 1:
            row["pl"] = 0.2
        rows.append(row)
    return rows


def titles(fig):
    return [ax.get_title() for ax in fig.axes]


def axes_by_title(fig):
    return {ax.get_title(): ax for ax in fig.axes}


def legend(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_a_stylegan2_log_gives_its_six_panels_in_order_with_log_axes_only_where_all_is_positive():
    fig = loss_figure(stylegan2_rows(), task="watches")
    try:
        assert titles(fig) == [PANELS[k].title for k in
                               ("generator", "discriminator", "regulariser", "score", "ada", "progress")]
        ax = axes_by_title(fig)
        assert legend(ax["Generator losses"]) == ["g_loss"]
        assert legend(ax["Regularisers"]) == ["pl_mean", "r1", "pl"]
        assert sorted(legend(ax[PANELS["ada"].title])) == ["augment_p", "rt"]
        yscale = {t: a.get_yscale() for t, a in ax.items()}
        assert yscale["Generator losses"] == "log" and yscale["Regularisers"] == "log"
        assert yscale[PANELS["score"].title] == "linear"  # logits below zero
        assert yscale[PANELS["ada"].title] == "linear"  # p starts at 0
        for a in fig.axes:
            assert a.get_xlabel() == "step" and a.get_ylabel()
            # each metric twice: faint (raw, out of the legend) and solid (its moving average)
            lines = a.get_lines()
            assert len(lines) == 2 * len(legend(a))
            assert [line.get_alpha() for line in lines[::2]] == [0.25] * len(legend(a))
    finally:
        plt.close(fig)


def test_panels_with_nothing_logged_are_left_out():
    rows = [{"step": s, "d_loss": 0.7, "g_loss": 0.9, "d_x": 0.6, "d_g_z": 0.4, "d_acc_real": 1.0,
             "d_acc_fake": 0.0, "flip_share": 0.1} for s in range(1, 6)]
    fig = loss_figure(rows, task="watches")
    try:
        assert titles(fig) == ["Generator losses", "Discriminator losses", PANELS["probability"].title]
        # an accuracy of 0 at every step: this panel cannot be logarithmic
        assert axes_by_title(fig)[PANELS["probability"].title].get_yscale() == "linear"
    finally:
        plt.close(fig)
    assert loss_figure([], task="watches") is None
    assert loss_figure([{"step": 1}], task="watches") is None


@pytest.mark.parametrize("values, scale", [([0.5, 2.0, "nan", 3.0], "log"), ([0.5, 0.0, 3.0], "linear"),
                                           ([0.5, -1.0, 3.0], "linear")])
def test_the_y_axis_is_logarithmic_only_when_every_value_is_positive(values, scale):
    fig = loss_figure([{"step": i + 1, "g_loss": v} for i, v in enumerate(values)], task="inpainting")
    try:
        (ax,) = fig.axes
        assert ax.get_yscale() == scale
    finally:
        plt.close(fig)


def test_a_value_logged_only_at_some_steps_is_drawn_through_those_steps(tmp_path, monkeypatch):
    # StyleGAN2 logs r1 only at the steps its lazy regularisation runs; a key first seen late is drawn too
    rows = [{"step": s, "g_loss": 0.5 + s, **({"r1": 0.1 * s} if s % 4 == 1 else {}),
             **({"pl": 2.0} if s == 3 else {})} for s in range(1, 9)]
    write_log(tmp_path / "metrics.jsonl", rows)
    drawn = {}
    real_plot = matplotlib.axes.Axes.plot

    def plot(self, x, y, *args, label=None, **kwargs):
        drawn[label] = (np.asarray(x).tolist(), np.asarray(y).tolist())
        return real_plot(self, x, y, *args, label=label, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "plot", plot)
    assert plot_losses(tmp_path / "metrics.jsonl", tmp_path / "losses.png", task="watches") == tmp_path / "losses.png"
    assert (tmp_path / "losses.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert drawn["_g_loss (raw)"] == (list(range(1, 9)), [0.5 + s for s in range(1, 9)])
    assert drawn["_r1 (raw)"][0] == [1, 5] and np.allclose(drawn["_r1 (raw)"][1], [0.1, 0.5])
    assert drawn["_pl (raw)"] == ([3], [2.0]) and drawn["pl"] == ([3], [2.0])


def test_the_moving_average_smooths_and_passes_over_non_finite_values():
    noisy = np.where(np.arange(200) % 2, 1.0, 3.0)
    smooth = ema(noisy)
    assert smooth[0] == 3.0 and np.all(np.isfinite(smooth))
    assert np.ptp(smooth[100:]) < 0.3 * np.ptp(noisy) and abs(smooth[100:].mean() - 2.0) < 0.1
    np.testing.assert_allclose(ema([1.0, np.nan, 1.0, np.inf]), [1.0, 1.0, 1.0, 1.0])
    np.testing.assert_allclose(ema([1.0, 5.0], span=1), [1.0, 5.0])  # span 1: the values themselves


def test_lines_that_are_not_json_are_skipped(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "g_loss": 1.0}\nnot json\n{"step": 2, "g_loss": 0.5}\n[1]\n')
    assert read_metrics(path) == [{"step": 1, "g_loss": 1.0}, {"step": 2, "g_loss": 0.5}]
    assert read_metrics(tmp_path / "missing.jsonl") == []
