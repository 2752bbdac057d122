"""``drive detect`` end to end on KITTI files: result files the evaluator reads, bad frames
skipped and reported (not written as empty results)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from drivestack.cli.main import main
from drivestack.datasets.kitti.label_file import read_object_labels
from drivestack.perception.weights import WeightsError, nanodet_json


@pytest.mark.data
def test_detect_writes_kitti_results_and_reports_a_truncated_scan(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        nanodet_json()
    except WeightsError as err:
        pytest.skip(f"NanoDet weights not fetched ({err}); run `drive fetch-weights` once")
    src = data_root / "kitti_object"
    root = tmp_path / "kitti"
    for sub, ext in (("calib", "txt"), ("velodyne", "bin"), ("image_2", "png"), ("label_2", "txt")):
        (root / sub).mkdir(parents=True)
        for frame in ("000003", "000004"):
            shutil.copy(src / sub / f"{frame}.{ext}", root / sub / f"{frame}.{ext}")
    scan = root / "velodyne" / "000004.bin"
    scan.write_bytes(scan.read_bytes()[:-6])  # truncated mid-point
    out = tmp_path / "out"
    assert main(["detect", "--dataset", str(root), "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["written"] == {"camera": 1, "lidar": 1, "fused": 1}
    assert list(report["skipped"]) == ["000004"] and "000004.bin" in report["skipped"]["000004"]
    for mode in ("camera", "lidar", "fused"):
        assert not (out / mode / "data" / "000004.txt").exists()
        det = read_object_labels(out / mode / "data" / "000003.txt", with_score=True)
        assert "Car" in set(det.type)
    assert (out / "frames.txt").read_text().split() == ["000003", "000004"]
