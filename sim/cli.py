"""``drive sim``: run a closed-loop launch, judge the drive, draw it; ``drive bench sim``.

``drive sim launch/closed_loop.yaml`` runs the launch on the deterministic executor, reads the
scenario monitor's :class:`~drivestack.msgs.ScenarioMetrics` (``/sim/metrics``) and the
simulated ego, and prints one JSON object: the verdict, each check with its value and bound,
and the run's node failures. It writes the verdict and a bird's-eye picture of the drive to
``--out``. Exit status: 0 passed, 1 a check failed or a node failed, 2 bad launch file.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from drivestack.launch import LaunchError, load_launch
from drivestack.launch.run import run_launch
from drivestack.launch.run_cli import add_run_arguments, apply_cli
from drivestack.msgs import EgoState, Message, ScenarioMetrics, TrackedObjects
from drivestack.msgs import Path as RoutePath


@dataclass(frozen=True)
class Criteria:
    """What a passing closed-loop drive must achieve."""

    min_progress_ratio: float = 0.9  # ego progress along the route / the logged ego's
    max_lateral_error: float = 1.0  # [m] farthest from the route at any monitor sample
    max_abs_accel: float = 8.0  # [m/s^2] the vehicle's braking limit: more is a broken plant
    # [m] a logged ego that moved less than this stood still (what remains is GPS jitter):
    # there is nothing to keep up with, and the progress ratio is 1
    min_expert_progress: float = 1.0


@dataclass
class Trace:
    """What ``drive sim`` collects from the bus while the scenario runs."""

    metrics: list[ScenarioMetrics] = field(default_factory=list)
    ego_xy: list[tuple[float, float]] = field(default_factory=list)
    expert_xy: list[tuple[float, float]] = field(default_factory=list)
    agents: list[TrackedObjects] = field(default_factory=list)
    route: RoutePath | None = None


def judge(last: ScenarioMetrics, criteria: Criteria) -> dict[str, Any]:
    """The checks of one scenario from its final metrics (each: value, bound, passed)."""
    moved = last.expert_progress >= criteria.min_expert_progress
    ratio = last.progress / last.expert_progress if moved else 1.0
    checks = {
        "at_fault_collisions": {
            "value": [int(i) for i in last.at_fault_ids], "bound": "none",
            "passed": len(last.at_fault_ids) == 0,
        },
        "progress_ratio": {
            "value": round(ratio, 4), "bound": f">= {criteria.min_progress_ratio}",
            "passed": ratio >= criteria.min_progress_ratio,
        },
        "max_lateral_error_m": {
            "value": round(last.max_lateral_error, 4), "bound": f"<= {criteria.max_lateral_error}",
            "passed": last.max_lateral_error <= criteria.max_lateral_error,
        },
        "max_abs_accel_mps2": {
            "value": round(last.max_abs_accel, 4), "bound": f"<= {criteria.max_abs_accel}",
            "passed": last.max_abs_accel <= criteria.max_abs_accel + 1e-9,
        },
    }  # fmt: skip
    return checks


def draw_bev(trace: Trace, path: Path, title: str) -> None:
    """Bird's-eye picture: route, logged and simulated ego paths, agents' tracks, collisions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Polygon

    from drivestack.sim.metrics import rect_corners

    fig, ax = plt.subplots(figsize=(9, 9))
    if trace.route is not None:
        r = np.asarray(trace.route.poses)[:, :2]
        ax.plot(r[:, 0], r[:, 1], color="0.8", lw=6, label="route", zorder=1)
    if trace.expert_xy:
        e = np.asarray(trace.expert_xy)
        ax.plot(e[:, 0], e[:, 1], "--", color="tab:green", lw=1.5, label="logged ego", zorder=3)
    if trace.ego_xy:
        s = np.asarray(trace.ego_xy)
        ax.plot(s[:, 0], s[:, 1], color="tab:blue", lw=1.5, label="simulated ego", zorder=4)
    hit = set(trace.metrics[-1].at_fault_ids.tolist()) if trace.metrics else set()
    tracks: dict[int, list[np.ndarray]] = {}
    for objs in trace.agents:
        for tid, box in zip(objs.track_ids.tolist(), np.asarray(objs.boxes), strict=True):
            tracks.setdefault(int(tid), []).append(box)
    for tid, boxes in tracks.items():
        b = np.asarray(boxes)
        colour = "tab:red" if tid in hit else "tab:orange"
        ax.plot(b[:, 0], b[:, 1], color=colour, lw=0.8, alpha=0.6, zorder=2)
        corners = rect_corners(b[-1:, [0, 1, 3, 4, 6]].astype(np.float64))[0]
        ax.add_patch(Polygon(corners, closed=True, fill=False, ec=colour, lw=1.0, zorder=2))
    ax.set_aspect("equal")
    ax.set_xlabel("x [m] (world)")
    ax.set_ylabel("y [m] (world)")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def register(commands: argparse._SubParsersAction, bench: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "sim",
        help="run a closed-loop scenario and judge the drive (JSON verdict, BEV picture)",
        description="Run a closed-loop launch (e.g. launch/closed_loop.yaml), print a JSON "
        "verdict (at-fault collisions, progress vs the logged ego, lateral error, acceleration) "
        "and write it with a bird's-eye picture to --out. Exit 1 if a check or a node failed.",
    )
    add_run_arguments(p)
    c = Criteria()
    p.add_argument(
        "--out", type=Path, default=Path("out/sim"), help="folder for verdict.json and bev.png"
    )
    p.add_argument("--min-progress-ratio", type=float, default=c.min_progress_ratio)
    p.add_argument("--max-lateral-error", type=float, default=c.max_lateral_error, metavar="M")
    p.add_argument("--max-abs-accel", type=float, default=c.max_abs_accel, metavar="MPS2")
    p.set_defaults(func=cmd_sim)
    b = bench.add_parser("sim", help="batched bicycle plant: scenarios/s vs a scalar loop (JSON)")
    b.add_argument("--batch", type=int, nargs="+", default=[1, 16, 256, 4096])
    b.add_argument("--steps", type=int, default=50, help="50 Hz steps per measurement")
    b.add_argument("--device", default="cpu")
    b.set_defaults(func=cmd_bench_sim)


def cmd_sim(args: argparse.Namespace) -> int:
    try:
        launch = apply_cli(load_launch(args.launch, args.overrides), args)
    except LaunchError as exc:
        print(f"drive sim: {exc}", file=sys.stderr)
        return 2
    criteria = Criteria(args.min_progress_ratio, args.max_lateral_error, args.max_abs_accel)
    trace = Trace()

    def on_metrics(m: Message) -> None:
        assert isinstance(m, ScenarioMetrics)
        trace.metrics.append(m)

    def on_ego(m: Message) -> None:
        assert isinstance(m, EgoState)
        trace.ego_xy.append(m.xy)

    def on_expert(m: Message) -> None:
        assert isinstance(m, EgoState)
        trace.expert_xy.append(m.xy)

    def on_agents(m: Message) -> None:
        assert isinstance(m, TrackedObjects)
        trace.agents.append(m)

    def on_route(m: Message) -> None:
        assert isinstance(m, RoutePath)
        trace.route = m

    wanted = {"/sim/metrics": on_metrics, "/sim/ego": on_ego, "/log/ego": on_expert,
              "/sim/agents": on_agents, "/planning/route": on_route}  # fmt: skip
    declared = {spec.output_topic(k) for spec in launch.specs for k in spec.ports()[1]}
    if "/sim/metrics" not in declared:
        print(f"drive sim: {args.launch}: no node publishes /sim/metrics (add a scenario_monitor)",
              file=sys.stderr)  # fmt: skip
        return 2
    summary = run_launch(launch, launch.specs, quiet=args.quiet,
                         taps={k: v for k, v in wanted.items() if k in declared})  # fmt: skip
    if not trace.metrics:
        print(f"drive sim: {args.launch}: the scenario monitor published nothing", file=sys.stderr)
        return 1
    last = trace.metrics[-1]
    checks = judge(last, criteria)
    failures = [f"{f.node}: {f.error}" for f in summary.failures]
    passed = all(c["passed"] for c in checks.values()) and not failures and not summary.stopped
    verdict = {
        "scenario": str(args.launch), "passed": passed, "checks": checks,
        "final": {
            "progress_m": round(last.progress, 3), "expert_progress_m": round(last.expert_progress, 3),
            "min_clearance_m": round(last.min_clearance, 3), "collision_ids": last.collision_ids.tolist(),
            "max_abs_jerk_mps3": round(last.max_abs_jerk, 3),
        },
        "sim_seconds": round((last.stamp_ns - trace.metrics[0].stamp_ns) / 1e9, 2),
        "node_failures": failures, "stopped": summary.stopped,
        "outputs": {"verdict": str(args.out / "verdict.json"), "bev": str(args.out / "bev.png")},
    }  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "verdict.json").write_text(json.dumps(verdict, indent=2))
    status = "PASSED" if passed else "FAILED"
    draw_bev(trace, args.out / "bev.png", f"{args.launch.name}: {status}, progress ratio "
             f"{checks['progress_ratio']['value']}, min clearance {last.min_clearance:.2f} m")  # fmt: skip
    print(json.dumps(verdict))
    return 0 if passed else 1


def cmd_bench_sim(args: argparse.Namespace) -> int:
    from drivestack.sim.bench import bench_plant

    print(json.dumps(bench_plant(args.batch, args.steps, args.device)))
    return 0
