"""benchmarks.convert_check without torch: its comparison of a converted folder's outputs with NVIDIA's, on the
fixture its tiny configuration wrote (tests/watches/data/nvidia_tiny.npz)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks import convert_check
from watches import convert
from watches.nvidia_pickle import load_npz

FIXTURE = Path(__file__).parent / "watches" / "data" / "nvidia_tiny.npz"


def test_the_converted_folder_as_a_user_loads_it_gives_every_output_nvidias(tmp_path):
    out = tmp_path / "converted"
    assert convert.main([str(FIXTURE), "--out", str(out)]) == 0
    _, reference = load_npz(FIXTURE)
    ours = convert_check.our_outputs(out, reference)
    rows = convert_check.compare(ours, reference)
    assert list(rows) == list(convert_check.OUTPUTS)
    assert all(ratio <= convert_check.TOLERANCE for _, _, ratio in rows.values()), rows
    # a wrong output fails: a D logit off by 1% of its scale
    off = dict(ours, d_real=np.asarray(ours["d_real"]) + 0.01 * np.max(np.abs(reference["d_real"])))
    assert convert_check.compare(off, reference)["d_real"][2] == pytest.approx(0.01, rel=1e-3)


def test_an_unknown_configuration_is_refused_in_one_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        convert_check.main(["--torch-python", "python", "--repo", ".", "--configs", "tiny,huge"])
    assert exit_.value.code == 2 and "unknown configuration(s): huge" in capsys.readouterr().err
