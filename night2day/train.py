"""Train a night->day CycleGAN.

    python -m night2day.train --model resnet --data DIR          # SPEC model A (the standard CycleGAN)
    python -m night2day.train --epochs 30000                      # SPEC model B, the notebook's settings
    python -m night2day.train --data demo --image-size 64 ...     # built-in demo data

DIR holds trainA/ (night) and trainB/ (day) [+ testA/ testB/]; see night2day.prepare.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from common.runtime.config import ConfigError, add_runtime_arguments, parse_bool, resolve_config  # noqa: E402
from common.runtime.trainer import TrainingTask, run_cli  # noqa: E402

PRESETS = {
    # SPEC section 1, model A: batch 1, Adam 2e-4 (0.5, 0.999), cycle 10, identity 10 * 0.5
    "resnet": {
        "model": "resnet", "image_size": 256, "batch_size": 1, "epochs": 100, "steps_per_epoch": None,
        "filters": 64, "res_blocks": 9, "weight_init": "normal",
        "lr_g": 2e-4, "lr_d": 2e-4, "beta_1": 0.5, "beta_2": 0.999,
        "inverse_time_decay": 0.0, "cycle_weight": 10.0, "identity_weight": 5.0,
        "checkpoint_every": 1000, "sample_every": 500,
    },
    # SPEC section 1, model B: batch 4, Adam default betas, D 1e-4, G 5e-5, legacy decay 6e-8,
    # 30,000 one-batch epochs, checkpoint every 2,000, images every 1,000
    "multiscale": {
        "model": "multiscale", "image_size": 256, "batch_size": 4, "epochs": 30000, "steps_per_epoch": 1,
        "filters": 16, "kernel_size": 5, "fusion_kernel": 16, "inception_residual": False, "weight_init": "keras",
        "lr_g": 5e-5, "lr_d": 1e-4, "beta_1": 0.9, "beta_2": 0.999, "inverse_time_decay": 6e-8,
        "cycle_weight": 10.0, "identity_weight": 0.5, "checkpoint_every": 2000, "sample_every": 1000,
    },
}

TASK_DEFAULTS = {
    "model": "multiscale", "wandb_project": "night2day-cyclegan", "history_pool": 0, "decay_epochs": 0,
    "res_blocks": 9, "kernel_size": 5, "fusion_kernel": 16, "inception_residual": False, "weight_init": "keras",
}


def build_parser() -> argparse.ArgumentParser:
    S = argparse.SUPPRESS
    parser = argparse.ArgumentParser(prog="python -m night2day.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    g = parser.add_argument_group("model (every preset value can be overridden)")
    g.add_argument("--model", default=S, choices=sorted(PRESETS),
                   help="resnet: SPEC model A; multiscale: SPEC model B (default)")
    g.add_argument("--filters", type=int, default=S, help="base filters (resnet 64, multiscale 16)")
    g.add_argument("--res-blocks", type=int, default=S, help="resnet: residual blocks (9)")
    g.add_argument("--kernel-size", type=int, default=S, help="multiscale: inception kernel (5)")
    g.add_argument("--fusion-kernel", type=int, default=S,
                   help="multiscale: kernel of the x16 fusion transpose conv (16; 5 reproduces the notebook)")
    g.add_argument("--weight-init", default=S, choices=["normal", "keras"],
                   help="normal: N(0, 0.02) kernels and N(1, 0.02) norm scales, as both CycleGAN references "
                        "(resnet default); keras: Keras's default initialisers (multiscale default, as its notebook)")
    g.add_argument("--inception-residual", type=parse_bool, default=S,
                   metavar="BOOL", help="multiscale: add the 1x1-conv residual to each inception module")
    g = parser.add_argument_group("optimisation")
    g.add_argument("--lr-g", type=float, default=S, help="generators' learning rate")
    g.add_argument("--lr-d", type=float, default=S, help="discriminators' learning rate")
    g.add_argument("--beta-1", type=float, default=S)
    g.add_argument("--beta-2", type=float, default=S)
    g.add_argument("--inverse-time-decay", type=float, default=S, metavar="RATE",
                   help="lr / (1 + RATE * iteration), legacy Keras Adam(decay=RATE) (multiscale: 6e-8)")
    g.add_argument("--decay-epochs", type=int, default=S, metavar="K",
                   help="linearly decay the learning rates to 0 over the last K epochs (CycleGAN paper; 0 = off)")
    g.add_argument("--cycle-weight", type=float, default=S, help="weight of each cycle term (10)")
    g.add_argument("--identity-weight", type=float, default=S,
                   help="weight of each identity term (resnet 5 = 10 x 0.5; multiscale 0.5)")
    g.add_argument("--history-pool", type=int, default=S, metavar="N",
                   help="show D a buffer of the last N fakes (CycleGAN paper uses 50; 0 = off, as the notebooks)")
    add_runtime_arguments(parser)
    return parser


def _validate(c):
    if c["image_size"] % (32 if c["model"] == "multiscale" else 4):
        raise ConfigError(f"--image-size {c['image_size']} must be divisible by "
                          f"{32 if c['model'] == 'multiscale' else 4} for the {c['model']} model")
    if c["model"] == "multiscale" and c["weight_init"] != "keras":
        raise ConfigError("--weight-init normal is for the resnet model; the multiscale notebook used Keras's")
    for key in ("lr_g", "lr_d"):
        if c[key] <= 0:
            raise ConfigError(f"--{key.replace('_', '-')} must be positive")
    if c["decay_epochs"] < 0 or c["decay_epochs"] > c["epochs"]:
        raise ConfigError("--decay-epochs must be between 0 and --epochs")


def parse_config(argv=None) -> dict:
    return resolve_config(build_parser(), argv, task="night2day", task_defaults=TASK_DEFAULTS,
                          presets=PRESETS, validators=[_validate])


def build_networks(config) -> dict:
    """The four networks of a config: generator_g (night->day), generator_f, discriminator_x, discriminator_y."""
    from night2day import models

    size = config["image_size"]
    if config["model"] == "resnet":
        def gen(name):
            return models.resnet_generator(size, filters=config["filters"], res_blocks=config["res_blocks"],
                                           weight_init=config["weight_init"], name=name)

        def disc(name):
            return models.patch_discriminator(size, filters=config["filters"], weight_init=config["weight_init"],
                                              name=name)
    else:
        kw = dict(filters=config["filters"], kernel_size=config["kernel_size"],
                  inception_residual=config["inception_residual"])

        def gen(name):
            return models.multiscale_generator(size, fusion_kernel=config["fusion_kernel"], name=name, **kw)

        def disc(name):
            return models.multiscale_discriminator(size, name=name, **kw)
    return {"generator_g": gen("generator_g"), "generator_f": gen("generator_f"),
            "discriminator_x": disc("discriminator_x"), "discriminator_y": disc("discriminator_y")}


def learning_rate(config, base):
    import keras

    from common.schedules import LinearDecayTail

    lr = base
    if config["inverse_time_decay"]:  # legacy Adam(decay=rate): lr / (1 + rate * iteration)
        lr = keras.optimizers.schedules.InverseTimeDecay(base, decay_steps=1, decay_rate=config["inverse_time_decay"])
    if config["decay_epochs"]:
        spe = config["steps_per_epoch"]
        lr = LinearDecayTail(lr, config["epochs"] * spe, config["decay_epochs"] * spe)
    return lr


def build_cyclegan(config, compile=True):
    import keras

    from night2day.cyclegan import CycleGAN

    nets = build_networks(config)
    model = CycleGAN(nets["generator_g"], nets["generator_f"], nets["discriminator_x"], nets["discriminator_y"],
                     history_pool_size=config["history_pool"], seed=config["seed"])
    if compile:
        def adam(base):
            return keras.optimizers.Adam(learning_rate(config, base), beta_1=config["beta_1"],
                                         beta_2=config["beta_2"])

        opts = {name: adam(config["lr_g"] if name in ("g", "f") else config["lr_d"])
                for name in ("g", "f", "dx", "dy")}
        if config["mixed_precision"]:
            opts = {k: keras.optimizers.LossScaleOptimizer(v) for k, v in opts.items()}
        model.compile(g_optimizer=opts["g"], f_optimizer=opts["f"], dx_optimizer=opts["dx"],
                      dy_optimizer=opts["dy"], cycle_weight=config["cycle_weight"],
                      identity_weight=config["identity_weight"],
                      jit_compile={"auto": "auto", "on": True, "off": False}[config["jit_compile"]])
    return model


class Night2DayTask(TrainingTask):
    name = "night2day"
    wandb_project = "night2day-cyclegan"
    fixed_on_resume = ("model", "image_size", "filters", "res_blocks", "kernel_size", "fusion_kernel",
                       "inception_residual", "history_pool")

    def prepare(self, config):
        from common.datasets import resolve_data
        from night2day import data

        from common.data import list_images, scan_images

        root = resolve_data(config["data"], task="night2day")
        config["data_root"] = str(root)
        for folder in data.domain_folders(root).values():
            scan_images(list_images(folder))  # empty or all-unreadable: one line, before anything is built
        if config["steps_per_epoch"] is None:
            config["steps_per_epoch"] = data.default_steps_per_epoch(root, model=config["model"],
                                                                     batch_size=config["batch_size"])
        self.config = config
        self.value_range = data.value_range_of(config["model"])
        self._samples = None

    def check_devices(self, config, replicas):
        if config["history_pool"] and replicas > 1:
            raise ConfigError(f"--history-pool keeps one buffer on one device, but this run has {replicas} devices "
                              "(--strategy auto picked them); add --strategy default or drop --history-pool")

    def build_model(self, config):
        return build_cyclegan(config)

    def dataset(self, config, start_step):
        from night2day import data

        return data.train_dataset(config["data_root"], model=config["model"], image_size=config["image_size"],
                                  batch_size=config["batch_size"], seed=config["seed"], start_step=start_step)

    def _sample_inputs(self, config):
        """Up to 4 fixed night and 4 fixed day images (test split when present)."""
        from pathlib import Path

        from night2day import data

        root = Path(config["data_root"])
        out = []
        for test, train in (("testA", "trainA"), ("testB", "trainB")):
            folder = root / test if (root / test).is_dir() else root / train
            batch = next(iter(data.test_dataset(folder, model=config["model"], image_size=config["image_size"],
                                                batch_size=4)))
            out.append(np.asarray(batch))
        return out

    def sample_grid(self, model):
        """Rows: night | G(night) | F(G(night)) and day | F(day) | G(F(day)), uint8."""
        from common.data import from_range
        from common.runtime.images import image_grid

        if self._samples is None:
            self._samples = self._sample_inputs(self.config)
        night, day = self._samples
        vr = self.value_range
        G, F = model.generator_g, model.generator_f
        fake_day = np.asarray(G(night, training=False))
        rec_night = np.asarray(F(fake_day, training=False))
        fake_night = np.asarray(F(day, training=False))
        rec_day = np.asarray(G(fake_night, training=False))

        def px(batch):
            return list(np.asarray(from_range(batch.astype("float32"), vr)))

        rows = []
        for i in range(len(night)):
            rows.append(px(night[i:i + 1]) + px(fake_day[i:i + 1]) + px(rec_night[i:i + 1]))
        for i in range(len(day)):
            rows.append(px(day[i:i + 1]) + px(fake_night[i:i + 1]) + px(rec_day[i:i + 1]))
        return image_grid(rows)

    def wandb_config(self, config):
        # the notebook's own keys first, then everything resolved
        return {"epochs": config["epochs"], "batch_size": config["batch_size"],
                "learning_rate": config["lr_d"],
                "architecture": "Multi-Scale CycleGAN" if config["model"] == "multiscale" else "ResNet CycleGAN",
                **{k: v for k, v in config.items() if k not in ("epochs", "batch_size")}}

    def on_finish(self, model, config):
        from pathlib import Path

        export = Path(config["out"]) / "export"
        export.mkdir(parents=True, exist_ok=True)
        for name in ("generator_g", "generator_f"):
            model.networks[name].save(export / f"{name}.keras")
        print(f"generators exported to {export} (generator_g: night->day, generator_f: day->night)")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    return run_cli(Night2DayTask(), parse_config(argv), argv)


if __name__ == "__main__":
    sys.exit(main())
