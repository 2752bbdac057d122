"""nuScenes table checks and the placeholder work-around, on tiny synthetic table folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from drivestack.datasets.errors import DataError
from drivestack.datasets.nuscenes.classes import NUSCENES_CLASSES, nuscenes_class_id
from drivestack.datasets.nuscenes.tables import (
    TABLES,
    missing_tables,
    open_nuscenes,
    write_placeholder_tables,
)
from drivestack.msgs import ObjectClass


def make_version(root: Path, skip: tuple[str, ...]) -> Path:
    folder = root / "v1.0-tiny"
    folder.mkdir(parents=True)
    for name in TABLES:
        if name not in skip:
            (folder / f"{name}.json").write_text("[]")
    (folder / "scene.json").write_text(json.dumps([{"token": "s", "log_token": "L1"}, {"token": "t", "log_token": "L0"}]))
    return folder


def test_missing_tables_are_listed_in_devkit_order(tmp_path: Path):
    make_version(tmp_path, ("map", "attribute"))
    assert missing_tables(tmp_path, "v1.0-tiny") == ["attribute", "map"]
    with pytest.raises(FileNotFoundError, match="v1.0-nope"):
        missing_tables(tmp_path, "v1.0-nope")


def test_placeholders_go_to_the_target_only_and_cover_every_log(tmp_path: Path):
    data = tmp_path / "data"
    make_version(data, ("attribute", "visibility", "log", "map"))
    before = sorted(p.name for p in (data / "v1.0-tiny").iterdir())
    replaced = write_placeholder_tables(data, "v1.0-tiny", tmp_path / "temp")
    assert replaced == ["attribute", "visibility", "log", "map"]
    assert sorted(p.name for p in (data / "v1.0-tiny").iterdir()) == before
    out = tmp_path / "temp" / "v1.0-tiny"
    assert [r["token"] for r in json.loads((out / "log.json").read_text())] == ["L0", "L1"]
    assert json.loads((out / "map.json").read_text())[0]["log_tokens"] == ["L0", "L1"]
    assert (out / "scene.json").is_symlink()


def test_tables_no_placeholder_can_replace_are_an_error(tmp_path: Path):
    make_version(tmp_path / "data", ("sample_annotation", "map"))
    with pytest.raises(DataError, match=r"missing nuScenes table\(s\) sample_annotation\.json"):
        write_placeholder_tables(tmp_path / "data", "v1.0-tiny", tmp_path / "temp")
    with pytest.raises(DataError, match="sample_annotation, map.*work-around"):
        open_nuscenes(tmp_path / "data", "v1.0-tiny")


def test_category_mapping_covers_the_23_categories_and_names_unknown_ones():
    assert len(NUSCENES_CLASSES) == 23
    assert nuscenes_class_id("vehicle.bus.rigid", "x") == ObjectClass.BUS
    with pytest.raises(DataError, match="sample_annotation abc: unknown nuScenes category 'vehicle.ufo'"):
        nuscenes_class_id("vehicle.ufo", "sample_annotation abc")


def test_quaternion_matrices_match_pyquaternion():
    from pyquaternion import Quaternion

    from drivestack.datasets.nuscenes.log import quaternion_matrices

    rng = np.random.default_rng(5)
    quats = rng.normal(size=(10, 4))
    expected = np.stack([Quaternion(q / np.linalg.norm(q)).rotation_matrix for q in quats])
    np.testing.assert_allclose(quaternion_matrices(quats), expected, atol=1e-12)
