"""Exported generators: one card format, and one loader every task's verbs use.

A trained generator reaches users in one of three forms, and `load` takes any of them:

* a run folder (`runs/watches`) or its `checkpoints/` folder: the newest readable checkpoint;
* a checkpoint folder (`ckpt-000001000`);
* an exported generator: `<name>.keras` with its card `<name>.json` beside it (`export`).

The card says what inference needs besides the weights, in one format for every task:

    {"format": 1, "task": "inpainting", "model": "improved", "network": "generator",
     "value_range": "tanh", "image_size": 128, "step": 5000, "version": "0.1.0",
     "training_scale": null, "latent_dim": null,
     "holes": {"fill_value": 0.0, "overlap": 4, "mask": "random-block", "mask_options": {...},
               "max_hole_fraction": 0.5}}

training_scale (night2day: the square size images were resized to before the crop), latent_dim
(watches) and holes (inpainting: the hole geometry it was trained on) are null for the other
tasks. Another task's run or card, a damaged checkpoint and a .keras file without its card are
each refused in one line (common.data.DataError), never a KeyError or a traceback.

A task describes its generators once, as a `GeneratorSpec`: how to build its GAN from a run's
config, which networks it exports, and their cards' task-specific fields.
"""

from __future__ import annotations

import json
import os
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable

from common.runtime import checkpoint as ckpt

CARD_FORMAT = 1
CARD_SUFFIX = ".json"
EXPORT_FOLDER = "export"


def package_version() -> str:
    try:
        from importlib.metadata import version

        return version("ganworks")
    except Exception:  # noqa: BLE001 - not installed (a source checkout on sys.path)
        return "unknown"


@dataclass(frozen=True)
class GeneratorCard:
    """What a generator needs besides its weights (see the module's docstring)."""

    task: str
    model: str  # the preset it was trained with (--model)
    network: str  # which of the run's networks: generator, generator_g, generator_f
    value_range: str  # "tanh" ([-1, 1]) or "sigmoid" ([0, 1]): the generator's input/output range
    image_size: int  # the training size (the generator's input side)
    step: int | None = None  # the training step it was exported at
    training_scale: int | None = None
    latent_dim: int | None = None
    holes: dict | None = None
    version: str = field(default_factory=package_version)
    format: int = CARD_FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1) + "\n"

    @classmethod
    def read(cls, path) -> GeneratorCard:
        """The card of exported generator `path` (.keras), or one DataError line."""
        from common.data import DataError

        path = Path(path)
        card = card_path(path)
        if not card.is_file():
            raise DataError(f"{path} has no generator card ({card.name}) beside it: what it was trained on is "
                            "unknown; export it again from its run (the training run writes both)")
        try:
            data = json.loads(card.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(f"the generator card {card} cannot be read ({type(exc).__name__})") from None
        names = {f.name for f in fields(cls)}
        required = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
        if not isinstance(data, dict) or data.get("format") != CARD_FORMAT or required - set(data):
            found = data.get("format") if isinstance(data, dict) else None
            raise DataError(f"{card} is not a generator card of format {CARD_FORMAT} (found format {found!r}): "
                            "export the generator again with this version")
        return cls(**{k: v for k, v in data.items() if k in names})


def card_path(path) -> Path:
    """The card beside exported generator `path`: <name>.json."""
    return Path(path).with_suffix(CARD_SUFFIX)


@dataclass(frozen=True)
class GeneratorSpec:
    """How a task's runs hold their generators.

    build(config) -> the task's GAN model (uncompiled) for a run's config;
    exports(model) -> {network name: keras.Model}: the generators a run exports (night2day's two,
        inpainting's one, the watches sampler: the EMA weights when the run keeps them);
    card_fields(config, network name) -> the card's fields besides task, network, step and version.
    """

    task: str
    build: Callable
    exports: Callable
    card_fields: Callable

    def card(self, config: dict, network: str, step: int | None = None) -> GeneratorCard:
        return GeneratorCard(task=self.task, network=network, step=step, **self.card_fields(config, network))


@dataclass
class Generators:
    """What `load` found: the generators by network name and their cards.

    From a checkpoint, every network the task exports (and the whole `model` and its `config`);
    from an exported file, the one network it holds (model and config None)."""

    networks: dict
    cards: dict
    source: Path
    model: object = None
    config: dict | None = None

    @property
    def card(self) -> GeneratorCard:
        """The first network's card (the one generator of inpainting and watches)."""
        return next(iter(self.cards.values()))

    def network(self, name=None):
        return self.networks[name] if name is not None else next(iter(self.networks.values()))


def load(path, spec: GeneratorSpec) -> Generators:
    """The generators a user names for spec.task: a run folder, checkpoints/ folder, ckpt-* folder or
    exported .keras file (module docstring). One DataError line for anything unusable."""
    from common.data import DataError

    path = Path(path)
    if path.suffix == ".keras":
        if not path.is_file():
            raise DataError(f"no such file: {path}")
        card = GeneratorCard.read(path)
        if card.task != spec.task:
            raise DataError(f"{path} is {ckpt.a_or_an(card.task)} generator ({card.model}), not {ckpt.a_or_an(spec.task)} one; "
                            f"give one exported by `python -m {spec.task}.train`")
        net = ckpt.load_keras_file(path)
        return Generators({card.network: net}, {card.network: card}, path)
    found, state = ckpt.open_checkpoint(path, spec.task)
    config = state["config"]
    model = spec.build(config)
    ckpt.restore(model, found)
    networks = spec.exports(model)
    step = int(state.get("step", 0))
    return Generators(networks, {name: spec.card(config, name, step) for name in networks}, found, model, config)


def export(net, path, card: GeneratorCard) -> Path:
    """Save net as `path` (.keras) and its card as <name>.json beside it; an existing pair is replaced.

    No failure leaves a .keras without its card (which `load` refuses): both are written to temporary
    names in the same folder, then the card is moved into place first and the .keras last
    (os.replace); on any failure the temporaries, and a card this call moved in for a .keras that
    never arrived, are removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sidecar = card_path(path)
    tmp_net = path.with_name(f".{path.stem}.tmp-{os.getpid()}.keras")  # Keras wants the .keras suffix
    tmp_card = path.with_name(f".{path.stem}.tmp-{os.getpid()}{CARD_SUFFIX}")
    had_net, moved_card = path.exists(), False
    try:
        net.save(tmp_net)
        tmp_card.write_text(card.to_json())
        os.replace(tmp_card, sidecar)
        moved_card = True
        os.replace(tmp_net, path)
    except BaseException:
        for leftover in (tmp_net, tmp_card) + ((sidecar,) if moved_card and not had_net else ()):
            leftover.unlink(missing_ok=True)
        raise
    return path


def export_run(model, config: dict, spec: GeneratorSpec, out, step: int | None = None) -> dict:
    """Export every generator of a trained model into <out>/export/<network>.keras (with cards)
    -> {network name: path}; what training does when it ends."""
    folder = Path(out) / EXPORT_FOLDER
    return {name: export(net, folder / f"{name}.keras", spec.card(config, name, step))
            for name, net in spec.exports(model).items()}


def run_folder(path) -> Path:
    """The run folder of what a user gives as --checkpoint, where evaluation.json and its sheets go.

    A run folder is the one that holds config.json (what training writes first); looked for from the
    path up through its parents (a ckpt-* folder, checkpoints/, checkpoints/downloaded/, export/ or an
    exported file inside a run). A path outside any run: the folder itself, or a file's folder."""
    path = Path(path)
    start = path if path.is_dir() else path.parent
    for folder in (start, *list(start.parents)[:3]):
        if (folder / "config.json").is_file():
            return folder
    return start
