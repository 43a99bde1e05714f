"""Does `python -m watches.convert` give NVIDIA's networks? Their outputs against ours, per output.

    python -m benchmarks.convert_check --torch-python /venv-torch/bin/python --repo /path/to/stylegan2-ada-pytorch
    python -m benchmarks.convert_check ... --configs tiny --write-fixture tests/watches/data/nvidia_tiny.npz

For each configuration, NVIDIA's own code (benchmarks/torch_convert.py, in the --torch-python virtualenv)
builds G and D with random weights moved away from their initial values, pickles them as
training_loop.py does and computes its outputs for fixed inputs. The pickle then goes through the
product path: `python -m watches.convert PICKLE --torch-python ... --nvidia-repo ...` writes a converted
folder, whose exported generator (watches.inference.load of export/generator.keras: G_ema) and
checkpoint (G and D) give our outputs for the same inputs, with constant noise:

    w_ema           G_ema's mapping output w (psi 1)
    images_ema      G_ema(z), psi 1              images_ema_psi   G_ema(z) with truncation psi 0.7
    images_g        G(z), psi 1 (the trained, non-EMA weights)
    d_images_ema    D(G_ema(z))                  d_real           D on random images in [-1, 1]

Each row: the largest absolute difference, the output's largest magnitude and their ratio (the relative
difference); it passes at ratio <= 1e-4. NVIDIA computes with force_fp32 (its float16 blocks in
float32, as ours do without --mixed-precision). Exit code 1 if any output fails.

Configurations: tiny (16 px, z 24 != w 16, 3 mapping layers, float16 on 2 resolutions, a conv clamp of
1.5 that does clip, minibatch-std group 2: --write-fixture saves its arrays and NVIDIA's outputs, the
fixture tests/watches/test_conversion.py converts without torch); auto128 (train.py --cfg auto at
128 px: z, w 512, 2 mapping layers, channel base 16384, float16 on 4 resolutions, clamp 256, group 4);
stylegan2-64 (NVIDIA's 'stylegan2' configuration of the FFHQ transfer sources at 64 px: 8 mapping
layers, channel base 32768, float16 on 4 resolutions, clamp 256).
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

TORCH_SCRIPT = Path(__file__).resolve().parent / "torch_convert.py"
TOLERANCE = 1e-4
CONFIGS = {
    "tiny": dict(resolution=16, z_dim=24, w_dim=16, mapping_layers=3, channel_base=128, channel_max=16,
                 num_fp16_res=2, conv_clamp=1.5, mbstd_group=2),
    "auto128": dict(resolution=128, z_dim=512, w_dim=512, mapping_layers=2, channel_base=16384, channel_max=512,
                    num_fp16_res=4, conv_clamp=256, mbstd_group=4),
    "stylegan2-64": dict(resolution=64, z_dim=512, w_dim=512, mapping_layers=8, channel_base=32768,
                         channel_max=512, num_fp16_res=4, conv_clamp=256, mbstd_group=4),
}
OUTPUTS = ("w_ema", "images_ema", "images_ema_psi", "images_g", "d_images_ema", "d_real")


def our_outputs(converted, reference) -> dict:
    """Our outputs for the reference's inputs, from the converted folder as a user loads it."""
    import numpy as np

    from watches import inference
    from watches.sampling import run_generator
    from watches.stylegan2 import generator, set_noise_mode

    z, psi = reference["z"], float(reference["psi"])
    exported = inference.load(Path(converted) / "export" / "generator.keras").network()  # G_ema, const noise
    gan = inference.load(converted).model  # the checkpoint: G, D, G_ema
    set_noise_mode(gan.networks["synthesis"], "const")
    mapping_ema, _ = inference.split_generator(exported)
    ones = np.ones([len(z), 1], np.float32)
    disc = gan.networks["discriminator"]
    return {"w_ema": mapping_ema([z, ones], training=False),
            "images_ema": run_generator(exported, z, 1.0),
            "images_ema_psi": run_generator(exported, z, psi),
            "images_g": run_generator(generator(gan.networks["mapping"], gan.networks["synthesis"]), z, 1.0),
            "d_images_ema": disc(reference["images_ema"], training=False),
            "d_real": disc(reference["real"], training=False)}


def compare(ours, reference) -> dict:
    """{output: (max |ours - NVIDIA's|, max |NVIDIA's|, their ratio)}."""
    import numpy as np

    rows = {}
    for name in OUTPUTS:
        ref = np.asarray(reference[name], np.float64)
        diff = float(np.max(np.abs(np.asarray(ours[name], np.float64) - ref)))
        scale = float(np.max(np.abs(ref)))
        rows[name] = (diff, scale, diff / scale)
    return rows


def check(name, args, work) -> dict:
    from watches import convert
    from watches.nvidia_pickle import load_npz

    config = CONFIGS[name]
    pickle, reference = work / f"{name}.pkl", work / f"{name}-reference.npz"
    started = time.perf_counter()
    done = subprocess.run([args.torch_python, str(TORCH_SCRIPT), "--repo", args.repo, "--config", json.dumps(config),
                           "--pickle", str(pickle), "--reference", str(reference), "--batch", str(args.batch)],
                          capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"NVIDIA's side failed for {name}:\n{done.stderr[-3000:]}")
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    torch_s = time.perf_counter() - started
    started = time.perf_counter()
    out = work / f"{name}-converted"
    code = convert.main([str(pickle), "--out", str(out), "--torch-python", args.torch_python,
                         "--nvidia-repo", args.repo])
    if code:
        sys.exit(f"watches.convert failed for {name} (exit code {code})")
    convert_s = time.perf_counter() - started
    _, extra = load_npz(reference)
    rows = compare(our_outputs(out, extra), extra)
    print(f"\n{name}: {json.dumps(config)}\nNVIDIA's G {counts['g_params']:,} and D {counts['d_params']:,} "
          f"parameters; NVIDIA side {torch_s:.0f} s, convert {convert_s:.0f} s")
    print(f"{'output':16s} {'max abs diff':>13s} {'max |NVIDIA|':>13s} {'relative':>10s}")
    for output, (diff, scale, ratio) in rows.items():
        print(f"{output:16s} {diff:13.3e} {scale:13.3e} {ratio:10.2e}  {'ok' if ratio <= TOLERANCE else 'FAIL'}")
    if args.write_fixture and name == "tiny":
        Path(args.write_fixture).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(reference, args.write_fixture)
        print(f"fixture written: {args.write_fixture}")
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--torch-python", required=True, help="an interpreter with torch (a separate virtualenv)")
    p.add_argument("--repo", required=True, help="a checkout of NVlabs/stylegan2-ada-pytorch")
    p.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated, of {', '.join(CONFIGS)}")
    p.add_argument("--batch", type=int, default=4, help="images per output")
    p.add_argument("--write-fixture", metavar="FILE.npz", help="save the tiny configuration's arrays and outputs")
    args = p.parse_args(argv)
    names = [n for n in args.configs.split(",") if n]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        p.error(f"unknown configuration(s): {', '.join(unknown)}")
    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            rows = check(name, args, Path(tmp))
            failed += [f"{name}/{o}" for o, (_, _, ratio) in rows.items() if ratio > TOLERANCE]
    print(f"\n{'all outputs within' if not failed else 'FAILED: ' + ', '.join(failed) + ' beyond'} "
          f"{TOLERANCE:g} relative")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
