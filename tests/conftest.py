"""Shared fixtures. Test tiers (pytest markers): default (no data, seconds), ``data``, ``gpu``, ``slow``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def data_root_path() -> Path:
    """The shared data folder: ``$DRIVESTACK_DATA``, else ``../shared/data`` beside the repo."""
    env = os.environ.get("DRIVESTACK_DATA")
    return Path(env) if env else (REPO_ROOT.parent / "shared" / "data")


@pytest.fixture(scope="session")
def data_root() -> Path:
    """Skips (with the reason) where the shared data folder is absent."""
    root = data_root_path()
    if not root.is_dir():
        pytest.skip(
            f"shared data folder {root} not found: set DRIVESTACK_DATA to the folder holding "
            "kitti_tracking/, kitti_object/, kitti_raw/, nuscenes/"
        )
    return root


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not any("gpu" in item.keywords for item in items):
        return  # importing torch costs seconds: only when a GPU test was collected
    import torch

    has_cuda = torch.cuda.is_available()
    skip_gpu = pytest.mark.skip(reason="needs CUDA (no GPU on this machine)")
    for item in items:
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip_gpu)
