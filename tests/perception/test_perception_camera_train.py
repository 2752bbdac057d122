"""Camera CNN fine-tuning: GFL loss properties, ATSS assignment, targets, checkpoints, CLI."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from drivestack.cli.main import main
from drivestack.msgs import ObjectClass
from drivestack.perception.atss_assigner import atss_assign, cell_centres
from drivestack.perception.camera_checkpoint import (
    CameraModelConfig,
    CheckpointError,
    load_camera_model,
    load_checkpoint,
    save_checkpoint,
)
from drivestack.perception.camera_cnn import (
    COCO_BICYCLE,
    COCO_CAR,
    COCO_PERSON,
    CameraCnnConfig,
)
from drivestack.perception.camera_data import (
    ALL_CHANNELS,
    AugmentConfig,
    LabelledImage,
    Tile,
    cell_targets,
    make_tile,
)
from drivestack.perception.camera_train import batch_loss
from drivestack.perception.gfl_loss import (
    distribution_focal_loss,
    giou_loss,
    quality_focal_loss,
)
from drivestack.perception.nanodet import STRIDES, NanoDet
from drivestack.perception.weights import WeightsError, nanodet_json


def _one_hot_logits(bins: int, index: int, sharpness: float = 30.0) -> torch.Tensor:
    logits = torch.zeros(1, bins)
    logits[0, index] = sharpness
    return logits


def test_dfl_of_integer_target_is_minimised_by_one_hot_distribution() -> None:
    target = torch.tensor([3.0])
    one_hot = _one_hot_logits(11, 3).requires_grad_(True)
    loss = distribution_focal_loss(one_hot, target)
    assert float(loss.detach()) < 1e-6
    loss.backward()
    assert one_hot.grad is not None and float(one_hot.grad.abs().max()) < 1e-6
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        other = torch.randn(1, 11, generator=gen) * 3
        assert float(distribution_focal_loss(other, target)) > float(loss.detach())


def test_dfl_minimiser_puts_the_target_fraction_on_the_two_neighbour_bins() -> None:
    # t = 3.3: cross-entropy 0.7 * -log p3 + 0.3 * -log p4 is least at p3 = 0.7, p4 = 0.3,
    # whose expectation is 3.3; moving mass between or away from them costs more.
    def loss_of(p3: float, p4: float, rest: float = 1e-9) -> float:
        p = torch.full((1, 11), rest)
        p[0, 3], p[0, 4] = p3, p4
        return float(distribution_focal_loss(torch.log(p), torch.tensor([3.3])))

    best = loss_of(0.7, 0.3)
    assert best == pytest.approx(-(0.7 * math.log(0.7) + 0.3 * math.log(0.3)), abs=1e-6)
    for p3, p4 in ((0.75, 0.25), (0.65, 0.35), (1.0, 1e-9), (0.6, 0.3)):
        assert loss_of(p3, p4) > best


def test_qfl_equals_bce_times_squared_distance_to_the_soft_target() -> None:
    x = torch.linspace(-6, 6, 25)[:, None].repeat(1, 3)  # (25, 3) logits
    y = torch.tensor([0.0, 0.4, 1.0]).expand(25, 3)
    p = x.sigmoid()
    bce = -(y * torch.log(p) + (1 - y) * torch.log(1 - p))
    torch.testing.assert_close(quality_focal_loss(x, y), bce * (y - p).abs() ** 2)


def test_qfl_is_zero_at_the_target_and_grows_away_from_it() -> None:
    y = torch.tensor([0.65])
    at = torch.tensor([math.log(0.65 / 0.35)])  # sigmoid(at) == y
    assert float(quality_focal_loss(at, y)) < 1e-10
    for dx in (-2.0, -0.5, 0.5, 2.0):
        assert float(quality_focal_loss(at + dx, y)) > 1e-4


def test_giou_loss_is_zero_for_identical_boxes_and_matches_hand_value() -> None:
    a = torch.tensor([[10.0, 10.0, 20.0, 30.0], [0.0, 0.0, 2.0, 2.0]])
    b = torch.tensor([[10.0, 10.0, 20.0, 30.0], [3.0, 0.0, 5.0, 2.0]])
    loss = giou_loss(a, b)
    assert float(loss[0]) == pytest.approx(0.0, abs=1e-6)
    # Disjoint 2x2 boxes 1 px apart: IoU 0, enclosing 5x2 = 10, union 8 -> GIoU = -0.2.
    assert float(loss[1]) == pytest.approx(1.2, abs=1e-5)


def test_atss_assigns_the_cells_at_the_box_centre() -> None:
    centres, strides, counts = cell_centres(416, STRIDES)
    # A 64x64 px box centred on the stride-16 cell (10, 7) (centre 168, 120).
    box = torch.tensor([[136.0, 88.0, 200.0, 152.0]])
    assigned = atss_assign(centres, strides, counts, box)
    pos = torch.nonzero(assigned == 0).flatten()
    assert len(pos) > 0
    c = centres[pos]
    assert bool(((c > box[0, :2]) & (c < box[0, 2:])).all())
    centre_cell_16 = counts[0] + 7 * 26 + 10
    assert int(centre_cell_16) in pos.tolist()
    # the positives are the cells nearest the centre: none farther than the box half-size
    assert float((c - torch.tensor([168.0, 120.0])).norm(dim=1).max()) < 32 * math.sqrt(2)
    assert bool((atss_assign(centres, strides, counts, torch.zeros(0, 4)) == -1).all())


def test_atss_gives_a_shared_cell_to_the_box_with_higher_anchor_iou() -> None:
    centres, strides, counts = cell_centres(416, STRIDES)
    big = [100.0, 100.0, 260.0, 260.0]  # 160 px: fits stride 32 anchors (160 px)
    small = [160.0, 160.0, 200.0, 200.0]  # 40 px: fits stride 8 anchors (40 px)
    assigned = atss_assign(centres, strides, counts, torch.tensor([big, small]))
    level8 = assigned[: counts[0]]
    level32 = assigned[counts[0] + counts[1] :]
    assert (level8 == 1).any() and not (level8 == 0).any()
    assert (level32 == 0).any() and not (level32 == 1).any()


def test_cell_targets_ignore_dontcare_and_the_rider_person_channel() -> None:
    centres, _, _ = cell_centres(416, STRIDES)
    tile = Tile(
        image=np.zeros((416, 416, 3), np.uint8),
        boxes=np.array([[100, 100, 180, 220]], np.float32),
        channels=np.array([COCO_BICYCLE]),
        ignore=np.array([[100, 100, 180, 220], [300, 300, 400, 400]], np.float32),
        ignore_channels=np.array([COCO_PERSON, ALL_CHANNELS]),
    )
    assigned = torch.full((len(centres),), -1, dtype=torch.long)
    assigned[0] = 0  # pretend the first cell is a positive of the cyclist box
    labels, gt, weight = cell_targets(tile, centres, assigned, 80)
    assert int(labels[0]) == COCO_BICYCLE and bool((labels[1:] == -1).all())
    torch.testing.assert_close(gt[0], torch.tensor([100.0, 100.0, 180.0, 220.0]))
    # "inside" includes the edges (cell centres at 8 px multiples + 4 fall on them here)
    in_rider = (centres >= 100).all(dim=1) & (centres[:, 0] <= 180) & (centres[:, 1] <= 220)
    in_dc = (centres >= 300).all(dim=1) & (centres <= 400).all(dim=1)
    assert float(weight[in_rider, COCO_PERSON].max()) == 0.0
    assert float(weight[in_rider, COCO_CAR].min()) == 1.0
    assert float(weight[in_dc].max()) == 0.0
    outside = ~in_rider & ~in_dc
    assert float(weight[outside, COCO_CAR].min()) == 1.0
    assert float(weight[:, 4].max()) == 0.0  # airplane: not a trained channel


def test_make_tile_flip_mirrors_image_and_boxes() -> None:
    rng_img = np.random.default_rng(1)
    image = rng_img.integers(0, 255, (375, 1242, 3), dtype=np.uint8)
    frame = LabelledImage(
        "synthetic",
        image,
        np.array([[400, 100, 500, 200], [10, 10, 12, 12]], np.float32),
        np.array([ObjectClass.CAR, ObjectClass.PEDESTRIAN], np.int32),
    )
    window = np.array([289, 0, 664, 375], np.float32)
    plain = make_tile(frame, window, 416, AugmentConfig(flip=0.0), np.random.default_rng(5))
    flipped = make_tile(frame, window, 416, AugmentConfig(flip=1.0), np.random.default_rng(5))
    np.testing.assert_array_equal(flipped.image, plain.image[:, ::-1])
    assert plain.channels.tolist() == [COCO_CAR]
    expect = np.array(
        [416 - plain.boxes[0, 2], plain.boxes[0, 1], 416 - plain.boxes[0, 0], plain.boxes[0, 3]]
    )
    np.testing.assert_allclose(flipped.boxes[0], expect, atol=1e-4)
    assert len(plain.ignore) == 0  # the pedestrian lies outside this tile


def _tile_with_car() -> Tile:
    return Tile(
        image=np.random.default_rng(0).integers(0, 255, (128, 128, 3), dtype=np.uint8),
        boxes=np.array([[20, 30, 90, 80]], np.float32),
        channels=np.array([COCO_CAR]),
        ignore=np.zeros((0, 4), np.float32),
        ignore_channels=np.zeros(0, np.int64),
    )


def test_gradient_reaches_head_and_backbone() -> None:
    torch.manual_seed(0)
    model = NanoDet()
    losses = batch_loss(model, [_tile_with_car()], CameraModelConfig(input_size=128))
    assert (
        min(float(losses.giou.detach()), float(losses.dfl.detach()), float(losses.qfl.detach())) > 0
    )
    losses.total.backward()
    for conv in (model.head_out[0].conv, model.head_conv[1].conv, model.stem.conv):
        assert conv.weight.grad is not None and float(conv.weight.grad.abs().sum()) > 0


def test_checkpoint_round_trip_and_mismatch_errors(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = NanoDet().eval()
    cfg = CameraModelConfig()
    path = tmp_path / "cam.pt"
    save_checkpoint(path, model, cfg, {"steps": 1}, [1.0])
    loaded = load_camera_model(path)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for (c0, r0), (c1, r1) in zip(model(x), loaded(x), strict=True):
            torch.testing.assert_close(c0, c1, rtol=0, atol=0)
            torch.testing.assert_close(r0, r1, rtol=0, atol=0)
    with pytest.raises(CheckpointError, match="input_size = 416.*320"):
        load_checkpoint(path, expect=CameraModelConfig(input_size=320))
    ckpt = torch.load(path, weights_only=True)
    ckpt["state_dict"]["head_out.0.conv.bias"] = torch.zeros(3)
    torch.save(ckpt, tmp_path / "shape.pt")
    with pytest.raises(CheckpointError, match=r"head_out\.0\.conv\.bias.*\(3,\).*\(124,\)"):
        load_checkpoint(tmp_path / "shape.pt")
    torch.save({"config": {}, "state_dict": {}, "loss": []}, tmp_path / "lidar.pt")
    with pytest.raises(CheckpointError, match="lidar.pt: format None"):
        load_checkpoint(tmp_path / "lidar.pt")
    ckpt["version"] = 99
    torch.save(ckpt, tmp_path / "v99.pt")
    with pytest.raises(CheckpointError, match="version 99"):
        load_checkpoint(tmp_path / "v99.pt")
    with pytest.raises(FileNotFoundError, match="nothing.pt"):
        load_camera_model(tmp_path / "nothing.pt")


def test_cli_defaults_equal_the_training_config() -> None:
    from drivestack.perception import cli
    from drivestack.perception.camera_train import DATASET_TYPES, CameraTrainConfig

    cfg = CameraTrainConfig()
    assert (cli.CAMERA_STEPS, cli.CAMERA_BATCH, cli.CAMERA_LR) == (cfg.steps, cfg.batch, cfg.lr)
    assert cli.CAMERA_DATASET_TYPES == DATASET_TYPES


def test_cli_missing_dataset_root_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no_such_root"
    args = ["train", "camera-det", "--dataset", str(missing), "--out", str(tmp_path / "c.pt")]
    assert main(args) == 2
    assert str(missing) in capsys.readouterr().err


def test_cli_unknown_dataset_type_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["train", "camera-det", "--dataset", str(tmp_path), "--dataset-type", "waymo"]
    with pytest.raises(SystemExit) as exc:
        main([*args, "--out", str(tmp_path / "c.pt")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--dataset-type" in err and "waymo" in err


def test_cli_kitti_root_without_labels_exits_2_naming_the_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "image_2").mkdir()
    args = ["train", "camera-det", "--dataset", str(tmp_path), "--out", str(tmp_path / "c.pt")]
    assert main(args) == 2
    assert "label_2" in capsys.readouterr().err


@pytest.mark.data
def test_projected_nuscenes_boxes_equal_the_ground_truth_drive_detect_writes(
    data_root: Path, tmp_path: Path
) -> None:
    from drivestack.datasets.kitti.label_file import read_object_labels
    from drivestack.perception.camera_data import load_nuscenes
    from drivestack.perception.camera_train import nuscenes_front_labels

    root = data_root / "nuscenes"
    image = load_nuscenes(root, "scene-0916", [0], cameras="front")[0]
    assert image.name == "nuscenes/scene-0916/000000/front" and image.image.shape == (900, 1600, 3)
    nuscenes_front_labels(root, "scene-0916", [0], tmp_path)
    labels = read_object_labels(tmp_path / "000000.txt")
    assert len(labels.type) == len(image.boxes) >= 10
    np.testing.assert_allclose(image.boxes, labels.bbox, atol=0.006)
    dont_care = image.classes == int(ObjectClass.DONT_CARE)
    np.testing.assert_array_equal(dont_care, labels.type == "DontCare")
    peds = image.classes == int(ObjectClass.PEDESTRIAN)  # CAM_FRONT of key frame 0: 13 people
    assert peds.any() and bool((labels.type[peds] == "Pedestrian").all())


@pytest.fixture(scope="module")
def pretrained() -> NanoDet:
    try:
        nanodet_json()
    except WeightsError as err:
        pytest.skip(f"NanoDet weights not fetched ({err}); run `drive fetch-weights` once")
    torch.set_num_threads(min(2, torch.get_num_threads()))
    return load_camera_model(None)


@pytest.mark.data
def test_a_few_steps_on_one_real_frame_reduce_the_loss(
    data_root: Path, pretrained: NanoDet
) -> None:
    from drivestack.perception.camera_data import load_kitti, tile_windows

    frame = load_kitti(data_root / "kitti_object", ["000001"])[0]
    windows = tile_windows(*frame.image.shape[:2], CameraCnnConfig())
    aug = AugmentConfig(flip=0.0, scale_jitter=0.0)
    tiles = [make_tile(frame, w, 416, aug, np.random.default_rng(0)) for w in windows[1:3]]
    assert sum(len(t.boxes) for t in tiles) >= 2  # the car, truck and cyclist near the middle
    cfg = CameraModelConfig()
    model = NanoDet()
    model.load_state_dict(pretrained.state_dict())
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    with torch.no_grad():
        before = float(batch_loss(model, tiles, cfg).total)
    for _ in range(4):
        opt.zero_grad()
        batch_loss(model, tiles, cfg).total.backward()
        opt.step()
    with torch.no_grad():
        after = float(batch_loss(model, tiles, cfg).total)
    assert after < 0.8 * before, (before, after)


def test_camera_node_loads_a_trained_checkpoint_and_rejects_a_mismatched_one(
    tmp_path: Path,
) -> None:
    from drivestack.perception.nodes import CameraDetectorConfig, CameraDetectorNode

    torch.manual_seed(1)
    model = NanoDet()
    save_checkpoint(tmp_path / "cam.pt", model, CameraModelConfig(), {}, [])
    node = CameraDetectorNode(CameraDetectorConfig(weights=str(tmp_path / "cam.pt")))
    node.reset(0)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(node.model.state_dict()[key], value, rtol=0, atol=0)
    save_checkpoint(tmp_path / "c320.pt", model, CameraModelConfig(input_size=320), {}, [])
    node = CameraDetectorNode(CameraDetectorConfig(weights=str(tmp_path / "c320.pt")))
    with pytest.raises(CheckpointError, match="c320.pt: config input_size = 320"):
        node.reset(0)
