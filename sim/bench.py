"""``drive bench sim``: the batched bicycle plant against a scalar loop, same run, same states."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from drivestack.control.bicycle import BicycleState, step
from drivestack.sim.vehicle import VehicleConfig, bicycle_step

DT = 0.02  # [s] the simulated ego's 50 Hz step


def _scenarios(batch: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(B, 4) states and (B, 2) controls within the limits (no clipping, so both paths agree)."""
    rng = np.random.default_rng(seed)
    state = np.column_stack([rng.uniform(-50, 50, (batch, 2)), rng.uniform(-np.pi, np.pi, batch),
                             rng.uniform(2.0, 20.0, batch)])  # fmt: skip
    controls = np.column_stack([rng.uniform(-0.5, 0.5, batch), rng.uniform(-2.5, 2.5, batch)])
    return state, controls


def _scalar(state: np.ndarray, controls: np.ndarray, steps: int, cfg: VehicleConfig) -> np.ndarray:
    out = np.empty_like(state)
    for i, (s, u) in enumerate(zip(state, controls, strict=True)):
        b = BicycleState(*s)
        for _ in range(steps):
            b = step(b, u[0], u[1], DT, wheelbase=cfg.wheelbase, max_steer=cfg.max_steer,
                     substeps=cfg.substeps)  # fmt: skip
        out[i] = (b.x, b.y, b.yaw, b.v)
    return out


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_plant(
    batches: Sequence[int], steps: int, device: str, repeats: int = 3
) -> dict[str, Any]:
    """Scenario-steps per second of :func:`bicycle_step` per batch size, and of the scalar
    :func:`drivestack.control.bicycle.step` loop on the same states (best of ``repeats``).

    Returns:
        JSON-ready dict: per batch the batched rate, the ratio to the scalar rate and the
        largest difference between the two results (they integrate the same equations).
    """
    cfg = VehicleConfig()
    dev = torch.device(device)
    scalar_n = min(max(batches), 256)  # the scalar loop's cost per scenario does not depend on B
    all_s, all_u = _scenarios(max(batches))  # every batch is a prefix of the same scenarios
    s0, u0 = all_s[:scalar_n], all_u[:scalar_n]
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        ref = _scalar(s0, u0, steps, cfg)
        best = min(best, time.perf_counter() - t0)
    scalar_rate = scalar_n * steps / best
    print(f"[bench sim] scalar loop: {scalar_rate:,.0f} scenario-steps/s", file=sys.stderr)
    rows = []
    for batch in batches:
        s, u = all_s[:batch], all_u[:batch]
        state = torch.as_tensor(s, dtype=torch.float64, device=dev)  # (B, 4)
        controls = torch.as_tensor(u, dtype=torch.float64, device=dev)  # (B, 2)
        bicycle_step(state, controls, DT, cfg)  # warm-up (CUDA context, kernels)
        _sync(dev)
        best_b = float("inf")
        for _ in range(repeats):
            x = state
            t0 = time.perf_counter()
            for _ in range(steps):
                x = bicycle_step(x, controls, DT, cfg)
            _sync(dev)
            best_b = min(best_b, time.perf_counter() - t0)
        n = min(batch, scalar_n)
        diff = float(np.abs(x[:n].cpu().numpy() - ref[:n]).max())
        rate = batch * steps / best_b
        rows.append({"batch": batch, "scenario_steps_per_s": round(rate), "ms_per_step": round(
            best_b / steps * 1e3, 4), "speedup_vs_scalar": round(rate / scalar_rate, 2),
            "max_abs_diff_vs_scalar": diff})  # fmt: skip
        print(f"[bench sim] batch {batch}: {rate:,.0f} scenario-steps/s", file=sys.stderr)
    return {
        "bench": "sim", "device": str(dev), "dt_s": DT, "steps": steps, "substeps": cfg.substeps,
        "torch_threads": torch.get_num_threads(),
        "scalar": {"scenarios": scalar_n, "scenario_steps_per_s": round(scalar_rate)},
        "batched": rows,
        "note": "kinematic bicycle only (the simulated ego's plant); planner and controller run "
                "per scenario on the bus",
    }  # fmt: skip
