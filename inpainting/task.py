"""inpainting as a common.runtime training task: data checks, model, pipeline, sample sheets, export."""

from __future__ import annotations


import numpy as np

from common.data import print_summary
from common.data_source import resolve_data
from common.runtime.images import labelled_grid, shown
from common.runtime.trainer import TrainingTask
from inpainting import data
from inpainting.demo import demo_dataset
from inpainting.build import build_gan, mask_options
from inpainting.masks import make_masks

SAMPLE_COLUMNS = ("masked input", "completed", "original")
SAMPLE_COUNT = 4


def sample_sheet(model, images, masks, tile=None) -> np.ndarray:
    """uint8 sheet, one row per image: masked input | completed | original.
    images float32 [B, S, S, 3] in [-1, 1]; masks [B, S, S, 1]; tile: the side each image is shown at
    (default S kept between 128 and 256, so a small training size stays a viewable sheet)."""
    completed, masked = model.complete(images, masks)
    rows = [list(r) for r in zip(*(shown(batch, "tanh", tile) for batch in (masked, completed, images)))]
    return labelled_grid([(SAMPLE_COLUMNS, rows)])


class InpaintingTask(TrainingTask):
    name = "inpainting"
    wandb_project = "inpainting-context-encoder"
    fixed_on_resume = ("model", "image_size", "filters", "bottleneck", "fill", "fill_value", "context")

    def prepare(self, config):
        root = resolve_data(config["data"], layouts=data.LAYOUTS, build_demo=demo_dataset)
        config["data_root"] = str(root)
        folders = data.splits(root)
        print_summary(folders["train"], config["batch_size"])  # nothing usable: one line, before anything is built
        if config["steps_per_epoch"] is None:
            config["steps_per_epoch"] = data.steps_per_epoch(folders["train"], config["batch_size"])
        if config["fill"] == "mean" and config.get("fill_value") is None:
            config["fill_value"] = data.mean_colour(folders["train"], image_size=config["image_size"])
        self.config = config  # until the trainer hands over the saved, read-only config (start)
        self.folders = folders
        self._samples = None

    def build_model(self, config):
        return build_gan(config)

    def dataset(self, config, start_step):
        return data.train_dataset(self.folders["train"], image_size=config["image_size"],
                                  batch_size=config["batch_size"], seed=config["seed"], start_step=start_step,
                                  mask=config["mask"], mask_options=mask_options(config),
                                  load_size=config["load_size"], flip=config.get("flip", False))

    def sample_grid(self, model):
        if self._samples is None:  # the same images and holes every time, so sheets compare across steps
            c = self.config
            source = self.folders["test"] or self.folders["train"]
            images = next(iter(data.ordered_images(source, image_size=c["image_size"], batch_size=SAMPLE_COUNT)))
            masks = make_masks(c["mask"], seed=c["seed"], step=0, batch_size=int(images.shape[0]),
                               image_size=c["image_size"], **mask_options(c))
            self._samples = (images, masks)
        return sample_sheet(model, *self._samples)

    def wandb_config(self, config):
        # the source notebook's own names first, then everything resolved
        return {"batch_size": config["batch_size"], "image_size": config["image_size"],
                "num_epochs": config["epochs"], "lr": config["lr_g"], "beta1": config["beta_1"],
                "weightRecon": config["recon_weight"] if config["model"] == "improved" else None,
                "architecture": "Improved U-Net generator" if config["model"] == "improved" else "Context Encoder",
                **{k: v for k, v in config.items() if k not in ("batch_size", "image_size")}}

    def on_finish(self, model, config, step=None):
        from common.runtime.generator import export_run
        from inpainting.inference import GENERATORS

        path = export_run(model, config, GENERATORS, config["out"], step)["generator"]
        print(f"generator exported to {path} (with its card)")
