"""NVIDIA's own AugmentPipe (stylegan2-ada-pytorch, training/augment.py): the reference for
benchmarks.ada_parity, which starts this script in an interpreter holding torch.

    python benchmarks/torch_augment.py --repo /path/to/stylegan2-ada-pytorch --inputs in.npz --outputs out.npz

Runs NVIDIA's unmodified code from a checkout; it is never imported by ganworks and torch is not a
dependency. Two jobs, both read from `--inputs` (written by benchmarks.ada_parity):

* replay: for each case (a set of enabled transformations, a p, and a sequence of standard draws), NVIDIA's
  pipeline with those transformations at probability multiplier 1 runs on the images with torch.rand /
  torch.randn replaced by the recorded draws, in the order NVIDIA makes them (each call's kind and size
  checked), so both pipelines see the same random numbers. The outputs go to `--outputs`.
* distribution: the bgc pipeline at each requested p runs with torch's own generator on many small
  images; the parameters NVIDIA passes to its matrix helpers (translate2d_inv, scale2d_inv, rotate2d_inv)
  are recorded, and a colour-only pipeline on black 1x1 images gives each image's colour offset.
  Their statistics are printed as one JSON line.
"""

import argparse
import json
import sys


def replay(AugmentPipe, torch, np, inputs, out):
    images = torch.as_tensor(inputs["images"]).permute(0, 3, 1, 2).contiguous()  # NHWC -> NCHW
    for case in json.loads(str(inputs["cases"])):
        draws = [(kind, inputs[key]) for kind, key in case["draws"]]

        def take(kind):
            def draw(size, **kwargs):
                expected, value = draws.pop(0)
                assert expected == kind, f"{case['name']}: NVIDIA drew {kind}, the recorded draw is {expected}"
                value = torch.as_tensor(value)
                assert value.numel() == int(np.prod(size)), (case["name"], size, value.shape)
                return value.reshape(size)
            return draw

        pipe = AugmentPipe(**{name: 1 for name in case["transforms"]})
        pipe.p.copy_(torch.as_tensor(case["p"]))
        rand, randn = torch.rand, torch.randn
        torch.rand, torch.randn = take("uniform"), take("normal")
        try:
            with torch.no_grad():
                result = pipe(images)
        finally:
            torch.rand, torch.randn = rand, randn
        assert not draws, f"{case['name']}: {len(draws)} recorded draws left over"
        out[case["name"]] = result.permute(0, 2, 3, 1).numpy()


def distribution(augment, torch, np, count, size, ps):
    calls = []

    def recording(name):
        original = getattr(augment, name)

        def wrapper(*args, **kwargs):
            if any(isinstance(a, torch.Tensor) for a in args):
                calls.append((name, [a.clone() if isinstance(a, torch.Tensor) else a for a in args]))
            return original(*args, **kwargs)
        return wrapper

    for name in ("translate2d_inv", "scale2d_inv", "rotate2d_inv"):
        setattr(augment, name, recording(name))
    bgc = dict(xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1, brightness=1, contrast=1,
               lumaflip=1, hue=1, saturation=1)
    colour = {k: v for k, v in bgc.items() if k in ("brightness", "contrast", "lumaflip", "hue", "saturation")}
    stats = {}
    torch.manual_seed(0)
    for p in ps:
        calls.clear()
        pipe = augment.AugmentPipe(**bgc)
        pipe.p.copy_(torch.as_tensor(p))
        with torch.no_grad():
            pipe(torch.rand([count, 3, size, size]) * 2 - 1)
        translations = [args for name, args in calls if name == "translate2d_inv"]
        (xint_x, xint_y), (xfrac_x, xfrac_y) = translations[0], translations[1]
        scales = [args for name, args in calls if name == "scale2d_inv"]
        rotations = [args[0] for name, args in calls if name == "rotate2d_inv"]
        pipe = augment.AugmentPipe(**colour)
        pipe.p.copy_(torch.as_tensor(p))
        with torch.no_grad():
            offset = pipe(torch.zeros([count, 3, 1, 1]))[:, 0, 0, 0]
        # xint_x etc. are NVIDIA's -shift; only zero / non-zero and even moments are compared
        stats[str(p)] = summary(np, xint=(xint_x.numpy(), xint_y.numpy()), xfrac=(xfrac_x.numpy(), xfrac_y.numpy()),
                                scale=scales[1][0].numpy(), aniso=scales[2][0].numpy(),
                                pre=rotations[1].numpy(), post=rotations[2].numpy(), offset=offset.numpy())
    return stats


def summary(np, xint, xfrac, scale, aniso, pre, post, offset):
    """The statistics both sides print, from each image's parameters (ada_parity imports this one)."""
    def moved(pair):
        x, y = (np.abs(v) > 1e-6 for v in pair)
        return {"p_any": float((x | y).mean()), "p_x_only": float((x & ~y).mean()),
                "p_y_only": float((y & ~x).mean()), "std": float(np.std(pair[0]))}
    logs = {name: float(np.std(np.log2(v))) for name, v in (("log2_scale_std", scale), ("log2_aniso_std", aniso))}
    rotated = (np.abs(pre) > 0) | (np.abs(post) > 0)
    kurtosis = float(np.mean((offset - offset.mean()) ** 4) / max(np.var(offset) ** 2, 1e-30))
    return {"xint": moved(xint), "xfrac": moved(xfrac), **logs, "p_rotated": float(rotated.mean()),
            "offset": {"p_nonzero": float((np.abs(offset) > 1e-7).mean()), "mean": float(offset.mean()),
                       "std": float(offset.std()), "kurtosis": kurtosis}}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--repo", required=True)
    p.add_argument("--inputs", required=True)
    p.add_argument("--outputs", required=True)
    args = p.parse_args()
    sys.path.insert(0, args.repo)
    import numpy as np
    import torch

    from training import augment

    torch.set_num_threads(1)
    inputs = np.load(args.inputs)
    out = {}
    replay(augment.AugmentPipe, torch, np, inputs, out)
    np.savez(args.outputs, **out)
    settings = json.loads(str(inputs["distribution"]))
    print(json.dumps(distribution(augment, torch, np, settings["count"], settings["size"], settings["p"])), flush=True)


if __name__ == "__main__":
    main()
