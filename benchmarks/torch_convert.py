"""NVIDIA's side of benchmarks.convert_check: a StyleGAN2-ADA network pickle with random weights, written as
training_loop.py writes its snapshots, and NVIDIA's outputs for fixed inputs.

    python benchmarks/torch_convert.py --repo /path/to/stylegan2-ada-pytorch --config '{"resolution": 16, ...}' \\
        --pickle nets.pkl --reference reference.npz

Runs NVIDIA's unmodified code from a checkout in a virtualenv holding torch; never imported by ganworks.
It builds G and D with training.networks from the --config values (resolution, z_dim, w_dim,
mapping_layers, channel_base, channel_max, num_fp16_res, conv_clamp, mbstd_group), moves every
parameter and buffer away from its initial value (biases, noise strengths and w_avg start at 0,
the styles' biases at 1: a conversion that dropped one would still match at init), makes G_ema a
different perturbation of G, and pickles {G, D, G_ema, augment_pipe, training_set_kwargs} as
training_loop.py does (deep copies in eval mode, torch_utils.persistence). Then it reads the pickle
back with watches.nvidia_pickle (the torch side of the conversion) and writes its arrays with
NVIDIA's outputs in float32 (force_fp32: NVIDIA's float16 blocks compute in float32, as ours do
without --mixed-precision) for the same z: G_ema's and G's images with constant noise, G_ema's
with truncation psi 0.7, G_ema's w, and D's logits on G_ema's images and on random images.
"""

import argparse
import copy
import json
import pickle
import sys
from pathlib import Path

GANWORKS = Path(__file__).resolve().parent.parent


def perturb(module, generator, scale=0.3):
    """Every parameter and buffer (but the resampling filters) plus noise of its own size."""
    import torch

    with torch.no_grad():
        for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
            if name.endswith("resample_filter"):
                continue
            spread = max(float(tensor.std()) if tensor.numel() > 1 else 0.0, 1.0)
            tensor.add_(torch.randn(tensor.shape, generator=generator) * scale * spread)


def build(config, seed):
    import torch

    from training.networks import Discriminator, Generator

    torch.manual_seed(seed)
    res = config["resolution"]
    shared = dict(channel_base=config["channel_base"], channel_max=config["channel_max"],
                  num_fp16_res=config["num_fp16_res"], conv_clamp=config["conv_clamp"])
    G = Generator(z_dim=config["z_dim"], c_dim=0, w_dim=config["w_dim"], img_resolution=res, img_channels=3,
                  mapping_kwargs=dict(num_layers=config["mapping_layers"]), synthesis_kwargs=shared)
    D = Discriminator(c_dim=0, img_resolution=res, img_channels=3,
                      epilogue_kwargs=dict(mbstd_group_size=config["mbstd_group"]), **shared)
    g = torch.Generator().manual_seed(seed + 1)
    perturb(G, g)
    G_ema = copy.deepcopy(G)
    perturb(G_ema, g, scale=0.1)
    perturb(D, g)
    return G, D, G_ema


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--repo", required=True, help="a checkout of NVlabs/stylegan2-ada-pytorch")
    p.add_argument("--config", required=True, help="JSON: the network settings (module docstring)")
    p.add_argument("--pickle", required=True, help="where NVIDIA's network pickle goes")
    p.add_argument("--reference", required=True, help="where the arrays and NVIDIA's outputs go (.npz)")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--psi", type=float, default=0.7)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    sys.path.insert(0, args.repo)
    sys.path.insert(0, str(GANWORKS))
    import numpy as np
    import torch

    from training.augment import AugmentPipe
    from watches.nvidia_pickle import read_network_pickle, save_npz

    torch.set_num_threads(2)
    config = json.loads(args.config)
    G, D, G_ema = build(config, args.seed)
    augment = AugmentPipe(xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1, brightness=1,
                          contrast=1, lumaflip=1, hue=1, saturation=1)
    snapshot = dict(training_set_kwargs=dict(resolution=config["resolution"]))
    for name, module in [("G", G), ("D", D), ("G_ema", G_ema), ("augment_pipe", augment)]:
        snapshot[name] = copy.deepcopy(module).eval().requires_grad_(False).cpu()
    with open(args.pickle, "wb") as f:
        pickle.dump(snapshot, f)

    with open(args.pickle, "rb") as f:  # what a user's pickle goes through: NVIDIA's own loader
        import legacy

        nets = legacy.load_network_pkl(f)
    rng = np.random.default_rng(args.seed)
    n, res = args.batch, config["resolution"]
    z = rng.standard_normal([n, config["z_dim"]]).astype(np.float32)
    real = rng.uniform(-1, 1, [n, 3, res, res]).astype(np.float32)
    c = torch.zeros([n, 0])
    with torch.no_grad():
        zt = torch.from_numpy(z)
        ema, gen, disc = nets["G_ema"], nets["G"], nets["D"]
        out = {
            "w_ema": ema.mapping(zt, c)[:, 0],
            "images_ema": ema(zt, c, truncation_psi=1, noise_mode="const", force_fp32=True),
            "images_ema_psi": ema(zt, c, truncation_psi=args.psi, noise_mode="const", force_fp32=True),
            "images_g": gen(zt, c, truncation_psi=1, noise_mode="const", force_fp32=True),
        }
        out["d_images_ema"] = disc(out["images_ema"], c, force_fp32=True)
        out["d_real"] = disc(torch.from_numpy(real), c, force_fp32=True)
    extra = {k: v.numpy().transpose(0, 2, 3, 1) if v.ndim == 4 else v.numpy() for k, v in out.items()}
    extra.update(z=z, real=real.transpose(0, 2, 3, 1), psi=np.float32(args.psi))
    save_npz(read_network_pickle(args.pickle), args.reference, extra=extra)
    print(json.dumps({"pickle": args.pickle, "reference": args.reference,
                      "g_params": sum(t.numel() for t in G.parameters()),
                      "d_params": sum(t.numel() for t in D.parameters())}), flush=True)


if __name__ == "__main__":
    main()
