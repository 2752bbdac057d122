"""``drive data info``: what a dataset folder holds (kind, sequences, frames, streams, problems).

:func:`inspect` recognises a KITTI tracking root (``calib/`` + ``oxts/`` or ``label_02/``), a
KITTI object root (``calib/``/``label_2/``/``velodyne/`` with 6-digit names), KITTI raw drives
(``*_drive_*_sync``) and a nuScenes root (``v*/scene.json``); a folder holding several of them
(the shared data folder) is inspected one level down. Problems are collected, not raised, so
one bad sequence does not hide the others. nuScenes is summarised from its JSON tables without
the devkit, so missing tables are reported instead of failing.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from drivestack.datasets.errors import DataError
from drivestack.datasets.kitti.calib import CalibError, read_calib
from drivestack.datasets.kitti.raw import KittiRawLog
from drivestack.datasets.kitti.tracking import read_ab3dmot_sequence, read_rrc_sequence, read_seqmap
from drivestack.datasets.kitti.tracking_log import KittiTrackingLog
from drivestack.datasets.nuscenes.tables import WORKAROUND, find_versions, missing_tables
from drivestack.datasets.sensor_files import image_size

Report = dict[str, Any]


def detect_kind(path: Path) -> str | None:
    """``"kitti_tracking"``, ``"kitti_object"``, ``"kitti_raw"``, ``"nuscenes"`` or None."""
    if find_versions(path):
        return "nuscenes"
    calib = path / "calib"
    if (calib.is_dir() and (path / "oxts").is_dir()) or (path / "label_02").is_dir():
        return "kitti_tracking"
    if any((path / sub).is_dir() for sub in ("label_2", "velodyne", "image_2")) or calib.is_dir():
        return "kitti_object"
    if "_drive_" in path.name or any(p.is_dir() and "_drive_" in p.name for p in path.iterdir()):
        return "kitti_raw"
    return None


def inspect(path: str | Path) -> list[Report]:
    """Reports on ``path`` (one report per dataset found).

    Raises:
        FileNotFoundError: if ``path`` is not a folder.
        DataError: if no known dataset layout is found at or directly under ``path``.
    """
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: not a folder")
    kind = detect_kind(path)
    if kind is not None:
        return [INSPECTORS[kind](path)]
    reports = [INSPECTORS[k](p) for p in sorted(path.iterdir()) if p.is_dir() and (k := detect_kind(p))]
    if not reports:
        raise DataError(
            f"{path}: no KITTI tracking/object/raw or nuScenes layout found here or one level down"
        )
    return reports


def inspect_kitti_tracking(root: Path) -> Report:
    problems: list[str] = []
    sequences = []
    detection_sets = sorted(p.name for p in (root / "detections").glob("*") if p.is_dir())
    for calib in sorted((root / "calib").glob("*.txt")):
        seq = calib.stem
        try:
            log = KittiTrackingLog(root, seq)
            sequences.append({"name": seq, "frames": len(log), "streams": sorted(log.streams())})
        except (DataError, OSError) as err:
            problems.append(f"sequence {seq}: {err}")
    counts = {s["name"]: s["frames"] for s in sequences}
    for seqmap in sorted((root / "splits").glob("*seqmap*")) + sorted(root.glob("*.seqmap*")):
        try:
            for entry in read_seqmap(seqmap):
                if entry.sequence not in counts:
                    problems.append(f"{seqmap.name}: sequence {entry.sequence} not readable here")
                elif counts[entry.sequence] != entry.num_frames:
                    problems.append(
                        f"{seqmap.name}: sequence {entry.sequence} has {counts[entry.sequence]} "
                        f"frames, seqmap says {entry.num_frames}"
                    )
        except DataError as err:
            problems.append(str(err))
    formats = {name: _detection_format(root / "detections" / name, problems) for name in detection_sets}
    return {
        "kind": "kitti_tracking",
        "path": str(root),
        "sequences": sequences,
        "frames": sum(counts.values()),
        "detection_sets": formats,
        "problems": problems,
    }


def _detection_format(folder: Path, problems: list[str]) -> str | None:
    """``"ab3dmot"`` (3D) or ``"rrc"`` (2D): the format the set's first sequence parses in.

    Only one sequence is parsed (the others are checked line by line when a Log opens them):
    a full pass over large detection sets would make ``info`` slow.
    """
    files = sorted(folder.glob("*/*.txt"))
    empty = [str(p.relative_to(folder)) for p in files if p.stat().st_size == 0]
    if empty:
        problems.append(f"detections/{folder.name}: empty file(s), no detections: {', '.join(empty)}")
    if not files:
        problems.append(f"detections/{folder.name}: no <Class>/<seq>.txt files")
        return None
    errors = []
    for fmt, read in (("ab3dmot", read_ab3dmot_sequence), ("rrc", read_rrc_sequence)):
        try:
            read(folder, files[0].stem)
            return fmt
        except (DataError, OSError) as err:
            errors.append(f"as {fmt}: {err}")
    problems.append(f"detections/{folder.name}: unreadable ({'; '.join(errors)})")
    return None


def inspect_kitti_object(root: Path) -> Report:
    problems: list[str] = []
    ids = {
        sub: {p.stem for p in (root / sub).glob(f"*.{ext}")}
        for sub, ext in (("calib", "txt"), ("label_2", "txt"), ("velodyne", "bin"), ("image_2", "png"))
    }
    all_ids = set().union(*ids.values())
    without_calib = len(all_ids - ids["calib"])
    if without_calib:
        problems.append(
            f"{without_calib} of {len(all_ids)} frames have no calib file: their labels/scans "
            "cannot be put in the ego frame (the Log serves only frames with calib)"
        )
    for calib in sorted(ids["calib"])[:50]:
        try:
            read_calib(root / "calib" / f"{calib}.txt")
        except CalibError as err:
            problems.append(str(err))
    for bin_id in sorted(ids["velodyne"]):
        if (root / "velodyne" / f"{bin_id}.bin").stat().st_size % 16:
            problems.append(f"velodyne/{bin_id}.bin: size is not a whole number of points (truncated)")
    sizes = Counter(image_size(root / "image_2" / f"{i}.png") for i in sorted(ids["image_2"]))
    splits = {p.stem: len(p.read_text().split()) for p in sorted((root / "splits").glob("*.txt"))}
    return {
        "kind": "kitti_object",
        "path": str(root),
        "frames": {sub: len(v) for sub, v in ids.items()},
        "log_frames": len(ids["calib"]),
        "image_sizes": {f"{w}x{h}": n for (w, h), n in sizes.items()},
        "splits": splits,
        "problems": problems,
    }


def inspect_kitti_raw(root: Path) -> Report:
    drives = [root] if "_drive_" in root.name else sorted(
        p for p in root.iterdir() if p.is_dir() and "_drive_" in p.name
    )
    problems: list[str] = []
    reports = []
    for drive in drives:
        try:
            log = KittiRawLog(drive)
            reports.append({"name": drive.name, "frames": len(log), "streams": sorted(log.streams())})
            problems.extend(f"{drive.name}: {p}" for p in log.problems)
        except (DataError, OSError) as err:
            problems.append(f"{drive.name}: {err}")
    return {"kind": "kitti_raw", "path": str(root), "drives": reports, "problems": problems}


def inspect_nuscenes(root: Path) -> Report:
    problems: list[str] = []
    versions = []
    for version in find_versions(root):
        missing = missing_tables(root, version)
        if missing:
            problems.append(f"{version}: missing table(s) {', '.join(missing)}; {WORKAROUND}")
        tables = {name: _json(root / version / f"{name}.json") for name in ("scene", "sample", "sample_data")}
        samples_per_scene = Counter(s["scene_token"] for s in tables["sample"])
        present = [sd for sd in tables["sample_data"] if (root / sd["filename"]).is_file()]
        keys = [sd for sd in tables["sample_data"] if sd["is_key_frame"]]
        absent = len(tables["sample_data"]) - len(present)
        if absent:
            problems.append(
                f"{version}: {absent} of {len(tables['sample_data'])} sample_data files absent "
                f"({len(keys) - sum(sd['is_key_frame'] for sd in present)} of them key frames)"
            )
        versions.append(
            {
                "version": version,
                "scenes": [
                    {"name": s["name"], "samples": samples_per_scene[s["token"]]} for s in tables["scene"]
                ],
                "sample_data": len(tables["sample_data"]),
                "files_present": len(present),
                "missing_tables": missing,
            }
        )
    return {"kind": "nuscenes", "path": str(root), "versions": versions, "problems": problems}


def _json(path: Path) -> list[dict[str, Any]]:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: not valid JSON ({err})") from None


INSPECTORS = {
    "kitti_tracking": inspect_kitti_tracking,
    "kitti_object": inspect_kitti_object,
    "kitti_raw": inspect_kitti_raw,
    "nuscenes": inspect_nuscenes,
}


def format_report(report: Report) -> str:
    """Human-readable lines for one report."""
    lines = [f"{report['kind']}: {report['path']}"]
    if report["kind"] == "kitti_tracking":
        lines.append(f"  {len(report['sequences'])} sequences, {report['frames']} frames")
        streams = Counter(tuple(s["streams"]) for s in report["sequences"])
        lines += [f"  streams {', '.join(k)}: {n} sequences" for k, n in streams.items()]
        sets = ", ".join(f"{k} ({v or 'unreadable'})" for k, v in report["detection_sets"].items())
        lines.append(f"  detection sets: {sets or 'none'}")
    elif report["kind"] == "kitti_object":
        lines.append("  files: " + ", ".join(f"{k} {v}" for k, v in report["frames"].items()))
        lines.append(f"  log frames (with calib): {report['log_frames']}")
        lines.append("  image sizes: " + ", ".join(f"{k} ({v})" for k, v in report["image_sizes"].items()))
        lines.append("  splits: " + (", ".join(f"{k} {v}" for k, v in report["splits"].items()) or "none"))
    elif report["kind"] == "kitti_raw":
        lines += [f"  {d['name']}: {d['frames']} frames, streams {', '.join(d['streams']) or 'none'}" for d in report["drives"]]
    else:
        for v in report["versions"]:
            scenes = ", ".join(f"{s['name']} ({s['samples']} samples)" for s in v["scenes"])
            lines.append(f"  {v['version']}: {scenes}; {v['files_present']} of {v['sample_data']} sensor files present")
            lines += [
                f"  {s['name']}: {s['lidar_frames']} lidar frames, streams {', '.join(s['streams'])}"
                for s in v["scenes"]
                if "streams" in s
            ]
    lines += [f"  problem: {p}" for p in report["problems"]] or ["  problems: none"]
    return "\n".join(lines)
