"""Do night2day's ResNet CycleGAN networks compute what junyanz's reference code computes? Output against output.

    python -m benchmarks.cyclegan_check --torch-python /venv-torch/bin/python --repo /path/to/junyanz-checkout
    python -m benchmarks.cyclegan_check ... --configs tiny --write-fixture tests/night2day/data/junyanz_tiny.npz

For each configuration, junyanz's own models/networks.py (benchmarks/torch_junyanz.py, in the --torch-python
virtualenv) builds ResnetGenerator(3, 3, ngf, norm_layer, use_dropout=False, n_blocks) and
NLayerDiscriminator(3, ndf, n_layers=3, norm_layer) twice: with InstanceNorm2d(affine=False) (the reference's
get_norm_layer('instance'), which CycleGAN trains with) and with InstanceNorm2d(affine=True) (random scales
and offsets), both track_running_stats=False; every parameter is moved away from its init, and G(images)
and D(images) are computed for random images in [-1, 1]. Here night2day.models.resnet_generator and
patch_discriminator are built at the same sizes and get those weights (transfer(): kernels OIHW and
transposed (in, out, kh, kw) -> (kh, kw, ., .); a norm without affine parameters is ours with scale 1 and
offset 0; junyanz's conv biases that feed a norm are dropped, since the norm subtracts them with the
mean -- the check asserts that exactly those, by state_dict name, are the ones without a place here).

Parameter counts are asserted: ours = junyanz's with affine=True minus the biases that feed a norm
(= junyanz's with affine=False minus those biases plus the norms' scales and offsets).

Each row: the largest absolute difference, the output's largest magnitude and their ratio (the relative
difference); it passes at ratio <= 1e-4 with the same output shape. Exit code 1 if one fails.

Configurations: tiny (32 px, ngf 4, ndf 4, 2 residual blocks: small enough for a fixture under 300 KB;
--write-fixture saves its arrays and junyanz's outputs, which tests/test_benchmarks_cyclegan_check.py
checks without torch); full (128 px, ngf 64, ndf 64, 9 residual blocks: CycleGAN's resnet_9blocks and
basic D). Run with models/networks.py of junyanz/pytorch-CycleGAN-and-pix2pix at 78913853ab4a (whose
get_norm_layer('instance') says track_running_stats=True: torch_junyanz.py passes its own norm layer, with
False, so eval mode normalises by each image's statistics), torch 2.13.0 CPU, Keras 3.15.1 / TensorFlow
2.21.0, measured 2026-12-03 (--configs tiny,full --batch 1):

    tiny: {"image_size": 32, "ngf": 4, "ndf": 4, "n_blocks": 2}
    G: ours 13,483 = junyanz's affine=True 13,587 - 104 conv biases into norms
       = junyanz's affine=False 13,379 - 104 + 208 norm scales/offsets
    D: ours 11,573 = junyanz's affine=True 11,629 - 56 conv biases into norms
       = junyanz's affine=False 11,517 - 56 + 112 norm scales/offsets
    norm          net  max abs diff max |junyanz|   relative
    affine_false  G       6.258e-07     7.748e-01   8.08e-07  ok
    affine_false  D       3.278e-07     5.414e-01   6.06e-07  ok
    affine_true   G       9.984e-07     9.065e-01   1.10e-06  ok
    affine_true   D       3.576e-07     6.473e-01   5.52e-07  ok

    full: {"image_size": 128, "ngf": 64, "ndf": 64, "n_blocks": 9}
    G: ours 11,383,427 = junyanz's affine=True 11,388,675 - 5,248 conv biases into norms
       = junyanz's affine=False 11,378,179 - 5,248 + 10,496 norm scales/offsets
    D: ours 2,765,633 = junyanz's affine=True 2,766,529 - 896 conv biases into norms
       = junyanz's affine=False 2,764,737 - 896 + 1,792 norm scales/offsets
    norm          net  max abs diff max |junyanz|   relative
    affine_false  G       1.174e-05     9.992e-01   1.18e-05  ok
    affine_false  D       1.216e-05     3.736e+00   3.25e-06  ok
    affine_true   G       1.261e-05     9.982e-01   1.26e-05  ok
    affine_true   D       1.562e-05     3.967e+00   3.94e-06  ok

What this check found first (and night2day.models then fixed): the networks had junyanz's layers and
parameters but Keras's "same" padding, which is not PyTorch's padding=1 in three places, and their outputs
differed by more than their own size (relative 1.2-2.0 for G, 0.28-0.78 for D):
  - G's stride-2 3x3 convs on an even size padded (top/left 0, bottom/right 1), PyTorch (1, 1);
  - G's stride-2 3x3 transposed convs: "same" keeps rows [0, 2H) of the full transposed output,
    ConvTranspose2d(padding=1, output_padding=1) keeps [1, 2H + 1): a one-pixel shift;
  - D's stride-1 4x4 convs padded (1, 2), PyTorch (1, 1): D scored an S/8 x S/8 grid (32 x 32 at 256) where
    the 70x70 PatchGAN scores (S/8 - 2)^2 (30 x 30), and its last norm's statistics held the extra row and
    column.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

TORCH_SCRIPT = Path(__file__).resolve().parent / "torch_junyanz.py"
TOLERANCE = 1e-4
CONFIGS = {
    "tiny": dict(image_size=32, ngf=4, ndf=4, n_blocks=2),
    "full": dict(image_size=128, ngf=64, ndf=64, n_blocks=9),
}
VARIANTS = ("affine_false", "affine_true")  # junyanz's InstanceNorm2d(affine=...) (torch_junyanz.py)
NETWORKS = ("G", "D")


def repo_error(repo) -> str | None:
    """None if `repo` (a checkout, or its models/ folder) holds junyanz's networks.py, else a one-line reason."""
    repo = Path(repo)
    if (repo / "models" / "networks.py").is_file() or (repo / "networks.py").is_file():
        return None
    return f"--repo {repo}: no models/networks.py there (a checkout of junyanz/pytorch-CycleGAN-and-pix2pix)"


def torch_error(python) -> str | None:
    """None if `python` imports torch and numpy, else a one-line reason."""
    try:
        done = subprocess.run([python, "-c", "import numpy, torch"], capture_output=True, text=True)
    except OSError as e:
        return f"--torch-python {python}: cannot run it ({e.strerror})"
    if done.returncode:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return f"--torch-python {python}: cannot import torch and numpy ({last})"
    return None


# ---- junyanz's modules -> our layers ----------------------------------------------------------------

def generator_layers(n_blocks) -> list:
    """(our layer, junyanz's state_dict prefix) in the order the data flows through ResnetGenerator.model."""
    pairs = [("stem_conv", "model.1"), ("stem_norm", "model.2"), ("down1_conv", "model.4"), ("down1_norm", "model.5"),
             ("down2_conv", "model.7"), ("down2_norm", "model.8")]
    for i in range(n_blocks):
        block = f"model.{10 + i}.conv_block"  # [pad, conv, norm, relu, pad, conv, norm]
        pairs += [(f"res{i + 1}_conv1", f"{block}.1"), (f"res{i + 1}_norm1", f"{block}.2"),
                  (f"res{i + 1}_conv2", f"{block}.5"), (f"res{i + 1}_norm2", f"{block}.6")]
    up = 10 + n_blocks  # [convT, norm, relu] x 2, pad, conv, tanh
    return pairs + [("up1_conv", f"model.{up}"), ("up1_norm", f"model.{up + 1}"), ("up2_conv", f"model.{up + 3}"),
                    ("up2_norm", f"model.{up + 4}"), ("out_conv", f"model.{up + 7}")]


def discriminator_layers() -> list:
    """(our layer, junyanz's state_dict prefix) for NLayerDiscriminator(n_layers=3).model."""
    return [("conv1", "model.0"), ("conv2", "model.2"), ("norm2", "model.3"), ("conv3", "model.5"),
            ("norm3", "model.6"), ("conv4", "model.8"), ("norm4", "model.9"), ("score_conv", "model.11")]


def transfer(model, reference, prefix, pairs) -> list:
    """Set `model`'s weights from junyanz's arrays under `prefix` ("affine_true/G"); returns the dropped biases.

    Conv kernels OIHW and transposed-conv kernels (in, out, kh, kw) both go to Keras's (kh, kw, ., .) by
    transpose(2, 3, 1, 0), unflipped (both frameworks correlate, and transpose the correlation). A junyanz
    bias whose conv has none here must feed a norm, which subtracts it with the mean: it is dropped. A norm
    without affine parameters (affine=False) is ours with scale 1 and offset 0.
    """
    import numpy as np
    from keras import layers

    used, dropped = set(), []

    def take(name):
        used.add(name)
        return np.asarray(reference[name])

    for index, (ours, theirs) in enumerate(pairs):
        layer = model.get_layer(ours)
        if isinstance(layer, layers.GroupNormalization):
            channels = layer.gamma.shape[0]
            affine = f"{prefix}/{theirs}.weight" in reference
            layer.gamma.assign(take(f"{prefix}/{theirs}.weight") if affine else np.ones(channels, np.float32))
            layer.beta.assign(take(f"{prefix}/{theirs}.bias") if affine else np.zeros(channels, np.float32))
            continue
        layer.kernel.assign(take(f"{prefix}/{theirs}.weight").transpose(2, 3, 1, 0))
        bias = f"{prefix}/{theirs}.bias"
        if layer.use_bias:
            layer.bias.assign(take(bias))
        elif bias in reference:
            following = model.get_layer(pairs[index + 1][0]) if index + 1 < len(pairs) else None
            assert isinstance(following, layers.GroupNormalization), f"{bias} feeds no norm but has no place in {ours}"
            used.add(bias)
            dropped.append(bias)
    left = sorted(k for k in reference if k.startswith(prefix + "/") and k not in used and not k.endswith("/output"))
    assert not left, f"junyanz parameters not transferred: {left}"
    return dropped


def build_ours(config, variant_reference, variant):
    """Our G and D at the config's sizes with junyanz's weights: ({"G": model, "D": model}, dropped biases)."""
    from night2day.models import patch_discriminator, resnet_generator

    size = config["image_size"]
    nets = {"G": resnet_generator(size, config["ngf"], config["n_blocks"]),
            "D": patch_discriminator(size, config["ndf"])}
    pairs = {"G": generator_layers(config["n_blocks"]), "D": discriminator_layers()}
    dropped = {key: transfer(net, variant_reference, f"{variant}/{key}", pairs[key]) for key, net in nets.items()}
    return nets, dropped


def relative_difference(ours, reference) -> tuple:
    """(max |ours - junyanz's|, max |junyanz's|, ratio, note); arrays of different shapes are compared on
    their common top-left corner (and the note says so)."""
    import numpy as np

    ours, reference = np.asarray(ours, np.float64), np.asarray(reference, np.float64)
    note = ""
    if ours.shape != reference.shape:
        note = "{}x{} vs junyanz's {}x{}, top-left".format(*ours.shape[1:3], *reference.shape[1:3])
        common = tuple(slice(0, min(a, b)) for a, b in zip(ours.shape, reference.shape))
        ours, reference = ours[common], reference[common]
    diff = float(np.max(np.abs(ours - reference)))
    scale = float(np.max(np.abs(reference)))
    return diff, scale, diff / scale, note


def compare(config, reference) -> dict:
    """{(variant, network): (diff, scale, ratio, note)} of our outputs against junyanz's stored ones."""
    rows = {}
    for variant in VARIANTS:
        nets, _ = build_ours(config, reference, variant)
        for key in NETWORKS:
            ours = nets[key](reference["images"], training=False)
            rows[(variant, key)] = relative_difference(ours, reference[f"{variant}/{key}/output"])
    return rows


def parameter_counts(config, reference, counts) -> list:
    """Lines stating ours against junyanz's parameter counts (asserted where they must be equal)."""
    import numpy as np

    from night2day.models import patch_discriminator, resnet_generator

    ours = {"G": resnet_generator(config["image_size"], config["ngf"], config["n_blocks"]).count_params(),
            "D": patch_discriminator(config["image_size"], config["ndf"]).count_params()}
    lines = []
    for key in NETWORKS:
        into_norms = {v: sum(int(np.size(reference[f"{v}/{key}/{b}"])) for b in counts[v][key]["biases_into_norms"])
                      for v in VARIANTS}
        norm_params = counts["affine_true"][key]["params"] - counts["affine_false"][key]["params"]
        true_minus = counts["affine_true"][key]["params"] - into_norms["affine_true"]
        assert ours[key] == true_minus, f"{key}: ours {ours[key]:,} != junyanz affine=True minus biases into norms"
        assert ours[key] == counts["affine_false"][key]["params"] - into_norms["affine_false"] + norm_params
        lines.append(f"{key}: ours {ours[key]:,} = junyanz's affine=True {counts['affine_true'][key]['params']:,} - "
                     f"{into_norms['affine_true']:,} conv biases into norms\n"
                     f"   = junyanz's affine=False {counts['affine_false'][key]['params']:,} - "
                     f"{into_norms['affine_false']:,} + {norm_params:,} norm scales/offsets")
    return lines


def check(name, args, work) -> dict:
    import numpy as np

    config = CONFIGS[name]
    reference_file = work / f"{name}-junyanz.npz"
    started = time.perf_counter()
    done = subprocess.run([args.torch_python, str(TORCH_SCRIPT), "--repo", args.repo, "--config", json.dumps(config),
                           "--out", str(reference_file), "--batch", str(args.batch)], capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"junyanz's side failed for {name}:\n{done.stderr[-3000:]}")
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    torch_s = time.perf_counter() - started
    reference = dict(np.load(reference_file))
    started = time.perf_counter()
    count_lines = parameter_counts(config, reference, counts)
    for variant in VARIANTS:
        _, dropped = build_ours(config, reference, variant)
        for key in NETWORKS:
            expected = [f"{variant}/{key}/{b}" for b in counts[variant][key]["biases_into_norms"]]
            assert dropped[key] == expected, f"{variant}/{key}: dropped {dropped[key]} != biases into norms {expected}"
    rows = compare(config, reference)
    print(f"\n{name}: {json.dumps(config)}, batch {args.batch}; junyanz side {torch_s:.0f} s "
          f"(torch {counts['torch']}), ours {time.perf_counter() - started:.0f} s")
    print("\n".join(count_lines))
    print(f"{'norm':13s} {'net':3s} {'max abs diff':>13s} {'max |junyanz|':>13s} {'relative':>10s}")
    for (variant, key), (diff, scale, ratio, note) in rows.items():
        verdict = "ok" if ratio <= TOLERANCE and not note else "FAIL"
        print(f"{variant:13s} {key:3s} {diff:13.3e} {scale:13.3e} {ratio:10.2e}  {verdict}"
              + (f"  ({note})" if note else ""))
    if args.write_fixture and name == "tiny":
        Path(args.write_fixture).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(reference_file, args.write_fixture)
        print(f"fixture written: {args.write_fixture} ({Path(args.write_fixture).stat().st_size:,} bytes)")
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--torch-python", required=True, help="an interpreter with torch (a separate virtualenv)")
    p.add_argument("--repo", required=True, help="a checkout of junyanz/pytorch-CycleGAN-and-pix2pix (or its models/)")
    p.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated, of {', '.join(CONFIGS)}")
    p.add_argument("--batch", type=int, default=2, help="images per output")
    p.add_argument("--write-fixture", metavar="FILE.npz", help="save the tiny configuration's arrays and outputs")
    args = p.parse_args(argv)
    names = [n for n in args.configs.split(",") if n]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        p.error(f"unknown configuration(s): {', '.join(unknown)}")
    error = repo_error(args.repo) or torch_error(args.torch_python)
    if error:
        sys.exit(error)
    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            rows = check(name, args, Path(tmp))
            failed += [f"{name}/{'/'.join(k)}" for k, (_, _, ratio, note) in rows.items()
                       if ratio > TOLERANCE or note]
    print(f"\n{'all outputs within' if not failed else 'FAILED: ' + ', '.join(failed) + ' beyond'} "
          f"{TOLERANCE:g} relative")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
