"""Typed options: one frozen dataclass per set of settings, from which flags, --help, defaults and checks come.

    @dataclass(frozen=True)
    class ToyOptions(RuntimeOptions):          # a task's options: the runtime's and its own
        lr: float = option(1e-3, "learning rate", group="model")

    @dataclass(frozen=True)
    class BigToy(ToyOptions):                  # a preset: the same fields, other defaults
        lr: float = 0.2

A field's help, metavar, choices and argparse group are its `option(...)` metadata; a preset (a
subclass that only changes defaults) keeps them, as they are looked up along the class's bases.
`resolved()` turns a set of values into checked ones: values coerced to the annotated type, values
left automatic filled in (`derived`, a new instance through dataclasses.replace) and `validate`
raising ConfigError (one line, naming the flag). `asdict()` is the run config: a JSON dict with
the fields' names as keys.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from dataclasses import dataclass
from functools import lru_cache



class ConfigError(ValueError):
    """A setting that cannot work (reported as one line, before training starts)."""


def parse_bool(text) -> bool:
    """true/false, yes/no, on/off, 1/0 (any case) -> bool; anything else (a typo) is an error."""
    if isinstance(text, bool):
        return text
    value = str(text).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def option(default, help="", *, metavar=None, choices=None, group=None, flag=True, none=None, aliases=()):
    """A field with what its --flag needs. flag=False: a config key with no flag (set by the task);
    none: what a default of None means, for --help (e.g. "one pass over the data"); aliases: older
    spellings of the flag that still work (shown after the canonical one; see RENAMED_KEYS for the
    config keys a saved config may still hold)."""
    return dataclasses.field(default=default, metadata={"help": help, "metavar": metavar, "choices": choices,
                                                        "group": group, "flag": flag, "none": none,
                                                        "aliases": tuple(aliases)})


# config keys renamed so that one meaning has one name in every task: {old key: new key}. A saved config
# (a checkpoint's state, a run's config.json, a --config file) that has an old key still loads.
RENAMED_KEYS = {"random_flip": "flip", "mirror": "flip"}


def upgrade_keys(config: dict) -> dict:
    """config with RENAMED_KEYS' old keys under their new names (a new copy; a new key given too wins),
    and its "explicit_keys" list renamed likewise."""
    out = {}
    for key, value in config.items():
        new = RENAMED_KEYS.get(key, key)
        if new != key and new in config:
            continue
        out[new] = value
    if isinstance(out.get("explicit_keys"), list):
        out["explicit_keys"] = sorted({RENAMED_KEYS.get(k, k) for k in out["explicit_keys"]})
    return out


def one_of(values) -> str:
    """'a, b or c'."""
    values = [str(v) for v in values]
    return f"{', '.join(values[:-1])} or {values[-1]}" if len(values) > 1 else values[0]


def flag_name(key: str) -> str:
    return "--" + key.replace("_", "-")


def metadata(cls, key: str) -> dict:
    """The option metadata of field `key`: from the first class along cls's bases that declares it with
    `option(...)` (a preset redeclares a field with a plain default, so its own field has none)."""
    for klass in reversed(cls.__mro__):
        f = getattr(klass, "__dataclass_fields__", {}).get(key)
        if f is not None and f.metadata:
            return dict(f.metadata)
    return {"help": "", "metavar": None, "choices": None, "group": None, "flag": True, "none": None, "aliases": ()}


@lru_cache(maxsize=None)
def field_types(cls) -> dict:
    """{field name: (python type, optional)}: Optional[X] and X | None give (X, True); other unions (object, False)."""
    out = {}
    names = {f.name for f in dataclasses.fields(cls)}
    for key, hint in typing.get_type_hints(cls).items():
        if key not in names:
            continue
        args = typing.get_args(hint)
        if args and type(None) in args:
            rest = [a for a in args if a is not type(None)]
            out[key] = (rest[0] if len(rest) == 1 else object, True)
        else:
            out[key] = (hint if isinstance(hint, type) else object, False)
    return out


def coerce(key: str, value, kind):
    """value as type `kind` (a config file's 'true', 2, '2e-4'), or ConfigError naming the flag."""
    if kind is bool:
        try:
            return parse_bool(value)
        except argparse.ArgumentTypeError as exc:
            raise ConfigError(f"{flag_name(key)}: {exc}") from None
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{flag_name(key)} must be a whole number, got {value!r}")
        return value
    if kind is float:
        try:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{flag_name(key)} must be a number, got {value!r}") from None
    if kind is str and not isinstance(value, str):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # e.g. a W&B run id a YAML file read as a number
        raise ConfigError(f"{flag_name(key)} must be text, got {value!r}")
    return value


@dataclass(frozen=True)
class Options:
    """The base of every set of options (see the module docstring)."""

    def typed(self) -> "Options":
        """A copy with every value of the annotated type (ConfigError when one cannot be)."""
        values = {}
        for key, (kind, optional) in field_types(type(self)).items():
            value = getattr(self, key)
            if value is None and optional:
                continue
            new = coerce(key, value, kind)
            if new is not value:
                values[key] = new
        return dataclasses.replace(self, **values) if values else self

    def derived(self) -> "Options":
        """A copy with the values left automatic (None) filled in; subclasses extend it."""
        return self

    def validate(self) -> None:
        """Raise ConfigError (one line, naming the flag) for a setting that cannot work; subclasses extend it
        (calling this first: it checks every field that has choices)."""
        for f in dataclasses.fields(self):
            choices = metadata(type(self), f.name)["choices"]
            if choices and getattr(self, f.name) not in choices:
                raise ConfigError(f"{flag_name(f.name)} must be {one_of(choices)}, got {getattr(self, f.name)!r}")

    def replace(self, **changes) -> "Options":
        return dataclasses.replace(self, **changes)

    def resolved(self) -> "Options":
        """Typed, derived values filled in, validated: the options a run trains with (a new instance)."""
        options = self.typed()
        options.validate_types()
        options = options.derived()
        options.validate()
        return options

    def validate_types(self) -> None:
        """The checks `derived` relies on (e.g. the batch size is positive before R1's gamma is divided
        by it); subclasses extend it."""

    def asdict(self) -> dict:
        return dataclasses.asdict(self)


def preset(**values):
    """Class decorator: a preset, the frozen options dataclass of its base class with these defaults.

        @preset(model="resnet", filters=64, batch_size=1)
        class ResNetOptions(Night2DayOptions):
            \"\"\"Where the values come from.\"\"\"

    Every key must be a field of the base (its flag, help and type stay the base's); fields of its own
    (options only this preset has) are declared in the class body as usual."""
    def make(cls):
        inherited = {f.name: f for f in dataclasses.fields(cls)}
        annotations = dict(cls.__dict__.get("__annotations__", {}))
        for key, value in values.items():
            if key not in inherited:
                raise TypeError(f"{cls.__name__}: {key!r} is not an option of {cls.__mro__[1].__name__}")
            annotations[key] = inherited[key].type
            setattr(cls, key, value)
        cls.__annotations__ = annotations
        return dataclass(frozen=True)(cls)
    return make


def defaults(cls) -> dict:
    """{field: default} of an options class (or a preset)."""
    return {f.name: f.default for f in dataclasses.fields(cls)}


def show(value, none=None) -> str:
    if value is None:
        return none or "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def option_fields(presets: dict) -> dict:
    """{field name: the first preset class that has it}, over every preset, in field order."""
    owners = {}
    for cls in presets.values():
        for f in dataclasses.fields(cls):
            owners.setdefault(f.name, cls)
    return owners


def default_text(key: str, presets: dict, meta: dict) -> str:
    """'(default 64)' when every preset that has the option agrees, else '(resnet 64, multiscale 16)';
    an option only some presets have names them: '(stylegan2 512)'."""
    values = {name: show(defaults(cls)[key], meta["none"]) for name, cls in presets.items() if key in defaults(cls)}
    if len(set(values.values())) == 1 and len(values) == len(presets):
        return f"(default {next(iter(values.values()))})"
    return "(" + ", ".join(f"{name} {value}" for name, value in values.items()) + ")"


def add_arguments(parser: argparse.ArgumentParser, presets: dict, *, default_preset=None, preset_key="model",
                  runtime_cls=None) -> None:
    """One --flag per option of the presets ({name: options class}) that has a flag, in argparse groups,
    each help ending with its default (per preset where presets differ). No argparse default: what was
    given is what parse_args has. default_preset: the preset --preset-key defaults to. runtime_cls: its
    fields come last (the task's own options are read first)."""
    owners = option_fields(presets)
    keys = list(owners)
    if runtime_cls is not None:
        shared = {f.name for f in dataclasses.fields(runtime_cls)}
        keys = [k for k in keys if k not in shared] + [k for k in keys if k in shared]
    groups = {}
    for key in keys:
        meta = metadata(owners[key], key)
        if not meta["flag"]:
            continue
        kind, _ = field_types(owners[key])[key]
        kwargs = {"default": argparse.SUPPRESS, "metavar": meta["metavar"], "choices": meta["choices"]}
        shown = default_text(key, presets, meta)
        if key == preset_key and default_preset is not None:
            kwargs["choices"] = list(presets)
            shown = f"(default {default_preset})"
        if kind is bool:  # --flag alone is --flag true
            kwargs.update(type=parse_bool, metavar=meta["metavar"] or "BOOL", nargs="?", const=True)
        elif kind in (int, float):
            kwargs["type"] = kind
        help_text = " ".join(t for t in (meta["help"], shown) if t)
        group_name = meta["group"] or "options"
        if group_name not in groups:
            groups[group_name] = parser.add_argument_group(group_name)
        groups[group_name].add_argument(flag_name(key), *meta.get("aliases", ()), dest=key,
                                        help=help_text.replace("%", "%%"),
                                        **{k: v for k, v in kwargs.items() if v is not None})
