"""NVIDIA's own StyleGAN2-ADA training step (stylegan2-ada-pytorch), timed on this machine: the reference
for benchmarks.stylegan2_step.

    python benchmarks/torch_stylegan2.py --repo /path/to/stylegan2-ada-pytorch --batch-size 4 --steps 2

Runs NVIDIA's unmodified code from a checkout (`fetch` NVlabs/stylegan2-ada-pytorch, then `git archive`)
in a virtualenv holding torch; it is never imported by ganworks and torch is not a dependency. It
builds G and D as `train.py --cfg auto` does at 128 px (2 mapping layers, channel base 16384, conv
clamp 256, minibatch-std group 4; num_fp16_res 0 here: float16 on a CPU is not what a GPU does), the
bgc AugmentPipe, StyleGAN2Loss (R1 gamma 0.0002 res^2 / batch, path length 2, style mixing 0.9) and
the lazy-regularisation Adam pair, then times NVIDIA's phases as `training_loop.py` runs them: Gmain
+ Dmain + G_ema update ("main"), + Greg ("pl", every 4th step), + Dreg ("r1", every 16th). On a
CPU the custom CUDA ops fall back to NVIDIA's reference implementations. Prints one JSON line with
the same keys as benchmarks.stylegan2_step's workers, plus the parameter counts.
"""

import argparse
import copy
import json
import os
import sys
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--repo", required=True)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=2)
    args = p.parse_args()
    sys.path.insert(0, args.repo)
    import numpy as np
    import torch

    from training.augment import AugmentPipe
    from training.loss import StyleGAN2Loss
    from training.networks import Discriminator, Generator

    torch.set_num_threads(os.cpu_count())
    torch.manual_seed(0)
    device = torch.device("cpu")
    res, batch = args.image_size, args.batch_size
    common = dict(channel_base=16384, channel_max=512, num_fp16_res=0, conv_clamp=256)
    G = Generator(z_dim=512, c_dim=0, w_dim=512, img_resolution=res, img_channels=3,
                  mapping_kwargs=dict(num_layers=2), synthesis_kwargs=common).train().requires_grad_(False)
    D = Discriminator(c_dim=0, img_resolution=res, img_channels=3, epilogue_kwargs=dict(mbstd_group_size=4),
                      **common).train().requires_grad_(False)
    G_ema = copy.deepcopy(G).eval()
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    augment = AugmentPipe(xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1, brightness=1,
                          contrast=1, lumaflip=1, hue=1, saturation=1).train().requires_grad_(False)
    loss = StyleGAN2Loss(device=device, G_mapping=G.mapping, G_synthesis=G.synthesis, D=D, augment_pipe=augment,
                         r1_gamma=0.0002 * res ** 2 / batch, pl_weight=2, style_mixing_prob=0.9)
    phases = {}
    for name, module, interval in (("G", G, 4), ("D", D, 16)):
        ratio = interval / (interval + 1)
        opt = torch.optim.Adam(module.parameters(), lr=0.0025 * ratio, betas=(0.0, 0.99 ** ratio), eps=1e-8)
        phases[name + "main"] = (module, opt, 1)
        phases[name + "reg"] = (module, opt, interval)
    real = torch.rand([batch, 3, res, res]) * 2 - 1
    c = torch.zeros([batch, 0])
    nimg = 0

    def run_step(kind):
        nonlocal nimg
        names = ["Gmain"] + (["Greg"] if kind in ("pl", "r1") else []) + ["Dmain"] + (["Dreg"] if kind == "r1" else [])
        t = time.perf_counter()
        for name in names:
            module, opt, gain = phases[name]
            opt.zero_grad(set_to_none=True)
            module.requires_grad_(True)
            z = torch.randn([batch, G.z_dim])
            loss.accumulate_gradients(phase=name, real_img=real, real_c=c, gen_z=z, gen_c=c, sync=True, gain=gain)
            module.requires_grad_(False)
            for param in module.parameters():
                if param.grad is not None:
                    torch.nan_to_num(param.grad, nan=0, posinf=1e5, neginf=-1e5, out=param.grad)
            opt.step()
        with torch.no_grad():  # G_ema, as training_loop.py
            ema_nimg = min(10 * batch / 32 * 1000, nimg * 0.05)
            beta = 0.5 ** (batch / max(ema_nimg, 1e-8))
            for p_ema, p_ in zip(G_ema.parameters(), G.parameters()):
                p_ema.copy_(p_.lerp(p_ema, beta))
            for b_ema, b in zip(G_ema.buffers(), G.buffers()):
                b_ema.copy_(b)
        nimg += batch
        return time.perf_counter() - t

    started = time.perf_counter()
    first = run_step("r1")  # step 0: every phase
    for kind in ("main", "pl"):
        run_step(kind)
    setup = time.perf_counter() - started
    times = {kind: float(np.median([run_step(kind) for _ in range(args.steps)])) for kind in ("main", "pl", "r1")}
    per_step = times["main"] + (times["pl"] - times["main"]) / 4 + (times["r1"] - times["pl"]) / 16
    print(json.dumps({"xla": "torch", "mixed_precision": "off", "batch": batch, "size": res,
                      **{f"s_{k}": v for k, v in times.items()}, "s_per_step": per_step,
                      "s_per_kimg": per_step * 1000 / batch, "setup_s": setup, "first_step_s": first,
                      "g_params": count(G), "g_mapping_params": count(G.mapping),
                      "g_synthesis_params": count(G.synthesis), "d_params": count(D)}), flush=True)


if __name__ == "__main__":
    main()
