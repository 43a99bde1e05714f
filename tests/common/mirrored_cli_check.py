"""Each task's train CLI with --strategy mirrored on two logical CPUs: train, resume, export.

Run as a subprocess (`python -m tests.common.mirrored_cli_check MODEL ...`, models of
tests/common/two_replica_models.MODELS): the logical devices must exist before TensorFlow initialises.
For each model: `python -m <task>.train ... --strategy mirrored` for 2 steps, then the same command
with --epochs 2 (it resumes at step 2 and trains 2 more), in this one process as a notebook would.
Prints one JSON line per model.
"""

import contextlib
import io
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

from tests.common.logical_cpus import mirror_on_cpus, split_cpu  # noqa: E402

split_cpu(2)

from tests.common.two_replica_models import COMMON, MODELS  # noqa: E402

mirror_on_cpus()  # --strategy mirrored needs two GPUs; here it runs on the two logical CPUs


def _main(task):
    if task == "night2day":
        from night2day.train import main
    elif task == "inpainting":
        from inpainting.train import main
    else:
        from watches.train import main
    return main


def run(name):
    task, flags, _ = MODELS[name]
    main = _main(task)
    with tempfile.TemporaryDirectory() as out:
        argv = [*COMMON, *flags, "--strategy", "mirrored", "--steps-per-epoch", "2", "--checkpoint-every", "2",
                "--sample-every", "2", "--out", out]
        codes, texts = [], []
        for epochs in ("1", "2"):
            text = io.StringIO()
            with contextlib.redirect_stdout(text):
                codes.append(main([*argv, "--epochs", epochs]))
            texts.append(text.getvalue())
        steps = [json.loads(line)["step"] for line in Path(out, "metrics.jsonl").read_text().splitlines()]
        exports = sorted(p.name for p in Path(out, "export").glob("*.keras"))
        samples = sorted(p.name for p in Path(out, "samples").glob("*.png"))
    return {"model": name, "exit_codes": codes, "resumed": "resuming from" in texts[1] and "at step 2/4" in texts[1],
            "steps": steps, "exports": exports, "samples": samples}


if __name__ == "__main__":
    for model in sys.argv[1:] or MODELS:
        print(json.dumps(run(model)), flush=True)
