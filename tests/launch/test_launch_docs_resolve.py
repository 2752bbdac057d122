"""Every shipped launch file loads, and every node name the docs mention is a registered node."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from drivestack.bus.registry import NODES
from drivestack.launch.loader import load_launch

ROOT = Path(__file__).resolve().parents[2]
LAUNCH_FILES = sorted((ROOT / "launch").glob("*.yaml"))
DOC_FOLDERS = ("stack", "sim", "datasets", "launch")


def _docs() -> list[Path]:
    files = [ROOT / "README.md"]
    for folder in DOC_FOLDERS:
        for pattern in ("*.md", "*.py", "*.yaml"):
            files += sorted((ROOT / folder).rglob(pattern))
    return [f for f in files if "weights" not in f.parts]


def _mentioned_node_names() -> dict[str, list[str]]:
    """Names written as ``node: NAME`` anywhere, and backticked names in READMEs that end like a
    registered node (``*_replay``, ``*_detector``, ...): name -> where."""
    suffixes = {"_" + n.rsplit("_", 1)[1] for n in NODES.names() if "_" in n}
    # A YAML line (``node: NAME``), or in Python a comment or a quoted example (not a field
    # annotated ``node: str``), or in Python docstrings a launch-file example line.
    tail = r"[ \t]*([a-z][a-z0-9_]*)(?=[ \t]*(?:$|#|`))"
    yaml_key = re.compile(r"(?:^[ \t]*(?:#[ \t]*)?|`)node:" + tail, re.M)
    py_key = re.compile(r"(?:#[ \t]*|`)node:" + tail + r"|^[ \t]+node:[ \t]*([a-z][a-z0-9_]*)[ \t]+#", re.M)
    backticked = re.compile(r"`([a-z][a-z0-9]*(?:_[a-z0-9]+)+)`")
    found: dict[str, list[str]] = {}
    for path in _docs():
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".py":
            names = {a or b for a, b in py_key.findall(text)}
        else:
            names = set(yaml_key.findall(text))
        if path.suffix == ".md":
            names |= {n for n in backticked.findall(text) if any(n.endswith(s) for s in suffixes)}
        for name in names:
            found.setdefault(name, []).append(str(path.relative_to(ROOT)))
    return found


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_every_shipped_launch_file_loads(path: Path):
    launch = load_launch(path)
    assert launch.specs


def test_every_node_name_in_the_docs_is_registered():
    known = set(NODES.names())
    unknown = {name: where for name, where in _mentioned_node_names().items() if name not in known}
    assert not unknown, f"docs name nodes that are not registered: {unknown}"


def test_the_doc_scan_finds_the_node_names_in_use():
    # The scan is not vacuous: the README example and the launch files are found.
    assert {"log_replay", "planner"} <= set(_mentioned_node_names())
