"""Does a watches GAN learn? It trains briefly on the demo data, and FID/KID of its generator are
printed at the start and at the end, so a change that breaks learning shows up.

    python -m benchmarks.watches_dcgan                 # the DCGAN, a few minutes on a 2-core CPU
    python -m benchmarks.watches_dcgan --steps 300
    python -m benchmarks.watches_dcgan --model stylegan2   # StyleGAN2-ADA, small channels (base 2048, max 64)

Trains `python -m watches.train --model dcgan --data demo` with the preset's tricks (soft one-sided
labels, 10% flipped labels, separate real/fake batches, Adam 2e-4 beta_1 0.5) at the demo's 64 px
with 32 filters and batch 16, then scores the untrained generator (the same seed's initial
weights) and the trained one against the 48 demo images with a small fixed random feature
extractor (offline: no Inception weights; the numbers compare runs of this benchmark only). Exit
code 0 when FID fell, 1 when it did not. With --model stylegan2 the same runs for StyleGAN2-ADA with
NVIDIA's training settings (lazy R1, path length, style mixing, ADA, ramped EMA) on small networks:
64-d z and w, channels min(--channel-base / res, --channel-max); the EMA generator is scored.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.watches_dcgan", description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=1500, help="training steps (default 1500)")
    p.add_argument("--max-minutes", type=float, default=10.0, help="stop training after this long")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--model", choices=["dcgan", "stylegan2"], default="dcgan")
    p.add_argument("--filters", type=int, default=32, help="dcgan: base filters (32)")
    p.add_argument("--channel-base", type=int, default=2048, help="stylegan2 (2048)")
    p.add_argument("--channel-max", type=int, default=64, help="stylegan2 (64)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--num-fake", type=int, default=480, help="generated images scored (default 480)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="run folder (default: a temporary one)")
    p.add_argument("--json", default=None, help="also write the results here")
    args = p.parse_args(argv)
    if min(args.steps, args.batch_size, args.num_fake - 1) < 1 or args.max_minutes <= 0:
        p.error("--steps, --batch-size, --max-minutes must be positive and --num-fake at least 2")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    import keras

    from benchmarks.random_features import save_random_feature_model
    from benchmarks.training import TrainingFailed, timed_training
    from watches.demo import demo_dataset
    from common.metrics.features import keras_model_extractor
    from common.runtime import checkpoint as ckpt
    from watches import train
    from watches.build import build_gan
    from watches.evaluation import evaluate_generator

    steps_per_epoch = min(100, args.steps)
    epochs = -(-args.steps // steps_per_epoch)
    with tempfile.TemporaryDirectory(prefix=f"watches-{args.model}-") as tmp:
        out = Path(args.out) if args.out else Path(tmp) / "run"
        if args.model == "dcgan":
            size_args = ["--filters", str(args.filters)]
        else:
            size_args = ["--latent-dim", "64", "--w-dim", "64", "--channel-base", str(args.channel_base),
                         "--channel-max", str(args.channel_max)]
        argv = ["--model", args.model, "--data", "demo", "--image-size", str(args.image_size),
                *size_args, "--batch-size", str(args.batch_size),
                "--steps-per-epoch", str(steps_per_epoch), "--epochs", str(epochs), "--seed", str(args.seed),
                "--checkpoint-every", str(epochs * steps_per_epoch), "--sample-every", str(epochs * steps_per_epoch),
                "--max-duration", f"{args.max_minutes * 60:.0f}s", "--wandb", "disabled", "--out", str(out)]
        try:
            seconds, checkpoints = timed_training("watches", train.main, argv, out)
        except TrainingFailed as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        config = ckpt.read_state(checkpoints[-1])["config"]
        trained = build_gan(config)
        ckpt.restore(trained, checkpoints[-1])
        keras.utils.set_random_seed(config["seed"])  # what training started from
        start = build_gan(config)
        step = ckpt.read_state(checkpoints[-1])["step"]
        extractor = keras_model_extractor(save_random_feature_model(Path(tmp) / "features.keras", seed=0,
                                                                    feature_dim=64, input_size=64))

    real = demo_dataset(size=args.image_size)
    scores = {name: evaluate_generator(model.sampler, config["latent_dim"], real, extractor=extractor,
                                       num_fake=args.num_fake, metrics=("fid", "kid"), cache_dir=False)
              for name, model in (("start", start), ("end", trained))}
    print(f"\nFID / KID against the {scores['end']['n_real']} demo images ({args.num_fake} generated, "
          f"random 64-d test extractor):")
    for name, label in (("start", "untrained (step 0)"), ("end", f"trained (step {step})")):
        print(f"  {label:20s} FID {scores[name]['fid']:9.4f}   KID {scores[name]['kid']:.5f}")
    print(f"trained {step} steps in {seconds / 60:.1f} min (wall time, including start-up and checkpoints)")
    learned = scores["end"]["fid"] < scores["start"]["fid"]
    print(f"FID {'fell' if learned else 'did not fall'}: {scores['start']['fid']:.4f} -> {scores['end']['fid']:.4f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"scores": scores, "steps": step, "train_seconds": seconds,
                                               "argv": argv}, indent=2, default=str) + "\n")
    return 0 if learned else 1


if __name__ == "__main__":
    sys.exit(main())
