"""fastfer.draw on real photos analysed by the shipped models."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import fastfer
from fastfer.draw import FACE_COLOR, PALETTE, draw

PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "photos"
pytestmark = pytest.mark.skipif(not PHOTOS.is_dir(), reason="../shared/data/photos is not beside the checkout")


@pytest.fixture(scope="module")
def fer() -> fastfer.FER:
    return fastfer.FER()


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    img = fastfer.load_image(PHOTOS / "astronaut.jpg")
    img.flags.writeable = False  # draw must never write into its input
    return img


@pytest.fixture(scope="module")
def astronaut_faces(fer, astronaut) -> list:
    faces = fer.analyze(astronaut)
    assert len(faces) == 1 and faces[0].label == "happy"
    return faces


def changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.any(a != b, axis=2)


def around(mask: np.ndarray, box, margin: int) -> np.ndarray:
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    return mask[max(0, y1 - margin):y2 + margin, max(0, x1 - margin):x2 + margin]


def left_edge_pixel(out: np.ndarray, box) -> np.ndarray:
    x1, y1, _, y2 = box
    return out[int(round((y1 + y2) / 2)), int(round(x1))].astype(int)


def test_returns_an_annotated_copy(astronaut, astronaut_faces):
    before = astronaut.copy()
    out = draw(astronaut, astronaut_faces)
    assert out.shape == astronaut.shape and out.dtype == np.uint8
    assert not np.shares_memory(out, astronaut) and out.flags.writeable
    assert np.array_equal(astronaut, before)
    diff = changed(out, astronaut)
    (face,) = astronaut_faces
    assert around(diff, face.box, 0).mean() > 0.01  # box edge and landmark dots
    assert diff.sum() == around(diff, face.box, 150).sum()  # everything drawn is near the face


def test_other_inputs_are_not_modified(astronaut, astronaut_faces):
    path = PHOTOS / "astronaut.jpg"
    data = path.read_bytes()
    bgra = cv2.cvtColor(astronaut, cv2.COLOR_BGR2BGRA)
    bgra_before = bgra.copy()
    for source in (path, str(path), data, bgra):
        out = draw(source, astronaut_faces)
        assert out.shape == astronaut.shape and out.dtype == np.uint8
        assert changed(out, fastfer.load_image(source)).any()
    assert np.array_equal(bgra, bgra_before) and path.read_bytes() == data


def test_box_has_the_expression_colour(astronaut, astronaut_faces):
    out = draw(astronaut, astronaut_faces)
    pixel = left_edge_pixel(out, astronaut_faces[0].box)
    assert np.abs(pixel - np.array(PALETTE["happy"])).max() <= 2


def test_every_face_is_annotated(fer):
    img = fastfer.load_image(PHOTOS / "two_people.jpg")
    faces = fer.analyze(img)
    assert len(faces) == 2
    out = draw(img, faces)
    diff = changed(out, img)
    for face in faces:
        assert around(diff, face.box, 0).mean() > 0.01
        assert np.abs(left_edge_pixel(out, face.box) - np.array(PALETTE[face.label])).max() <= 2


def test_no_faces_gives_an_identical_copy(astronaut):
    out = draw(astronaut, [])
    assert np.array_equal(out, astronaut) and not np.shares_memory(out, astronaut)
    assert np.array_equal(draw(astronaut, ()), astronaut)


def test_faces_from_detect_are_drawn_without_label(fer, astronaut):
    faces = fer.detect(astronaut)
    assert len(faces) == 1 and faces[0].label is None and faces[0].probs is None
    out = draw(astronaut, faces)
    assert np.abs(left_edge_pixel(out, faces[0].box) - np.array(FACE_COLOR)).max() <= 2


def test_faces_at_the_border(fer, astronaut, astronaut_faces):
    # Real faces cut by the image border: the astronaut cropped through her face, at the top
    # left and at the bottom right.
    x1, y1, x2, y2 = (int(v) for v in astronaut_faces[0].box)
    for crop in (astronaut[y1 + 20:, x1 + 20:], astronaut[:y2 - 20, :x2 - 20]):
        faces = fer.analyze(crop)
        assert len(faces) == 1, "the cut face should still be found"
        assert changed(draw(crop, faces), crop).any()
    # Boxes reaching past every corner, landmarks outside the image.
    h, w = astronaut.shape[:2]
    probs = astronaut_faces[0].probs
    marks = np.array([[-20, -20], [w + 5, 10], [10, h + 5], [w // 2, h // 2], [-1, h - 1]], np.float32)
    corners = [(-40, -30, 60, 80), (w - 50, -10, w + 40, 90), (-5, h - 70, 80, h + 30),
               (w - 90, h - 90, w + 1000, h + 1000), (-100, -100, w + 100, h + 100)]
    edge = [fastfer.Face.build(box, 0.9, marks, probs) for box in corners]
    edge.append(fastfer.Face.build((0, 0, w, h), 0.5, marks))  # label None, whole image
    out = draw(astronaut, edge)
    assert out.shape == astronaut.shape
    for box in corners[:4]:
        assert around(changed(out, astronaut), box, 0).any()


@pytest.mark.parametrize("size", [(64, 64), (4000, 3000)])
def test_any_image_size(fer, astronaut, size):
    img = cv2.resize(astronaut, size, interpolation=cv2.INTER_AREA if size[0] < 512 else cv2.INTER_LINEAR)
    faces = fer.analyze(img)
    assert len(faces) == 1
    out = draw(img, faces)
    assert out.shape == img.shape
    assert around(changed(out, img), faces[0].box, 0).any()


def test_sizes_scale_with_the_image(fer, astronaut):
    """The box line of the same face is thicker on a 4000×3000 copy than on the 512×512 one."""
    widths = []
    for size in [(512, 512), (4000, 3000)]:
        img = cv2.resize(astronaut, size)
        (face,) = fer.analyze(img)
        out = draw(img, [face])
        x1, y1, _, y2 = (int(round(v)) for v in face.box)
        row = out[(y1 + y2) // 2, max(0, x1 - 60):x1 + 60].astype(int)
        widths.append(int((np.abs(row - np.array(PALETTE["happy"])).max(axis=1) <= 2).sum()))
    assert 1 <= widths[0] < widths[1]
    assert widths[1] >= 5


def test_rejects_what_is_not_faces(astronaut, astronaut_faces):
    for bad in (astronaut_faces[0], "happy", None, 3, [astronaut_faces[0].to_dict()], [None],
                (f for f in astronaut_faces)):
        with pytest.raises(TypeError):
            draw(astronaut, bad)


def test_rejects_what_is_not_an_image(astronaut_faces):
    with pytest.raises(fastfer.ImageDecodeError):
        draw(b"not an image", astronaut_faces)


def test_annotated_image_writes_and_decodes(tmp_path, astronaut, astronaut_faces):
    out = draw(astronaut, astronaut_faces)
    path = tmp_path / "astronaut_annotated.png"
    assert cv2.imwrite(str(path), out)
    back = fastfer.load_image(path)
    assert np.array_equal(back, out)
