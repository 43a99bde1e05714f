"""SIGKILL fuzz of the training runtime: kill the toy GAN at random moments, then check it finished cleanly.

    python -m benchmarks.kill_fuzz                      # 10 kills on a 40-step run, --checkpoint-every 1
    python -m benchmarks.kill_fuzz --kills 4 --steps 16 --seed 3 --out /tmp/fuzz-run

The same command (`python -m tests.common.toy_gan --out DIR --checkpoint-every 1 --resume auto
--wandb disabled ...`) is started `--kills` times and SIGKILLed each time, then run to the end.
Half the kills (which ones is drawn from --seed) land in the middle of a checkpoint write: those
runs get `--checkpoint-delay` (a pause between `variables.npz` and `state.json`), and the kill
follows the appearance of that process's `ckpt-<step>.tmp-<pid>/` folder. The other kills land
during steps (a random fraction of a step after a chosen step's log line) or right after a
checkpoint was renamed into place. Every kill waits until the new process is past its resume
(its `config.json` is rewritten after the metrics log was cut back), and advances the run by a
few steps drawn so that all kills fit into the run.

After every kill: each complete `ckpt-*` folder must load, and `metrics.jsonl` must hold steps
1..m in order (m >= the newest checkpoint's step: no checkpointed step lacks its line). At the
end: exit 0 and "finished N steps", the newest checkpoint's step is N, every checkpoint loads, no
`.tmp-` folder is left, and `metrics.jsonl` has exactly N strict-JSON lines, steps 1..N in order.
Prints a report and exits 1 on any failure (the run folder is kept then and its path printed).
Also noted, without failing: a `ckpt-<step>/` folder left incomplete by a kill (e.g. during the
pruning of an old checkpoint), which the runtime never loads but never removes either.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
POLL = 0.003  # seconds between looks at the run folder


# ----------------------------------------------------------------------------- reading the run folder
def _reject_constant(name):
    raise ValueError(f"non-strict JSON constant {name}")


def read_log(path: Path) -> tuple[list[int], list[str]]:
    """(steps of the leading valid lines, problems) of metrics.jsonl; strict JSON (no NaN/Infinity)."""
    if not path.exists():
        return [], []
    lines = path.read_text().split("\n")
    partial = lines.pop()  # "" when the file ends with a newline (or is empty)
    steps, problems = _parse_lines(lines)
    if partial:  # a line cut off by a kill: acceptable only past the checkpoint (a resumed run drops it)
        problems.append(f"last line has no newline: {partial[:80]!r}")
    return steps, problems


def _parse_lines(lines: list[str]) -> tuple[list[int], list[str]]:
    steps, problems = [], []
    for i, line in enumerate(lines, 1):
        try:
            record = json.loads(line, parse_constant=_reject_constant)
            steps.append(int(record["step"]))
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(f"line {i} is not a strict JSON record with a step ({exc}): {line[:80]!r}")
    return steps, problems


def checkpoint_step(path: Path | None) -> int:
    if path is None:
        return 0
    return int(json.loads((path / "state.json").read_text())["step"])


def newest_checkpoint(root: Path) -> Path | None:
    from common.runtime.checkpoint import CheckpointManager

    return CheckpointManager(root).latest()


def unreadable_checkpoints(root: Path) -> list[str]:
    from common.runtime.checkpoint import CheckpointManager, is_readable

    return [p.name for p in CheckpointManager(root).complete_checkpoints() if not is_readable(p)]


def temporaries(root: Path) -> list[Path]:
    return sorted(root.glob("ckpt-*.tmp-*")) if root.is_dir() else []


def incomplete_folders(root: Path) -> dict[str, list[str]]:
    """{name: files} of `ckpt-<step>` folders (not `.tmp-`) lacking a file: never loaded, never pruned."""
    from common.runtime.checkpoint import CheckpointManager

    if not root.is_dir():
        return {}
    complete = set(CheckpointManager(root).complete_checkpoints())
    return {p.name: sorted(f.name for f in p.iterdir()) for p in sorted(root.glob("ckpt-*"))
            if p.is_dir() and ".tmp-" not in p.name and p not in complete}


# ----------------------------------------------------------------------------- one toy process
class ToyProcess:
    """The toy run as a subprocess; its output is collected by a thread."""

    def __init__(self, out: Path, steps: int, steps_per_epoch: int, checkpoint_delay: float = 0.0):
        self.command = [sys.executable, "-m", "tests.common.toy_gan", "--out", str(out),
                        "--epochs", str(steps // steps_per_epoch), "--steps-per-epoch", str(steps_per_epoch),
                        "--checkpoint-every", "1", "--resume", "auto", "--wandb", "disabled"]
        if checkpoint_delay:
            self.command += ["--checkpoint-delay", str(checkpoint_delay)]
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "WANDB_MODE": "disabled", "PYTHONUNBUFFERED": "1"}
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.command, cwd=REPO, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, errors="replace")
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
        self.finish()

    def finish(self, timeout=None) -> int:
        rc = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return rc

    def output(self) -> str:
        return "\n".join(self.lines)

    def tail(self, n=15) -> str:
        return "\n".join(self.lines[-n:])


def wait_until(predicate, proc: ToyProcess, timeout: float) -> str:
    """'ok' once predicate() holds, 'exited' if the process ended first, 'timeout'."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return "ok"
        if not proc.alive():
            return "ok" if predicate() else "exited"
        time.sleep(POLL)
    return "timeout"


def _mtime(path: Path):
    try:
        st = path.stat()
        return st.st_mtime_ns, st.st_ino, st.st_size
    except FileNotFoundError:
        return None


def _last_step(path: Path) -> int:
    """Step of the last complete line of metrics.jsonl (0 if none); cheap enough to poll."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return 0
    end = data.rfind(b"\n")
    if end < 0:
        return 0
    start = data.rfind(b"\n", 0, end) + 1
    try:
        return int(json.loads(data[start:end])["step"])
    except (ValueError, KeyError, TypeError):
        return 0


class _StepWatch:
    """A predicate: has metrics.jsonl reached step `target`? Notes how long each step took on the way."""

    def __init__(self, path: Path, target: int):
        self.path, self.target = path, target
        self.last: int | None = None  # the last step seen, and when it appeared
        self.since = 0.0
        self.changes = 0
        self.intervals: list[float] = []

    def __call__(self) -> bool:
        step, now = _last_step(self.path), time.monotonic()
        if step != self.last:
            # the first new line follows graph tracing, so only later gaps are step times
            if self.changes >= 2 and step == self.last + 1:
                self.intervals.append(now - self.since)
            self.last, self.since, self.changes = step, now, self.changes + 1
        return step >= self.target


# ----------------------------------------------------------------------------- the fuzz
@dataclass
class Kill:
    index: int
    kind: str  # "mid-write" | "during-step" | "after-checkpoint"
    resumed_from: int  # the checkpoint step the killed process started from
    target: int  # the step whose log line / checkpoint triggers the kill
    extra_delay: float
    step_seconds: float = 0.0  # during-step kills: the step time the delay was drawn against
    pid: int = 0
    startup_seconds: float = 0.0  # process start -> past its resume (config.json written)
    alive_seconds: float = 0.0  # process start -> kill
    landed_mid_write: bool | None = None
    mid_write_files: list[str] = field(default_factory=list)
    checkpoint_after: int = 0  # the newest complete checkpoint's step after the kill
    last_logged: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # worth knowing, not a failure

    def describe(self) -> str:
        if self.kind == "mid-write":
            what = (f"mid-write of ckpt {self.target} (+{self.extra_delay:.2f}s after its .tmp folder"
                    f"{'; held ' + ', '.join(self.mid_write_files) if self.mid_write_files else '; empty'})")
            if not self.landed_mid_write:
                what += " [the write had finished: NOT mid-write]"
        elif self.kind == "after-checkpoint":
            what = f"right after ckpt {self.target} was renamed into place"
        else:
            what = (f"during steps, {self.extra_delay * 1000:.0f} ms (~{self.extra_delay / self.step_seconds:.1f} "
                    f"steps) after step {self.target}'s log line")
        return (f"kill {self.index:2d} pid {self.pid:<7d} resumed from {self.resumed_from:3d}, {what}; "
                f"start {self.startup_seconds:.1f}s, alive {self.alive_seconds:.1f}s -> checkpoint "
                f"{self.checkpoint_after}, log to step {self.last_logged}"
                + "".join(f"  NOTE: {n}" for n in self.notes)
                + ("" if not self.problems else "  FAIL: " + "; ".join(self.problems)))


@dataclass
class FuzzResult:
    out: Path
    steps: int
    seed: int
    kills: list[Kill]
    checks: dict  # name -> (ok, detail)
    seconds: float
    final_output: str = ""
    notes: list[str] = field(default_factory=list)  # worth knowing, not a failure

    @property
    def ok(self) -> bool:
        return all(ok for ok, _ in self.checks.values()) and not any(k.problems for k in self.kills)

    def report(self) -> str:
        lines = [f"kill fuzz: {len(self.kills)} SIGKILLs on a {self.steps}-step toy run, --checkpoint-every 1, "
                 f"seed {self.seed}, run folder {self.out}"]
        lines += ["  " + k.describe() for k in self.kills]
        for name, (ok, detail) in self.checks.items():
            lines.append(f"  [{'ok' if ok else 'FAIL'}] {name}" + (f": {detail}" if detail else ""))
        lines += [f"  [note] {n}" for n in self.notes]
        lines.append(f"  {'PASSED' if self.ok else 'FAILED'} in {self.seconds:.0f}s")
        return "\n".join(lines)


def _check_after_kill(kill: Kill, out: Path, orphans_before: dict) -> None:
    root = out / "checkpoints"
    for name, files in incomplete_folders(root).items():
        if name not in orphans_before:
            kill.notes.append(f"left an incomplete {name}/ holding {files or 'nothing'} (killed while it was "
                              "being pruned or replaced; never loaded)")
    bad = unreadable_checkpoints(root)
    if bad:
        kill.problems.append(f"unreadable complete checkpoint(s): {', '.join(bad)}")
    kill.checkpoint_after = checkpoint_step(newest_checkpoint(root))
    steps, problems = read_log(out / "metrics.jsonl")
    kill.last_logged = steps[-1] if steps else 0
    # a trailing partial line is tolerated only past the checkpoint (the resumed run cuts it off)
    problems = [p for p in problems if not (p.startswith("last line has no newline")
                                            and len(steps) >= kill.checkpoint_after)]
    kill.problems += problems
    if steps != list(range(1, len(steps) + 1)):
        kill.problems.append(f"metrics.jsonl steps are not 1..m in order: {_summarise(steps)}")
    elif len(steps) < kill.checkpoint_after:
        kill.problems.append(f"checkpoint {kill.checkpoint_after} exists but the log stops at step {len(steps)}")


def _summarise(steps: list[int]) -> str:
    expected = list(range(1, (max(steps) if steps else 0) + 1))
    missing = sorted(set(expected) - set(steps))
    duplicated = sorted({s for s in steps if steps.count(s) > 1})
    out_of_order = [b for a, b in zip(steps, steps[1:]) if b <= a]
    parts = [f"{len(steps)} lines"]
    if missing:
        parts.append(f"missing {missing}")
    if duplicated:
        parts.append(f"duplicated {duplicated}")
    if out_of_order:
        parts.append(f"out of order at {out_of_order[:10]}")
    return ", ".join(parts) + f"; steps {steps[:60]}{' ...' if len(steps) > 60 else ''}"


def run_fuzz(out, *, kills: int = 10, steps: int = 40, seed: int = 0, steps_per_epoch: int = 4,
             checkpoint_delay: float = 0.3, timeout: float = 300.0, log=print) -> FuzzResult:
    """Kill the toy run `kills` times (half mid-checkpoint-write), run it to the end, check it."""
    if steps % steps_per_epoch:
        raise ValueError(f"--steps {steps} must be a multiple of --steps-per-epoch {steps_per_epoch}")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out} is not empty: the fuzz needs a fresh run folder")
    out.mkdir(parents=True, exist_ok=True)
    root, metrics, config_file = out / "checkpoints", out / "metrics.jsonl", out / "config.json"
    rng = random.Random(seed)
    mid_write = set(rng.sample(range(kills), kills // 2))
    started = time.monotonic()
    done: list[Kill] = []
    checks: dict = {}
    step_seconds = [0.05]  # one training step (with its checkpoint), as seen in the during-step runs

    for i in range(kills):
        resumed_from = checkpoint_step(newest_checkpoint(root))
        kills_left = kills - i
        remaining = steps - resumed_from
        if remaining <= 0:
            checks[f"kill {i + 1} had a step to land in"] = (
                False, f"the run was already complete (step {resumed_from}) - too few steps for {kills} kills")
            break
        if i in mid_write:
            kind = "mid-write"
            extra = 0.0 if rng.random() < 0.25 else rng.uniform(0.0, 0.8 * checkpoint_delay)
        else:
            kind = "after-checkpoint" if rng.random() < 0.3 else "during-step"
            extra = rng.uniform(0.0, 1.5) if kind == "during-step" else 0.0  # in steps, for now
        # advance the run by n steps, n drawn so the kills spread over the whole run: on average an even
        # share of what is left; at most what leaves one step for each later kill (a kill during steps
        # may overshoot its target by a step or two, so it keeps two more in hand)
        share = (remaining - 1) / kills_left
        most = remaining - (kills_left - 1) - (2 if kind == "during-step" else 0)
        target = resumed_from + rng.randint(1, max(1, min(most, 2 * round(share) - 1)))
        if kind == "during-step" and target >= steps:
            kind, extra = "after-checkpoint", 0.0  # the process would end before a late kill
        kill = Kill(index=i + 1, kind=kind, resumed_from=resumed_from, target=target, extra_delay=0.0)
        before, orphans_before = _mtime(config_file), incomplete_folders(root)
        proc = ToyProcess(out, steps, steps_per_epoch, checkpoint_delay if kind == "mid-write" else 0.0)
        kill.pid = proc.pid
        # 1) past the resume: the metrics log has been cut back and every line from now on is this process's
        status = wait_until(lambda: _mtime(config_file) != before, proc, timeout)
        kill.startup_seconds = time.monotonic() - proc.started
        # 2) the chosen moment
        if status == "ok":
            if kind == "mid-write":
                tmp = root / f"ckpt-{target:09d}.tmp-{proc.pid}"
                status = wait_until(tmp.is_dir, proc, timeout)
            elif kind == "after-checkpoint":
                final = root / f"ckpt-{target:09d}"
                status = wait_until(lambda: (final / "state.json").is_file(), proc, timeout)
            else:
                watch = _StepWatch(metrics, target)
                status = wait_until(watch, proc, timeout)
                step_seconds += watch.intervals
                extra *= sorted(step_seconds)[len(step_seconds) // 2]  # a fraction of a (median) step
                kill.step_seconds = sorted(step_seconds)[len(step_seconds) // 2]
        kill.extra_delay = extra
        if status == "ok" and extra:
            time.sleep(extra)
        if status == "timeout":
            proc.kill()
            kill.problems.append(f"the chosen moment did not come within {timeout:.0f}s; output:\n{proc.tail()}")
        elif status != "ok" or not proc.alive():
            rc = proc.finish(timeout=60)
            kill.problems.append(f"the process ended (exit {rc}) before the kill; output:\n{proc.tail()}")
        else:
            proc.kill()
        kill.alive_seconds = time.monotonic() - proc.started
        if kind == "mid-write":
            tmp = root / f"ckpt-{target:09d}.tmp-{proc.pid}"
            kill.landed_mid_write = tmp.is_dir() and not (root / f"ckpt-{target:09d}").exists()
            if tmp.is_dir():
                kill.mid_write_files = [f"{p.name} ({p.stat().st_size} B)" for p in sorted(tmp.iterdir())]
        _check_after_kill(kill, out, orphans_before)
        done.append(kill)
        log(kill.describe())

    # the last run: to the end, no kill
    final_proc = ToyProcess(out, steps, steps_per_epoch)
    try:
        rc = final_proc.finish(timeout=timeout)
    except subprocess.TimeoutExpired:
        final_proc.kill()
        rc = "timeout"
    output = final_proc.output()
    resumed = re.search(r"resuming from \S+ at step (\d+)", output)
    log(f"final run: exit {rc}, "
        f"{'resumed at step ' + resumed.group(1) if resumed else 'started from step 0'}, "
        f"{time.monotonic() - final_proc.started:.1f}s")

    finished = f"finished {steps} steps"
    checks["final run exits 0"] = (rc == 0, "" if rc == 0 else f"exit {rc}; output:\n{final_proc.tail(25)}")
    checks[f"final run prints '{finished}'"] = (finished in output, "" if finished in output
                                                else f"output:\n{final_proc.tail(25)}")
    newest = newest_checkpoint(root)
    complete = _complete(root)
    top = checkpoint_step(complete[-1]) if complete else 0
    checks[f"newest checkpoint's state.json step is {steps}"] = (
        newest is not None and checkpoint_step(newest) == steps and top == steps,
        f"{newest.name if newest else None}, step {checkpoint_step(newest)}; newest folder step {top}")
    bad = unreadable_checkpoints(root)
    checks["every complete checkpoint loads (is_readable)"] = (
        not bad and bool(complete), f"{len(complete)} checked: {', '.join(p.name for p in complete)}"
        + (f"; UNREADABLE: {', '.join(bad)}" if bad else ""))
    left = temporaries(root)
    checks["no .tmp- checkpoint folder left"] = (not left, ", ".join(p.name for p in left))
    log_steps, problems = read_log(metrics)
    raw_lines = metrics.read_text().splitlines() if metrics.exists() else []
    checks["every metrics.jsonl line is strict JSON"] = (not problems, "; ".join(problems[:5]))
    good = log_steps == list(range(1, steps + 1)) and len(raw_lines) == steps
    checks[f"metrics.jsonl has exactly {steps} lines, steps 1..{steps} in order"] = (
        good, f"{len(raw_lines)} lines" if good else f"{len(raw_lines)} lines; {_summarise(log_steps)}")
    notes = [f"incomplete checkpoint folder {name}/ (holding {files or 'nothing'}) is still there at the end: "
             "the runtime never loads it, and never removes it either (pruning only looks at complete ones)"
             for name, files in incomplete_folders(root).items()]
    mids = [k for k in done if k.kind == "mid-write"]
    checks[f"{len(mids)} of {len(done)} kills landed mid-write"] = (
        all(k.landed_mid_write for k in mids) and len(mids) == kills // 2 and len(done) == kills,
        ", ".join(f"kill {k.index}: ckpt {k.target}" for k in mids))
    return FuzzResult(out=out, steps=steps, seed=seed, kills=done, checks=checks,
                      seconds=time.monotonic() - started, final_output=output, notes=notes)


def _complete(root: Path) -> list[Path]:
    from common.runtime.checkpoint import CheckpointManager

    return CheckpointManager(root).complete_checkpoints()


# ----------------------------------------------------------------------------- command line
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.kill_fuzz", description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps-per-epoch", type=int, default=4)
    parser.add_argument("--checkpoint-delay", type=float, default=0.3,
                        help="pause inside each checkpoint write on the mid-write runs (seconds)")
    parser.add_argument("--timeout", type=float, default=300.0, help="longest wait for any one process (seconds)")
    parser.add_argument("--out", type=Path, default=None,
                        help="run folder (must be empty or absent); default: a temporary folder, removed "
                             "if the fuzz passes, kept if it fails")
    args = parser.parse_args(argv)
    if args.kills < 0 or args.steps < 1:
        parser.error("--kills must be >= 0 and --steps >= 1")
    out = args.out or Path(tempfile.mkdtemp(prefix="kill_fuzz-"))
    try:
        result = run_fuzz(out, kills=args.kills, steps=args.steps, seed=args.seed,
                          steps_per_epoch=args.steps_per_epoch, checkpoint_delay=args.checkpoint_delay,
                          timeout=args.timeout, log=lambda line: print(line, file=sys.stderr, flush=True))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(result.report())
    if result.ok and args.out is None:
        shutil.rmtree(out, ignore_errors=True)
    elif not result.ok:
        print(f"run folder kept for inspection: {out}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
