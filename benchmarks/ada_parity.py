"""Is our ADA NVIDIA's? watches.augment's bgc pipeline against NVIDIA's AugmentPipe, fed the same draws.

    python -m benchmarks.ada_parity --torch-python /path/to/torch-venv/bin/python \\
        --repo /path/to/stylegan2-ada-pytorch

NVIDIA's code runs unmodified from a checkout in an interpreter holding torch (benchmarks/torch_augment.py,
a subprocess; torch is never a dependency of ganworks). Two comparisons:

* the same draws: for each transformation alone, each group (pixel blitting, general geometric, colour)
  and the whole pipeline, our `bgc_draws` for a batch of demo images are replayed as NVIDIA's
  torch.rand / torch.randn calls, so both pipelines compute the same parameters; printed: the largest
  and the mean absolute difference of the augmented images (values in [-1, 1] before augmentation).
* the distribution: each side draws with its own generator for many images (NVIDIA: torch's; ours: the
  stateless keys) and the statistics of the parameters are printed side by side: how often a translation
  moves an image (and how often along one axis only), the spread of the scalings, how often an image is
  rotated, and the per-image colour offset (brightness after contrast and luma flip) of a black image.
Exit code 0 when every same-draws difference is below --tolerance, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

WORKER = Path(__file__).resolve().parent / "torch_augment.py"


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.ada_parity", description=__doc__.split("\n\n")[0])
    p.add_argument("--torch-python", required=True, metavar="PYTHON", help="an interpreter with torch")
    p.add_argument("--repo", required=True, help="a checkout of NVlabs/stylegan2-ada-pytorch")
    p.add_argument("--batch-size", type=int, default=8, help="demo images compared (default 8)")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--p", type=float, default=0.6, help="p of the whole-pipeline comparison (default 0.6)")
    p.add_argument("--samples", type=int, default=5000,
                   help="images per distribution (default 5000; NVIDIA's side holds them all at once: 20000 needs ~4 GB)")
    p.add_argument("--tolerance", type=float, default=1e-4, help="largest same-draws difference allowed")
    return p.parse_args(argv)


def cases(p):
    """(name, transformations, p): each transformation alone at p = 1, the groups, and the pipeline."""
    from watches.augment import BGC, GEOMETRIC

    single = [(name, (name,), 1.0) for name in BGC]
    groups = [("blit", ("xflip", "rotate90", "xint"), 1.0), ("geom", GEOMETRIC[3:], 1.0),
              ("color", BGC[7:], 1.0), ("bgc", BGC, 1.0), (f"bgc p={p:g}", BGC, p), ("bgc p=0", BGC, 0.0)]
    return single + groups


def our_summary(p, count, size, seed=7):
    """The distribution statistics (torch_augment.summary) of our parameters at p."""
    import numpy as np
    import tensorflow as tf

    from benchmarks.torch_augment import summary
    from watches import augment as A

    params = A.bgc_parameters(A.bgc_draws(tf.constant([seed, 0], tf.int64), count), p)
    params = {k: v.numpy() for k, v in params.items()}
    offset = A.color_matrix({k: tf.constant(v) for k, v in params.items()}).numpy()[:, 0, 3]
    pair = lambda t, f: (f(t[:, 0] * size), f(t[:, 1] * size))  # noqa: E731
    return summary(np, xint=pair(params["xint"], np.round), xfrac=pair(params["xfrac"], lambda v: v),
                   scale=params["scale"], aniso=params["aniso"], pre=params["rotate_pre"],
                   post=params["rotate_post"], offset=offset)


def main(argv=None) -> int:
    args = parse_args(argv)
    import numpy as np
    import tensorflow as tf
    from PIL import Image

    from watches import augment as A
    from watches.demo import demo_dataset

    files = sorted(f for f in Path(demo_dataset(size=args.image_size)).rglob("*") if f.suffix in (".png", ".jpg"))
    images = np.stack([np.asarray(Image.open(f).convert("RGB").resize((args.image_size,) * 2))
                       for f in files[:args.batch_size]]).astype("float32") / 127.5 - 1.0
    kinds = {name: kind for name, kind, *_ in A.PARAMETERS}
    arrays, listing, ours = {"images": images}, [], {}
    for i, (name, transforms, p) in enumerate(cases(args.p)):
        draws = A.bgc_draws(tf.constant([i, 1], tf.int64), len(images), transforms)
        order = []
        for key, value in draws.items():  # NVIDIA's order of drawing
            arrays[f"{i}/{key}"] = value.numpy()
            order.append(("uniform" if key.endswith("_p") else kinds[key], f"{i}/{key}"))
        listing.append({"name": name, "transforms": list(transforms), "p": p, "draws": order})
        ours[name] = A.bgc(tf.constant(images), A.bgc_parameters(draws, p)).numpy()
    ps = [args.p, 1.0, 1.2]
    arrays["cases"] = np.array(json.dumps(listing))
    arrays["distribution"] = np.array(json.dumps({"count": args.samples, "size": 16, "p": ps}))
    with tempfile.TemporaryDirectory(prefix="ada-parity-") as tmp:
        np.savez(Path(tmp) / "in.npz", **arrays)
        run = subprocess.run([args.torch_python, str(WORKER), "--repo", args.repo, "--inputs", str(Path(tmp) / "in.npz"),
                              "--outputs", str(Path(tmp) / "out.npz")], capture_output=True, text=True)
        if run.returncode != 0:
            print(f"error: NVIDIA's side failed (exit code {run.returncode}):\n{run.stderr[-3000:]}", file=sys.stderr)
            return 2
        nvidia = dict(np.load(Path(tmp) / "out.npz"))
        theirs_stats = json.loads(run.stdout.strip().splitlines()[-1])

    print(f"same draws, {len(images)} demo images {args.image_size}x{args.image_size} in [-1, 1]: "
          f"|ours - NVIDIA's AugmentPipe|")
    print(f"  {'transformations':16s} {'p':>4s} {'max':>10s} {'mean':>10s}   (NVIDIA's output range)")
    worst = 0.0
    for name, _, p in cases(args.p):
        diff = np.abs(ours[name] - nvidia[name])
        worst = max(worst, float(diff.max()))
        print(f"  {name:16s} {p:4g} {diff.max():10.2e} {diff.mean():10.2e}   "
              f"[{nvidia[name].min():.2f}, {nvidia[name].max():.2f}]")
    print(f"\ndistribution, {args.samples} images of 16x16 per p, each side's own generator (NVIDIA | ours):")
    for p in ps:
        mine, theirs = our_summary(p, args.samples, 16), theirs_stats[str(p)]
        print(f"  p = {p:g}")
        for key in ("xint", "xfrac", "offset"):
            for stat in theirs[key]:
                print(f"    {key + ' ' + stat:22s} {theirs[key][stat]:9.4f} | {mine[key][stat]:9.4f}")
        for key in ("log2_scale_std", "log2_aniso_std", "p_rotated"):
            print(f"    {key:22s} {theirs[key]:9.4f} | {mine[key]:9.4f}")
    ok = worst < args.tolerance
    print(f"\nlargest same-draws difference {worst:.2e}: {'within' if ok else 'above'} {args.tolerance:g}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
