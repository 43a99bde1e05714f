"""watches as a common.runtime training task: data summary, model, pipeline, fixed-seed sample grids, export."""

from __future__ import annotations


from common.data import print_summary
from common.data_source import resolve_data
from common.runtime.trainer import TrainingTask
from watches import data
from watches.demo import demo_dataset
from watches.build import build_gan
from watches.sampling import sample_grid, seed_latents

# the sample grid always shows the images of these latent seeds, so successive grids are comparable
SAMPLE_SEEDS = tuple(range(16))


class WatchesTask(TrainingTask):
    name = "watches"
    wandb_project = "watches-gan"
    fixed_on_resume = ("model", "image_size", "latent_dim", "filters", "patch_discriminator", "g_ema_kimg", "w_dim",
                       "mapping_layers", "channel_base", "channel_max", "mbstd_group")
    # what --init-from takes from the run (or converted NVIDIA model) it starts from: the networks' shapes and
    # what they compute (the minibatch-std group is a training setting there, as in NVIDIA's transfer learning)
    network_keys = ("model", "image_size", "latent_dim", "filters", "patch_discriminator", "w_dim", "mapping_layers",
                    "channel_base", "channel_max", "conv_clamp", "mixed_resolutions")

    def prepare(self, config):
        root = resolve_data(config["data"], layouts=data.LAYOUTS, build_demo=demo_dataset)
        config["data_root"] = str(root)
        info = print_summary(root, config["batch_size"])  # nothing usable: one line, before anything is built
        if config["steps_per_epoch"] is None:
            config["steps_per_epoch"] = max(1, info["images"] // config["batch_size"])
        self.config = config  # until the trainer hands over the saved, read-only config (start)
        self._latents = seed_latents(SAMPLE_SEEDS, config["latent_dim"])
        self._extractor = None
        # the run's --metrics-every, or 0 once the extractor's weights turned out unavailable (the task's
        # state: the saved config keeps what the run was asked to do)
        self.metrics_every = config["metrics_every"]

    def build_model(self, config):
        return build_gan(config)

    def dataset(self, config, start_step):
        return data.train_dataset(config["data_root"], image_size=config["image_size"],
                                  batch_size=config["batch_size"], seed=config["seed"], start_step=start_step,
                                  flip=config.get("flip", False))

    def sample_grid(self, model):
        return sample_grid(model.sampler, self._latents, SAMPLE_SEEDS)

    def step_metrics(self, model, step):
        """FID and KID of --metrics-fake generated images every --metrics-every steps (as NVIDIA's code
        does at each snapshot), logged as fid<N> / kid<N> with N the number of generated images."""
        every = self.metrics_every
        if not every or step % every:
            return {}
        if self._extractor is None:
            from common.metrics.evaluate import build_extractor
            from common.metrics.features import WeightsUnavailableError

            try:
                self._extractor = build_extractor(self.config["metrics_extractor"], None)
            except WeightsUnavailableError as exc:
                print(f"\nnote: --metrics-every turned off: {exc}", flush=True)
                self.metrics_every = 0
                return {}
        from watches.evaluation import evaluate_generator

        n = self.config["metrics_fake"]
        result = evaluate_generator(model.sampler, self.config["latent_dim"], self.config["data_root"],
                                    extractor=self._extractor, num_fake=n, metrics=("fid", "kid"))
        print(f"\nstep {step}: FID {result['fid']:.4f}, KID {result['kid']:.5f} ({n} generated images, "
              f"{self._extractor.name} features)", flush=True)
        return {f"fid{n}": result["fid"], f"kid{n}": result["kid"]}

    def on_finish(self, model, config, step=None):
        from common.runtime.generator import export_run
        from watches.inference import GENERATORS

        path = export_run(model, config, GENERATORS, config["out"], step)["generator"]
        print(f"generator exported to {path} (with its card)" + (" (the EMA weights)" if config["g_ema_kimg"] else ""))
