"""The handlers of ``drive track``, ``drive train motion`` and ``drive bench tracking``
(parsers in ``cli.py``; this module imports torch, so only when a command runs).

* ``drive track --detections DIR --seqmap FILE --out DIR``: tracks KITTI sequences and
  writes ``<out>/<seq>.txt`` KITTI tracking results (scored by ``drive bench kitti-tracking``).
* ``drive train motion``: trains the motion TCN on the KITTI training sequences' ground truth
  (early stopping on held-out training sequences, ``--holdout``), writes the checkpoint, a learning-curve PNG and a JSON report with ADE/FDE on the val
  sequences against constant velocity and the Kalman filter.
* ``drive bench tracking``: frames per second of the stack tracker (Kalman path; TCN path
  separately) and of the textbook AB3DMOT baseline on the same preloaded detections, one JSON
  object on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from drivestack.tracking.forecaster import MotionForecaster
from drivestack.tracking.registry import TRACKERS
from drivestack.tracking.tracker import TrackerConfig


def _device(name: str) -> str:
    """``auto`` is CUDA where available, else the CPU."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def _root(args: argparse.Namespace) -> Path:
    return args.kitti_root if args.kitti_root is not None else args.detections.resolve().parents[1]


def _forecaster(args: argparse.Namespace, mode: str) -> MotionForecaster | None:
    return (
        None
        if mode == "off"
        else MotionForecaster.from_checkpoint(args.checkpoint, _device(args.device))
    )


def with_reid(config: TrackerConfig, specs: list[str]) -> TrackerConfig:
    """``config`` with the second stage of classes set from ``--reid CLASS:GATE:AGE`` options."""
    from drivestack.tracking.tune import EVAL_NAMES, with_class

    ids = {name: c for c, name in EVAL_NAMES.items()}
    for spec in specs:
        parts = spec.split(":")
        if len(parts) != 3 or parts[0] not in ids:
            raise ValueError(
                f"--reid {spec!r}: expected CLASS:GATE:AGE with CLASS in {sorted(ids)}"
            )
        cls = ids[parts[0]]
        params = replace(
            dict(config.classes)[cls], reid_gate=float(parts[1]), reid_age=int(parts[2])
        )
        config = with_class(config, cls, params)
    return config


def track(args: argparse.Namespace) -> int:
    from drivestack.tracking.kitti_run import load_split, run_sequence, write_results

    seqs = load_split(_root(args), args.seqmap, args.detections)
    config = with_reid(TrackerConfig(tcn_mode=args.tcn_mode), args.reid)
    fc = _forecaster(args, args.tcn_mode)
    for seq in tqdm(seqs, desc=f"track ({args.tracker})", file=sys.stderr, unit="seq"):
        results = run_sequence(seq, TRACKERS[args.tracker](config, fc))
        write_results(args.out, seq, results)
    print(f"wrote {len(seqs)} result files to {args.out}", file=sys.stderr)
    return 0


def train_motion(args: argparse.Namespace) -> int:
    from drivestack.tracking.forecast_eval import compare
    from drivestack.tracking.motion_data import (
        KITTI_TRAIN_SEQUENCES,
        KITTI_VAL_SEQUENCES,
        kitti_tracks,
        make_windows,
    )
    from drivestack.tracking.tcn import TCNConfig, save_checkpoint
    from drivestack.tracking.train_motion import TrainConfig, plot_curve, run_meta, train

    model_cfg = TCNConfig()
    train_cfg = TrainConfig(
        epochs=args.epochs,
        seed=args.seed,
        device=_device(args.device),
        disp_weight=args.disp_weight,
        ema=args.ema,
        pos_noise=args.pos_noise,
    )
    holdout = tuple(args.holdout.split(","))
    if not set(holdout) < set(KITTI_TRAIN_SEQUENCES):
        raise ValueError(
            f"--holdout {args.holdout}: must be some (not all) of the training sequences {KITTI_TRAIN_SEQUENCES}"
        )
    fit = tuple(s for s in KITTI_TRAIN_SEQUENCES if s not in holdout)
    print("reading KITTI tracking ground truth ...", file=sys.stderr)
    fit_tracks = kitti_tracks(args.kitti_root, fit)
    holdout_tracks = kitti_tracks(args.kitti_root, holdout)
    val_tracks = kitti_tracks(args.kitti_root, KITTI_VAL_SEQUENCES)
    # Training: any window with a full future (short histories too, as the tracker sees them).
    # Held-out and validation: full histories only (the same windows for TCN, CV and Kalman).
    h, t = model_cfg.history, model_cfg.horizon
    train_w = make_windows(fit_tracks, h, t, min_history=1)
    holdout_w = make_windows(holdout_tracks, h, t, min_history=h)
    val_w = make_windows(val_tracks, h, t, min_history=h)
    print(
        f"{len(train_w)} training, {len(holdout_w)} held-out, {len(val_w)} validation windows",
        file=sys.stderr,
    )
    model, history = train(train_w, holdout_w, val_w, model_cfg, train_cfg)
    fc = MotionForecaster(model, _device(args.device))
    metrics = compare(
        val_w,
        lambda w: fc(w.xy, w.yaw, w.size, w.groups, w.valid, w.ego_xy)[0],
        model_cfg.horizon,
        model_cfg.step_s,
    )
    # The held-out training sequences with the same three predictors: what a choice between
    # training settings may look at (val below is only reported).
    holdout_metrics = compare(
        holdout_w,
        lambda w: fc(w.xy, w.yaw, w.size, w.groups, w.valid, w.ego_xy)[0],
        model_cfg.horizon,
        model_cfg.step_s,
    )
    data = {
        "train_sequences": list(fit),
        "holdout_sequences": list(holdout),
        "val_sequences": list(KITTI_VAL_SEQUENCES),
        "train_windows": len(train_w),
        "holdout_windows": len(holdout_w),
        "val_windows": len(val_w),
    }
    extra = {"data": data, "holdout": holdout_metrics, "val": metrics}
    save_checkpoint(args.out, model, run_meta(model_cfg, train_cfg, history, extra))
    curve = args.out.with_suffix(".png")
    plot_curve(history, curve)
    report = {"checkpoint": str(args.out), "curve": str(curve), **data, "history": history, **extra}
    report_path = args.report or args.out.with_suffix(".json")
    report_path.write_text(json.dumps(report, indent=1))
    print(
        json.dumps(
            {
                "checkpoint": str(args.out),
                "holdout_vehicle": {k: v["vehicle"] for k, v in holdout_metrics.items()},
            }
        )
    )
    return 0


def tune_tracking(args: argparse.Namespace) -> int:
    import tempfile

    from drivestack.datasets.kitti.tracking import read_seqmap
    from drivestack.tracking.kitti_run import load_sequence
    from drivestack.tracking.motion_data import KITTI_TRAIN_SEQUENCES, KITTI_VAL_SEQUENCES
    from drivestack.tracking.tune import parse_classes, split_sequences, tune

    try:  # before minutes of loading
        classes = parse_classes(args.classes)
    except ValueError as exc:
        print(f"drive tune tracking: {exc}", file=sys.stderr)
        return 2
    names = set(split_sequences(args.split, KITTI_TRAIN_SEQUENCES, KITTI_VAL_SEQUENCES))
    full = args.kitti_root / "splits" / "evaluate_tracking.seqmap.training"
    entries = [e for e in read_seqmap(full) if e.sequence in names]
    if len(entries) != len(names):
        raise FileNotFoundError(
            f"{full}: lacks sequences {sorted(names - {e.sequence for e in entries})}"
        )
    seqs = [
        load_sequence(args.kitti_root, e.sequence, args.detections)
        for e in tqdm(entries, desc="load sequences", file=sys.stderr, unit="seq")
    ]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="drive-tune-") as tmp, threadpool_limits(1):
        seqmap = Path(tmp) / f"seqmap.{args.split}"
        seqmap.write_text(
            "".join(f"{e.sequence} empty {e.first_frame:06d} {e.num_frames:06d}\n" for e in entries)
        )
        report = tune(
            seqs, args.kitti_root / "label_02", seqmap, classes=classes, stress=args.stress
        )
    torch.set_num_threads(threads)
    report = {"split": args.split, "sequences": sorted(names), "stress": args.stress, **report}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(
        json.dumps(
            {
                "split": args.split,
                "out": str(args.out),
                **{
                    name: {
                        "best": c["best"],
                        "objective": c["best_scores"]["objective"],
                        "default_objective": c["default_scores"]["objective"],
                        **(
                            {"stress_ids": c["best_scores"]["stress_ids"]}
                            if "stress_ids" in c["best_scores"]
                            else {}
                        ),
                    }
                    for name, c in report["classes"].items()
                },
            }
        )
    )
    return 0


def bench(args: argparse.Namespace) -> int:
    from drivestack.tracking.kitti_run import load_split, run_sequence

    seqs = load_split(_root(args), args.seqmap, args.detections)
    frames = sum(len(s) for s in seqs)
    base = with_reid(TrackerConfig(), args.reid)

    def timed(name: str, config: TrackerConfig, fc: MotionForecaster | None) -> dict[str, Any]:
        best = np.inf
        for _ in tqdm(range(args.repeats), desc=name, file=sys.stderr, unit="run"):
            t0 = time.perf_counter()
            for seq in seqs:
                run_sequence(
                    seq, TRACKERS["ab3dmot" if name == "ab3dmot_baseline" else "stack"](config, fc)
                )
            best = min(best, time.perf_counter() - t0)
        return {"seconds": best, "frames_per_s": frames / best}

    # Same tracker with no GIoU at all (pedestrians on a 1 m centre gate): shows what the
    # shared GIoU costs per frame. Its accuracy differs (more pedestrian ID switches).
    no_giou = replace(
        base,
        classes=tuple(
            (c, replace(p, metric="dist", gate=1.0) if p.metric == "giou" else p)
            for c, p in base.classes
        ),
    )
    # Tiny batched matrices: BLAS threads only add synchronisation; both trackers run with one,
    # and torch (TCN path, batch of one frame's tracks) with one thread on the CPU.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        kalman_path = timed("stack_kalman", base, None)
        baseline = timed("ab3dmot_baseline", base, None)
        kalman_no_giou = timed("stack_kalman_no_giou", no_giou, None)
        tcn_mode = args.tcn_mode if args.tcn_mode != "off" else "associate"
        tcn_cfg = replace(base, tcn_mode=tcn_mode)
        tcn_path = timed(f"stack_tcn_{tcn_mode}", tcn_cfg, _forecaster(args, tcn_mode))
    torch.set_num_threads(threads)
    out = {
        "bench": "tracking",
        "split": str(args.seqmap),
        "detections": str(args.detections),
        "sequences": len(seqs),
        "frames": frames,
        "detections_total": int(sum(s.num_detections for s in seqs)),
        "stages_counted": "per frame: Kalman predict, TCN forecast (TCN path), cost matrices "
        "(distance + GIoU), Hungarian/greedy matching, update, birth/death, reporting with "
        "velocity covariance; not counted: reading files (preloaded), writing results",
        "timing": f"best of {args.repeats} runs over the whole split, BLAS threads = 1",
        "stack_kalman": kalman_path,
        "ab3dmot_baseline": baseline,
        "speedup_kalman_vs_baseline": kalman_path["frames_per_s"] / baseline["frames_per_s"],
        "stack_kalman_no_giou": {
            **kalman_no_giou,
            "note": "pedestrian GIoU gate replaced by a 1 m centre gate",
        },
        "stack_tcn": {
            **tcn_path,
            "tcn_mode": tcn_mode,
            "device": _device(args.device),
            "torch_threads": 1,
        },
        "speedup_tcn_vs_baseline": tcn_path["frames_per_s"] / baseline["frames_per_s"],
        "tracker_config": base.to_dict(),
    }
    print(json.dumps(out, default=str))
    return 0
