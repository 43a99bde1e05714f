"""watches as a common.runtime training task: data summary, model, pipeline, fixed-seed sample grids, export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from common.data import print_summary, resize
from common.data_source import resolve_data
from common.runtime.images import image_grid
from common.runtime.trainer import TrainingTask
from watches import data
from watches.demo import demo_dataset
from watches.build import build_gan

# the sample grid always shows the images of these latent seeds, so successive grids are comparable
SAMPLE_SEEDS = tuple(range(16))


def seed_latents(seeds, latent_dim) -> np.ndarray:
    """float32 [len(seeds), latent_dim]: seed s -> N(0, 1) drawn by numpy's PCG64 from s (the same on every
    machine), as NVIDIA's generate.py does."""
    return np.stack([np.random.default_rng(int(s)).standard_normal(int(latent_dim)) for s in seeds]).astype("float32")


def run_generator(generator, z, psi=1.0, training=False):
    """images [B, S, S, 3] in [-1, 1] from latents z [B, latent_dim]: a StyleGAN2 generator takes [z, psi]
    (truncation towards the average w); a DCGAN generator takes z, truncated by scaling it by psi."""
    if isinstance(generator.inputs, (list, tuple)) and len(generator.inputs) == 2:
        z = tf.convert_to_tensor(z, tf.float32)
        return generator([z, tf.fill([tf.shape(z)[0], 1], tf.cast(psi, tf.float32))], training=training)
    return generator(z * psi if psi != 1 else z, training=training)


def latent_size(generator) -> int:
    """The latent size a (DCGAN or StyleGAN2) generator takes."""
    return int(generator.inputs[0].shape[-1])


def to_uint8(images) -> np.ndarray:
    return np.clip(np.round((np.asarray(images, np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def sample_grid(generator, latents, columns=4, tile=None) -> np.ndarray:
    images = np.asarray(run_generator(generator, latents))
    tile = tile or int(min(max(images.shape[1], 128), 256))
    if images.shape[1] != tile:
        images = np.asarray(resize((images + 1.0) * 127.5, tile)) / 127.5 - 1.0
    pixels = list(to_uint8(images))
    return image_grid([pixels[i:i + columns] for i in range(0, len(pixels), columns)])


class WatchesTask(TrainingTask):
    name = "watches"
    wandb_project = "watches-gan"
    fixed_on_resume = ("model", "image_size", "latent_dim", "filters", "patch_discriminator", "g_ema_kimg", "w_dim",
                       "mapping_layers", "channel_base", "channel_max", "mbstd_group")

    def prepare(self, config):
        root = resolve_data(config["data"], layouts=data.LAYOUTS, build_demo=demo_dataset)
        config["data_root"] = str(root)
        info = print_summary(root, config["batch_size"])  # nothing usable: one line, before anything is built
        if config["steps_per_epoch"] is None:
            config["steps_per_epoch"] = max(1, info["images"] // config["batch_size"])
        self.config = config
        self._latents = seed_latents(SAMPLE_SEEDS, config["latent_dim"])
        self._extractor = None

    def build_model(self, config):
        return build_gan(config)

    def dataset(self, config, start_step):
        return data.train_dataset(config["data_root"], image_size=config["image_size"],
                                  batch_size=config["batch_size"], seed=config["seed"], start_step=start_step,
                                  mirror=config["mirror"])

    def sample_grid(self, model):
        return sample_grid(model.sampler, self._latents)

    def step_metrics(self, model, step):
        """FID and KID of --metrics-fake generated images every --metrics-every steps (as NVIDIA's code
        does at each snapshot), logged as fid<N> / kid<N> with N the number of generated images."""
        every = self.config["metrics_every"]
        if not every or step % every:
            return {}
        if self._extractor is None:
            from common.metrics.evaluate import build_extractor
            from common.metrics.features import WeightsUnavailableError

            try:
                self._extractor = build_extractor(self.config["metrics_extractor"], None)
            except WeightsUnavailableError as exc:
                print(f"\nnote: --metrics-every turned off: {exc}", flush=True)
                self.config["metrics_every"] = 0
                return {}
        from watches.evaluation import evaluate_generator

        n = self.config["metrics_fake"]
        result = evaluate_generator(model.sampler, self.config["latent_dim"], self.config["data_root"],
                                    extractor=self._extractor, num_fake=n, metrics=("fid", "kid"))
        print(f"\nstep {step}: FID {result['fid']:.4f}, KID {result['kid']:.5f} ({n} generated images, "
              f"{self._extractor.name} features)", flush=True)
        return {f"fid{n}": result["fid"], f"kid{n}": result["kid"]}

    def on_finish(self, model, config):
        path = Path(config["out"]) / "export" / "generator.keras"
        path.parent.mkdir(parents=True, exist_ok=True)
        model.sampler.save(path)
        print(f"generator exported to {path}" + (" (the EMA weights)" if config["g_ema_kimg"] else ""))
