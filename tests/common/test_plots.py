"""The loss plot of metrics.jsonl (common.runtime.plots)."""

import json

import matplotlib.axes
import numpy as np

from common.runtime.plots import plot_losses


def test_a_value_logged_only_at_some_steps_is_drawn_through_those_steps(tmp_path, monkeypatch):
    # StyleGAN2 logs r1 only at the steps its lazy regularisation runs; a key first seen late is drawn too
    rows = [{"step": s, "g_loss": 0.5 + s, **({"r1": 0.1 * s} if s % 4 == 1 else {}),
             **({"pl": 2.0} if s == 3 else {})} for s in range(1, 9)]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    drawn = {}
    real_plot = matplotlib.axes.Axes.plot

    def plot(self, x, y, *args, label=None, **kwargs):
        drawn[label] = (np.asarray(x).tolist(), np.asarray(y).tolist())
        return real_plot(self, x, y, *args, label=label, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "plot", plot)
    assert plot_losses(tmp_path / "metrics.jsonl", tmp_path / "losses.png") == tmp_path / "losses.png"
    assert (tmp_path / "losses.png").stat().st_size > 0
    assert drawn["g_loss"] == (list(range(1, 9)), [0.5 + s for s in range(1, 9)])
    assert drawn["r1"][0] == [1, 5] and np.allclose(drawn["r1"][1], [0.1, 0.5])
    assert drawn["pl"] == ([3], [2.0])
