"""night2day as a common.runtime training task: data checks, model, pipeline, sample sheets, export."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common.data import list_images, print_summary
from common.data_source import resolve_data
from common.report import one_line_error
from common.runtime.config import ConfigError
from common.runtime.images import labelled_grid, sheet_tile, shown
from common.runtime.trainer import TrainingTask
from night2day import data
from night2day.demo import demo_dataset
from night2day.build import build_cyclegan, training_scale
from night2day.inference import GRID_COLUMNS


def sample_inputs(data_root, *, model, image_size, n=4):
    """(night, day): the first n images of testA and testB (trainA/trainB when there is no test split),
    float32 [n, S, S, 3] in the preset's range; the same every call, so sheets compare across steps.

    image_size: the scale to show them at - the training scale (the config's load_size), so a
    ResNet generator trained on crops of 720-px images is judged on whole 720-px images.
    """
    root = Path(data_root)
    out = []
    for test, train in (("testA", "trainA"), ("testB", "trainB")):
        folder = root / test if (root / test).is_dir() else root / train
        batch = next(iter(data.ordered_dataset(folder, model=model, image_size=image_size, batch_size=n)))
        out.append(np.asarray(batch))
    return out


# at the end of training, G(night) is scored on at most this many paired test images
PAIRED_REPORT_LIMIT = 64

NIGHT_COLUMNS, DAY_COLUMNS = GRID_COLUMNS["night2day"], GRID_COLUMNS["day2night"]


def sample_sheet(generator_g, generator_f, night, day, value_range, tile=None) -> np.ndarray:
    """uint8 [H, W, 3] sheet, one row per image: night | G(night) | F(G(night)), then day | F(day) | G(F(day)),
    each group under a strip naming its columns.

    night, day: float32 [B, S, S, 3] in value_range ("tanh" or "sigmoid"). tile: the side each
    image is shown at (None: S), so large training scales stay a viewable sheet.
    """
    fake_day = np.asarray(generator_g(night, training=False))
    rec_night = np.asarray(generator_f(fake_day, training=False))
    fake_night = np.asarray(generator_f(day, training=False))
    rec_day = np.asarray(generator_g(fake_night, training=False))

    def px(batch):
        return shown(batch, value_range, tile or batch.shape[1])

    night_rows = [px(night[i:i + 1]) + px(fake_day[i:i + 1]) + px(rec_night[i:i + 1]) for i in range(len(night))]
    day_rows = [px(day[i:i + 1]) + px(fake_night[i:i + 1]) + px(rec_day[i:i + 1]) for i in range(len(day))]
    return labelled_grid([(NIGHT_COLUMNS, night_rows), (DAY_COLUMNS, day_rows)])


class Night2DayTask(TrainingTask):
    name = "night2day"
    wandb_project = "night2day-cyclegan"
    fixed_on_resume = ("model", "image_size", "filters", "res_blocks", "kernel_size", "fusion_kernel",
                       "inception_residual", "history_pool")

    def prepare(self, config):
        root = resolve_data(config["data"], layouts=data.LAYOUTS, build_demo=demo_dataset)
        config["data_root"] = str(root)
        for folder in data.domain_folders(root).values():  # nothing usable: one line, before anything is built
            print_summary(folder, config["batch_size"])
        if config["steps_per_epoch"] is None:
            config["steps_per_epoch"] = data.default_steps_per_epoch(root, model=config["model"],
                                                                     batch_size=config["batch_size"])
        self.config = config  # until the trainer hands over the saved, read-only config (start)
        self.value_range = data.value_range_of(config["model"])
        self._samples = None
        self._copies = {}  # generator name -> its any-size copy (two at most)

    def check_devices(self, config, replicas):
        if not config["history_pool"] or replicas == 1:
            return {}
        if "history_pool" in config.get("explicit_keys", ()):
            raise ConfigError(f"--history-pool keeps one buffer on one device, but this run has {replicas} devices "
                              "(--strategy auto picked them); add --strategy default or drop --history-pool")
        # the ResNet preset's pool, not asked for: dropped rather than refusing to train
        return {"history_pool": (0, f"the history pool keeps one buffer on one device and this run has {replicas} "
                                    "devices")}

    def build_model(self, config):
        return build_cyclegan(config)

    def dataset(self, config, start_step):
        return data.train_dataset(config["data_root"], model=config["model"], image_size=config["image_size"],
                                  load_size=config.get("load_size"), batch_size=config["batch_size"],
                                  seed=config["seed"], start_step=start_step, flip=config.get("flip"))

    def sample_grid(self, model):
        if self._samples is None:
            self._samples = sample_inputs(self.config["data_root"], model=self.config["model"],
                                          image_size=self._scale(self.config))
        night, day = self._samples
        return sample_sheet(self._any_size(model.generator_g), self._any_size(model.generator_f), night, day,
                            self.value_range, tile=sheet_tile(self._scale(self.config)))

    @staticmethod
    def _scale(config) -> int:
        return training_scale(config)

    def _any_size(self, net):
        """The ResNet generators are fully convolutional: run them on whole training-scale images."""
        if self._scale(self.config) == self.config["image_size"]:
            return net
        from night2day.inference import copy_with_input_size

        if net.name not in self._copies:
            self._copies[net.name] = copy_with_input_size(net)
        copy = self._copies[net.name]
        copy.set_weights(net.get_weights())  # the current weights, every sheet
        return copy

    def wandb_config(self, config):
        # the notebook's own keys first, then everything resolved
        return {"epochs": config["epochs"], "batch_size": config["batch_size"],
                "learning_rate": config["lr_d"],
                "architecture": "Multi-Scale CycleGAN" if config["model"] == "multiscale" else "ResNet CycleGAN",
                **{k: v for k, v in config.items() if k not in ("epochs", "batch_size")}}

    def on_finish(self, model, config, step=None):
        from common.runtime.generator import EXPORT_FOLDER, export_run
        from night2day.inference import GENERATORS

        export_run(model, config, GENERATORS, config["out"], step)
        print(f"generators exported to {Path(config['out']) / EXPORT_FOLDER} (generator_g: night->day, "
              "generator_f: day->night), each with its card")
        self.report_paired(model, config)

    def report_paired(self, model, config, limit=PAIRED_REPORT_LIMIT):
        """When testA/ and testB/ hold the same scenes (the demo data does), print how close G(night) gets
        to the true day images, beside the untranslated night images and the colour-transfer baseline."""
        from common.data import scan_images
        from night2day.evaluation import format_paired, paired_files, paired_results

        root = Path(config["data_root"])
        if not ((root / "testA").is_dir() and (root / "testB").is_dir()):
            return None
        try:
            pairs = paired_files(list_images(root / "testA"), list_images(root / "testB"))  # names only: cheap
            if not pairs:
                return None
            night = scan_images([a for a, _ in pairs], decode=True, stop_after=limit, report=False)[0]
            partner = dict(pairs)
            day = scan_images([partner[a] for a in night], decode=True, report=False)[0]
            paired = paired_results(self._any_size(model.generator_g), root, night, day, model=config["model"],
                                    scale=self._scale(config), limit=limit)
        except Exception as exc:  # noqa: BLE001 - a report must not fail a finished run
            print(f"note: paired test images not scored ({one_line_error(exc)})")
            return None
        if paired:
            print(format_paired(paired))
        return paired
