"""``drive data info`` and ``drive bench datasets``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from drivestack.cli.main import main
from drivestack.datasets.info import detect_kind, inspect


def make_tracking_root(root: Path) -> None:
    (root / "calib").mkdir(parents=True)
    (root / "oxts").mkdir()
    (root / "calib" / "0000.txt").write_text(
        "P0: 1 0 0 0 0 1 0 0 0 0 1 0\nP1: 1 0 0 0 0 1 0 0 0 0 1 0\nP2: 1 0 0 0 0 1 0 0 0 0 1 0\n"
        "P3: 1 0 0 0 0 1 0 0 0 0 1 0\nR_rect 1 0 0 0 1 0 0 0 1\nTr_velo_cam 0 -1 0 0 0 0 -1 0 1 0 0 0\n"
        "Tr_imu_velo 1 0 0 0 0 1 0 0 0 0 1 0\n"
    )
    (root / "calib" / "0001.txt").write_text("P0: 1 2 3\n")
    oxts = np.zeros((5, 30))
    oxts[:, 0] = 49.0
    (root / "oxts" / "0000.txt").write_text("\n".join(" ".join(map(str, r)) for r in oxts))


def test_info_reports_sequences_and_names_the_broken_one(tmp_path: Path, capsys):
    make_tracking_root(tmp_path / "kitti_tracking")
    assert detect_kind(tmp_path / "kitti_tracking") == "kitti_tracking"
    assert main(["data", "info", str(tmp_path), "--json"]) == 0
    (report,) = json.loads(capsys.readouterr().out)
    assert report["sequences"] == [{"name": "0000", "frames": 5, "streams": ["ego"]}]
    assert any("sequence 0001" in p and "key 'P0' has 3 values" in p for p in report["problems"])


def test_info_on_a_folder_without_datasets_fails_with_a_message(tmp_path: Path, capsys):
    assert main(["data", "info", str(tmp_path)]) == 1
    assert "no KITTI tracking/object/raw or nuScenes layout" in capsys.readouterr().err


@pytest.mark.data
def test_info_on_the_shared_data_finds_every_set_and_its_known_gaps(data_root: Path):
    reports = {r["kind"]: r for r in inspect(data_root)}
    assert set(reports) == {"kitti_tracking", "kitti_object", "kitti_raw", "nuscenes"}
    tracking = reports["kitti_tracking"]
    assert len(tracking["sequences"]) == 21 and tracking["frames"] == 8008
    assert tracking["detection_sets"] == {"pointrcnn_val": "ab3dmot", "rrc_training": "rrc"}
    assert any("Pedestrian/0005.txt" in p for p in tracking["problems"])
    assert reports["kitti_object"]["image_sizes"] == {"1224x370": 1, "1242x375": 5}
    nuscenes = reports["nuscenes"]["versions"][0]
    assert nuscenes["missing_tables"] == ["attribute", "visibility", "log", "map"]
    assert nuscenes["files_present"] == 50
    drives = {d["name"]: d["streams"] for d in reports["kitti_raw"]["drives"]}
    assert drives["2011_09_26_drive_unknown_sfnd"] == ["calib_2", "camera_2", "lidar"]


@pytest.mark.data
def test_bench_prints_one_json_object_with_ratios(data_root: Path, capsys):
    assert main(["bench", "datasets", "--data", str(data_root), "--passes", "1", "--frames", "3", "--placeholders"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["kitti_object"]["frames_per_pass"] == 3
    assert result["nuscenes"]["frames_per_pass"] == 3
    for key in ("kitti_object", "nuscenes"):
        assert result[key]["log_fps"] > 0 and result[key]["log_over_plain"] > 0


def test_registering_the_cli_does_not_import_the_nuscenes_devkit():
    """`drive` builds every area's parser at start-up; the devkit takes seconds to import."""
    code = (
        "import sys; from drivestack.cli.main import build_parser; build_parser(); "
        "sys.exit(1 if 'nuscenes' in sys.modules or 'drivestack.datasets.bench' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_check_strict_stops_at_a_truncated_scan_and_lenient_counts_it(tmp_path: Path, capsys):
    make_tracking_root(tmp_path)
    (tmp_path / "calib" / "0001.txt").unlink()
    scans = tmp_path / "velodyne" / "0000"
    scans.mkdir(parents=True)
    for i in range(5):
        np.zeros((4, 4), np.float32).tofile(scans / f"{i:06d}.bin")
    (scans / "000003.bin").write_bytes(b"\0" * 30)
    assert main(["data", "check", str(tmp_path), "--json"]) == 1
    (strict,) = json.loads(capsys.readouterr().out)
    assert strict["read"] == 3 and "000003.bin: 30 bytes" in strict["error"]
    assert main(["data", "check", str(tmp_path), "--lenient", "--json"]) == 1
    (lenient,) = json.loads(capsys.readouterr().out)
    assert lenient["read"] == 4 and [s["index"] for s in lenient["skipped"]] == [3]
    (scans / "000003.bin").write_bytes(b"\0" * 32)
    assert main(["data", "check", str(tmp_path)]) == 0
    assert "read 5 of 5 frames, skipped 0" in capsys.readouterr().out
