"""``drive bench kitti-object``, ``drive bench kitti-tracking`` and ``drive kitti-2d-results``.

Each benchmark prints the official-looking table on stderr, writes the full JSON and the PNG
plots to ``--out``, and prints one JSON object on stdout: timing, the baseline (the plain-loop
reference implementation on a subset, measured in the same run) and the headline numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from drivestack.datasets.kitti.label_file import LabelFileError
from drivestack.eval.kitti_object import METRICS, ObjectEvalConfig, evaluate_kitti_object
from drivestack.eval.kitti_object_data import load_object_data, read_rgb_detections, write_results
from drivestack.eval.kitti_object_reference import reference_precision
from drivestack.eval.kitti_tracking import TrackingEvalConfig, clear_mot, prepare_class
from drivestack.eval.kitti_tracking_data import load_tracking_data
from drivestack.eval.kitti_tracking_reference import reference_clear
from drivestack.eval.kitti_tracking_result import TRACKING_CLASSES, evaluate_kitti_tracking
from drivestack.eval.report import (
    object_table,
    plot_object_curves,
    plot_tracking_curves,
    tracking_table,
)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _bench_object(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    try:
        data = load_object_data(args.gt, args.results, args.split)
    except (LabelFileError, FileNotFoundError) as exc:
        _log(f"error: {exc}")
        return 2
    t_load = time.perf_counter() - t0
    _log(f"loaded {len(data.frames)} frames in {t_load:.2f} s; skipped {len(data.skipped)}")
    metrics = tuple(args.metrics.split(","))
    t1 = time.perf_counter()
    result = evaluate_kitti_object(data.gt, data.det, metrics=metrics)
    t_eval = time.perf_counter() - t1
    total = t_load + t_eval
    _log(object_table(result))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    full = {**result.to_json(), "frames": data.frames, "skipped_results": data.skipped}
    (out / "kitti_object.json").write_text(json.dumps(full, indent=1))
    pngs = plot_object_curves(result, out)
    # Baseline: the plain-loop reference on the first frames, 2D, Car moderate (same run).
    n_base = min(args.baseline_frames, len(data.frames))
    tb = time.perf_counter()
    reference_precision(data.gt[:n_base], data.det[:n_base], "Car", 1, "bbox")
    t_base = time.perf_counter() - tb
    ours_sub = time.perf_counter()
    evaluate_kitti_object(
        data.gt[:n_base],
        data.det[:n_base],
        ObjectEvalConfig(classes=("Car",)),
        metrics=("bbox",),
        overlaps=("strict",),
    )
    t_ours_sub = time.perf_counter() - ours_sub
    headline = {
        f"{c.cls}/{c.metric}/{c.difficulty}": {
            "AP_R11": round(c.ap_r11, 4),
            "AP_R40": round(c.ap_r40, 4),
        }
        for c in result.curves
        if c.overlap == "strict"
    }
    print(
        json.dumps(
            {
                "bench": "kitti-object",
                "frames": len(data.frames),
                "load_s": round(t_load, 3),
                "eval_s": round(t_eval, 3),
                "total_s": round(total, 3),
                "ms_per_frame": round(1000 * total / max(len(data.frames), 1), 3),
                "baseline": {
                    "what": "plain-loop devkit reference (1 curve: Car 2D moderate) vs ours "
                    "(3 curves: Car 2D easy/moderate/hard) on the same first frames",
                    "frames": n_base,
                    "reference_s": round(t_base, 3),
                    "ours_s": round(t_ours_sub, 3),
                    "speedup_vs_reference": round(t_base / max(t_ours_sub, 1e-9), 1),
                },
                "skipped_results": len(data.skipped),
                "not_evaluated": result.skipped,
                "strict": headline,
                "json": str(out / "kitti_object.json"),
                "png": [str(p) for p in pngs],
            }
        )
    )
    return 0


def _bench_tracking(args: argparse.Namespace) -> int:
    metric = {"2d": "bbox", "3d": "3d", "giou3d": "giou3d"}[args.mode]
    thr = args.thr if args.thr is not None else (0.5 if metric == "bbox" else 0.25)
    cfg = TrackingEvalConfig(metric=metric, min_overlap=thr)
    classes = tuple(args.classes.split(","))
    t0 = time.perf_counter()
    try:
        data = load_tracking_data(args.gt, args.results, args.seqmap)
    except (LabelFileError, FileNotFoundError) as exc:
        _log(f"error: {exc}")
        return 2
    t_load = time.perf_counter() - t0
    for note in data.notes:
        _log(f"note: {note}")
    t1 = time.perf_counter()
    result = evaluate_kitti_tracking(data.gt, data.res, data.n_frames, cfg, classes)
    t_eval = time.perf_counter() - t1
    _log(tracking_table(result))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "kitti_tracking.json").write_text(
        json.dumps({**result.to_json(), "sequences": data.seqs, "notes": data.notes}, indent=1)
    )
    pngs = plot_tracking_curves(result, out)
    # Baseline: one plain-loop CLEAR run on the shortest sequence vs one vectorised run.
    k = min(range(len(data.seqs)), key=lambda i: data.n_frames[i])
    one = ([data.gt[k]], [data.res[k]], [data.n_frames[k]])
    tb = time.perf_counter()
    reference_clear(*one, classes[0], cfg)
    t_base = time.perf_counter() - tb
    ts = time.perf_counter()
    clear_mot(prepare_class(*one, classes[0], cfg), cfg)
    t_ours = time.perf_counter() - ts
    n_frames = sum(data.n_frames)
    summary = {
        c: {
            "sAMOTA": round(100 * r.sweep.samota, 2),
            "MOTA": round(100 * r.sweep.best.mota, 2),
            "MOTP": round(100 * r.sweep.best.motp, 2),
            "IDS": r.sweep.best.ids,
            "FRAG": r.sweep.best.frag,
            "FP": r.sweep.best.fp,
            "FN": r.sweep.best.fn,
            "HOTA": round(100 * r.hota.hota, 2),
        }
        for c, r in result.per_class.items()
    }
    print(
        json.dumps(
            {
                "bench": "kitti-tracking",
                "mode": args.mode,
                "min_overlap": thr,
                "sequences": len(data.seqs),
                "frames": n_frames,
                "load_s": round(t_load, 3),
                "eval_s": round(t_eval, 3),
                "total_s": round(t_load + t_eval, 3),
                "ms_per_frame": round(1000 * (t_load + t_eval) / max(n_frames, 1), 3),
                "baseline": {
                    "what": "one CLEAR MOT run (first class, shortest sequence): plain-loop "
                    "reference vs ours",
                    "sequence": data.seqs[k],
                    "reference_s": round(t_base, 3),
                    "ours_s": round(t_ours, 3),
                    "ratio": round(t_base / max(t_ours, 1e-9), 2),
                },
                "classes": summary,
                "overall": {k2: round(v, 4) for k2, v in result.overall().items()},
                "skipped": result.skipped,
                "json": str(out / "kitti_tracking.json"),
                "png": [str(p) for p in pngs],
            }
        )
    )
    return 0


def _convert_2d(args: argparse.Namespace) -> int:
    try:
        results = read_rgb_detections(args.input)
    except (LabelFileError, FileNotFoundError) as exc:
        _log(f"error: {exc}")
        return 2
    n = write_results(args.out_dir, results)
    _log(f"wrote {n} result files to {args.out_dir}")
    return 0


def register(commands: argparse._SubParsersAction, bench: argparse._SubParsersAction) -> None:
    """Adds the eval commands (see ``drivestack.cli.main``)."""
    p = bench.add_parser(
        "kitti-object",
        help="KITTI object AP (2D/BEV/3D, R11/R40, AOS) as the official devkit",
        description="KITTI object detection AP with the official devkit's rules.",
    )
    p.add_argument("--gt", required=True, help="folder of label_2 ground-truth files")
    p.add_argument(
        "--results",
        required=True,
        help="folder of KITTI result files (16 columns), or a 2D detection list "
        "'image class_id score x1 y1 x2 y2' (Frustum PointNets format)",
    )
    p.add_argument("--split", help="frame list (e.g. splits/val.txt); default all GT frames")
    p.add_argument("--metrics", default=",".join(METRICS), help="subset of bbox,bev,3d")
    p.add_argument("--out", default="out/eval/kitti-object", help="folder for JSON and PNGs")
    p.add_argument("--baseline-frames", type=int, default=150, help="frames for the baseline")
    p.set_defaults(func=_bench_object)

    t = bench.add_parser(
        "kitti-tracking",
        help="KITTI tracking CLEAR MOT, sAMOTA/AMOTA/AMOTP (AB3DMOT) and HOTA (TrackEval)",
        description="KITTI tracking evaluation with the devkit's / AB3DMOT's / TrackEval's rules.",
    )
    t.add_argument("--gt", required=True, help="folder of label_02 ground-truth files")
    t.add_argument("--results", required=True, help="folder of SSSS.txt tracker results")
    t.add_argument("--seqmap", required=True, help="seqmap file (SEQ empty FIRST COUNT)")
    t.add_argument("--mode", choices=("2d", "3d", "giou3d"), default="2d", help="overlap used")
    t.add_argument("--thr", type=float, help="min overlap (default 0.5 in 2D, 0.25 in 3D)")
    t.add_argument("--classes", default=",".join(TRACKING_CLASSES), help="classes to evaluate")
    t.add_argument("--out", default="out/eval/kitti-tracking", help="folder for JSON and PNGs")
    t.set_defaults(func=_bench_tracking)

    c = commands.add_parser(
        "kitti-2d-results",
        help="convert a 2D detection list (image class_id score x1 y1 x2 y2) to KITTI result files",
    )
    c.add_argument("input", help="detection list, e.g. rgb_detection_val.txt")
    c.add_argument("out_dir", help="folder for the NNNNNN.txt result files")
    c.set_defaults(func=_convert_2d)
