"""Loading KITTI object ground truth and results, and converting plain 2D detection lists.

Frame policy (see README): the evaluated frames are the split file's, else every ground-truth
file. A missing result file means no detections in that frame (the C++ devkit would stop). A
result file for a frame outside the evaluated set is skipped and counted when the ground truth
has that frame (the devkit never reads it), and is an error when it does not (the results do
not belong to this ground truth).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drivestack.datasets.kitti.label_file import (
    LabelFileError,
    ObjectLabels,
    format_object_line,
    parse_object_lines,
    read_object_labels,
)

# Class ids of the Frustum PointNets 2D detection lists (kitti/rgb_detections/*.txt).
RGB_DETECTION_CLASSES: dict[int, str] = {1: "Pedestrian", 2: "Car", 3: "Cyclist"}


@dataclass(frozen=True)
class ObjectData:
    """Frames, ground truth and results aligned frame by frame.

    Attributes:
        frames: 6-digit frame names.
        gt: per frame ground truth.
        det: per frame results (empty where no result file or line exists).
        skipped: "file: reason" of results that were not evaluated.
    """

    frames: list[str]
    gt: list[ObjectLabels]
    det: list[ObjectLabels]
    skipped: list[str]


def read_split(path: str | Path) -> list[str]:
    """Frame names of a split file (one integer per line, e.g. ``000001``).

    Raises:
        LabelFileError: naming ``path:line`` for a line that is not one integer or a duplicate.
    """
    frames: list[str] = []
    seen: set[str] = set()
    for no, line in enumerate(Path(path).read_text().splitlines(), start=1):
        tok = line.split()
        if not tok:
            continue
        if len(tok) != 1 or not tok[0].isdigit():
            raise LabelFileError(f"{path}:{no}: expected one frame number, got {line!r}")
        name = f"{int(tok[0]):06d}"
        if name in seen:
            raise LabelFileError(f"{path}:{no}: frame {name} listed twice")
        seen.add(name)
        frames.append(name)
    return frames


def empty_results(path: str) -> ObjectLabels:
    """Zero detections (with a zero-length score column)."""
    empty = parse_object_lines([], path)
    return empty.__class__(**{**empty.__dict__, "score": np.zeros(0)})


def read_rgb_detections(path: str | Path) -> dict[str, ObjectLabels]:
    """Reads a 2D detection list ``image_path class_id score x1 y1 x2 y2`` (Frustum PointNets).

    The frame is the image file's stem; class ids 1/2/3 are Pedestrian/Car/Cyclist. 3D fields
    get the official "not available" values and alpha = -10, so AOS is not computed.

    Returns:
        frame name -> detections; ``line`` holds the line numbers in ``path``.

    Raises:
        LabelFileError: naming ``path:line`` for wrong column counts, unknown class ids,
            non-finite numbers or boxes with x2 < x1 / y2 < y1.
    """
    frames: list[str] = []
    nums: list[list[float]] = []
    line_nos: list[int] = []
    for no, line in enumerate(Path(path).read_text().splitlines(), start=1):
        tok = line.split()
        if not tok:
            continue
        if len(tok) != 7:
            raise LabelFileError(f"{path}:{no}: {len(tok)} columns, expected 7")
        try:
            cid, vals = int(tok[1]), [float(t) for t in tok[2:]]
        except ValueError:
            raise LabelFileError(
                f"{path}:{no}: class id / numbers expected, got {line!r}"
            ) from None
        if cid not in RGB_DETECTION_CLASSES:
            raise LabelFileError(f"{path}:{no}: unknown class id {cid} (known: 1, 2, 3)")
        if not all(math.isfinite(v) for v in vals):
            raise LabelFileError(f"{path}:{no}: non-finite value in {line!r}")
        if vals[3] < vals[1] or vals[4] < vals[2]:
            raise LabelFileError(f"{path}:{no}: negative 2D box size: x1,y1,x2,y2 = {vals[1:]}")
        stem = Path(tok[0]).stem
        if not stem.isdigit():
            raise LabelFileError(f"{path}:{no}: image name {tok[0]!r} is not a frame number")
        frames.append(f"{int(stem):06d}")
        nums.append([float(cid), *vals])
        line_nos.append(no)
    arr = np.asarray(nums, np.float64).reshape(-1, 6)  # (N, 6) class id, score, x1, y1, x2, y2
    names = np.array([RGB_DETECTION_CLASSES[c] for c in sorted(RGB_DETECTION_CLASSES)])
    frame_arr = np.asarray(frames)
    lines = np.asarray(line_nos, np.int64)
    out: dict[str, ObjectLabels] = {}
    order = np.argsort(frame_arr, kind="stable")
    uniq, start = np.unique(frame_arr[order], return_index=True)
    for frame, idx in zip(uniq, np.split(order, start[1:]), strict=True):
        n = len(idx)
        out[str(frame)] = ObjectLabels(
            path=str(path),
            line=lines[idx],
            type=names[arr[idx, 0].astype(int) - 1].astype(object),
            truncated=np.full(n, -1.0),
            occluded=np.full(n, -1, np.int64),
            alpha=np.full(n, -10.0),  # not available: AOS is not computed
            bbox=arr[idx, 2:6],
            dimensions=np.full((n, 3), -1.0),
            location=np.full((n, 3), -1000.0),
            rotation_y=np.full(n, -10.0),
            score=arr[idx, 1],
            has_3d=np.zeros(n, bool),
        )
    return out


def write_results(out_dir: str | Path, results: dict[str, ObjectLabels]) -> int:
    """Writes one KITTI result file per frame (16 columns); returns the number of files."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for frame, d in results.items():
        score = d.score if d.score is not None else np.zeros(len(d))
        lines = [
            format_object_line(
                str(d.type[i]),
                d.bbox[i],
                truncated=float(d.truncated[i]),
                occluded=int(d.occluded[i]),
                alpha=float(d.alpha[i]),
                dimensions=d.dimensions[i],
                location=d.location[i],
                rotation_y=float(d.rotation_y[i]),
                score=float(score[i]),
            )
            for i in range(len(d))
        ]
        (out / f"{frame}.txt").write_text("".join(line + "\n" for line in lines))
    return len(results)


def load_object_data(
    gt_dir: str | Path,
    results: str | Path | dict[str, ObjectLabels],
    split: str | Path | None = None,
) -> ObjectData:
    """Ground truth and results of the evaluated frames, aligned.

    Args:
        gt_dir: folder of ``NNNNNN.txt`` ground-truth files (15 columns).
        results: folder of result files (16 columns), a Frustum-PointNets-style 2D detection
            list file, or already parsed results per frame name.
        split: optional split file; default every ground-truth file.

    Returns:
        The aligned data, with the skipped result files/lines listed.

    Raises:
        LabelFileError / FileNotFoundError: naming the offending file (and line).
    """
    gt_dir = Path(gt_dir)
    if not gt_dir.is_dir():
        raise FileNotFoundError(f"ground-truth folder {gt_dir} does not exist")
    gt_frames = {p.stem for p in gt_dir.glob("*.txt")}
    frames = read_split(split) if split is not None else sorted(gt_frames)
    for name in frames:
        if name not in gt_frames:
            raise FileNotFoundError(
                f"{split}: frame {name} has no ground truth {gt_dir / name}.txt"
            )
    parsed: dict[str, ObjectLabels]
    if isinstance(results, dict):
        parsed = results
    elif Path(results).is_file():
        parsed = read_rgb_detections(results)
    elif Path(results).is_dir():
        parsed = {
            p.stem: read_object_labels(p, with_score=True)
            for p in sorted(Path(results).glob("*.txt"))
        }
    else:
        raise FileNotFoundError(f"results {results} is neither a folder nor a file")
    wanted = set(frames)
    skipped: list[str] = []
    for name, d in parsed.items():
        if name in wanted:
            continue
        where = f"{d.path}:{d.line[0]}" if len(d) and not Path(d.path).stem == name else d.path
        if name not in gt_frames:
            raise LabelFileError(f"{where}: frame {name} is not in the ground truth {gt_dir}")
        skipped.append(f"{where}: frame {name} not in the evaluated split")
    gt = [read_object_labels(gt_dir / f"{n}.txt", with_score=False) for n in frames]
    det = [parsed.get(n) or empty_results(f"<no results for {n}>") for n in frames]
    return ObjectData(frames=list(frames), gt=gt, det=det, skipped=skipped)


def frames_of(data: ObjectData, names: Sequence[str]) -> ObjectData:
    """The subset of frames ``names`` (in that order)."""
    idx = [data.frames.index(n) for n in names]
    return ObjectData(
        frames=[data.frames[i] for i in idx],
        gt=[data.gt[i] for i in idx],
        det=[data.det[i] for i in idx],
        skipped=data.skipped,
    )
