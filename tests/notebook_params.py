"""Shared by the notebook tests: the cell tagged `parameters` and what it sets."""


def parameters(nb):
    """-> (index of the one code cell tagged `parameters`, {NAME: value} of the upper-case names it sets)."""
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1 and nb.cells[tagged[0]].cell_type == "code", "expected one code cell tagged parameters"
    namespace = {}
    exec(nb.cells[tagged[0]].source, namespace)
    return tagged[0], {k: v for k, v in namespace.items() if k.isupper()}


def assert_sample_sheets(out, last_step) -> list[str]:
    """The run folder `out` holds sample sheets (samples/step_*.png), the last one at `last_step` (every run
    ends with one, however short), each legible: at least 128 px each way. -> their names."""
    from pathlib import Path

    import numpy as np
    from PIL import Image

    sheets = sorted(Path(out, "samples").glob("step_*.png"))
    assert sheets, f"no sample sheet in {out}/samples"
    assert sheets[-1].name == f"step_{last_step:09d}.png", [p.name for p in sheets]
    for path in sheets:
        sheet = np.asarray(Image.open(path).convert("RGB"))
        assert min(sheet.shape[:2]) >= 128 and sheet.min() < sheet.max(), path.name
    return [p.name for p in sheets]
