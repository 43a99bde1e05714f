"""watches.task: what the task changes during a run is its own state, never the saved run config."""

from __future__ import annotations

from common.runtime.config import RunConfig


def test_metrics_turned_off_for_missing_weights_is_task_state_not_a_config_write(monkeypatch, capsys):
    from common.metrics import evaluate, features
    from watches.task import WatchesTask

    def unavailable(kind, weights):
        raise features.WeightsUnavailableError("no InceptionV3 weights offline")

    monkeypatch.setattr(evaluate, "build_extractor", unavailable)
    task = WatchesTask()
    task.metrics_every, task._extractor = 2, None  # as prepare leaves them
    task.start(RunConfig({"metrics_every": 2, "metrics_extractor": "inception", "metrics_fake": 8}))
    assert task.step_metrics(model=None, step=2) == {}
    assert "--metrics-every turned off: no InceptionV3 weights offline" in capsys.readouterr().out
    assert task.metrics_every == 0 and task.config["metrics_every"] == 2
    assert task.step_metrics(model=None, step=4) == {}  # not tried again
