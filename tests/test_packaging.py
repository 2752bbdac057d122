from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import drivestack
from drivestack.cli.main import build_parser

REPO = Path(__file__).resolve().parents[1]


def _packages() -> tuple[list[str], dict[str, str]]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    return config["packages"], config["package-dir"]


def test_every_package_folder_is_listed_in_pyproject():
    listed, dirs = _packages()
    found = set()
    for name, folder in dirs.items():
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / folder)
            dotted = ".".join((name, *rel.parts)) if rel.parts else name
            # Subfolders mapped on their own (drivestack.datasets) are found from their own root.
            if not any(dotted.startswith(other + ".") or dotted == other for other in dirs if other != name and other.startswith(name + ".")):
                found.add(dotted)
    assert found - set(listed) == set(), "add these to [tool.setuptools] packages in pyproject.toml"


def test_installing_drivestack_shadows_no_other_top_level_package(tmp_path):
    listed, _ = _packages()
    assert {p.split(".")[0] for p in listed} == {"drivestack"}
    # As a user's process sees it (not from the repo root, which `python -m` puts on sys.path):
    # `datasets`, `sim`, `stack` resolve to whatever else is installed (Hugging Face's
    # `datasets`, say), never to drivestack's folders.
    probe = (
        "import importlib.util, json; import drivestack.datasets as d; "
        "print(json.dumps([d.__file__] + [getattr(importlib.util.find_spec(n), 'origin', None) "
        "for n in ('datasets', 'sim', 'stack')]))"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True,
                         text=True, check=True).stdout
    ours, *others = json.loads(out)
    # stack/datasets is a symlink to datasets/ (the source root for static tools, see README).
    assert Path(ours).resolve().parent == REPO / "datasets"
    for origin in others:
        assert origin is None or not Path(origin).is_relative_to(REPO)


def test_cli_lists_its_commands_with_help():
    parser = build_parser()
    help_text = parser.format_help()
    for command in ("run", "record", "play", "diff", "bench"):
        assert command in help_text
    out = subprocess.run([sys.executable, "-m", "drivestack.cli.main", "bench", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "bus" in out
    assert drivestack.__version__


def test_drive_help_imports_no_heavy_library(tmp_path):
    # `drive --help` and every subcommand's parser must come up fast: areas import torch,
    # nuscenes-devkit, open3d and OpenCV inside their handlers, not at registration.
    probe = (
        "import sys, json; from drivestack.cli.main import build_parser; build_parser(); "
        "print(json.dumps(sorted(m for m in ('torch', 'nuscenes', 'open3d', 'cv2', 'matplotlib') "
        "if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True,
                         text=True, check=True).stdout
    assert json.loads(out) == []
