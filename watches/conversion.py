"""NVIDIA's StyleGAN2-ADA networks as ours: the numpy/Keras side of `python -m watches.convert` (no torch).

    from watches import conversion, nvidia_pickle
    networks = nvidia_pickle.read_network_pickle("network-snapshot.pkl", "stylegan2-ada-pytorch")  # torch side
    config = conversion.nvidia_config(networks)      # our run config for NVIDIA's settings (one DataError line
                                                     # for a network we cannot build)
    gan = conversion.converted_gan(networks, config) # our StyleGAN2 holding G, D and G_ema
    conversion.write_converted(gan, config, "converted/")

NVIDIA's networks read as init kwargs + float32 arrays (watches.nvidia_pickle). Their settings become our
options (image size, z and w sizes, mapping depth, channel base and max, conv clamp, the float16
resolutions, minibatch-std group, w_avg decay), with NVIDIA's defaults (training/networks.py) for what
a pickle's kwargs leave out. Every array is assigned to one Keras weight and every float Keras weight
of the five networks gets one array, or the conversion stops: G -> mapping + synthesis, G_ema ->
mapping_ema + synthesis_ema, D -> discriminator. Layouts: PyTorch's dense [out, in] -> [in, out],
conv [out, in, kh, kw] -> [kh, kw, in, out] (the same kernel in both directions: NVIDIA's upsampling
convolution is a transposed convolution as ours), the constant [C, 4, 4] -> [4, 4, C], and D's last
dense layer, which reads a flattened [C, 4, 4] in PyTorch and [4, 4, C] here, permuted to match.

Refused in one line: conditional models (c_dim > 0: ours has no labels), other architectures than
NVIDIA's G "skip" / D "resnet", other activations, resampling filters, kernel sizes, mapping learning-rate
multipliers or minibatch-std channel counts than every published configuration uses.

The converted folder is a watches run at step 0 (the one checkpoint format, the one card):

    converted/config.json                      the run config
    converted/checkpoints/ckpt-000000000/      G, D, G_ema (+ the tracked w average, constant noise);
                                               what `watches.train --init-from converted/` starts from
    converted/export/generator.keras (+ .json) G_ema as [z, psi] -> images, for watches.generate / evaluate
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from common.data import DataError

# NVIDIA's defaults (training/networks.py), for what a pickle's init kwargs leave out
MAPPING_DEFAULTS = dict(num_layers=8, embed_features=None, layer_features=None, activation="lrelu",
                        lr_multiplier=0.01, w_avg_beta=0.995)
SYNTHESIS_DEFAULTS = dict(channel_base=32768, channel_max=512, num_fp16_res=0, architecture="skip",
                          resample_filter=[1, 3, 3, 1], conv_clamp=None, kernel_size=3, use_noise=True,
                          activation="lrelu")
D_DEFAULTS = dict(architecture="resnet", channel_base=32768, channel_max=512, num_fp16_res=0, conv_clamp=None)
D_BLOCK_DEFAULTS = dict(activation="lrelu", resample_filter=[1, 3, 3, 1])
D_EPILOGUE_DEFAULTS = dict(mbstd_group_size=4, mbstd_num_channels=1, activation="lrelu")
FILTER = [1, 3, 3, 1]


GANWORKS = Path(__file__).resolve().parent.parent


def read_networks(path, nvidia_repo=None, torch_python=None) -> dict:
    """NVIDIA's networks (watches.nvidia_pickle's form) from a network pickle, read in this interpreter or in
    `torch_python` (one with PyTorch), or from the .npz watches.nvidia_pickle wrote; one DataError line."""
    from watches import nvidia_pickle

    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such file: {path}")
    if path.suffix == ".npz":
        try:
            return nvidia_pickle.load_npz(path)[0]
        except nvidia_pickle.NetworkPickleError as exc:
            raise DataError(str(exc)) from None
    if torch_python is None:
        try:
            return nvidia_pickle.read_network_pickle(path, nvidia_repo)
        except nvidia_pickle.NetworkPickleError as exc:
            raise DataError(str(exc)) from None
    with tempfile.TemporaryDirectory() as tmp:
        arrays = Path(tmp) / "networks.npz"
        command = [str(torch_python), "-m", "watches.nvidia_pickle", str(path.resolve()), "--out", str(arrays)]
        if nvidia_repo is not None:
            command += ["--nvidia-repo", str(Path(nvidia_repo).resolve())]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(GANWORKS), os.environ.get("PYTHONPATH", "")])}
        try:
            done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp)
        except OSError as exc:
            raise DataError(f"--torch-python {torch_python} cannot be run ({exc.strerror or exc})") from None
        if done.returncode:
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            last = lines[-1] if lines else f"exit code {done.returncode}"
            raise DataError(last[len("error: "):] if last.startswith("error: ") else
                            f"--torch-python {torch_python} could not read {path}: {last}")
        return nvidia_pickle.load_npz(arrays)[0]


def check_out(out) -> None:
    """The converted folder must be new or hold no run (a step-0 checkpoint beside a run's would mix them)."""
    from common.runtime.checkpoint import CheckpointManager

    out = Path(out)
    if out.exists() and (not out.is_dir() or CheckpointManager(out / "checkpoints").complete_checkpoints()
                         or (out / "config.json").exists()):
        raise DataError(f"--out {out} already holds a run or is not a folder: give a new or empty folder")


def summary(config) -> str:
    """One line: what the converted networks are."""
    clamp = config["conv_clamp"]
    return (f"converted NVIDIA's StyleGAN2: {config['image_size']} px, z {config['latent_dim']}, "
            f"w {config['w_dim']}, {config['mapping_layers']} mapping layers, channels min({config['channel_base']}"
            f" / res, {config['channel_max']}), float16 on {config['mixed_resolutions']} resolutions, conv clamp "
            f"{'none' if clamp is None else f'{clamp:g}'}, minibatch-std group {config['mbstd_group']}")


def _refuse(message):
    raise DataError(f"cannot convert this network: {message}")


def _require(condition, message):
    if not condition:
        _refuse(message)


def nvidia_settings(networks) -> dict:
    """NVIDIA's settings of G, G_ema and D (their init kwargs over NVIDIA's defaults) as our StyleGAN2 option
    values ({option: value}); one DataError line for a network ours cannot be."""
    for name in ("G", "G_ema", "D"):
        _require(name in networks, f"it has no {name} network")
    g, d = networks["G"], networks["D"]
    _require(g["class_name"].endswith(".Generator") and networks["G_ema"]["class_name"].endswith(".Generator")
             and d["class_name"].endswith(".Discriminator"),
             f"G, G_ema and D must be NVIDIA's Generator and Discriminator, found {g['class_name']}, "
             f"{networks['G_ema']['class_name']} and {d['class_name']}")
    gk, dk = g["init_kwargs"], d["init_kwargs"]
    _require(gk == networks["G_ema"]["init_kwargs"], "G and G_ema were built with different settings")
    mapping = {**MAPPING_DEFAULTS, **gk.get("mapping_kwargs", {})}
    synthesis = {**SYNTHESIS_DEFAULTS, **gk.get("synthesis_kwargs", {})}
    disc = {**D_DEFAULTS, **{k: v for k, v in dk.items() if not k.endswith("_kwargs")}}
    block = {**D_BLOCK_DEFAULTS, **dk.get("block_kwargs", {})}
    epilogue = {**D_EPILOGUE_DEFAULTS, **dk.get("epilogue_kwargs", {})}

    c_dim = max(int(gk.get("c_dim", 0)), int(dk.get("c_dim", 0)))
    _require(c_dim == 0, f"it is a conditional model (c_dim {c_dim}); our StyleGAN2 is unconditional (no labels)")
    _require(gk.get("img_channels") == 3 and dk.get("img_channels") == 3,
             f"it has {gk.get('img_channels')} image channels; ours are RGB (3)")
    _require(gk.get("img_resolution") == dk.get("img_resolution"),
             f"G is {gk.get('img_resolution')} px and D {dk.get('img_resolution')} px")
    _require(synthesis["architecture"] == "skip", f"G's architecture is {synthesis['architecture']!r}; ours is "
                                                  "NVIDIA's 'skip'")
    _require(disc["architecture"] == "resnet", f"D's architecture is {disc['architecture']!r}; ours is NVIDIA's "
                                               "'resnet' (every configuration but cifar)")
    for where, kwargs in (("mapping", mapping), ("synthesis", synthesis), ("D", block), ("D's epilogue", epilogue)):
        _require(kwargs["activation"] == "lrelu", f"its {where} activation is {kwargs['activation']!r}; ours "
                                                  "is 'lrelu'")
    for where, kwargs in (("G", synthesis), ("D", block)):
        _require(list(kwargs["resample_filter"]) == FILTER,
                 f"{where}'s resampling filter is {kwargs['resample_filter']}; ours is {FILTER}")
    _require(mapping["lr_multiplier"] == 0.01, f"its mapping learning-rate multiplier is "
                                               f"{mapping['lr_multiplier']}; ours is 0.01")
    _require(mapping["layer_features"] in (None, gk.get("w_dim")),
             f"its mapping layers have {mapping['layer_features']} features, not w_dim {gk.get('w_dim')}")
    _require(mapping["w_avg_beta"] is not None, "its mapping network tracks no average w (w_avg_beta None)")
    _require(synthesis["kernel_size"] == 3 and synthesis["use_noise"],
             "its synthesis layers are not 3x3 convolutions with noise inputs")
    _require(epilogue["mbstd_num_channels"] == 1,
             f"its minibatch-std layer has {epilogue['mbstd_num_channels']} channels; ours has 1")
    _require(epilogue["mbstd_group_size"] is not None, "its minibatch-std group is the whole batch (None); ours "
                                                       "needs a group size")
    for key in ("channel_base", "channel_max", "conv_clamp", "num_fp16_res"):
        _require(synthesis[key] == disc[key], f"G's {key} {synthesis[key]} differs from D's {disc[key]}")
    clamp = synthesis["conv_clamp"]
    return {"image_size": int(gk["img_resolution"]), "latent_dim": int(gk["z_dim"]), "w_dim": int(gk["w_dim"]),
            "mapping_layers": int(mapping["num_layers"]), "channel_base": int(synthesis["channel_base"]),
            "channel_max": int(synthesis["channel_max"]), "conv_clamp": None if clamp is None else float(clamp),
            "mixed_resolutions": int(synthesis["num_fp16_res"]), "mbstd_group": int(epilogue["mbstd_group_size"]),
            "w_avg_beta": float(mapping["w_avg_beta"])}


def nvidia_config(networks, **options) -> dict:
    """Our StyleGAN2 run config for NVIDIA's networks (nvidia_settings), with `options` (e.g. out=) on top."""
    from common.runtime.config import ConfigError, run_config
    from watches.build import StyleGAN2Options

    settings = nvidia_settings(networks)
    try:
        return run_config(StyleGAN2Options, "watches", **settings, **options)
    except ConfigError as exc:
        raise DataError(f"cannot convert this network: its settings do not make one of ours ({exc})") from None


# ------------------------------------------------------------------ weights

def _dense(w):
    return w.T  # [out, in] -> [in, out]


def _conv(w):
    return w.transpose(2, 3, 1, 0)  # [out, in, kh, kw] -> [kh, kw, in, out]


def _flattened_dense(w, channels):
    """D's b4.fc: PyTorch flattens [C, 4, 4], we flatten [4, 4, C]: the same weight, rows permuted."""
    out, features = w.shape
    side = int(round((features // channels) ** 0.5))
    return w.reshape(out, channels, side, side).transpose(2, 3, 1, 0).reshape(side * side * channels, out)


def _target(network, name, value):
    """(Keras layer name, attribute path, converted value) of NVIDIA array `name` of G ("G") or D ("D"),
    or None for a resampling filter (checked, not stored)."""
    parts = name.split(".")
    if parts[-1] == "resample_filter":
        taps = np.asarray(FILTER, np.float64)
        expected = np.outer(taps, taps) / np.outer(taps, taps).sum()
        _require(value.shape == expected.shape and np.allclose(value, expected, atol=1e-6),
                 f"{network}'s {name} is not the [1, 3, 3, 1] filter")
        return None
    if network == "G":
        if name == "mapping.w_avg":
            return "mapping", "truncation", "w_avg", value
        if parts[0] == "mapping":  # mapping.fc<i>.weight / bias
            return "mapping", parts[1], parts[2], _dense(value) if parts[2] == "weight" else value
        if parts[1:] == ["b4", "const"]:
            return "synthesis", "b4_const", "const", value.transpose(1, 2, 0)
        block, layer, attr = parts[1], parts[2], ".".join(parts[3:])  # synthesis.b8.conv0.affine.weight
        if value.ndim == 4:
            value = _conv(value)
        elif attr.endswith("weight"):
            value = _dense(value)
        return "synthesis", f"{block}_{layer}", attr, value
    block, layer, attr = parts  # b16.conv0.weight, b4.fc.weight
    if value.ndim == 4:
        value = _conv(value)
    elif (block, layer, attr) == ("b4", "fc", "weight"):
        value = _flattened_dense(value, value.shape[0])
    elif attr == "weight":
        value = _dense(value)
    return "discriminator", f"{block}_{layer}", attr, value


def _variable(net, layer_name, attr):
    obj = net.get_layer(layer_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def assign(gan, networks) -> None:
    """NVIDIA's G, G_ema and D arrays into gan's networks (mapping, synthesis, mapping_ema, synthesis_ema,
    discriminator), each array to one weight and every float weight once; one DataError line otherwise."""
    sources = (("G", "G", ""), ("G_ema", "G", "_ema"), ("D", "D", ""))
    assigned = {}
    for source, kind, suffix in sources:
        for name, value in networks[source]["arrays"].items():
            target = _target(kind, name, np.asarray(value, np.float32))
            if target is None:
                continue
            net_name, layer, attr, value = target
            net = gan.networks[net_name + suffix if net_name != "discriminator" else net_name]
            try:
                variable = _variable(net, layer, attr)
            except (ValueError, AttributeError):
                _refuse(f"{source}'s {name} has no place in our network (no layer {layer} with {attr})")
            _require(tuple(variable.shape) == value.shape,
                     f"{source}'s {name} has shape {value.shape}, our {net.name}/{layer}/{attr} "
                     f"{tuple(variable.shape)}")
            assigned[id(variable)] = (variable, value)
    missing = [f"{net.name}/{v.path}" for net in gan.networks.values() for v in net.variables
               if "float" in str(v.dtype) and id(v) not in assigned]
    _require(not missing, f"no NVIDIA array for {len(missing)} of our weights ({', '.join(missing[:3])})")
    for variable, value in assigned.values():
        variable.assign(value)


def converted_gan(networks, config, compile=False):
    """Our StyleGAN2 (watches.build.build_gan) holding NVIDIA's G, G_ema and D."""
    from watches.build import build_gan

    gan = build_gan(config, compile=compile)
    assign(gan, networks)
    return gan


def write_converted(gan, config, out, source=None) -> dict:
    """Write the converted folder (module docstring) -> {"checkpoint": path, "generator": path, "config": the run
    config}. gan: compiled
    (its optimizers are in the checkpoint, fresh: a converted run has taken no step)."""
    from common.runtime import checkpoint as ckpt
    from common.runtime.config import save_config
    from common.runtime.generator import export_run
    from watches.inference import GENERATORS

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config = {**config, "out": str(out)}
    gan.build_optimizers()
    save_config(config, out / "config.json")
    state = {"epoch": 0, "seed": config["seed"], "config": config, "wandb_run_id": None, "task": "watches",
             "converted_from": source}
    path = ckpt.CheckpointManager(out / "checkpoints").save(gan, 0, state)
    generator = export_run(gan, config, GENERATORS, out, step=0)["generator"]
    return {"checkpoint": path, "generator": generator, "config": config}


def convert(networks, out, source=None) -> dict:
    """NVIDIA's networks -> the converted folder `out`; returns write_converted's paths."""
    config = nvidia_config(networks, out=str(out))
    gan = converted_gan(networks, config, compile=True)
    record = {"path": None if source is None else str(source),
              "init_kwargs": {name: networks[name]["init_kwargs"] for name in ("G", "D")}}
    return write_converted(gan, config, out, json.loads(json.dumps(record)))
