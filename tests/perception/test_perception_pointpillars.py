"""PointPillars-class network: pillar grouping, target/decode round trip, rotated NMS,
checkpoint round trip, and (slow) the overfit proof on the six shared KITTI frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from drivestack.msgs import ObjectClass
from drivestack.perception.pointpillars import (
    PointPillars,
    decode,
    pillarize,
    rotated_nms,
    targets,
)
from drivestack.perception.pointpillars_train import PRESETS, load_checkpoint, save_checkpoint

SMALL = PRESETS["small"]


def test_pillars_group_points_of_one_cell_and_respect_the_cap() -> None:
    rng = np.random.default_rng(0)
    pts = np.c_[rng.uniform([0, -10, -2], [20, 10, 0], (5000, 3)), rng.uniform(0, 1, 5000)]
    pts = np.r_[pts, np.tile([[5.1, 0.1, -1.0, 0.5]], (100, 1))]  # 100 points in one pillar
    feats, mask, cells = pillarize(torch.tensor(pts, dtype=torch.float32), SMALL)
    h, w = SMALL.grid
    assert len(torch.unique(cells)) == len(cells)
    assert int(mask.sum(dim=1).max()) == SMALL.max_points
    xy = feats[..., :2]  # (P, M, 2) raw x, y of real points
    col = ((xy[..., 0] - SMALL.x_range[0]) / SMALL.pillar).long()
    row = ((xy[..., 1] - SMALL.y_range[0]) / SMALL.pillar).long()
    assert ((row * w + col == cells[:, None]) | ~mask).all()
    # offsets to the pillar centre are within half a pillar
    assert (feats[..., 7:9].abs()[mask] <= SMALL.pillar / 2 + 1e-5).all()


def test_targets_decode_back_to_the_ground_truth_boxes() -> None:
    boxes = np.array(
        [
            [20.3, 4.1, -0.8, 4.1, 1.7, 1.5, 0.4],
            [12.7, -6.2, -0.9, 0.7, 0.6, 1.8, -2.0],
            [35.0, 10.0, -1.0, 1.8, 0.6, 1.7, 3.0],
        ],
        np.float32,
    )
    classes = np.array([ObjectClass.CAR, ObjectClass.PEDESTRIAN, ObjectClass.CYCLIST])
    h, w = SMALL.grid
    heat, reg, mask = targets(boxes, classes, SMALL, (h // 2, w // 2))
    logits = torch.logit(heat.clamp(1e-6, 1 - 1e-6))[None]
    out_boxes, scores, out_cls = decode(logits, reg[None], SMALL)[0]
    assert sorted(out_cls.tolist()) == sorted(classes.tolist())
    for box, cls in zip(boxes, classes, strict=True):
        got = out_boxes[out_cls == cls][0]
        np.testing.assert_allclose(got[:6], box[:6], atol=1e-4)
        assert abs(np.angle(np.exp(1j * (got[6] - box[6])))) < 1e-4
    assert (scores > 0.99).all()


def test_rotated_nms_suppresses_rotated_overlap_but_keeps_neighbours() -> None:
    boxes = np.array(
        [
            [0, 0, 0, 4, 2, 1.5, 0.0],
            [0.3, 0.1, 0, 4, 2, 1.5, 0.2],  # same car, slightly rotated
            [0, 2.2, 0, 4, 2, 1.5, 0.0],
        ]
    )  # the neighbour in the next lane
    keep = rotated_nms(boxes, np.array([0.9, 0.8, 0.7]), 0.1)
    assert keep.tolist() == [0, 2]


def test_cli_defaults_match_the_training_module() -> None:
    from drivestack.perception import cli
    from drivestack.perception.pointpillars_train import TrainConfig

    assert cli.TRAIN_STEPS == TrainConfig.steps
    assert cli.PRESET_NAMES == tuple(sorted(PRESETS))


def test_checkpoint_rebuilds_the_same_network(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = PointPillars(SMALL).eval()
    pts = torch.rand(3000, 4) * torch.tensor([60, 60, 3, 1]) - torch.tensor([0, 30, 2.5, 0])
    save_checkpoint(tmp_path / "m.pt", model, [1.0])
    again = load_checkpoint(tmp_path / "m.pt")
    assert again.cfg == SMALL
    with torch.no_grad():
        a, b = model([pts]), again([pts])
    torch.testing.assert_close(a, b)


@pytest.mark.slow
@pytest.mark.data
def test_overfits_the_six_kitti_frames_to_car_3d_ap_above_90(
    data_root: Path, tmp_path: Path
) -> None:
    from drivestack.perception.pointpillars_train import (
        TrainConfig,
        evaluate_dir,
        load_samples,
        train,
        write_results,
    )

    root = data_root / "kitti_object"
    samples = load_samples(root)
    torch.set_num_threads(1)  # faster than 2 on a shared 2-core machine
    model, history = train(samples, SMALL, TrainConfig(steps=400, lr=3e-3))
    assert history[-1] < 0.2 * history[0]
    write_results(model, samples, root, tmp_path / "results")
    table = evaluate_dir(root / "label_2", tmp_path / "results", [s.frame for s in samples])
    for diff in ("easy", "moderate"):
        assert table[f"Car/3d/{diff}"]["AP_dense"] >= 90, table
