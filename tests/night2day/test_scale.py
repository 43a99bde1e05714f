"""Train and judge at one scale: --load-size, sample sheets and evaluation at the training scale."""

import numpy as np
import pytest

from night2day.demo import demo_dataset
from night2day import data, train
from night2day.build import build_cyclegan, default_load_size, training_scale
from common.runtime.images import LABEL_BAND
from night2day.task import DAY_COLUMNS, NIGHT_COLUMNS, sample_inputs, sample_sheet, sheet_tile


def config_of(*argv):
    return train.parse_config(["--wandb", "disabled", *argv])


def test_load_size_defaults_to_the_sources_720_at_256_scaled_with_the_image_size():
    assert config_of("--model", "resnet")["load_size"] == 720
    assert config_of("--model", "resnet", "--image-size", "64")["load_size"] == 180
    assert config_of("--model", "resnet", "--image-size", "64", "--load-size", "64")["load_size"] == 64
    assert config_of("--model", "multiscale", "--image-size", "64")["load_size"] == 64
    assert default_load_size("resnet", 128) == 360


@pytest.mark.parametrize("argv, message", [
    (["--model", "resnet", "--image-size", "64", "--load-size", "48"], "smaller than the --image-size 64 crop"),
    (["--model", "multiscale", "--image-size", "64", "--load-size", "96"], "must equal --image-size"),
])
def test_impossible_load_sizes_are_refused(argv, message, capsys):
    with pytest.raises(SystemExit):
        config_of(*argv)
    assert message in capsys.readouterr().err


def test_training_crops_come_from_images_resized_to_the_load_size():
    root = demo_dataset()
    whole = [np.asarray(b) for b in data.ordered_dataset(root / "trainA", model="resnet", image_size=32,
                                                          batch_size=32)][0]
    for load, expect_whole in ((32, True), (96, False)):
        night, _ = next(iter(data.train_dataset(root, model="resnet", image_size=32, load_size=load, batch_size=2,
                                                seed=0, start_step=0)))
        assert night.shape == (2, 32, 32, 3)
        crop = np.asarray(night[0])
        is_whole = any(np.allclose(crop, w, atol=1e-4) or np.allclose(crop, w[:, ::-1], atol=1e-4) for w in whole)
        # load == crop size: the crop is a whole (possibly flipped) image; 3x larger: a third of one
        assert is_whole == expect_whole


def test_sample_sheet_runs_at_the_training_scale_with_labelled_columns():
    config = config_of("--model", "resnet", "--image-size", "32", "--filters", "4", "--res-blocks", "1")
    config["steps_per_epoch"] = 1
    assert config["load_size"] == 90
    gan = build_cyclegan(config, compile=False)
    assert training_scale(config) == 88  # rounded down to the generator's step of 4
    night, day = sample_inputs(demo_dataset(), model="resnet", image_size=88, n=2)
    assert night.shape == (2, 88, 88, 3)
    from night2day.inference import copy_with_input_size

    G, F = copy_with_input_size(gan.generator_g), copy_with_input_size(gan.generator_f)
    sheet = sample_sheet(G, F, night, day, "tanh", tile=sheet_tile(88))
    tile = 176  # 88 px enlarged twice (nearest), the smallest whole factor reaching 128 px
    # two label bands + two groups of 2 rows of 176-px tiles with 2-px padding
    band = LABEL_BAND
    assert sheet.shape == (2 * band + 2 * (2 * (tile + 2) + 2), 3 * (tile + 2) + 2, 3)
    strip = sheet[:band]
    assert strip.min() < 100 and strip.max() == 255  # dark label text on white
    assert len(NIGHT_COLUMNS) == len(DAY_COLUMNS) == 3
