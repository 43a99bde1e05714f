"""Shared by the notebook tests: the cell tagged `parameters` and what it sets."""


def parameters(nb):
    """-> (index of the one code cell tagged `parameters`, {NAME: value} of the upper-case names it sets)."""
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1 and nb.cells[tagged[0]].cell_type == "code", "expected one code cell tagged parameters"
    namespace = {}
    exec(nb.cells[tagged[0]].source, namespace)
    return tagged[0], {k: v for k, v in namespace.items() if k.isupper()}
