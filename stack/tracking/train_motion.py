"""Training loop of the motion TCN: Gaussian NLL on heading-frame future offsets.

Inputs are precomputed once (features are cheap and fixed); each epoch augments them with
a random mirror (y -> -y, the world has left and right turns alike), a random rotation of the
heading frame (uniform within ``rot_aug`` per motion group: a pedestrian's box yaw says little
about where it walks, so its forecasts should not depend on it) and small position noise on
the history (the tracker feeds filtered, not ground-truth, positions).

The loss is the Gaussian NLL plus ``disp_weight`` x the mean displacement of the forecast
mean (the NLL alone lets the mean of hard, high-variance windows drift; ADE/FDE are what the
forecast is judged by). Model selection (early stopping) uses held-out *training* sequences
only: the epoch with the lowest held-out FDE at the horizon is kept. The validation sequences
are never used for training or selection; they are only reported (learning curve).
"""

from __future__ import annotations

import copy
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from tqdm import tqdm

from drivestack.tracking.motion_data import Windows
from drivestack.tracking.motion_features import POS_SCALE, history_features, rotate
from drivestack.tracking.tcn import MotionTCN, TCNConfig, gaussian_nll


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings.

    Attributes:
        epochs: passes over the training windows.
        batch_size: windows per step.
        lr: peak learning rate (AdamW, cosine decay).
        weight_decay: AdamW weight decay.
        pos_noise: [m] 1-sigma noise added to history positions.
        rot_aug: [rad] largest random rotation of the heading frame, per motion group.
        disp_weight: [1/m] weight of the mean forecast displacement added to the NLL.
        ema: decay of an exponential moving average of the weights, updated every step; the
            averaged weights are evaluated, selected and shipped (0: the raw weights).
            Averaging damps the step-to-step noise of small-batch training on few tracks.
        seed: seeds numpy and torch.
        device: torch device.
        threads: CPU threads for torch; 1 is fastest for this small network on a shared
            2-core machine (more threads mostly wait on each other).
    """

    epochs: int = 40
    batch_size: int = 256
    lr: float = 3e-3
    weight_decay: float = 1e-4
    pos_noise: float = 0.05  # [m]
    rot_aug: tuple[float, float, float] = (0.0, 3.1416, 0.0)  # [rad] vehicle, pedestrian, cyclist
    disp_weight: float = 0.0  # [1/m] weight of the mean displacement term of the loss
    ema: float = 0.0  # decay per step; 0 = off
    seed: int = 0
    device: str = "cpu"
    threads: int = 1


@dataclass(frozen=True)
class Prepared:
    """Network inputs and heading-frame targets of a set of windows."""

    feats: torch.Tensor  # (B, H, F)
    target: torch.Tensor  # (B, T, 2) [m]
    origin: np.ndarray  # (B, 2) [m]
    heading: np.ndarray  # (B,) [rad]


def prepare(w: Windows) -> Prepared:
    """Features and targets of windows (see ``motion_features``)."""
    feats, origin, heading = history_features(w.xy, w.yaw, w.size, w.groups, w.valid, w.ego_xy)
    target = rotate(w.future - origin[:, None], -heading)  # (B, T, 2)
    return Prepared(
        torch.from_numpy(feats), torch.from_numpy(target.astype(np.float32)), origin, heading
    )


def _augment(
    feats: torch.Tensor, target: torch.Tensor, noise: float, rot: torch.Tensor, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror, rotation (``rot`` (B,) [rad] largest angle per window) and position jitter."""
    b = feats.shape[0]
    flip = torch.where(torch.rand(b, generator=gen) < 0.5, -1.0, 1.0)  # (B,)
    feats = feats.clone()
    target = target.clone()
    feats[..., 1] *= flip[:, None]
    feats[..., 3] *= flip[:, None]  # sin of relative yaw
    target[..., 1] *= flip[:, None]
    # Rotating the heading frame by phi rotates positions, targets and relative yaw alike.
    phi = (2.0 * torch.rand(b, generator=gen) - 1.0) * rot  # (B,)
    c, s = torch.cos(phi)[:, None], torch.sin(phi)[:, None]  # (B, 1)
    for lo in (0, 2):  # (x, y) positions and (cos, sin) of the relative yaw
        x, y = feats[..., lo].clone(), feats[..., lo + 1].clone()  # (B, H)
        feats[..., lo], feats[..., lo + 1] = c * x - s * y, s * x + c * y
    x, y = target[..., 0].clone(), target[..., 1].clone()  # (B, T)
    target[..., 0], target[..., 1] = c * x - s * y, s * x + c * y
    jitter = torch.randn(feats.shape[:2] + (2,), generator=gen) * (noise / POS_SCALE)
    jitter[:, -1] = 0.0  # the reference step defines the frame: keep it exact
    feats[..., 0:2] += jitter * feats[..., 10:11]
    return feats, target


def evaluate(
    model: MotionTCN, data: Prepared, device: torch.device, batch: int = 4096
) -> dict[str, float]:
    """Validation NLL and heading-frame ADE/FDE at the last step [m]."""
    model.eval()
    nll, ade, fde, n = 0.0, 0.0, 0.0, 0
    with torch.no_grad():
        for i in range(0, len(data.feats), batch):
            x = data.feats[i : i + batch].to(device)
            y = data.target[i : i + batch].to(device)
            mean, log_std = model(x)  # (b, T, 2)
            err = torch.linalg.norm(mean - y, dim=2)  # (b, T)
            nll += float(gaussian_nll(mean, log_std, y)) * len(x)
            ade += float(err.mean(dim=1).sum())
            fde += float(err[:, -1].sum())
            n += len(x)
    return {"nll": nll / max(n, 1), "ade": ade / max(n, 1), "fde": fde / max(n, 1)}


def train(
    train_w: Windows, holdout_w: Windows, val_w: Windows, model_cfg: TCNConfig, cfg: TrainConfig
) -> tuple[MotionTCN, list[dict[str, float]]]:
    """Trains a TCN; progress on stderr.

    Args:
        train_w: training windows.
        holdout_w: windows of held-out training sequences: early stopping (best FDE epoch).
        val_w: validation windows (reported only, never used for any choice).
        model_cfg: architecture.
        cfg: optimisation settings.

    Returns:
        The selected model (eval mode, on ``cfg.device``) and one record per epoch
        (``epoch, train_loss, holdout_nll, holdout_fde, val_nll, val_ade, val_fde, seconds,
        selected``).
    """
    if len(train_w) == 0:
        raise ValueError("no training windows: check the data root and the training sequences")
    if len(holdout_w) == 0:
        raise ValueError("no held-out windows: early stopping needs held-out training sequences")
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    device = torch.device(cfg.device)
    tr, ho, va = prepare(train_w), prepare(holdout_w), prepare(val_w)
    rot = tr.feats[:, 0, 7:10] @ torch.tensor(cfg.rot_aug, dtype=torch.float32)  # (B,) by group
    model = MotionTCN(model_cfg).to(device)
    avg = (
        torch.optim.swa_utils.AveragedModel(
            model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(cfg.ema)
        )
        if cfg.ema > 0
        else None
    )
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(tr.feats) / cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg.lr, total_steps=total, pct_start=0.1
    )
    history: list[dict[str, float]] = []
    best_fde, best_state = math.inf, copy.deepcopy(model.state_dict())
    t0 = time.perf_counter()
    bar = tqdm(range(cfg.epochs), desc="train motion TCN", file=sys.stderr, unit="epoch")
    for epoch in bar:
        model.train()
        perm = torch.randperm(len(tr.feats), generator=gen)
        run, seen = 0.0, 0
        for i in range(0, len(perm), cfg.batch_size):
            idx = perm[i : i + cfg.batch_size]
            x, y = _augment(tr.feats[idx], tr.target[idx], cfg.pos_noise, rot[idx], gen)
            x, y = x.to(device), y.to(device)
            mean, log_std = model(x)  # (b, T, 2)
            disp = torch.linalg.norm(mean - y, dim=2).mean()
            loss = gaussian_nll(mean, log_std, y) + cfg.disp_weight * disp
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
            if avg is not None:
                avg.update_parameters(model)
            run += float(loss.detach()) * len(idx)
            seen += len(idx)
        net = model if avg is None else cast(MotionTCN, avg.module)  # the weights that would ship
        hold = evaluate(net, ho, device)
        val = (
            evaluate(net, va, device)
            if len(va.feats)
            else {"nll": math.nan, "ade": math.nan, "fde": math.nan}
        )
        selected = hold["fde"] < best_fde
        if selected:
            best_fde, best_state = hold["fde"], copy.deepcopy(net.state_dict())
        rec = {
            "epoch": epoch + 1,
            "train_loss": run / seen,
            "holdout_nll": hold["nll"],
            "holdout_fde": hold["fde"],
            "val_nll": val["nll"],
            "val_ade": val["ade"],
            "val_fde": val["fde"],
            "seconds": time.perf_counter() - t0,
            "selected": float(selected),
        }
        history.append(rec)
        bar.set_postfix(
            loss=f"{rec['train_loss']:.3f}",
            hold_fde=f"{hold['fde']:.3f}",
            val_fde=f"{val['fde']:.2f}",
        )
    model.load_state_dict(best_state)
    return model.eval(), history


def plot_curve(history: list[dict[str, float]], path: Path) -> None:
    """Learning curve PNG: NLL (held-out, val) and FDE at the horizon per epoch; the selected epoch dotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [h["epoch"] for h in history]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    a1.plot(ep, [h["holdout_nll"] for h in history], label="held-out train seqs")
    a1.plot(ep, [h["val_nll"] for h in history], label="val")
    a1.set_xlabel("epoch")
    a1.set_ylabel("Gaussian NLL [nats / coordinate]")
    a1.legend()
    a1.grid(alpha=0.3)
    a2.plot(ep, [h["holdout_fde"] for h in history], label="held-out FDE (selects the epoch)")
    a2.plot(ep, [h["val_ade"] for h in history], label="val ADE")
    a2.plot(ep, [h["val_fde"] for h in history], label="val FDE")
    best = min(history, key=lambda h: h["holdout_fde"])
    a2.axvline(best["epoch"], color="k", ls=":", lw=1)
    a2.set_xlabel("epoch")
    a2.set_ylabel("[m] over the full horizon")
    a2.legend()
    a2.grid(alpha=0.3)
    fig.suptitle(
        "Motion TCN on KITTI tracking GT (fit + held-out train seqs; val seqs only reported)"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_meta(
    model_cfg: TCNConfig, cfg: TrainConfig, history: list[dict[str, float]], extra: dict[str, Any]
) -> dict[str, Any]:
    """Metadata stored in the checkpoint: configs, selected epoch record and data description."""
    chosen = min(history, key=lambda h: h["holdout_fde"]) if history else {}
    return {"train_config": asdict(cfg), "selected": chosen, **extra}
