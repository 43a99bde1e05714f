"""Convert NVIDIA's stylegan2-ada-pytorch network pickle into a watches StyleGAN2 run at step 0.

    python -m watches.convert network-snapshot-000200.pkl --nvidia-repo stylegan2-ada-pytorch --out converted/
    python -m watches.convert ffhq.pkl --torch-python /venv-torch/bin/python --nvidia-repo ... --out converted/
    python -m watches.convert nets.npz --out converted/      # arrays python -m watches.nvidia_pickle wrote

Then generate from it, or fine-tune it on your images (NVIDIA's transfer learning):

    python -m watches.generate --checkpoint converted/ --seeds 0-15 --grid --out gen/
    python -m watches.train --init-from converted/ --data DIR --out runs/finetuned

Reading a pickle needs PyTorch and NVIDIA's code (pip install ganworks[convert]; --nvidia-repo a checkout
of NVlabs/stylegan2-ada-pytorch), in this interpreter or in the one --torch-python names (a separate
virtualenv: PyTorch is never needed for training). The folder it writes: watches.conversion.
"""

from __future__ import annotations

import argparse
import sys

from common.report import add_verbose, one_line_errors, quiet_tensorflow


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m watches.convert", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("network", help="NVIDIA's network pickle (.pkl), or the .npz watches.nvidia_pickle wrote")
    parser.add_argument("--out", required=True, metavar="DIR", help="the converted run folder (new or empty)")
    parser.add_argument("--nvidia-repo", metavar="DIR", help="a checkout of NVlabs/stylegan2-ada-pytorch (default: "
                                                             "importable already)")
    parser.add_argument("--torch-python", metavar="PYTHON", help="read the pickle with this interpreter (one that "
                                                                 "has PyTorch; default: this one)")
    return add_verbose(one_line_errors(parser))


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    quiet_tensorflow(args.verbose)
    from common.data import DataError
    from watches import conversion

    try:
        networks = conversion.read_networks(args.network, args.nvidia_repo, args.torch_python)
        conversion.check_out(args.out)
        paths = conversion.convert(networks, args.out, source=args.network)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    print(conversion.summary(paths["config"]))
    print(f"checkpoint (G, D, G_ema at step 0): {paths['checkpoint']}\ngenerator (G_ema, with its card): "
          f"{paths['generator']}\nfine-tune it: python -m watches.train --init-from {args.out} --data DIR "
          f"--out runs/finetuned")
    return 0


if __name__ == "__main__":
    sys.exit(main())
