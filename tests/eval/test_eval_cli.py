"""``drive bench kitti-object`` / ``kitti-tracking`` / ``kitti-2d-results`` end to end on tiny data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drivestack.cli.main import main
from drivestack.datasets.kitti.label_file import format_object_line


def _obj_dirs(tmp_path: Path, n: int = 45) -> tuple[Path, Path]:
    gt, res = tmp_path / "gt", tmp_path / "res"
    gt.mkdir()
    res.mkdir()
    box = (100.0, 100.0, 200.0, 180.0)
    for i in range(n):
        kw = dict(dimensions=(1.5, 1.6, 4.0), location=(0.0, 1.6, 20.0), rotation_y=0.1, alpha=0.2)
        (gt / f"{i:06d}.txt").write_text(
            format_object_line("Car", box, truncated=0, occluded=0, **kw) + "\n"
        )
        (res / f"{i:06d}.txt").write_text(
            format_object_line("Car", box, score=1 - i / 100, **kw) + "\n"
        )
    return gt, res


def test_bench_kitti_object_prints_one_json_and_writes_outputs(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    gt, res = _obj_dirs(tmp_path)
    out = tmp_path / "out"
    assert (
        main(
            [
                "bench",
                "kitti-object",
                "--gt",
                str(gt),
                "--results",
                str(res),
                "--out",
                str(out),
                "--baseline-frames",
                "5",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["frames"] == 45 and report["strict"]["Car/3d/hard"]["AP_R40"] == pytest.approx(
        100.0
    )
    assert "Car AP@0.70, 0.70, 0.70:" in captured.err and "aos  AP:100.00" in captured.err
    full = json.loads((out / "kitti_object.json").read_text())
    assert full["results"]["loose"]["bev"]["Car"]["easy"]["min_overlap"] == 0.5
    assert all(Path(p).is_file() for p in report["png"])


def test_bench_kitti_object_reports_bad_input_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    gt, res = _obj_dirs(tmp_path, 2)
    (res / "000001.txt").write_text("Car 0 0 0 1 2 3 4 1 1 1 0 0 0 0 nan\n")
    assert (
        main(
            [
                "bench",
                "kitti-object",
                "--gt",
                str(gt),
                "--results",
                str(res),
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    captured = capsys.readouterr()
    assert (
        captured.out == "" and "000001.txt:1: column 'score': 'nan' is not finite" in captured.err
    )


def test_kitti_2d_results_converts_a_detection_list(tmp_path: Path) -> None:
    lst = tmp_path / "rgb.txt"
    lst.write_text(
        "x/000003.png 2 0.9 1 2 30 40\nx/000003.png 1 0.5 5 6 7 8\nx/000007.png 3 0.25 1 1 2 2\n"
    )
    assert main(["kitti-2d-results", str(lst), str(tmp_path / "r")]) == 0
    lines = (tmp_path / "r/000003.txt").read_text().splitlines()
    assert [ln.split()[0] for ln in lines] == ["Car", "Pedestrian"] and lines[0].split()[
        -1
    ] == "0.9"
    assert (tmp_path / "r/000007.txt").read_text().startswith("Cyclist ")


def test_bench_kitti_tracking_perfect_tracks(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    gt, res = tmp_path / "gt", tmp_path / "res"
    gt.mkdir()
    res.mkdir()
    kw = dict(
        dimensions=(1.5, 1.6, 4.0),
        location=(0.0, 1.6, 20.0),
        rotation_y=0.0,
        truncated=0,
        occluded=0,
    )
    lines = [
        format_object_line("Car", (100, 100, 200, 180), frame=f, track_id=3, **kw)
        for f in range(50)
    ]
    (gt / "0000.txt").write_text("\n".join(lines) + "\n")
    (res / "0000.txt").write_text("\n".join(ln + " 0.8" for ln in lines) + "\n")
    seqmap = tmp_path / "seqmap"
    seqmap.write_text("0000 empty 000000 000050\n")
    out = tmp_path / "out"
    args = [
        "bench",
        "kitti-tracking",
        "--gt",
        str(gt),
        "--results",
        str(res),
        "--seqmap",
        str(seqmap),
    ]
    assert main([*args, "--mode", "3d", "--classes", "car", "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["min_overlap"] == 0.25
    assert report["classes"]["car"]["sAMOTA"] == 100.0 and report["classes"]["car"]["HOTA"] == 100.0
    assert (out / "mota_recall_car.png").is_file()
    assert (
        json.loads((out / "kitti_tracking.json").read_text())["classes"]["car"]["all_tracks"]["ids"]
        == 0
    )
