"""benchmarks.cyclegan_check without torch: junyanz's weights in our ResNet generator and PatchGAN, against
junyanz's outputs, on the fixture its tiny configuration wrote (tests/night2day/data/junyanz_tiny.npz:
32 px, ngf 4, ndf 4, 2 residual blocks, 2 images; InstanceNorm2d with affine False and True)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import cyclegan_check

FIXTURE = Path(__file__).parent / "night2day" / "data" / "junyanz_tiny.npz"
CONFIG = cyclegan_check.CONFIGS["tiny"]


@pytest.fixture(scope="module")
def reference():
    arrays = dict(np.load(FIXTURE))
    assert arrays["images"].shape[1:] == (CONFIG["image_size"], CONFIG["image_size"], 3)
    return arrays


def junyanz_params(reference, prefix) -> int:
    return sum(a.size for k, a in reference.items() if k.startswith(prefix + "/") and not k.endswith("/output"))


def test_night2day_networks_with_junyanzs_weights_give_junyanzs_outputs(reference):
    rows = cyclegan_check.compare(CONFIG, reference)
    assert len(rows) == 4  # G and D, affine False and True
    assert all(ratio <= cyclegan_check.TOLERANCE and not note for _, _, ratio, note in rows.values()), rows


def test_one_perturbed_weight_is_told_apart(reference):
    off = dict(reference)
    name = "affine_true/G/model.10.conv_block.1.weight"  # the first residual conv
    off[name] = off[name].copy()
    off[name][0, 0, 1, 1] += 0.1 * np.abs(off[name]).max()
    nets, _ = cyclegan_check.build_ours(CONFIG, off, "affine_true")
    _, _, ratio, _ = cyclegan_check.relative_difference(nets["G"](reference["images"]),
                                                        reference["affine_true/G/output"])
    assert ratio > cyclegan_check.TOLERANCE


@pytest.mark.parametrize("variant", cyclegan_check.VARIANTS)
def test_every_junyanz_parameter_has_a_place_but_the_biases_that_feed_a_norm(reference, variant):
    nets, dropped = cyclegan_check.build_ours(CONFIG, reference, variant)
    for key, net in nets.items():
        into_norms = sum(reference[name].size for name in dropped[key])
        norms = [layer for layer in net.layers if type(layer).__name__ == "GroupNormalization"]
        added = 0 if variant == "affine_true" else sum(2 * layer.gamma.shape[0] for layer in norms)
        assert net.count_params() == junyanz_params(reference, f"{variant}/{key}") - into_norms + added
    # G: the stem, 2 down, 2 x 2 residual and 2 up convs; D: its 3 convs before a norm
    assert [len(dropped[key]) for key in ("G", "D")] == [9, 3]


def test_a_repo_without_models_networks_py_is_refused_in_one_line(tmp_path):
    with pytest.raises(SystemExit) as exit_:
        cyclegan_check.main(["--torch-python", sys.executable, "--repo", str(tmp_path), "--configs", "tiny"])
    message = str(exit_.value.code)
    assert "no models/networks.py" in message and str(tmp_path) in message and "\n" not in message


def test_an_interpreter_without_torch_is_refused_in_one_line(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "networks.py").write_text("")
    for python, says in [(str(tmp_path / "no-such-python"), "cannot run it"),
                         (sys.executable, "cannot import torch")]:
        if python == sys.executable and cyclegan_check.torch_error(python) is None:
            continue  # this interpreter has torch: nothing to refuse
        with pytest.raises(SystemExit) as exit_:
            cyclegan_check.main(["--torch-python", python, "--repo", str(tmp_path), "--configs", "tiny"])
        message = str(exit_.value.code)
        assert says in message and "\n" not in message, message
