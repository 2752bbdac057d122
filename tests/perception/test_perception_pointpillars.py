"""PointPillars-class network: pillar grouping, target/decode round trip, rotated NMS,
checkpoint round trip, the training frames (KITTI + nuScenes, enough cars for R40), a short
training run (slow) and the overfit proof (slow, opt-in: DRIVESTACK_FULL_OVERFIT=1)."""

from __future__ import annotations

import os
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
OVERFIT_STEPS = 2000  # = README's `drive train lidar-det ... --steps 2000`


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


def _gt_as_detections_ap(samples: list, out: Path) -> dict:
    """Official R40 of the samples' own ground truth submitted as detections (score 1)."""
    from drivestack.perception.lidar_det_data import write_labels
    from drivestack.perception.pointpillars_train import evaluate_dir

    names = write_labels(samples, out / "label_2")
    (out / "results").mkdir()
    for smp in samples:
        lines = [line + " 1.0" for line in smp.labels if not line.startswith("DontCare")]
        (out / "results" / f"{smp.name}.txt").write_text("".join(x + "\n" for x in lines))
    return evaluate_dir(out / "label_2", out / "results", names)


@pytest.mark.data
def test_r40_needs_the_nuscenes_frames_to_reach_90_even_for_perfect_detections(
    data_root: Path, tmp_path: Path
) -> None:
    # R40 takes one recall sample per true positive: n objects cap it at (n - 1) / 40. The six
    # KITTI frames hold 1 (Easy) and 3 (Moderate) cars, so even their ground truth scores
    # 0.0 / 5.0; with the 20 nuScenes key frames the same rules give 100.
    from drivestack.perception.lidar_det_data import load_samples

    kitti = load_samples([data_root / "kitti_object"])
    both = kitti + load_samples([data_root / "nuscenes"])
    alone = _gt_as_detections_ap(kitti, tmp_path / "kitti")
    assert alone["Car/3d/easy"] == {"AP_R40": 0.0, "n_gt": 1}
    assert alone["Car/3d/moderate"] == {"AP_R40": 5.0, "n_gt": 3}
    mixed = _gt_as_detections_ap(both, tmp_path / "both")
    for diff in ("easy", "moderate"):
        assert mixed[f"Car/3d/{diff}"]["AP_R40"] == 100.0
        assert mixed[f"Car/3d/{diff}"]["n_gt"] >= 41


@pytest.mark.data
def test_nuscenes_training_boxes_map_back_onto_their_projected_labels(data_root: Path) -> None:
    # The network frame shifts nuScenes by the KITTI sensor height; boxes written through
    # T_label_from_net must land exactly on the ground truth drive detect writes.
    from drivestack.datasets.convention import boxes_to_kitti_camera
    from drivestack.perception.lidar_det_data import KITTI_LIDAR_HEIGHT, load_samples

    samples = load_samples([data_root / "nuscenes"])
    assert len(samples) == 20
    found, total = 0, 0
    for smp in samples:
        labelled = np.array(
            [
                [float(v) for v in line.split()[11:14]]
                for line in smp.labels
                if line.split()[0] in ("Car", "Pedestrian", "Cyclist")
            ]
        ).reshape(-1, 3)  # (L, 3) KITTI locations of the trained classes
        loc, _, _ = boxes_to_kitti_camera(smp.boxes.astype(np.float64), smp.T_label_from_net)
        for x in labelled:
            found += int(np.linalg.norm(loc - x, axis=1).min() < 0.02)
        total += len(labelled)
        # the road is near z = -KITTI_LIDAR_HEIGHT in the network frame, as in KITTI
        assert abs(np.median(smp.boxes[:, 2] - smp.boxes[:, 5] / 2) + KITTI_LIDAR_HEIGHT) < 0.4
    assert total == 281  # Car 85, Pedestrian 122, Cyclist 74 labelled in CAM_FRONT
    assert found >= 0.97 * total  # labels without a LiDAR return in the scan are not trained


@pytest.mark.data
def test_small_grid_holds_every_training_box_in_height(data_root: Path) -> None:
    # scene-0916 climbs a hill: cars 60-70 m ahead stand 2-3 m above the ego car's road.
    # KITTI's z range (-3, 1) m cut 30 of the boxes in the BEV grid (two Moderate cars of key
    # frame 18 lost every point and could not be detected); the small preset keeps them all.
    import dataclasses

    from drivestack.perception.lidar_det_data import load_samples
    from drivestack.perception.pointpillars_train import grid_coverage

    samples = load_samples([data_root / "kitti_object", data_root / "nuscenes"])
    kitti_z = dataclasses.replace(SMALL, z_range=(-3.0, 1.0))
    assert grid_coverage(samples, kitti_z) == {"in_grid": 662, "cut_by_z_range": 30}
    assert grid_coverage(samples, SMALL) == {"in_grid": 662, "cut_by_z_range": 0}


@pytest.mark.slow
@pytest.mark.data
def test_lidar_det_loss_falls_on_kitti_and_nuscenes_frames(data_root: Path) -> None:
    # The short run CI affords (1-3.5 min on 2 busy cores); the overfit proof is below.
    from drivestack.perception.pointpillars_train import TrainConfig, load_samples, train

    samples = load_samples([data_root / "kitti_object", data_root / "nuscenes"])
    torch.set_num_threads(1)  # faster than 2 on a shared 2-core machine
    _, history = train(samples, SMALL, TrainConfig(steps=100))
    # measured 17.9 -> 6.0 (0.34, means of the first/last 10); a network that does not learn stays near 1
    assert np.mean(history[-10:]) < 0.45 * np.mean(history[:10]), history


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.skipif(
    os.environ.get("DRIVESTACK_FULL_OVERFIT") != "1",
    reason="overfit proof: ~22 min on a busy 2-core CPU; set DRIVESTACK_FULL_OVERFIT=1",
)
def test_overfits_kitti_and_nuscenes_frames_to_car_3d_r40_easy_and_moderate_above_90(
    data_root: Path, tmp_path: Path
) -> None:
    from drivestack.perception.lidar_det_data import write_labels
    from drivestack.perception.pointpillars_train import (
        TrainConfig,
        evaluate_dir,
        load_samples,
        train,
        write_results,
    )

    samples = load_samples([data_root / "kitti_object", data_root / "nuscenes"])
    torch.set_num_threads(1)
    model, history = train(samples, SMALL, TrainConfig(steps=OVERFIT_STEPS))
    assert history[-1] < 0.05 * history[0]
    names = write_labels(samples, tmp_path / "label_2")
    write_results(model, samples, tmp_path / "results")
    table = evaluate_dir(tmp_path / "label_2", tmp_path / "results", names)
    # Measured (README): Easy 100.0, Moderate 99.65 (every Moderate car found, one KITTI car
    # boxed at 3D IoU 0.55); the issue asks 90 on both.
    assert table["Car/3d/easy"]["AP_R40"] >= 95, table
    assert table["Car/3d/moderate"]["AP_R40"] >= 95, table
