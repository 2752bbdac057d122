"""Bird's-eye-view pictures of planning scenes (matplotlib, Agg): costmap, path, trajectory."""

from __future__ import annotations

import math
from pathlib import Path as FilePath

import numpy as np

from drivestack.msgs import CostGrid, Trajectory


def plot_scene(
    path: str | FilePath,
    grid: CostGrid,
    trajectory: Trajectory | None = None,
    raw_path: np.ndarray | None = None,
    footprints: list[tuple[np.ndarray, float, float, float]] | None = None,
    title: str = "",
) -> None:
    """Writes a PNG: costmap (grey, obstacles black), a raw path, the trajectory by speed.

    Args:
        path: Output PNG file.
        grid: Cost grid; drawn in its own (rotated) frame via a mesh.
        trajectory: Drawn as points coloured by |speed| [m/s] with a colour bar.
        raw_path: (N, 2) world points of the unsmoothed path (thin line).
        footprints: (pose (3,), length, width, rear overhang) rectangles to outline.
        title: Figure title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h, w = grid.cost.shape
    c, s = math.cos(grid.origin[2]), math.sin(grid.origin[2])
    jj, ii = np.meshgrid(np.arange(w + 1), np.arange(h + 1))
    lx, ly = jj * grid.resolution, ii * grid.resolution
    wx = grid.origin[0] + c * lx - s * ly
    wy = grid.origin[1] + s * lx + c * ly
    fig, ax = plt.subplots(figsize=(12, 12 * max(0.3, min(1.0, h / w)) + 1.0), dpi=110)
    shown = np.clip(np.asarray(grid.cost) / grid.lethal, 0.0, 1.0)
    ax.pcolormesh(wx, wy, shown, cmap="Greys", vmin=0.0, vmax=1.0, shading="flat")
    if raw_path is not None and len(raw_path):
        ax.plot(raw_path[:, 0], raw_path[:, 1], "-", color="tab:orange", lw=0.8, label="grid path")
    if footprints:
        for pose, length, width, rear in footprints:
            u = np.array([-rear, length - rear, length - rear, -rear, -rear])
            v = np.array([-width / 2, -width / 2, width / 2, width / 2, -width / 2])
            cy, sy = math.cos(pose[2]), math.sin(pose[2])
            ax.plot(pose[0] + cy * u - sy * v, pose[1] + sy * u + cy * v, color="tab:blue", lw=0.6)
    if trajectory is not None and len(trajectory.times):
        sc = ax.scatter(
            trajectory.poses[:, 0], trajectory.poses[:, 1], c=np.abs(trajectory.speeds),
            s=6, cmap="viridis", zorder=3,
        )  # fmt: skip
        fig.colorbar(sc, ax=ax, label="|speed| [m/s]", shrink=0.7)
    ax.set_aspect("equal")
    ax.set_xlabel("x [m]")
    ax.set_ylabel("y [m]")
    ax.set_title(title or f"{trajectory.status.name if trajectory is not None else ''}")
    if raw_path is not None:
        ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(str(path))
    plt.close(fig)
