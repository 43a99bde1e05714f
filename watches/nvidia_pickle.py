"""NVIDIA's stylegan2-ada-pytorch network pickles as plain numpy arrays: the torch side of watches.convert,
and the only module of ganworks that imports PyTorch (lazily, in `read_network_pickle`).

    python -m watches.nvidia_pickle network-snapshot-000200.pkl --nvidia-repo stylegan2-ada-pytorch --out nets.npz

A pickle is what NVIDIA's training_loop.py writes (a dict of G, D, G_ema, augment_pipe and
training_set_kwargs) or an original TensorFlow StyleGAN2 pickle; both are read with NVIDIA's own
`legacy.load_network_pkl`, so their code must be importable (`--nvidia-repo`, a checkout of
NVlabs/stylegan2-ada-pytorch: torch_utils.persistence rebuilds the networks from the source the pickle
carries). Unpickling runs code: read only pickles you trust.

Each network becomes its class name, the keyword arguments it was built with (`init_kwargs`, JSON) and
every parameter and buffer as a float32 array under its PyTorch name (`synthesis.b8.conv0.weight`,
[out, in, kh, kw] as PyTorch keeps it; float16 blocks store their weights in float32 too). The npz form
(`save_npz` / `load_npz`, numpy only) keeps them together: `<network>/<name>` arrays and a `meta` JSON
string, plus any extra arrays a caller adds (the conversion check stores its inputs and NVIDIA's outputs).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

NETWORKS = ("G", "D", "G_ema")
NPZ_FORMAT = 1
HOW_TO_INSTALL = ("pip install ganworks[convert] (PyTorch) and point --nvidia-repo at a checkout of "
                  "NVlabs/stylegan2-ada-pytorch")


class NetworkPickleError(ValueError):
    """A pickle that cannot be read, or PyTorch / NVIDIA's code missing: one line (watches.convert reports it as
    a common.data.DataError; this module itself runs without TensorFlow, in a PyTorch-only environment)."""


_error = NetworkPickleError


def _import_nvidia(nvidia_repo):
    """NVIDIA's legacy module (their pickle loader), with their checkout first on sys.path."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise _error(f"reading NVIDIA's network pickles needs PyTorch, which is not installed: {HOW_TO_INSTALL}") \
            from None
    if nvidia_repo is not None:
        repo = Path(nvidia_repo)
        if not (repo / "legacy.py").is_file() or not (repo / "torch_utils").is_dir():
            raise _error(f"--nvidia-repo {repo} is not a stylegan2-ada-pytorch checkout (no legacy.py and "
                         "torch_utils/ in it)")
        sys.path.insert(0, str(repo.resolve()))
    try:
        import legacy
    except ImportError as exc:
        raise _error(f"NVIDIA's stylegan2-ada-pytorch code is not importable ({exc}): {HOW_TO_INSTALL}") from None
    return legacy


def _jsonable(value):
    return json.loads(json.dumps(value, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)))


def network_arrays(module) -> dict:
    """{PyTorch name: float32 array} of every parameter and buffer of a torch module."""
    arrays = {name: p.detach().cpu().float().numpy() for name, p in module.named_parameters()}
    arrays.update({name: b.detach().cpu().float().numpy() for name, b in module.named_buffers()})
    return arrays


def describe(module) -> dict:
    """One network as plain data: {"class_name", "init_kwargs", "arrays"}."""
    kind = type(module)
    return {"class_name": f"{kind.__module__}.{kind.__name__}",
            "init_kwargs": _jsonable(dict(getattr(module, "init_kwargs", None) or {})),
            "arrays": network_arrays(module)}


def read_network_pickle(path, nvidia_repo=None) -> dict:
    """{"G": ..., "D": ..., "G_ema": ...} (see `describe`) of NVIDIA's pickle `path`; one NetworkPickleError
    line for a file that is not such a pickle, or when PyTorch or NVIDIA's code is missing."""
    path = Path(path)
    if not path.is_file():
        raise _error(f"no such file: {path}")
    legacy = _import_nvidia(nvidia_repo)
    try:
        with open(path, "rb") as f:
            data = legacy.load_network_pkl(f)
    except Exception as exc:  # noqa: BLE001 - pickle, zip, assertion and import errors all mean "not one of NVIDIA's"
        text = " ".join(str(exc).split())[:160]
        raise _error(f"{path} is not a stylegan2-ada-pytorch network pickle ({type(exc).__name__}: {text})") \
            from None
    return {name: describe(data[name]) for name in NETWORKS}


def save_npz(networks: dict, path, extra=None) -> Path:
    """Write networks (read_network_pickle's form) and `extra` arrays ({name: array}) as one .npz file."""
    arrays = {f"{net}/{name}": value for net, d in networks.items() for name, value in d["arrays"].items()}
    meta = {"format": NPZ_FORMAT,
            "networks": {net: {k: d[k] for k in ("class_name", "init_kwargs")} for net, d in networks.items()}}
    arrays.update({f"extra/{name}": np.asarray(value) for name, value in (extra or {}).items()})
    np.savez(path, meta=np.array(json.dumps(meta)), **arrays)
    return Path(path)


def load_npz(path) -> tuple[dict, dict]:
    """(networks, extra arrays) of a file save_npz wrote; one NetworkPickleError line for anything else."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            content = {key: data[key] for key in data.files if key != "meta"}
    except Exception as exc:  # noqa: BLE001 - missing file, not a zip, no meta, bad JSON
        raise _error(f"{path} is not a network file of watches.nvidia_pickle ({type(exc).__name__})") from None
    if not isinstance(meta, dict) or meta.get("format") != NPZ_FORMAT:
        raise _error(f"{path} is not a network file of watches.nvidia_pickle of format {NPZ_FORMAT}")
    networks = {net: dict(d, arrays={}) for net, d in meta["networks"].items()}
    extra = {}
    for key, value in content.items():
        net, _, name = key.partition("/")
        if net == "extra":
            extra[name] = value
        elif net in networks:
            networks[net]["arrays"][name] = value
    return networks, extra


def main(argv=None) -> int:
    from common.report import one_line_errors

    parser = argparse.ArgumentParser(prog="python -m watches.nvidia_pickle", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pickle", help="NVIDIA's network pickle (.pkl)")
    parser.add_argument("--nvidia-repo", metavar="DIR", help="a checkout of NVlabs/stylegan2-ada-pytorch "
                                                             "(default: already importable)")
    parser.add_argument("--out", required=True, metavar="FILE.npz", help="where the arrays go")
    one_line_errors(parser)
    args = parser.parse_args(argv)
    try:
        save_npz(read_network_pickle(args.pickle, args.nvidia_repo), args.out)
    except NetworkPickleError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
