"""The PyTorch reference CycleGAN training step, timed: the baseline for benchmarks.train_step.

    python benchmarks/torch_cyclegan.py --worker '{"image_size": 128, "batch_size": 1, "steps": 10}'
    python benchmarks/torch_cyclegan.py --params        # parameter counts of both networks

Written for this repository from the CycleGAN paper (Zhu et al. 2017, appendix 7.2) and the
architecture of its reference implementation; nothing here is copied. It needs only torch and
numpy, never ganworks, and runs as a script path (not `-m`), so a separate virtualenv holding
torch can run it: `benchmarks/train_step.py --torch-python /path/to/venv/bin/python`.
PyTorch is not a dependency of ganworks.

Networks (NCHW):
    ResNet generator  ReflectionPad(3) -> Conv 7x7, 64 -> IN -> ReLU
                      Conv 3x3 s2 p1, 128 -> IN -> ReLU;  Conv 3x3 s2 p1, 256 -> IN -> ReLU
                      9 x [ReflectionPad(1) -> Conv 3x3 -> IN -> ReLU -> ReflectionPad(1) -> Conv 3x3 -> IN] + x
                      ConvTranspose 3x3 s2 p1 op1, 128 -> IN -> ReLU;  ConvTranspose ..., 64 -> IN -> ReLU
                      ReflectionPad(3) -> Conv 7x7, 3 -> tanh
    70x70 PatchGAN    Conv 4x4 s2 p1, 64 -> LeakyReLU(0.2)
                      Conv 4x4 s2 p1, 128 -> IN -> LReLU;  ... 256 s2 -> IN -> LReLU;  ... 512 s1 -> IN -> LReLU
                      Conv 4x4 s1 p1, 1

Instance norm: by default ("affine": true) with a learned scale and offset, and the convolutions
that feed a norm have no bias -- the same layers and parameter count as night2day.models
(generator 11,383,427, discriminator 2,765,633), so both sides compute the same thing.
"affine": false is the reference implementation's choice instead: InstanceNorm2d(affine=False)
and every convolution with a bias (generator 11,378,179, discriminator 2,764,737). The two
differ only by the norms' scales; the step time is the same to within noise.

"mixed_precision": true runs every forward pass and loss under torch.autocast("cpu", bfloat16)
(backward passes outside it, weights float32), PyTorch's counterpart of Keras's mixed_bfloat16.

The step is the reference's optimize_parameters: G(A), F(G(A)), F(B), G(F(B)), the identities
G(B), F(A); LSGAN (MSE) adversarial losses, L1 cycle (x10) and identity (x10 x 0.5) losses;
one backward and one Adam step over both generators' parameters together (one optimizer over
both, with the discriminators' parameters frozen); then D_A and D_B, each loss
0.5 * (MSE(D(real), 1) + MSE(D(fake.detach()), 0)), one backward, one Adam step over both.
Adam(2e-4, betas (0.5, 0.999)) for both optimizers. No history pool (the benchmark's Keras
model has none either; the reference's pool of 50 only swaps images and costs nothing).

Threads are left at torch's defaults (OMP_NUM_THREADS etc. in the environment change them);
the worker reports what it used.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import statistics
import sys
import time

# Parameter counts at 64 filters / 9 residual blocks (independent of the image size: fully convolutional).
EXPECTED_PARAMS = {
    True: {"generator": 11_383_427, "discriminator": 2_765_633},   # affine norms, bias-free convs before them
    False: {"generator": 11_378_179, "discriminator": 2_764_737},  # the reference: no affine, every conv biased
}

TORCH_MISSING = "torch not installed (pip install torch==2.13.0 into a separate venv; see --torch-python)"


def build_networks(filters=64, res_blocks=9, affine=True):
    """(make_generator, make_discriminator): functions building a fresh network each; needs torch."""
    import torch
    from torch import nn

    bias = not affine  # a conv straight into an affine norm gets its offset from the norm

    def norm(channels):
        return nn.InstanceNorm2d(channels, affine=affine, track_running_stats=False)

    class ResidualBlock(nn.Module):
        def __init__(self, channels):
            super().__init__()
            self.body = nn.Sequential(
                nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias), norm(channels), nn.ReLU(True),
                nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias), norm(channels))

        def forward(self, x):
            return x + self.body(x)

    def generator():
        f = filters
        net = [nn.ReflectionPad2d(3), nn.Conv2d(3, f, 7, bias=bias), norm(f), nn.ReLU(True)]
        for mult in (1, 2):
            net += [nn.Conv2d(f * mult, f * mult * 2, 3, stride=2, padding=1, bias=bias), norm(f * mult * 2),
                    nn.ReLU(True)]
        net += [ResidualBlock(f * 4) for _ in range(res_blocks)]
        for mult in (4, 2):
            net += [nn.ConvTranspose2d(f * mult, f * mult // 2, 3, stride=2, padding=1, output_padding=1,
                                       bias=bias), norm(f * mult // 2), nn.ReLU(True)]
        net += [nn.ReflectionPad2d(3), nn.Conv2d(f, 3, 7), nn.Tanh()]
        return _initialise(nn.Sequential(*net))

    def discriminator():
        f = filters
        net = [nn.Conv2d(3, f, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        for cin, cout, stride in ((f, 2 * f, 2), (2 * f, 4 * f, 2), (4 * f, 8 * f, 1)):
            net += [nn.Conv2d(cin, cout, 4, stride=stride, padding=1, bias=bias), norm(cout), nn.LeakyReLU(0.2, True)]
        net += [nn.Conv2d(8 * f, 1, 4, stride=1, padding=1)]
        return _initialise(nn.Sequential(*net))

    def _initialise(module):
        # the reference's "normal" init: conv weights N(0, 0.02), biases 0, norm scales N(1, 0.02)
        with torch.no_grad():
            for m in module.modules():
                if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                    nn.init.normal_(m.weight, 0.0, 0.02)
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)
                elif isinstance(m, nn.InstanceNorm2d) and m.affine:
                    nn.init.normal_(m.weight, 1.0, 0.02)
                    nn.init.zeros_(m.bias)
        return module

    return generator, discriminator


def count_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def check_param_counts(gen, disc, affine) -> dict:
    """Assert the parameter counts of the full-size networks (64 filters, 9 blocks) against EXPECTED_PARAMS."""
    counts = {"generator": count_params(gen), "discriminator": count_params(disc)}
    expected = EXPECTED_PARAMS[bool(affine)]
    assert counts == expected, f"parameter counts {counts} != expected {expected} (affine={affine})"
    return counts


def make_step(config: dict):
    """(step, meta): step() runs one training step of both generators and discriminators; meta holds the
    settings read from config and the parameter counts."""
    import numpy as np
    import torch
    from torch import nn

    size = int(config.get("image_size", 128))
    batch = int(config.get("batch_size", 1))
    filters = int(config.get("filters", 64))
    res_blocks = int(config.get("res_blocks", 9))
    affine = bool(config.get("affine", True))
    torch.manual_seed(0)

    make_gen, make_disc = build_networks(filters, res_blocks, affine)
    G, F = make_gen(), make_gen()        # G: A -> B, F: B -> A
    DA, DB = make_disc(), make_disc()    # D_A judges domain A (F's outputs), D_B judges domain B (G's)
    counts = {"generator": count_params(G), "discriminator": count_params(DA)}
    if filters == 64 and res_blocks == 9:
        counts = check_param_counts(G, DA, affine)
    for net in (G, F, DA, DB):
        net.train()

    opt_g = torch.optim.Adam(list(G.parameters()) + list(F.parameters()), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(list(DA.parameters()) + list(DB.parameters()), lr=2e-4, betas=(0.5, 0.999))
    mse, l1 = nn.MSELoss(), nn.L1Loss()
    lambda_cycle, lambda_identity = 10.0, 0.5

    rng = np.random.default_rng(0)
    real_a = torch.from_numpy(rng.uniform(-1, 1, (batch, 3, size, size)).astype("float32"))
    real_b = torch.from_numpy(rng.uniform(-1, 1, (batch, 3, size, size)).astype("float32"))

    def set_requires_grad(nets, flag):
        for net in nets:
            for p in net.parameters():
                p.requires_grad_(flag)

    def gan_loss(prediction, is_real):
        return mse(prediction, torch.full_like(prediction, 1.0 if is_real else 0.0))

    mixed = bool(config.get("mixed_precision"))

    def autocast():
        """mixed precision on the CPU: bfloat16 autocast of the forward passes (weights stay float32)."""
        return torch.autocast("cpu", dtype=torch.bfloat16) if mixed else contextlib.nullcontext()

    def step():
        # generators
        with autocast():
            fake_b = G(real_a)
            rec_a = F(fake_b)
            fake_a = F(real_b)
            rec_b = G(fake_a)
        set_requires_grad((DA, DB), False)
        opt_g.zero_grad(set_to_none=True)
        with autocast():
            idt_a = G(real_b)
            idt_b = F(real_a)
            loss_idt = (l1(idt_a, real_b) + l1(idt_b, real_a)) * lambda_cycle * lambda_identity
            loss_adv = gan_loss(DB(fake_b), True) + gan_loss(DA(fake_a), True)
            loss_cycle = (l1(rec_a, real_a) + l1(rec_b, real_b)) * lambda_cycle
            loss_g = loss_adv + loss_cycle + loss_idt
        loss_g.backward()
        opt_g.step()
        # discriminators
        set_requires_grad((DA, DB), True)
        opt_d.zero_grad(set_to_none=True)
        with autocast():
            loss_da = (gan_loss(DA(real_a), True) + gan_loss(DA(fake_a.detach()), False)) * 0.5
        loss_da.backward()
        with autocast():
            loss_db = (gan_loss(DB(real_b), True) + gan_loss(DB(fake_b.detach()), False)) * 0.5
        loss_db.backward()
        opt_d.step()
        return loss_g.item(), loss_da.item(), loss_db.item()

    meta = {"image_size": size, "batch_size": batch, "filters": filters, "res_blocks": res_blocks,
            "affine": affine, "mixed_precision": mixed, "params": counts}
    return step, meta


def profile(config: dict) -> dict:
    """`warmup` steps, then `steps` under torch.profiler: {"wall_seconds", "ops": {aten op: [self s, calls]}}
    per step (benchmarks/profile_step.py)."""
    import torch
    from torch.profiler import ProfilerActivity

    step, _ = make_step(config)
    steps = int(config.get("steps", 1))
    for _ in range(int(config.get("warmup", 2))):
        step()
    with torch.profiler.profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        for _ in range(steps):
            step()
        wall = time.perf_counter() - start
    ops = {e.key: [e.self_cpu_time_total / 1e6 / steps, e.count // steps] for e in prof.key_averages()
           if e.self_cpu_time_total > 0}
    return {"wall_seconds": wall / steps, "ops": ops}


def run(config: dict) -> dict:
    """Build both generators and discriminators, run `warmup` + `steps` training steps, return timings."""
    import numpy as np
    import torch

    steps = int(config.get("steps", 10))
    warmup = int(config.get("warmup", 3))
    step, meta = make_step(config)
    times = []
    start = time.perf_counter()
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        losses = step()
        times.append(time.perf_counter() - t0)
        if not all(np.isfinite(losses)):
            raise FloatingPointError(f"non-finite loss at step {i}: {losses}")
    total = time.perf_counter() - start
    timed = times[warmup:]
    median = statistics.median(timed)
    return {
        "framework": "torch", "model": "resnet", "xla": False, **{k: v for k, v in meta.items() if k != "params"},
        "steps": steps, "warmup": warmup,
        "seconds_per_step": median, "step_seconds": timed, "warmup_seconds": times[:warmup],
        "images_per_second": meta["batch_size"] / median, "total_seconds": total, "params": meta["params"],
        "torch_version": torch.__version__, "num_threads": torch.get_num_threads(),
        "num_interop_threads": torch.get_num_interop_threads(), "python": platform.python_version(),
        "max_rss_mb": _max_rss_mb(),
    }


def _max_rss_mb():
    try:
        import resource

        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    except (ImportError, OSError):
        return None


def worker(config_json: str) -> int:
    """Print exactly one JSON line: the result, or {"error": ...}. Exit 0 on success, 1 otherwise."""
    try:
        config = json.loads(config_json)
    except json.JSONDecodeError as exc:
        print(json.dumps({"framework": "torch", "error": f"bad --worker JSON: {exc}"}), flush=True)
        return 1
    try:
        import torch  # noqa: F401
    except ImportError:
        print(json.dumps({"framework": "torch", "error": TORCH_MISSING, "torch_missing": True,
                          "python": sys.executable}), flush=True)
        return 1
    try:
        result = run(config)
    except Exception as exc:  # one line for the table instead of a traceback
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(json.dumps({"framework": "torch", "error": f"{type(exc).__name__}: {message}"[:300]}), flush=True)
        return 1
    print(json.dumps(result), flush=True)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", metavar="JSON",
                        help='run one timed measurement, e.g. \'{"image_size": 128, "batch_size": 1, "steps": 10}\' '
                             "(keys: image_size, batch_size, steps, warmup, filters, res_blocks, affine)")
    parser.add_argument("--params", action="store_true", help="print and check the full-size parameter counts")
    args = parser.parse_args(argv)
    if args.params:
        try:
            import torch  # noqa: F401
        except ImportError:
            print(TORCH_MISSING, file=sys.stderr)
            return 1
        for affine in (True, False):
            make_gen, make_disc = build_networks(affine=affine)
            counts = check_param_counts(make_gen(), make_disc(), affine)
            print(json.dumps({"affine": affine, **counts}))
        return 0
    if args.worker is None:
        parser.error("give --worker JSON or --params")
    return worker(args.worker)


if __name__ == "__main__":
    sys.exit(main())
