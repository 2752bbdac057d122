"""Tiled camera detector: tiling, seam joining, NMS, COCO mapping, bad images, KITTI boxes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from drivestack.msgs import Image, ObjectClass
from drivestack.perception.camera_cnn import (
    COCO_BICYCLE,
    COCO_CAR,
    COCO_PERSON,
    CameraCnnConfig,
    box_iou,
    detect_bgr,
    image_to_bgr,
    join_seams,
    make_tiles,
    map_classes,
    nms,
    tile_origins,
)
from drivestack.perception.nanodet import NanoDet


@pytest.mark.parametrize(("length", "tile"), [(1242, 375), (1224, 370), (1600, 900), (375, 375)])
def test_tiles_cover_the_image_with_at_least_the_minimum_overlap(length: int, tile: int) -> None:
    starts = tile_origins(length, tile, 64)
    assert starts[0] == 0 and starts[-1] + tile == max(length, tile)
    for a, b in zip(starts, starts[1:], strict=False):
        assert a + tile - b >= 64


def test_kitti_frame_is_cut_into_four_square_tiles() -> None:
    tiles, windows = make_tiles(np.zeros((375, 1242, 3), np.uint8), CameraCnnConfig())
    assert tiles.shape == (4, 416, 416, 3)
    assert (windows[:, 2] - windows[:, 0] == 375).all() and windows[-1, 2] == 1242


def test_nms_keeps_the_best_of_overlapping_boxes_only() -> None:
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], dtype=torch.float32)
    keep = nms(boxes, torch.tensor([0.5, 0.9, 0.4]), 0.5)
    assert keep.tolist() == [1, 2]


def test_box_cut_by_a_tile_seam_is_joined_with_its_other_half() -> None:
    windows = np.array([[0, 0, 375, 375], [289, 0, 664, 375]], np.float32)
    left = [250.0, 100.0, 375.0, 200.0]  # touches tile 0's right edge at x = 375 (interior)
    right = [289.0, 102.0, 400.0, 198.0]  # touches tile 1's left edge at x = 289
    boxes = torch.tensor([left, right])
    out, scores, rank = join_seams(
        boxes,
        torch.tensor([0.6, 0.7]),
        torch.tensor([2, 2]),
        torch.tensor([0, 1]),
        windows,
        (1242, 375),
        CameraCnnConfig(),
    )
    np.testing.assert_allclose(out[0].numpy(), [250, 100, 400, 200])
    np.testing.assert_allclose(out[1].numpy(), [250, 100, 400, 200])
    assert (rank < scores).all()  # cut parts rank below any complete box


def test_rider_and_bicycle_become_one_cyclist_and_lone_bicycle_is_dropped() -> None:
    boxes = torch.tensor(
        [
            [100, 50, 140, 150],
            [95, 100, 150, 160],  # person on a bicycle
            [300, 100, 360, 160],  # parked bicycle
            [500, 60, 530, 150],  # pedestrian
            [600, 100, 700, 160],
        ],
        dtype=torch.float32,
    )  # car
    labels = torch.tensor([COCO_PERSON, COCO_BICYCLE, COCO_BICYCLE, COCO_PERSON, COCO_CAR])
    scores = torch.tensor([0.9, 0.4, 0.8, 0.7, 0.6])
    out_b, out_s, out_c = map_classes(boxes, scores, labels, CameraCnnConfig())
    assert sorted(out_c.tolist()) == sorted(
        [ObjectClass.CYCLIST, ObjectClass.PEDESTRIAN, ObjectClass.CAR]
    )
    cyc = out_b[out_c == ObjectClass.CYCLIST][0]
    np.testing.assert_allclose(cyc.numpy(), [95, 50, 150, 160])
    assert float(out_s[out_c == ObjectClass.CYCLIST][0]) == pytest.approx(0.6)


@pytest.mark.parametrize(
    ("data", "encoding", "message"),
    [
        (np.zeros((10, 10, 3), np.float32), "bgr8", "dtype"),
        (np.zeros((10, 10, 2), np.uint8), "bgr8", "shape"),
        (np.zeros((10, 10, 3), np.uint8), "yuv422", "encoding"),
    ],
)
def test_unsupported_images_raise(data: np.ndarray, encoding: str, message: str) -> None:
    image = Image.__new__(Image)  # bypass the message's own check to reach the detector's
    object.__setattr__(image, "data", data)
    object.__setattr__(image, "encoding", encoding)
    object.__setattr__(image, "frame_id", "cam")
    object.__setattr__(image, "stamp_ns", 0)
    with pytest.raises(ValueError, match=message):
        image_to_bgr(image)


def test_rgb_and_mono_images_are_converted_to_bgr() -> None:
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0] = 200  # red
    out = image_to_bgr(Image(stamp_ns=0, frame_id="c", data=rgb, encoding="rgb8"))
    assert out[0, 0].tolist() == [0, 0, 200]
    mono = image_to_bgr(
        Image(stamp_ns=0, frame_id="c", data=np.full((4, 5, 1), 7, np.uint8), encoding="mono8")
    )
    assert mono.shape == (4, 5, 3) and (mono == 7).all()


def test_tiny_image_raises_rather_than_detecting_nothing() -> None:
    with pytest.raises(ValueError, match="smaller than 32 px"):
        detect_bgr(NanoDet().eval(), np.zeros((20, 600, 3), np.uint8), CameraCnnConfig())


@pytest.mark.data
def test_kitti_cars_and_pedestrians_are_found_with_tight_boxes(data_root: Path) -> None:
    import cv2

    from drivestack.perception.tfjs_import import load_nanodet
    from drivestack.perception.weights import WeightsError, nanodet_json

    try:
        model = load_nanodet(nanodet_json())
    except WeightsError as err:
        pytest.skip(f"NanoDet weights not fetched ({err}); run `drive fetch-weights` once")
    # (frame, class, label box) of fully visible objects taller than 25 px.
    wanted = [
        ("000000", ObjectClass.PEDESTRIAN, [712.4, 143.0, 810.7, 307.9]),
        ("000003", ObjectClass.CAR, [614.2, 181.8, 727.3, 284.8]),
        ("000004", ObjectClass.CAR, [280.4, 185.1, 344.9, 215.6]),
        ("000005", ObjectClass.PEDESTRIAN, [330.1, 178.7, 360.8, 238.6]),
    ]
    for frame, cls, truth in wanted:
        image = cv2.imread(str(data_root / "kitti_object/image_2" / f"{frame}.png"))
        boxes, _, classes, _ = detect_bgr(model, image, CameraCnnConfig())
        same = boxes[classes == cls]
        iou = box_iou(torch.tensor([truth]), torch.from_numpy(same)).max() if len(same) else 0
        assert float(iou) > 0.7, (frame, cls, boxes, classes)
