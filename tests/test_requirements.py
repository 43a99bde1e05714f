"""requirements.txt promises versions that work: each dependency has a floor, .ci/floors.txt pins
exactly those floors (the set `make test-floors` installs and tests), and the environment running
the tests satisfies requirements.txt."""

from __future__ import annotations

import os
import re
from importlib import metadata
from pathlib import Path

import pytest

try:
    from packaging.requirements import Requirement
    from packaging.version import Version
except ImportError:  # pragma: no cover - pytest itself depends on packaging
    Requirement = Version = None

REPO = Path(__file__).resolve().parents[1]
REQUIREMENTS = REPO / "requirements.txt"
FLOORS = REPO / ".ci" / "floors.txt"


def canonical(name: str) -> str:
    """PEP 503 name: PyYAML, pyyaml and py_yaml are one project."""
    return re.sub(r"[-_.]+", "-", name).lower()


def version_key(text: str):
    if Version is not None:
        return Version(text)
    parts = [int(p) for p in re.match(r"^\d+(?:\.\d+)*", text).group(0).split(".")]
    while parts and parts[-1] == 0:  # 1.26 == 1.26.0, as pip compares them
        parts.pop()
    return tuple(parts)


def parse(path: Path) -> dict:
    """{canonical name: [(operator, version), ...]} of a requirements file; comments and blank lines skipped."""
    out = {}
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if Requirement is not None:
            req = Requirement(line)
            name, specs = req.name, [(s.operator, s.version) for s in req.specifier]
            assert not req.marker and not req.extras and not req.url, f"{path.name}:{number}: {raw!r}"
        else:
            m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*)", line)
            assert m, f"{path.name}:{number}: cannot parse {raw!r}"
            name = m.group(1)
            specs = re.findall(r"(===|==|!=|~=|>=|<=|>|<)\s*([^,\s]+)", m.group(2))
        key = canonical(name)
        assert key not in out, f"{path.name}:{number}: {name} is listed twice"
        out[key] = specs
    return out


def floors_of_requirements() -> dict:
    floors = {}
    for name, specs in parse(REQUIREMENTS).items():
        lower = [v for op, v in specs if op == ">="]
        assert len(lower) == 1, f"requirements.txt: {name} needs exactly one >= floor, has {specs}"
        floors[name] = lower[0]
    return floors


def pins_of_floors_file() -> dict:
    pins = {}
    for name, specs in parse(FLOORS).items():
        assert len(specs) == 1 and specs[0][0] == "==", f".ci/floors.txt: {name} must be name==version, has {specs}"
        pins[name] = specs[0][1]
    return pins


def installed_version(name: str):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def satisfies(version: str, specs) -> bool:
    if Requirement is not None:
        from packaging.specifiers import SpecifierSet

        return SpecifierSet(",".join(op + v for op, v in specs)).contains(version, prereleases=True)
    have = version_key(version)
    checks = {">=": lambda a, b: a >= b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b,
              "<": lambda a, b: a < b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b}
    return all(checks[op](have, version_key(v)) for op, v in specs)


# --------------------------------------------------------------------------- the files agree
def test_every_runtime_dependency_has_a_floor():
    floors = floors_of_requirements()
    assert {"tensorflow", "keras", "numpy", "wandb"} <= set(floors)


def test_floors_file_pins_every_requirement_to_exactly_its_floor():
    floors, pins = floors_of_requirements(), pins_of_floors_file()
    assert sorted(pins) == sorted(floors), (
        f"only in requirements.txt: {sorted(set(floors) - set(pins))}; "
        f"only in .ci/floors.txt: {sorted(set(pins) - set(floors))} (run .ci/check-floors --update)")
    differ = {n: (floors[n], pins[n]) for n in floors if version_key(floors[n]) != version_key(pins[n])}
    assert not differ, f"requirements.txt >= vs .ci/floors.txt ==: {differ} (run .ci/check-floors --update)"


def test_known_floors_are_not_lowered():
    # measured: wandb.init(reinit="finish_previous") needs wandb 0.19.9; Keras before 3.8 averages
    # gradients over replicas where GANModel.apply_gradients expects a sum; TF 2.16 is the oldest tested
    floors = {n: version_key(v) for n, v in floors_of_requirements().items()}
    assert floors["wandb"] >= version_key("0.19.9")
    assert floors["keras"] >= version_key("3.8.0")
    assert floors["tensorflow"] >= version_key("2.16.1")
    if floors["tensorflow"] < version_key("2.18"):  # TF before 2.18 is built against numpy 1.x
        assert floors["numpy"] < version_key("2")


# --------------------------------------------------------------------------- the environment
def test_installed_versions_satisfy_requirements():
    problems = []
    for name, specs in parse(REQUIREMENTS).items():
        have = installed_version(name)
        if have is None:
            problems.append(f"{name} is not installed")
        elif not satisfies(have, specs):
            problems.append(f"{name} {have} does not satisfy {','.join(op + v for op, v in specs)}")
    assert not problems, "; ".join(problems)


@pytest.mark.skipif(os.environ.get("GANWORKS_FLOORS") != "1",
                    reason="only in the floors environment (.ci/check-floors sets GANWORKS_FLOORS=1)")
def test_floors_environment_has_exactly_the_floors():
    wrong = {}
    for name, pin in pins_of_floors_file().items():
        have = installed_version(name)
        if have is None or version_key(have) != version_key(pin):
            wrong[name] = (pin, have)
    assert not wrong, f"floor vs installed: {wrong}"
