"""Every command line's --help: exits 0, shows each flag's default, and loads no TensorFlow (speed itself is
measured by `python -m benchmarks.cli_help`, not here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.cli_help import CLIS

ROOT = Path(__file__).resolve().parents[2]

# runs `python -m <module> --help` in this fresh interpreter and reports, as JSON, the exit code, the help text,
# the flags whose help line names no default, and whether TensorFlow or Keras got imported
PROBE = r"""
import argparse, contextlib, io, json, re, runpy, sys

module = sys.argv[1]
parsers = []
original = argparse.ArgumentParser.parse_args

def recording(self, *args, **kwargs):
    parsers.append(self)
    return original(self, *args, **kwargs)

argparse.ArgumentParser.parse_args = recording
sys.argv = [module, "--help"]
out = io.StringIO()
code = None
with contextlib.redirect_stdout(out):
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code or 0
missing = []
# "(default ...)", or a train option's value per preset where they differ: "(resnet 64, multiscale 16)"
shown = re.compile(r"default|\([\w-]+ [^()]+(, [\w-]+ [^()]+)*\)\s*$", re.I)
for parser in parsers[-1:]:
    formatter = parser._get_formatter()
    for action in parser._actions:
        if not action.option_strings or action.required or isinstance(action, argparse._HelpAction):
            continue
        line = " ".join(formatter._format_action(action).split())
        if not shown.search(line):
            missing.append(line)
print(json.dumps({"code": code, "help": out.getvalue(), "missing": missing, "parsers": len(parsers),
                  "tensorflow": "tensorflow" in sys.modules, "keras": "keras" in sys.modules}))
"""


def probe(code: str, *args) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module", CLIS)
def test_help_exits_0_shows_every_default_and_imports_no_tensorflow(module):
    result = probe(PROBE, module)
    assert result["code"] == 0
    assert result["help"].startswith("usage: python -m " + module) and "--help" in result["help"]
    assert result["parsers"] >= 1
    assert result["missing"] == [], f"flags of {module} whose --help shows no default"
    assert not result["tensorflow"] and not result["keras"], f"{module} --help imported TensorFlow/Keras"


@pytest.mark.parametrize("task", ["night2day", "inpainting", "watches"])
def test_parsing_a_training_command_line_imports_no_tensorflow(task):
    code = (f"import json, sys\nfrom {task}.train import parse_config\n"
            "config = parse_config(['--epochs', '2', '--flip', 'true', '--verbose'])\n"
            "print(json.dumps({'epochs': config['epochs'], 'flip': config['flip'], 'verbose': config['verbose'], "
            "'tensorflow': 'tensorflow' in sys.modules, 'keras': 'keras' in sys.modules}))")
    result = probe(code)
    assert (result["epochs"], result["flip"], result["verbose"]) == (2, True, True)
    assert not result["tensorflow"] and not result["keras"]


QUIET = r"""
import json, os, sys
from common.report import quiet_tensorflow
quiet_tensorflow(verbose=sys.argv[1] == "verbose")
import tensorflow as tf
tf.config.list_physical_devices("GPU")
print(json.dumps({"level": os.environ.get("TF_CPP_MIN_LOG_LEVEL"), "value": int(tf.constant(2) + 1)}))
"""


def test_tensorflow_start_up_lines_are_hidden_unless_verbose_or_the_user_set_the_level():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    quiet = subprocess.run([sys.executable, "-c", QUIET, "quiet"], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=120)
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    assert json.loads(quiet.stdout) == {"level": "3", "value": 3}
    for noise in ("absl::InitializeLog", "oneDNN", "cuda drivers", "cuInit", "cpu_feature_guard"):
        assert noise not in quiet.stderr, quiet.stderr
    verbose = subprocess.run([sys.executable, "-c", QUIET, "verbose"], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=120)
    assert json.loads(verbose.stdout)["level"] is None  # --verbose: TensorFlow's own defaults
    own = subprocess.run([sys.executable, "-c", QUIET, "quiet"], cwd=ROOT, capture_output=True, text=True,
                         env={**env, "TF_CPP_MIN_LOG_LEVEL": "1"}, timeout=120)
    assert json.loads(own.stdout)["level"] == "1"  # a level the user set is theirs
