"""Motion TCN: causality, loss, checkpoints, and the heading-frame features."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from drivestack.tracking.motion_features import NUM_FEATURES, history_features, rotate, to_world
from drivestack.tracking.tcn import (
    CheckpointError,
    MotionTCN,
    TCNConfig,
    gaussian_nll,
    load_checkpoint,
    save_checkpoint,
)

CFG = TCNConfig(in_features=NUM_FEATURES)


def test_tcn_blocks_are_causal() -> None:
    torch.manual_seed(0)
    model = MotionTCN(CFG).eval()
    x = torch.randn(2, CFG.history, CFG.in_features)
    y = x.clone()
    y[:, 6:] += torch.randn(2, CFG.history - 6, CFG.in_features)  # change steps 6..
    with torch.no_grad():
        hx = model.blocks(x.transpose(1, 2))  # (B, C, T)
        hy = model.blocks(y.transpose(1, 2))
    torch.testing.assert_close(hx[:, :, :6], hy[:, :, :6])
    assert not torch.allclose(hx[:, :, 6:], hy[:, :, 6:])


def test_receptive_field_covers_history() -> None:
    assert CFG.receptive_field() >= CFG.history


def test_gaussian_nll_equals_torch_normal_log_prob() -> None:
    torch.manual_seed(1)
    mean, log_std, y = torch.randn(3, 4, 2), torch.randn(3, 4, 2) * 0.3, torch.randn(3, 4, 2)
    ref = -torch.distributions.Normal(mean, log_std.exp()).log_prob(y).mean()
    torch.testing.assert_close(gaussian_nll(mean, log_std, y), ref)


def test_checkpoint_round_trip_keeps_forecasts(tmp_path: Path) -> None:
    torch.manual_seed(2)
    model = MotionTCN(CFG).eval()
    path = tmp_path / "m.pt"
    save_checkpoint(path, model, {"note": "test"})
    loaded, meta = load_checkpoint(path, expected=CFG)
    x = torch.randn(5, CFG.history, CFG.in_features)
    with torch.no_grad():
        a, _ = model(x)
        b, _ = loaded(x)
    assert meta["note"] == "test"
    torch.testing.assert_close(a, b, atol=2e-2, rtol=1e-2)  # fp16 storage


def test_checkpoint_config_mismatch_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "m.pt"
    save_checkpoint(path, MotionTCN(CFG), {})
    with pytest.raises(CheckpointError, match="channels: checkpoint 48 != expected 64"):
        load_checkpoint(path, expected=replace(CFG, channels=64))


def test_checkpoint_of_other_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.pt"
    save_checkpoint(path, MotionTCN(CFG), {})
    blob = torch.load(path, weights_only=True)
    blob["version"] = 999
    torch.save(blob, path)
    with pytest.raises(CheckpointError, match="version 999"):
        load_checkpoint(path)


def test_not_a_checkpoint_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.pt"
    torch.save({"weights": 1}, path)
    with pytest.raises(CheckpointError, match="not a drivestack.tracking.tcn checkpoint"):
        load_checkpoint(path)


def _history(rng: np.random.Generator, b: int = 4, h: int = 10):
    xy = np.cumsum(rng.normal(0, 1, (b, h, 2)), axis=1)
    yaw = rng.uniform(-3, 3, (b, h))
    size = rng.uniform(1, 4, (b, 3))
    groups = rng.integers(0, 3, b)
    valid = np.ones((b, h), bool)
    valid[0, :4] = False
    ego = rng.normal(0, 10, (b, 2))
    return xy, yaw, size, groups, valid, ego


def test_features_are_invariant_to_world_rotation_and_translation() -> None:
    rng = np.random.default_rng(3)
    xy, yaw, size, groups, valid, ego = _history(rng)
    f1, _, _ = history_features(xy, yaw, size, groups, valid, ego)
    ang = np.full(len(xy), 1.1)
    shift = np.array([100.0, -40.0])
    f2, _, _ = history_features(
        rotate(xy, ang) + shift,
        yaw + 1.1,
        size,
        groups,
        valid,
        rotate(ego[:, None], ang)[:, 0] + shift,
    )
    np.testing.assert_allclose(f1, f2, atol=1e-5)


def test_to_world_inverts_the_heading_frame_and_rotates_std() -> None:
    rng = np.random.default_rng(4)
    xy, yaw, size, groups, valid, ego = _history(rng)
    _, origin, heading = history_features(xy, yaw, size, groups, valid, ego)
    world = rng.normal(0, 5, (len(xy), 3, 2))
    local = rotate(world - origin[:, None], -heading)
    log_std = np.log(np.tile([[[2.0, 0.5]]], (len(xy), 3, 1)))
    back, std = to_world(local, log_std, origin, heading)
    np.testing.assert_allclose(back, world, atol=1e-9)
    # Total variance is rotation invariant.
    np.testing.assert_allclose((std**2).sum(-1), 4.25, atol=1e-9)
    assert math.isclose(
        float(std[0, 0, 0] ** 2), 4 * np.cos(heading[0]) ** 2 + 0.25 * np.sin(heading[0]) ** 2
    )
