"""One name per meaning in every command line: the canonical flags and their old spellings (aliases) give the
same value, and a config saved with an old key still loads under the new one."""

from __future__ import annotations

import importlib
import json

import pytest

from common.runtime.config import load_config_file
from common.runtime.options import RENAMED_KEYS, upgrade_keys

# (task, extra flags) for every training command line: each takes --flip and its old spellings
TRAIN = [("night2day", ["--model", "resnet"]), ("night2day", []), ("inpainting", []), ("watches", []),
         ("watches", ["--model", "stylegan2"])]


@pytest.mark.parametrize("task, extra", TRAIN)
@pytest.mark.parametrize("value", ["true", "false"])
def test_flip_and_its_old_spellings_set_the_same_config_value(task, extra, value):
    parse_config = importlib.import_module(f"{task}.train").parse_config
    configs = [parse_config([*extra, flag, value]) for flag in ("--flip", "--random-flip", "--mirror")]
    assert {c["flip"] for c in configs} == {value == "true"}
    assert all("random_flip" not in c and "mirror" not in c and "flip" in c["explicit_keys"] for c in configs)
    assert parse_config([*extra, "--flip"])["flip"] is True  # a bool flag alone is true


def test_flip_defaults_follow_each_preset():
    from inpainting.train import parse_config as inpainting
    from night2day.train import parse_config as night2day
    from watches.train import parse_config as watches

    assert night2day(["--model", "resnet"])["flip"] is True  # the CycleGAN reference flips
    assert night2day(["--model", "multiscale"])["flip"] is False  # the multi-scale notebook does not
    assert inpainting([])["flip"] is False and watches([])["flip"] is False


@pytest.mark.parametrize("task, old", [("inpainting", "random_flip"), ("watches", "mirror"),
                                       ("inpainting", "random-flip")])
def test_a_config_file_with_an_old_key_loads(task, old, tmp_path):
    parse_config = importlib.import_module(f"{task}.train").parse_config
    path = tmp_path / "old.json"
    path.write_text(json.dumps({old: True, "epochs": 3}))
    config = parse_config(["--config", str(path)])
    assert config["flip"] is True and config["epochs"] == 3 and "flip" in config["explicit_keys"]
    assert parse_config(["--config", str(path), "--flip", "false"])["flip"] is False  # a flag still wins


def test_a_checkpoint_saved_with_old_keys_reads_with_the_new_ones(tmp_path):
    from common.runtime import checkpoint as ckpt

    saved = {"task": "watches", "step": 4, "config": {"model": "dcgan", "mirror": True, "epochs": 2,
                                                      "explicit_keys": ["epochs", "mirror"]}}
    (tmp_path / ckpt.STATE_FILE).write_text(json.dumps(saved))
    config = ckpt.read_state(tmp_path)["config"]
    assert config == {"model": "dcgan", "flip": True, "epochs": 2, "explicit_keys": ["epochs", "flip"]}


def test_upgrade_keys_keeps_a_new_key_given_beside_an_old_one():
    assert upgrade_keys({"random_flip": False, "flip": True}) == {"flip": True}
    assert upgrade_keys({"epochs": 1}) == {"epochs": 1}
    assert set(RENAMED_KEYS.values()) == {"flip"}


def test_load_config_file_renames_old_keys(tmp_path):
    (tmp_path / "c.yaml").write_text("mirror: true\nbatch-size: 4\n")
    assert load_config_file(tmp_path / "c.yaml") == {"flip": True, "batch_size": 4}


@pytest.mark.parametrize("module, old, new, dest", [
    ("night2day.translate", "--output", "--out", "out"),
    ("inpainting.fill", "--output", "--out", "out"),
])
def test_output_flags_old_and_new_spellings(module, old, new, dest, tmp_path):
    parser = importlib.import_module(module).build_parser()
    base = ["--checkpoint", str(tmp_path), "--input", str(tmp_path)]
    assert getattr(parser.parse_args([*base, old, "x"]), dest) == getattr(parser.parse_args([*base, new, "x"]), dest)
    assert getattr(parser.parse_args([*base, old, "x"]), dest) == "x"
    assert parser.format_help().index(new + " ") < parser.format_help().index(old + " ")  # the canonical one first


def test_metrics_results_json_flag_and_its_old_spelling():
    from common.metrics.evaluate import build_parser

    parser = build_parser()
    base = ["--real", "a", "--fake", "b"]
    assert parser.parse_args([*base, "--out", "r.json"]).json == "r.json"
    assert parser.parse_args([*base, "--json", "r.json"]).json == "r.json"
    assert parser.parse_args(base).json == "metrics.json"


def test_evaluate_clis_share_max_images_and_json(tmp_path):
    from inpainting.evaluate import build_parser as inpainting
    from night2day.evaluate import build_parser as night2day

    for build in (inpainting, night2day):
        args = build().parse_args(["--checkpoint", "c", "--data", "d", "--max-images", "5", "--json", "r.json"])
        assert (args.max_images, args.json, args.verbose) == (5, "r.json", False)


def test_masks_cli_hole_flags_match_the_training_flags(tmp_path):
    import cv2
    import numpy as np

    from inpainting import masks

    new = ["--mask", "random-block", "--hole-min", "0.3", "--hole-max", "0.4"]
    old = ["--kind", "random-block", "--min-side", "0.3", "--max-side", "0.4"]
    for name, flags in (("new", new), ("old", old)):
        assert masks.main([*flags, "--n", "3", "--size", "32", "--seed", "5", "--out", str(tmp_path / name)]) == 0
    read = [[cv2.imread(str(tmp_path / name / f"mask_{i:03d}.png"), cv2.IMREAD_UNCHANGED) for i in range(3)]
            for name in ("new", "old")]
    np.testing.assert_array_equal(np.stack(read[0]), np.stack(read[1]))
    sides = [(m > 0).any(axis=0).sum() for m in read[0]]
    assert all(round(0.3 * 32) <= s <= round(0.4 * 32) for s in sides)  # the limits were applied
    free_new = ["--mask", "free-form", "--area-min", "0.2", "--area-max", "0.25"]
    free_old = ["--kind", "free-form", "--min-area", "0.2", "--max-area", "0.25"]
    for name, flags in (("free_new", free_new), ("free_old", free_old)):
        assert masks.main([*flags, "--n", "2", "--size", "32", "--out", str(tmp_path / name)]) == 0
    a, b = ([cv2.imread(str(tmp_path / n / f"mask_{i:03d}.png"), 0) for i in range(2)]
            for n in ("free_new", "free_old"))
    np.testing.assert_array_equal(np.stack(a), np.stack(b))
    assert all(0.15 <= (m > 0).mean() <= 0.25 for m in a)


def test_masks_cli_names_the_canonical_flags_in_its_errors(tmp_path, capsys):
    from inpainting import masks

    with pytest.raises(SystemExit, match="2"):
        masks.main(["--kind", "random-block", "--min-side", "0.6", "--max-side", "0.5", "--out", str(tmp_path)])
    assert "error: --hole-min 0.6 and --hole-max 0.5 must satisfy" in capsys.readouterr().err


def _half_white(folder):
    """folder/a.png: a 32x32 image, black on the left, white on the right (its mirror is the other way round)."""
    from PIL import Image
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    pixels = np.zeros((32, 32, 3), np.uint8)
    pixels[:, 16:] = 255
    Image.fromarray(pixels).save(folder / "a.png")
    return folder


def _pipeline(task, root, flip):
    """The first training batch of `task`'s pipeline over root with --flip `flip`: float [B, 32, 32, 3]."""
    import numpy as np

    if task == "night2day":
        from night2day.data import train_dataset

        for split in ("trainA", "trainB"):
            _half_white(root / split)
        batch = train_dataset(root, model="multiscale", image_size=32, batch_size=8, seed=0, start_step=0, flip=flip)
    elif task == "inpainting":
        from inpainting.data import train_dataset

        batch = train_dataset(_half_white(root), image_size=32, batch_size=8, seed=0, start_step=0, mask="centre",
                              mask_options={"hole_size": 16}, flip=flip)
    else:
        from watches.data import train_dataset

        return np.asarray(next(iter(train_dataset(_half_white(root), image_size=32, batch_size=8, seed=0, start_step=0,
                                                  flip=flip))))
    return np.asarray(next(iter(batch))[0])  # night2day: (night, day); inpainting: (images, masks)


@pytest.mark.parametrize("task", ["night2day", "inpainting", "watches"])
def test_every_tasks_pipeline_flips_only_with_flip(task, tmp_path):
    def mirrored(images):
        return [bool(img[:, :16].mean() > img[:, 16:].mean()) for img in images]

    assert not any(mirrored(_pipeline(task, tmp_path / "off", False)))
    on = mirrored(_pipeline(task, tmp_path / "on", True))
    assert any(on) and not all(on)
