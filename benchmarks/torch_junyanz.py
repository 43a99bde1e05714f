"""junyanz's side of benchmarks.cyclegan_check: the reference ResNet generator and PatchGAN, with random
weights, and their outputs for fixed inputs.

    python benchmarks/torch_junyanz.py --repo /path/to/pytorch-CycleGAN-and-pix2pix \\
        --config '{"image_size": 32, "ngf": 4, "ndf": 4, "n_blocks": 2}' --out reference.npz

Runs junyanz's unmodified models/networks.py (it imports only torch) from --repo (the checkout, or
its models/ folder) in a virtualenv holding torch; never imports ganworks. For each norm variant,
    affine_false  InstanceNorm2d(affine=False, track_running_stats=False): the reference's
                  get_norm_layer('instance') as CycleGAN trains with it
    affine_true   InstanceNorm2d(affine=True, track_running_stats=False): a learned scale and offset,
                  built by passing that norm_layer ourselves
it builds ResnetGenerator(3, 3, ngf, norm_layer, use_dropout=False, n_blocks) and
NLayerDiscriminator(3, ndf, n_layers=3, norm_layer) (convs before a norm get use_bias=True, as the
reference decides for instance norm), applies the reference's init_weights(net, 'normal', 0.02)
and then moves every parameter away from it: conv weights plus noise of half their spread, every
bias (also those that feed a norm) N(0, 0.1), norm scales 1 + N(0, 0.3) and offsets N(0, 0.3), so
no zero or one init can hide a wrong transfer.

The .npz holds, per variant, every parameter by its state_dict name in torch's layout
("affine_true/G/model.1.weight": OIHW conv, (in, out, kh, kw) transposed conv) and the outputs
"affine_true/G/output" = G(images) and "affine_true/D/output" = D(images), channels-last
([B, S, S, 3] and [B, s, s, 1]), for "images": float32 [B, S, S, 3] uniform in [-1, 1] (NHWC too).
The last line of stdout is JSON: parameter counts, and per variant the conv biases that feed a norm.
"""

import argparse
import functools
import json
import sys
from pathlib import Path

VARIANTS = {"affine_false": False, "affine_true": True}


def import_networks(repo):
    """junyanz's models/networks.py as a module, from the checkout root or its models/ folder."""
    repo = Path(repo)
    folder = repo / "models" if (repo / "models" / "networks.py").is_file() else repo
    if not (folder / "networks.py").is_file():
        sys.exit(f"no models/networks.py under {repo} (a checkout of junyanz/pytorch-CycleGAN-and-pix2pix)")
    sys.path.insert(0, str(folder))
    import networks

    return networks


def perturb(net, generator):
    """Every parameter away from its init, by noise scaled to the tensor's role (module docstring)."""
    import torch
    from torch import nn

    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
                w = module.weight
                w.add_(torch.randn(w.shape, generator=generator) * 0.5 * float(w.std()))
                if module.bias is not None:
                    module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.1)
            elif isinstance(module, nn.InstanceNorm2d) and module.affine:
                module.weight.copy_(1 + 0.3 * torch.randn(module.weight.shape, generator=generator))
                module.bias.copy_(0.3 * torch.randn(module.bias.shape, generator=generator))


def biases_into_norms(net):
    """state_dict names of the conv biases whose output goes straight into an InstanceNorm2d."""
    from torch import nn

    names, previous = [], None
    for name, module in net.named_modules():
        if isinstance(module, nn.InstanceNorm2d) and previous is not None and previous[1].bias is not None:
            names.append(f"{previous[0]}.bias")
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.InstanceNorm2d, nn.ReLU, nn.LeakyReLU,
                               nn.ReflectionPad2d, nn.Tanh)):
            previous = (name, module) if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)) else None
    return names


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--repo", required=True, help="a checkout of junyanz/pytorch-CycleGAN-and-pix2pix")
    p.add_argument("--config", required=True, help='JSON: {"image_size", "ngf", "ndf", "n_blocks"}')
    p.add_argument("--out", required=True, help="where parameters, inputs and outputs go (.npz)")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    try:
        import numpy as np
        import torch
        from torch import nn
    except ImportError as e:
        sys.exit(f"{sys.executable} cannot import {e.name} (benchmarks/torch_junyanz.py needs torch and numpy)")
    networks = import_networks(args.repo)

    torch.set_num_threads(2)
    config = json.loads(args.config)
    size = int(config["image_size"])
    images = np.random.default_rng(args.seed).uniform(-1, 1, [args.batch, 3, size, size]).astype(np.float32)
    arrays, report = {"images": images.transpose(0, 2, 3, 1)}, {}
    for v, (variant, affine) in enumerate(VARIANTS.items()):
        torch.manual_seed(args.seed + v)
        norm_layer = functools.partial(nn.InstanceNorm2d, affine=affine, track_running_stats=False)
        nets = {"G": networks.ResnetGenerator(3, 3, int(config["ngf"]), norm_layer=norm_layer, use_dropout=False,
                                              n_blocks=int(config["n_blocks"])),
                "D": networks.NLayerDiscriminator(3, int(config["ndf"]), n_layers=3, norm_layer=norm_layer)}
        generator = torch.Generator().manual_seed(args.seed + 10 + v)
        report[variant] = {}
        for key, net in nets.items():
            networks.init_weights(net, "normal", gain=0.02)
            perturb(net, generator)
            net.eval()
            with torch.no_grad():
                out = net(torch.from_numpy(images)).numpy()
            arrays[f"{variant}/{key}/output"] = out.transpose(0, 2, 3, 1)
            for name, tensor in net.state_dict().items():
                arrays[f"{variant}/{key}/{name}"] = tensor.numpy()
            report[variant][key] = {"params": sum(t.numel() for t in net.parameters()),
                                    "biases_into_norms": biases_into_norms(net)}
    np.savez_compressed(args.out, **arrays)
    print(json.dumps({"out": args.out, "torch": torch.__version__, **report}), flush=True)


if __name__ == "__main__":
    main()
