"""benchmarks.stylegan2_step's worker at a tiny size: it times the three kinds of step and amortises them."""

import argparse

import pytest
import tensorflow as tf

from benchmarks import stylegan2_step


def test_worker_times_main_pl_and_r1_steps_and_amortises_them_per_kimg():
    args = argparse.Namespace(batch_size=4, image_size=16, xla="off", mixed_precision="off", graph_optimizer="auto",
                              steps=1, channel_base=64, channel_max=8, w_dim=8, latent_dim=8)  # tiny networks
    row = stylegan2_step.worker(args)
    assert row["s_main"] > 0 and row["s_pl"] > 0 and row["s_r1"] > 0
    # the first step (step 0's every-phase function, traced) is part of the setup, which excludes no step
    assert 0 < row["first_step_s"] < row["setup_s"] and 0 < row["build_s"] < row["setup_s"]
    assert row["graph_optimizer"] == ("on" if tf.config.list_logical_devices("GPU") else "off")  # as training
    expected = row["s_main"] + (row["s_pl"] - row["s_main"]) / 4 + (row["s_r1"] - row["s_pl"]) / 16
    assert row["s_per_step"] == pytest.approx(expected)
    assert row["s_per_kimg"] == pytest.approx(row["s_per_step"] * 1000 / 4)
    assert 0 < row["g_params"] < 20_000 and 0 < row["d_params"] < 20_000  # the sizes asked for were built


def test_torch_options_go_together(capsys):
    with pytest.raises(SystemExit):
        stylegan2_step.main(["--torch-python", "python3"])
    assert "--torch-python and --nvidia-repo go together" in capsys.readouterr().err
