"""KITTI tracking: seqmaps, detection files (AB3DMOT 3D, RRC 2D) and per-frame messages.

Layout read here (the devkit's ``training/`` folder, or the shared ``kitti_tracking/``)::

    label_02/<seq>.txt   calib/<seq>.txt   oxts/<seq>.txt   [image_02/<seq>/<frame>.png]
    [velodyne/<seq>/<frame>.bin]   detections/<set>/<Class>/<seq>.txt   splits/*.seqmap*

Detection formats, one box per line, comma separated:

* AB3DMOT 3D: ``frame, type, x1, y1, x2, y2, score, h, w, l, x, y, z, rot_y, alpha`` with
  type 1 Pedestrian, 2 Car, 3 Cyclist, the box in KITTI's camera frame; score is a raw
  logit (not in [0, 1]), kept as is: higher is better.
* RRC 2D: ``frame, x1, y1, x2, y2, score`` [px]; the class is the folder name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drivestack.datasets.convention import KITTI_FRAME_PERIOD_NS, kitti_camera_to_boxes
from drivestack.datasets.errors import DataError, read_text
from drivestack.datasets.kitti.calib import KittiCalib
from drivestack.datasets.kitti.classes import kitti_class_id
from drivestack.datasets.text_table import check_integral, parse_numeric_table
from drivestack.msgs import Detections2D, Detections3D, ObjectClass

AB3DMOT_TYPES: dict[int, ObjectClass] = {
    1: ObjectClass.PEDESTRIAN,
    2: ObjectClass.CAR,
    3: ObjectClass.CYCLIST,
}
AB3DMOT_COLUMNS = 15
RRC_COLUMNS = 6


def frame_stamp_ns(frame: int | np.ndarray) -> int | np.ndarray:
    """[ns] stamp of a KITTI tracking/object frame index: 10 Hz, frame 0 at 0."""
    return frame * KITTI_FRAME_PERIOD_NS


@dataclass(frozen=True)
class SeqmapEntry:
    """One seqmap line: ``<seq> empty <first> <count>``."""

    sequence: str
    first_frame: int
    num_frames: int


def read_seqmap(path: str | Path) -> list[SeqmapEntry]:
    """Reads a devkit seqmap (``0000 empty 000000 000154``: 154 frames from frame 0).

    Raises:
        DataError: naming file and line for a malformed line.
    """
    path = Path(path)
    entries = []
    for lineno, line in enumerate(read_text(path).splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 4 or not all(f.isdigit() for f in (fields[0], fields[2], fields[3])):
            raise DataError(f"{path}:{lineno}: expected '<seq> empty <first> <count>', got {line!r}")
        entries.append(SeqmapEntry(fields[0], int(fields[2]), int(fields[3])))
    return entries


@dataclass(frozen=True)
class TrackingDetections3D:
    """AB3DMOT-format detections of one sequence, in file order (KITTI camera frame).

    Attributes:
        frame: (N,) int64 frame index.
        class_ids: (N,) int32 ObjectClass values.
        bbox: (N, 4) float64 [px] x1, y1, x2, y2.
        score: (N,) float64 raw detector score (a logit for PointRCNN).
        dimensions: (N, 3) float64 [m] h, w, l.
        location: (N, 3) float64 [m] bottom-face centre, rectified camera frame.
        rotation_y: (N,) float64 [rad].
        alpha: (N,) float64 [rad] observation angle.
    """

    frame: np.ndarray
    class_ids: np.ndarray
    bbox: np.ndarray
    score: np.ndarray
    dimensions: np.ndarray
    location: np.ndarray
    rotation_y: np.ndarray
    alpha: np.ndarray


def parse_ab3dmot_detections(text: str, source: str) -> TrackingDetections3D:
    """Parses an AB3DMOT detection file's text.

    Raises:
        DataError: ``source:line`` for a wrong column count, a bad number, an unknown type,
            a non-integer frame, a negative frame or negative box size.
    """
    values, linenos = parse_numeric_table(
        text, source, AB3DMOT_COLUMNS, sep=",", what="AB3DMOT detection fields"
    )
    frame = check_integral(values[:, 0], linenos, source, "frame")
    types = check_integral(values[:, 1], linenos, source, "type")
    unknown = np.flatnonzero(~np.isin(types, list(AB3DMOT_TYPES)))
    if len(unknown):
        i = unknown[0]
        raise DataError(
            f"{source}:{linenos[i]}: unknown AB3DMOT type {types[i]} "
            "(1 Pedestrian, 2 Car, 3 Cyclist)"
        )
    _check_rows(frame < 0, linenos, source, "negative frame index")
    _check_rows((values[:, 7:10] < 0).any(axis=1), linenos, source, "negative box size")
    return TrackingDetections3D(
        frame=frame,
        class_ids=np.array([AB3DMOT_TYPES[int(t)] for t in types], dtype=np.int32),
        bbox=values[:, 2:6],
        score=values[:, 6],
        dimensions=values[:, 7:10],
        location=values[:, 10:13],
        rotation_y=values[:, 13],
        alpha=values[:, 14],
    )


@dataclass(frozen=True)
class TrackingDetections2D:
    """RRC-format 2D detections of one sequence.

    Attributes:
        frame: (N,) int64; bbox: (N, 4) float64 [px]; score: (N,) float64;
        class_ids: (N,) int32 ObjectClass values.
    """

    frame: np.ndarray
    bbox: np.ndarray
    score: np.ndarray
    class_ids: np.ndarray


def parse_rrc_detections(text: str, source: str, class_id: ObjectClass) -> TrackingDetections2D:
    """Parses an RRC 2D detection file's text; all boxes get ``class_id`` (its folder)."""
    values, linenos = parse_numeric_table(text, source, RRC_COLUMNS, sep=",", what="RRC fields")
    frame = check_integral(values[:, 0], linenos, source, "frame")
    _check_rows(frame < 0, linenos, source, "negative frame index")
    bbox = values[:, 1:5]
    _check_rows((bbox[:, 2:] < bbox[:, :2]).any(axis=1), linenos, source, "x2 < x1 or y2 < y1")
    return TrackingDetections2D(
        frame=frame,
        bbox=bbox,
        score=values[:, 5],
        class_ids=np.full(len(frame), int(class_id), dtype=np.int32),
    )


def _check_rows(bad: np.ndarray, linenos: np.ndarray, source: str, what: str) -> None:
    rows = np.flatnonzero(bad)
    if len(rows):
        raise DataError(f"{source}:{linenos[rows[0]]}: {what}")


def _class_folders(detection_dir: Path, sequence: str) -> list[tuple[ObjectClass, Path]]:
    """``<detection_dir>/<Class>/<sequence>.txt`` files that exist, by class."""
    if not detection_dir.is_dir():
        raise FileNotFoundError(f"{detection_dir}: detection folder not found")
    found = []
    for folder in sorted(p for p in detection_dir.iterdir() if p.is_dir()):
        path = folder / f"{sequence}.txt"
        if path.is_file():
            found.append((kitti_class_id(folder.name, str(folder)), path))
    if not found:
        raise FileNotFoundError(
            f"{detection_dir}: no <Class>/{sequence}.txt detection file for sequence {sequence}"
        )
    return found


def read_ab3dmot_sequence(detection_dir: str | Path, sequence: str) -> TrackingDetections3D:
    """All classes' AB3DMOT detections of a sequence (``<dir>/<Class>/<seq>.txt``), by frame.

    Raises:
        DataError: if a file's type column disagrees with its class folder.
    """
    parts = []
    for class_id, path in _class_folders(Path(detection_dir), sequence):
        dets = parse_ab3dmot_detections(read_text(path), str(path))
        wrong = np.flatnonzero(dets.class_ids != int(class_id))
        if len(wrong):
            raise DataError(
                f"{path}: detection {wrong[0]} has class {ObjectClass(dets.class_ids[wrong[0]]).name}"
                f" but sits in the {path.parent.name} folder"
            )
        parts.append(dets)
    merged = {
        name: np.concatenate([getattr(p, name) for p in parts])
        for name in TrackingDetections3D.__dataclass_fields__
    }
    order = np.argsort(merged["frame"], kind="stable")
    return TrackingDetections3D(**{k: v[order] for k, v in merged.items()})


def read_rrc_sequence(detection_dir: str | Path, sequence: str) -> TrackingDetections2D:
    """All classes' RRC detections of a sequence (``<dir>/<Class>/<seq>.txt``), by frame."""
    parts = [
        parse_rrc_detections(read_text(path), str(path), class_id)
        for class_id, path in _class_folders(Path(detection_dir), sequence)
    ]
    merged = {
        name: np.concatenate([getattr(p, name) for p in parts])
        for name in TrackingDetections2D.__dataclass_fields__
    }
    order = np.argsort(merged["frame"], kind="stable")
    return TrackingDetections2D(**{k: v[order] for k, v in merged.items()})


def frame_slices(frames: np.ndarray, num_frames: int, source: str) -> list[slice]:
    """Row ranges of each frame 0..num_frames-1 in frame-sorted rows.

    Raises:
        DataError: naming ``source`` if a row's frame is outside the sequence.
    """
    if len(frames) and (frames[-1] >= num_frames or frames[0] < 0):
        bad = int(frames[-1] if frames[-1] >= num_frames else frames[0])
        raise DataError(f"{source}: frame {bad} outside the sequence's 0..{num_frames - 1}")
    starts = np.searchsorted(frames, np.arange(num_frames + 1))
    return [slice(int(starts[i]), int(starts[i + 1])) for i in range(num_frames)]


def detections_3d_message(
    dets: TrackingDetections3D, rows: slice, calib: KittiCalib, stamp_ns: int
) -> Detections3D:
    """The rows of one frame as a :class:`Detections3D` in ``"ego"`` (Velodyne)."""
    boxes = kitti_camera_to_boxes(
        dets.location[rows], dets.dimensions[rows], dets.rotation_y[rows], calib.T_velo_from_camrect
    )
    return Detections3D(
        stamp_ns=stamp_ns,
        frame_id="ego",
        boxes=boxes.astype(np.float32),
        scores=dets.score[rows].astype(np.float32),
        class_ids=dets.class_ids[rows],
    )


def detections_2d_message(
    dets: TrackingDetections2D, rows: slice, stamp_ns: int, camera: str = "camera_2"
) -> Detections2D:
    """The rows of one frame as a :class:`Detections2D` in ``camera``."""
    return Detections2D(
        stamp_ns=stamp_ns,
        frame_id=camera,
        boxes=dets.bbox[rows].astype(np.float32),
        scores=dets.score[rows].astype(np.float32),
        class_ids=dets.class_ids[rows],
    )
