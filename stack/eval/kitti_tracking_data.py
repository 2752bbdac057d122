"""Loading KITTI tracking ground truth and tracker results for the sequences of a seqmap.

A seqmap line is ``SSSS empty 000000 NNNNNN``; the official devkit reads NNNNNN as the number of
frames (AB3DMOT's evaluate.py adds one, which only changes its false-alarm rate). Result files
are ``SSSS.txt`` in KITTI tracking format (17 columns, 18 with a score). A missing result file
means no tracks for that sequence and is reported; result rows beyond the sequence length, and
two rows with the same (frame, track id), are errors naming file and line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drivestack.datasets.kitti.label_file import (
    LabelFileError,
    TrackingLabels,
    parse_tracking_lines,
    read_tracking_labels,
)


@dataclass(frozen=True)
class TrackingData:
    """Ground truth and results of the evaluated sequences.

    Attributes:
        seqs: sequence names ("0001").
        n_frames: frames per sequence.
        gt: per sequence ground truth.
        res: per sequence tracker output (empty where the file is missing).
        notes: "file: what happened" for missing result files.
    """

    seqs: list[str]
    n_frames: list[int]
    gt: list[TrackingLabels]
    res: list[TrackingLabels]
    notes: list[str]


def read_seqmap(path: str | Path) -> list[tuple[str, int]]:
    """(sequence name, number of frames) of every seqmap line.

    Raises:
        LabelFileError: naming ``path:line`` for malformed lines.
    """
    out: list[tuple[str, int]] = []
    for no, line in enumerate(Path(path).read_text().splitlines(), start=1):
        tok = line.split()
        if not tok:
            continue
        if len(tok) != 4 or not (tok[0].isdigit() and tok[2].isdigit() and tok[3].isdigit()):
            raise LabelFileError(f"{path}:{no}: expected 'SEQ empty FIRST COUNT', got {line!r}")
        out.append((f"{int(tok[0]):04d}", int(tok[3])))
    if not out:
        raise LabelFileError(f"{path}: no sequences")
    return out


def empty_tracks(path: str) -> TrackingLabels:
    """Zero rows, with a zero-length score column."""
    e = parse_tracking_lines([], path)
    return TrackingLabels(**{**e.__dict__, "score": np.zeros(0)})


def check_tracks(tracks: TrackingLabels, n_frames: int) -> None:
    """Frames within the sequence and unique (frame, track id) pairs, else LabelFileError."""
    beyond = np.flatnonzero(tracks.frame >= n_frames)
    if len(beyond):
        i = beyond[0]
        raise LabelFileError(
            f"{tracks.path}:{tracks.line[i]}: frame {tracks.frame[i]} is beyond the "
            f"{n_frames} frames of this sequence (seqmap)"
        )
    real = np.flatnonzero(tracks.type != "DontCare")
    key = np.stack([tracks.frame[real], tracks.track_id[real]], 1)  # (N, 2)
    if len(real) and len(np.unique(key, axis=0)) < len(real):
        seen: set[tuple[int, int]] = set()
        for i, k in zip(real, map(tuple, key.tolist()), strict=True):
            if k in seen:
                raise LabelFileError(
                    f"{tracks.path}:{tracks.line[i]}: track id {k[1]} appears twice in frame {k[0]}"
                )
            seen.add(k)


def load_tracking_data(
    gt_dir: str | Path, results_dir: str | Path, seqmap: str | Path
) -> TrackingData:
    """Ground truth and results of the seqmap's sequences.

    Args:
        gt_dir: folder of ``SSSS.txt`` ground truth (17 columns).
        results_dir: folder of ``SSSS.txt`` tracker output (17 or 18 columns).
        seqmap: the sequence map file.

    Returns:
        The loaded data.

    Raises:
        LabelFileError / FileNotFoundError: naming file (and line).
    """
    gt_dir, results_dir = Path(gt_dir), Path(results_dir)
    if not results_dir.is_dir():
        raise FileNotFoundError(f"results folder {results_dir} does not exist")
    seqs, counts, gts, ress, notes = [], [], [], [], []
    for name, n in read_seqmap(seqmap):
        gt_file = gt_dir / f"{name}.txt"
        if not gt_file.is_file():
            raise FileNotFoundError(f"{seqmap}: sequence {name} has no ground truth {gt_file}")
        gt = read_tracking_labels(gt_file, with_score=False)
        check_tracks(gt, n)
        res_file = results_dir / f"{name}.txt"
        if res_file.is_file():
            res = read_tracking_labels(res_file)
            check_tracks(res, n)
        else:
            res = empty_tracks(str(res_file))
            notes.append(f"{res_file}: missing, evaluated as no tracks")
        seqs.append(name)
        counts.append(n)
        gts.append(gt)
        ress.append(res)
    extra = sorted(p.name for p in results_dir.glob("*.txt") if p.stem not in set(seqs))
    notes += [f"{results_dir / e}: not in the seqmap, not evaluated" for e in extra]
    return TrackingData(seqs=seqs, n_frames=counts, gt=gts, res=ress, notes=notes)
