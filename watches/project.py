"""Project an image into a trained StyleGAN2's w space: find the w (and noise) whose image is closest to it.

    python -m watches.project --checkpoint runs/sg2 --target watch.jpg --out proj/
    python -m watches.project --checkpoint runs/sg2/export/generator.keras --target watch.jpg --steps 300 --out proj/
    python -m watches.generate --checkpoint runs/sg2 --projected-w proj/projected_w.npz --out gen/

NVIDIA's projector (stylegan2-ada-pytorch projector.py): the target's centred square is resized to the
generator's size; one w, broadcast to every layer, starts at the average w of 10,000 mapped z and is
optimised with the noise images by Adam, against the perceptual distance (normalised VGG16 features,
LPIPS-like; or the features of --extractor FILE.keras) plus --mse-weight times the pixel MSE, with
NVIDIA's noise regularisation and schedules (learning rate ramped up over 5% of the steps and down
over the last 25%, w perturbed by noise fading out over the first 75%). See watches/projection.py.

It writes to --out: target.png (the target as fed), proj.png (the projection), projected_w.npz (w
[1, num_ws, w_dim] as NVIDIA's, the optimised noise images noise_<layer> and the per-step losses
loss, dist, mse), progress.png (the target, then the projection at --snapshots steps, each labelled)
and, when imageio with ffmpeg is installed (imageio-ffmpeg), proj.mp4 (target | projection, a frame
per step). The VGG16 weights are Keras's ImageNet file (downloaded on Kaggle/Colab), or
--vgg16-weights PATH / $GANWORKS_VGG16_WEIGHTS.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common.report import add_verbose, one_line_errors


def build_parser() -> argparse.ArgumentParser:
    p = one_line_errors(argparse.ArgumentParser(prog="python -m watches.project", description=__doc__,
                                                formatter_class=argparse.RawDescriptionHelpFormatter))
    p.add_argument("--checkpoint", required=True, help="StyleGAN2 run folder, checkpoint folder or exported .keras "
                                                       "generator")
    p.add_argument("--target", required=True, metavar="FILE", help="the image to project (cropped to its centred "
                                                                   "square, resized to the generator's size)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for proj.png, target.png, projected_w.npz, "
                                                               "progress.png (and proj.mp4)")
    p.add_argument("--steps", type=int, default=1000, help="optimisation steps")
    p.add_argument("--seed", type=int, default=303, help="seed of the initial noise images and the w perturbations")
    p.add_argument("--lr", type=float, default=0.1, help="the peak learning rate (Adam, betas 0.9, 0.999)")
    p.add_argument("--lr-rampup", type=float, default=0.05,
                   help="fraction of the steps the learning rate ramps up over")
    p.add_argument("--lr-rampdown", type=float, default=0.25,
                   help="fraction of the steps at the end it ramps down over (cosine)")
    p.add_argument("--initial-noise-factor", type=float, default=0.05,
                   help="the w perturbation at step 0, times w's spread")
    p.add_argument("--noise-ramp-length", type=float, default=0.75,
                   help="fraction of the steps over which the w perturbation fades to 0")
    p.add_argument("--noise-weight", type=float, default=1e5, help="weight of the noise regulariser")
    p.add_argument("--mse-weight", type=float, default=1.0, help="weight of the pixel MSE (images in [-1, 1])")
    p.add_argument("--w-avg-samples", type=int, default=10000, help="mapped z samples for the average w and its spread")
    p.add_argument("--extractor", default="vgg16", metavar="vgg16|FILE.keras",
                   help="the perceptual features: VGG16 (ImageNet) or a saved .keras feature model")
    p.add_argument("--vgg16-weights", metavar="PATH", default=None,
                   help="Keras's VGG16 notop .h5 (default: $GANWORKS_VGG16_WEIGHTS, else Keras's download)")
    p.add_argument("--snapshots", type=int, default=8, help="projections shown in progress.png")
    p.add_argument("--video", choices=["auto", "off"], default="auto",
                   help="proj.mp4: auto = when imageio with ffmpeg is installed")
    add_verbose(p)
    return p


def main(argv=None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    if not Path(args.checkpoint).exists():
        p.error(f"--checkpoint not found: {args.checkpoint}")
    if not Path(args.target).is_file():
        p.error(f"--target not found: {args.target}")
    if args.extractor != "vgg16" and not args.extractor.endswith(".keras"):
        p.error(f"--extractor {args.extractor!r} is neither vgg16 nor a .keras feature model file")
    if args.steps < 1 or args.w_avg_samples < 1 or args.snapshots < 1:
        p.error("--steps, --w-avg-samples and --snapshots must be at least 1")
    if args.lr <= 0 or not 0 <= args.lr_rampup < 1 or not 0 < args.lr_rampdown <= 1 or args.noise_ramp_length <= 0:
        p.error("--lr must be > 0, --lr-rampup in [0, 1), --lr-rampdown in (0, 1], --noise-ramp-length > 0")
    from common.report import quiet_tensorflow

    quiet_tensorflow(args.verbose)

    import numpy as np

    from common.data import DataError
    from common.metrics import features as F
    from common.report import Progress, one_line_error, output_folder
    from common.runtime.images import read_image, save_png
    from watches import projection
    from watches.inference import load
    from watches.sampling import is_stylegan2

    try:
        found = load(args.checkpoint)
        generator = found.network()
        if not is_stylegan2(generator):
            raise DataError(f"{args.checkpoint} is a {found.card.model} generator; projection needs a StyleGAN2 one "
                            "(a run of `python -m watches.train --model stylegan2` or a converted NVIDIA model)")
        size = int(generator.outputs[0].shape[1])
        try:
            target = projection.square_crop(read_image(args.target), size)
        except Exception as exc:  # noqa: BLE001 - a file that is no image: one line
            raise DataError(f"--target {args.target} cannot be read as an image ({one_line_error(exc)})") from None
        extractor = (F.vgg16_extractor(args.vgg16_weights) if args.extractor == "vgg16"
                     else F.keras_model_extractor(args.extractor))
        out = output_folder(args.out)
    except (DataError, F.WeightsUnavailableError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    no_video = projection.video_writer_available() if args.video == "auto" else "no video (--video off)"
    bar = Progress(args.steps, "project", unit="step")
    first = {}

    def on_step(step, values):
        first.setdefault("loss", values["loss"])
        bar.update(count=step, text=f"dist {values['dist']:.4f} mse {values['mse']:.5f} loss {values['loss']:.4f}")
        if step == 1:
            bar.restart_clock()  # the rate from after the first step, which traces the step function

    print(f"projecting {args.target} ({size} px) into {found.source}: {args.steps} steps, "
          f"features {extractor.name}", flush=True)
    result = projection.project(
        generator, target, extractor, num_steps=args.steps, w_avg_samples=args.w_avg_samples,
        initial_learning_rate=args.lr, initial_noise_factor=args.initial_noise_factor,
        lr_rampdown_length=args.lr_rampdown, lr_rampup_length=args.lr_rampup,
        noise_ramp_length=args.noise_ramp_length, regularize_noise_weight=args.noise_weight,
        mse_weight=args.mse_weight, seed=args.seed,
        snapshot_steps=projection.snapshot_steps(args.steps, args.snapshots), video=no_video is None,
        on_step=on_step)
    bar.close()

    save_png(out / "target.png", target)
    save_png(out / "proj.png", result.image)
    np.savez(out / "projected_w.npz", **result.arrays())
    save_png(out / "progress.png", projection.progress_strip(target, result.snapshots))
    written = ["target.png", "proj.png", "projected_w.npz", "progress.png"]
    if no_video is None:
        projection.write_video(out / "proj.mp4", target, result.frames)
        written.append("proj.mp4")
    mse = float(np.mean((result.image.astype(np.float64) - target) ** 2))
    psnr = 10 * np.log10(255.0 ** 2 / max(mse, 1e-12))
    print(f"loss {first['loss']:.4f} -> {result.loss[-1]:.4f}; proj.png PSNR {psnr:.2f} dB against target.png")
    print(f"wrote {', '.join(written)} to {out}" + (f" ({no_video})" if no_video else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
