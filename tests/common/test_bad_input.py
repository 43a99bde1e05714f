"""Every task's command lines under bad input, from one table: broken training folders, another task's
run or a truncated checkpoint given as --checkpoint / --resume, an --out that names a file, a run whose
only checkpoint is corrupt. Each case must end in exactly one `error:` line (exit 2), never a traceback,
and a broken training folder must be refused before --out exists.

The tasks' tiny training runs are made once per session (a few seconds each) and copied per test.
"""

from __future__ import annotations

import importlib
import shutil
from dataclasses import dataclass, field

import pytest

from inpainting.demo import demo_dataset as inpainting_demo

from watches.demo import demo_dataset as watches_demo
from common.runtime import checkpoint as ckpt


@dataclass(frozen=True)
class Task:
    name: str
    train_args: tuple  # a tiny run on the demo data, one checkpoint at step 2
    # the commands that take a run as --checkpoint: (module, extra arguments); {tmp} is the test's folder
    consumers: tuple = field(default=())
    # the training folder's layout: where images go ("" for the folder itself)
    splits: tuple = ("",)


COMMON = ("--data", "demo", "--image-size", "32", "--batch-size", "2", "--steps-per-epoch", "2", "--epochs", "1",
          "--checkpoint-every", "2", "--sample-every", "100", "--wandb", "disabled")

TASKS = {
    "night2day": Task("night2day", ("--model", "resnet", "--filters", "4", "--res-blocks", "1", *COMMON),
                      consumers=(("night2day.translate", ("--input", "{photo}", "--out", "{tmp}/translated")),
                                 ("night2day.evaluate", ("--data", "demo", "--metrics", ""))),
                      splits=("trainA", "trainB")),
    "inpainting": Task("inpainting", ("--model", "improved", "--filters", "4", "--bottleneck", "16", *COMMON),
                       consumers=(("inpainting.fill", ("--input", "{photo}", "--mask", "centre",
                                                       "--out", "{tmp}/filled.png")),
                                  ("inpainting.evaluate", ("--data", "demo", "--metrics", "", "--perceptual", "off"))),
                       splits=("train",)),
    "watches": Task("watches", ("--filters", "4", "--latent-dim", "8", *COMMON),
                    consumers=(("watches.generate", ("--seeds", "0-1", "--out", "{tmp}/generated")),
                               # (the feature model is never loaded: the checkpoint is refused first)
                               ("watches.evaluate", ("--data", "demo", "--extractor", "{tmp}/features.keras",
                                                     "--num-fake", "4")))),
}


def run(module: str, argv, capsys) -> tuple[int, list[str], str]:
    """(exit code, the stderr lines that say error, all output) of `python -m module argv`, in process."""
    main = importlib.import_module(module).main
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    errors = [line for line in err.splitlines() if "error:" in line]
    return code, errors, out + err


def assert_one_line_error(result, *needles):
    code, errors, text = result
    assert code == 2, text[-2000:]
    assert "Traceback" not in text
    assert len(errors) == 1, errors
    for needle in needles:
        assert needle in errors[0], errors[0]


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    """{task: a finished tiny run folder}, trained once."""
    made = {}
    for name, task in TASKS.items():
        out = tmp_path_factory.mktemp(f"run-{name}")
        code = importlib.import_module(f"{name}.train").main([*task.train_args, "--out", str(out / "run")])
        assert code == 0
        made[name] = out / "run"
    return made


def copy_run(runs, name, tmp_path):
    target = tmp_path / f"{name}-run"
    shutil.copytree(runs[name], target)
    return target


def consumer_argv(task: Task, module: str, extra, checkpoint, tmp_path):
    photo = sorted((inpainting_demo() / "test").iterdir())[0]
    fill = {"tmp": tmp_path, "photo": photo}
    return ["--checkpoint", checkpoint, *[str(a).format(**fill) for a in extra]]


CONSUMERS = [(name, module, extra) for name, task in TASKS.items() for module, extra in task.consumers]


@pytest.mark.parametrize("name, module, extra", CONSUMERS, ids=[m for _, m, _ in CONSUMERS])
def test_another_tasks_run_as_checkpoint_is_one_line_naming_both_tasks(name, module, extra, runs, tmp_path, capsys):
    other = next(n for n in TASKS if n != name)
    argv = consumer_argv(TASKS[name], module, extra, runs[other], tmp_path)
    assert_one_line_error(run(module, argv, capsys), f"{other} checkpoint, not a")


@pytest.mark.parametrize("name", TASKS)
def test_another_tasks_run_given_to_resume_is_one_line(name, runs, tmp_path, capsys):
    other = next(n for n in TASKS if n != name)
    out = tmp_path / "new"
    argv = [*TASKS[name].train_args, "--out", out, "--resume", runs[other]]
    assert_one_line_error(run(f"{name}.train", argv, capsys), f"{other} checkpoint, not a")
    assert not out.exists()


def truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


BROKEN = {"variables.npz": "variables.npz is truncated", "state.json": "state.json is not valid JSON"}


@pytest.mark.parametrize("broken", BROKEN)
@pytest.mark.parametrize("given", ["checkpoint folder", "run folder"])
@pytest.mark.parametrize("name, module, extra", CONSUMERS, ids=[m for _, m, _ in CONSUMERS])
def test_a_truncated_checkpoint_is_one_line_naming_the_file(name, module, extra, given, broken, runs, tmp_path,
                                                            capsys):
    run_folder = copy_run(runs, name, tmp_path)
    checkpoint = ckpt.CheckpointManager(run_folder / "checkpoints").latest()
    truncate(checkpoint / broken)
    argv = consumer_argv(TASKS[name], module, extra, checkpoint if given == "checkpoint folder" else run_folder,
                         tmp_path)
    assert_one_line_error(run(module, argv, capsys), checkpoint.name, BROKEN[broken])


@pytest.mark.parametrize("broken", BROKEN)
@pytest.mark.parametrize("name", TASKS)
def test_resume_from_a_truncated_checkpoint_is_one_line(name, broken, runs, tmp_path, capsys):
    run_folder = copy_run(runs, name, tmp_path)
    checkpoint = ckpt.CheckpointManager(run_folder / "checkpoints").latest()
    truncate(checkpoint / broken)
    argv = [*TASKS[name].train_args, "--out", tmp_path / "new", "--resume", checkpoint]
    assert_one_line_error(run(f"{name}.train", argv, capsys), checkpoint.name, BROKEN[broken])


@pytest.mark.parametrize("name", TASKS)
def test_a_run_whose_only_checkpoint_is_corrupt_is_not_restarted_over_its_log(name, runs, tmp_path, capsys):
    run_folder = copy_run(runs, name, tmp_path)
    checkpoint = ckpt.CheckpointManager(run_folder / "checkpoints").latest()
    assert [p.name for p in ckpt.CheckpointManager(run_folder / "checkpoints").complete_checkpoints()] == \
        [checkpoint.name]
    truncate(checkpoint / "variables.npz")
    log = (run_folder / "metrics.jsonl").read_text()
    argv = [*TASKS[name].train_args, "--out", run_folder, "--epochs", "2"]
    assert_one_line_error(run(f"{name}.train", argv, capsys), checkpoint.name, "--resume never")
    assert (run_folder / "metrics.jsonl").read_text() == log  # nothing of the run was overwritten
    code, _, text = run(f"{name}.train", [*argv, "--resume", "never"], capsys)
    assert code == 0, text[-2000:]
    # and every task says it is compiling before its first step, then how long that took
    assert "compiling the training step" in text and "first step compiled in" in text, text[-2000:]


OUT_FLAGS = [("watches.generate", "watches", ("--seeds", "0-1", "--out", "{file}")),
             ("inpainting.masks", None, ("--n", "2", "--out", "{file}")),
             ("night2day.translate", "night2day", ("--input", "{photo}", "--out", "{file}")),
             ("inpainting.fill", "inpainting", ("--input", "{photo}", "--mask", "centre", "--out",
                                                "{file}/filled.png"))]


@pytest.mark.parametrize("module, name, extra", OUT_FLAGS, ids=[m for m, _, _ in OUT_FLAGS])
def test_an_output_folder_that_is_a_file_is_one_line(module, name, extra, runs, tmp_path, capsys):
    existing = tmp_path / "taken"
    existing.write_text("not a folder")
    photo = sorted((inpainting_demo() / "test").iterdir())[0]
    argv = [str(a).format(file=existing, photo=photo) for a in extra]
    if name is not None:
        argv = ["--checkpoint", runs[name], *argv]
    code, errors, text = run(module, argv, capsys)
    assert code not in (0, None) and "Traceback" not in text, text[-2000:]
    assert any(str(existing) in line for line in errors) or "taken" in text, text[-2000:]
    assert existing.read_text() == "not a folder"


def test_every_weights_flag_a_note_offers_is_an_option_of_the_command_that_prints_it():
    from common.metrics import features
    from inpainting.evaluate import build_parser

    options = {a for action in build_parser()._actions for a in action.option_strings}
    assert features._VGG16_FILE.flag in options and features._INCEPTION_FILE.flag in options
    with pytest.raises(features.WeightsUnavailableError, match="--vgg16-weights PATH"):
        features.vgg16_extractor("/no/such/vgg16.h5")


@pytest.mark.parametrize("mode", ["online", "offline"])
def test_the_resume_hint_offline_says_to_keep_the_out_folder_not_a_run_id_it_cannot_fetch(mode, tmp_path, capsys):
    from types import SimpleNamespace

    from common.runtime.trainer import _announce

    tracker = SimpleNamespace(active=True, mode=mode)
    _announce(tracker, "abc123", "proj", "python -m watches.train --epochs 9", tmp_path / "run")
    hint = [line for line in capsys.readouterr().out.splitlines() if line.startswith("to continue")][0]
    if mode == "online":
        assert hint.endswith("python -m watches.train --epochs 9 --wandb-run-id abc123")
    else:
        assert "--wandb-run-id abc123" not in hint and f"keep the --out folder {tmp_path / 'run'}" in hint


# --------------------------------------------------------------------------- hostile training folders

def image_folder(task: Task, root, fill):
    """root with the task's layout; fill(folder) puts images into each of its training folders."""
    for split in task.splits:
        folder = root / split if split else root
        folder.mkdir(parents=True, exist_ok=True)
        fill(folder)
    return root


def good_images(folder, count=3):
    source = sorted(p for p in watches_demo().rglob("*") if p.suffix in (".png", ".jpg"))
    for path in source[:count]:
        shutil.copy(path, folder / f"{path.stem}.png" if path.suffix == ".png" else folder / path.name)


def train_on(name, data, out, capsys, *extra):
    argv = [*TASKS[name].train_args, "--data", data, "--out", out, *extra]
    return run(f"{name}.train", argv, capsys)


@pytest.mark.parametrize("name", TASKS)
def test_a_folder_of_only_undecodable_images_is_one_line_before_anything_exists(name, tmp_path, capsys):
    from tests.common.hostile_files import undecodable_folder

    data = image_folder(TASKS[name], tmp_path / "data", undecodable_folder)
    out = tmp_path / "run"
    assert_one_line_error(train_on(name, data, out, capsys), "decode")
    assert not out.exists()


@pytest.mark.parametrize("name", TASKS)
def test_hostile_files_beside_good_ones_are_reported_once_and_training_goes_on(name, tmp_path, capsys, caplog):
    """A non-UTF-8 file name (trained on), a PNG header claiming 100000x100000 (skipped, not decoded),
    a folder symlink loop (each file counted once) and an undecodable PNG (substituted), in every
    training folder of the task."""
    from tests.common import hostile_files as hostile

    def fill(folder):
        good_images(folder)
        hostile.non_utf8_copy(sorted(folder.iterdir())[0], folder)
        hostile.huge_header_png(folder / "huge.png")
        hostile.symlink_loop(folder)
        hostile.undecodable_png(folder / "garbled.png")

    data = image_folder(TASKS[name], tmp_path / "data", fill)
    code, errors, text = train_on(name, data, tmp_path / "run", capsys)
    assert code == 0 and not errors and "Traceback" not in text, text[-3000:]
    summary = [line for line in text.splitlines() if line.startswith("data: ")]
    assert summary and all(" 5 images" in line for line in summary), summary  # 3 + the renamed copy + garbled
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    folders = len(TASKS[name].splits)
    for file, why in (("huge.png", "10000 megapixels"), ("garbled.png", "substitute"), ("loop", "symlink loop")):
        said = [w for w in warnings if f"/{file}" in w]  # the file's path (TensorFlow's own warnings say "loop")
        assert len(said) == folders and all(why in w for w in said), warnings  # once per folder


def test_evaluation_reads_a_file_whose_name_is_not_utf8(tmp_path):
    from common.metrics.features import folder_dataset
    from tests.common.hostile_files import non_utf8_copy

    good_images(tmp_path, 1)
    path = non_utf8_copy(sorted(tmp_path.iterdir())[0], tmp_path)
    batches = list(folder_dataset([path], input_size=16, batch_size=4))
    assert [tuple(b.shape) for b in batches] == [(1, 16, 16, 3)]


# settings of each task that cannot work: (task, flags given after its tiny run's, what the one error line says)
SETTINGS = [
    ("night2day", ["--data", "/no/such/folder"], "/no/such/folder"),
    ("night2day", ["--model", "unet"], "invalid choice"),
    ("night2day", ["--image-size", "48", "--model", "multiscale"], "divisible by 32"),
    ("night2day", ["--image-size", "16", "--model", "resnet"], "--image-size 16 is too small for the resnet model"),
    ("inpainting", ["--image-size", "48"], "--image-size 48 must be a power of two"),
    ("inpainting", ["--mask", "centre", "--hole-size", "40"], "--hole-size 40 must be at least 2 and smaller"),
    ("inpainting", ["--hole-min", "0.6", "--hole-max", "0.5"], "--hole-min 0.6 and --hole-max 0.5 must satisfy"),
    ("inpainting", ["--mask", "stars"], "invalid choice: 'stars'"),
    ("inpainting", ["--data", "/nonexistent/places"], "data folder not found: /nonexistent/places"),
    ("watches", ["--image-size", "48"], "--image-size 48 must be a power of two"),
    ("watches", ["--label-flip", "0.7"], "--label-flip 0.7 must be in [0, 0.5)"),
    ("watches", ["--image-size", "16", "--patch-discriminator", "true"], "--patch-discriminator needs --image-size"),
    ("watches", ["--data", "/nonexistent/watches"], "data folder not found: /nonexistent/watches"),
    ("watches", ["--metrics-extractor", "random"],
     "--metrics-extractor must be inception, inception-2015 or a .keras feature model file, got 'random'"),
]


@pytest.mark.parametrize("name, flags, message", SETTINGS, ids=[f"{n}:{' '.join(f)}" for n, f, _ in SETTINGS])
def test_a_setting_that_cannot_work_is_one_line_before_the_run_folder_exists(name, flags, message, tmp_path, capsys):
    out = tmp_path / "run"
    assert_one_line_error(run(f"{name}.train", [*TASKS[name].train_args, "--out", out, *flags], capsys), message)
    assert not out.exists()
