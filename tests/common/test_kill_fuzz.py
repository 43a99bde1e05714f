"""The SIGKILL fuzz (benchmarks/kill_fuzz.py), smaller: 4 kills (2 mid-checkpoint-write) on a 16-step run.

The full version - `python -m benchmarks.kill_fuzz` (10 kills, 40 steps) - takes a few minutes
because every kill costs a process start (TensorFlow import); this one takes about a minute.
"""

from benchmarks.kill_fuzz import run_fuzz


def test_sigkill_fuzz_ends_with_every_step_logged_once_and_every_checkpoint_readable(tmp_path):
    result = run_fuzz(tmp_path / "run", kills=4, steps=16, seed=1, log=lambda line: None)
    report = result.report()
    assert result.ok, report
    assert len(result.kills) == 4
    assert sum(k.kind == "mid-write" and k.landed_mid_write for k in result.kills) == 2, report
    assert "finished 16 steps" in result.final_output
