"""The files an installed alsats carries, read with importlib.resources from any folder.

In a checkout these are links to the repository's own files (``polar-network.json`` at
its root, ``notebooks/``, ``benchmarks/results/label_efficiency.json``); a wheel carries
their content, so a pip install needs nothing beside it.
"""

from __future__ import annotations

import json
from importlib import resources
from importlib.resources.abc import Traversable

PACKAGE = resources.files("alsats_widget")
NETWORK_FILE = PACKAGE / "data" / "polar-network.json"  # the seed's alice, bob and carol
LABEL_EFFICIENCY = PACKAGE / "data" / "label_efficiency.json"
DEMO_NOTEBOOK = "demo.ipynb"


def notebooks() -> dict[str, Traversable]:
    """The notebooks that ship with alsats, by file name (the demo and the tutorials)."""
    folder = PACKAGE / "notebooks"
    return {item.name: item for item in sorted(folder.iterdir(), key=lambda i: i.name)
            if item.name.endswith(".ipynb")}


def label_efficiency() -> dict:
    """``benchmarks/label_efficiency.py``'s results: the curves the demo draws its run
    against, and what they were measured on (``parameters``, ``data``)."""
    return json.loads(LABEL_EFFICIENCY.read_text())
