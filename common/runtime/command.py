"""`python -m <task>.train`'s command: parse the flags (light: no TensorFlow), then start training.

    command = TrainCommand("night2day.task:Night2DayTask", Night2DayOptions, PRESETS, __doc__, name="night2day")
    config = command.parse_config(["--model", "resnet"])     # the resolved run config (a dict)
    command.main(["--epochs", "3"])                          # parse and train; the exit code

The task class may be given as "module:Class" so that `--help` and argument errors never import
TensorFlow (the task module does); it is imported after the arguments are parsed, once TensorFlow's
start-up logging has been quietened (common.report.quiet_tensorflow, unless --verbose).
"""

from __future__ import annotations

import importlib
import sys


class TrainCommand:
    """The task's options and presets as flags, then common.runtime.trainer.run_cli."""

    def __init__(self, task_cls, options, presets=None, doc=None, *, name=None):
        self._task_cls, self.options, self.presets, self.doc = task_cls, options, presets, doc
        self.name = name or task_cls.name

    @property
    def task_cls(self):
        """The task class (imported on first use when given as "module:Class")."""
        if isinstance(self._task_cls, str):
            module, _, attr = self._task_cls.partition(":")
            self._task_cls = getattr(importlib.import_module(module), attr)
        return self._task_cls

    def _init_keys(self, argv):
        """(network_keys, shape_keys) of the task, for --init-from: imports it (and TensorFlow, quietened
        first unless --verbose is on this command line)."""
        import argparse

        from common.report import quiet_tensorflow
        from common.runtime.options import parse_bool

        peek = argparse.ArgumentParser(add_help=False)
        peek.add_argument("--verbose", nargs="?", const=True, default=False, type=parse_bool)
        try:
            verbose = peek.parse_known_args(argv)[0].verbose
        except SystemExit:  # a bad --verbose value: the real parser has said so already
            verbose = False
        quiet_tensorflow(verbose)
        keys, fixed = self.task_cls.network_keys, self.task_cls.fixed_on_resume
        return keys, [k for k in keys if k in fixed]

    def parse_config(self, argv=None) -> dict:
        from common.runtime.config import resolve_config

        argv = sys.argv[1:] if argv is None else list(argv)
        return resolve_config(self.options, argv, task=self.name, presets=self.presets,
                              prog=f"python -m {self.name}.train", description=self.doc,
                              network_keys=lambda: self._init_keys(argv))

    def main(self, argv=None) -> int:
        from common.report import quiet_tensorflow

        argv = sys.argv[1:] if argv is None else list(argv)
        config = self.parse_config(argv)
        quiet_tensorflow(config.get("verbose", False))
        from common.runtime.trainer import run_cli

        return run_cli(self.task_cls(), config, argv)
