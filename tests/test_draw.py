"""fastfer.draw on real photos analysed by the shipped models (the shipped astronaut; the
crowded photos of ../shared where it is present)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from _paths import PHOTOS, SHARED_DATA, SHIPPED_PHOTO, needs_shared

import fastfer
from fastfer.draw import FACE_COLOR, PALETTE, draw


@pytest.fixture(scope="module")
def fer() -> fastfer.FER:
    # Every face (min_face=0): the layout tests draw small faces and crowds on purpose.
    return fastfer.FER(min_face=0)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    img = fastfer.load_image(SHIPPED_PHOTO)
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
    return mask[max(0, y1 - margin) : y2 + margin, max(0, x1 - margin) : x2 + margin]


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
    path = SHIPPED_PHOTO
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


@needs_shared(PHOTOS / "two_people.jpg")
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
    for crop in (astronaut[y1 + 20 :, x1 + 20 :], astronaut[: y2 - 20, : x2 - 20]):
        faces = fer.analyze(crop)
        assert len(faces) == 1, "the cut face should still be found"
        assert changed(draw(crop, faces), crop).any()
    # Boxes reaching past every corner, landmarks outside the image.
    h, w = astronaut.shape[:2]
    probs = astronaut_faces[0].probs
    marks = np.array([[-20, -20], [w + 5, 10], [10, h + 5], [w // 2, h // 2], [-1, h - 1]], np.float32)
    corners = [
        (-40, -30, 60, 80),
        (w - 50, -10, w + 40, 90),
        (-5, h - 70, 80, h + 30),
        (w - 90, h - 90, w + 1000, h + 1000),
        (-100, -100, w + 100, h + 100),
    ]
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
        row = out[(y1 + y2) // 2, max(0, x1 - 60) : x1 + 60].astype(int)
        widths.append(int((np.abs(row - np.array(PALETTE["happy"])).max(axis=1) <= 2).sum()))
    assert 1 <= widths[0] < widths[1]
    assert widths[1] >= 5


def test_rejects_what_is_not_faces(astronaut, astronaut_faces):
    for bad in (
        astronaut_faces[0],
        "happy",
        None,
        3,
        [astronaut_faces[0].to_dict()],
        [None],
        (f for f in astronaut_faces),
    ):
        with pytest.raises(TypeError):
            draw(astronaut, bad)


def test_rejects_boxes_that_are_not_numbers(astronaut, astronaut_faces):
    face = astronaut_faces[0]
    for box in ((np.nan, 0, 10, 10), (0, 0, np.inf, 10)):
        bad = fastfer.Face.build(box, face.score, face.landmarks, face.probs)
        with pytest.raises(ValueError, match="face 1: its box"):
            draw(astronaut, [face, bad])


def test_rejects_what_is_not_an_image(astronaut_faces):
    with pytest.raises(fastfer.ImageDecodeError):
        draw(b"not an image", astronaut_faces)


def test_annotated_image_writes_and_decodes(tmp_path, astronaut, astronaut_faces):
    out = draw(astronaut, astronaut_faces)
    path = tmp_path / "astronaut_annotated.png"
    assert cv2.imwrite(str(path), out)
    back = fastfer.load_image(path)
    assert np.array_equal(back, out)


# --- layout: labels and charts stay readable in a crowd ---------------------------------------

# The 182-face stand of issue 12, where the old layout covered every face with charts.
CROWD = SHARED_DATA / "detection" / "wider_val_dev" / "images" / "7--Cheering" / "7_Cheering_Cheering_7_171.jpg"


def overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def assert_readable(layout, faces, shape):
    h, w = shape[:2]
    rects = [item.rect for item in layout]
    for i, item in enumerate(layout):
        x1, y1, x2, y2 = item.rect
        assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h, f"{item} leaves the image"
        for other in rects[i + 1 :]:
            assert not overlaps(item.rect, other), f"{item.rect} overlaps {other}"
        for j, face in enumerate(faces):
            box = tuple(np.clip(np.round(face.box), 0, [w, h, w, h]))
            if j == item.face:
                # Outside its own box, except a tag inside it at the chin, the last resort.
                assert not overlaps(item.rect, box) or (item.kind == "tag" and item.rect[3] == box[3])
            else:
                assert not overlaps(item.rect, box), f"{item} covers face {j}"


@pytest.mark.parametrize(
    "photo",
    [
        pytest.param(path, marks=needs_shared(path), id=name)
        for name, path in [
            ("stage", PHOTOS / "stage_group.jpg"),
            ("collage", PHOTOS / "bald_guys_collage.jpg"),
            ("wider-stand", CROWD),
        ]
    ],
)
def test_labels_and_charts_never_cover_a_face_or_each_other(fer, photo):
    img = fastfer.load_image(photo)
    faces = fer.analyze(img)
    assert len(faces) >= 10, "a crowded photo"
    out, layout = draw(img, faces, return_layout=True)
    assert_readable(layout, faces, img.shape)
    tags = [item for item in layout if item.kind == "tag"]
    assert len({item.face for item in tags}) == len(tags), "one tag per face at most"
    assert len(tags) >= 0.8 * len(faces), "most faces keep their tag"
    for item in layout:  # what is drawn is where the layout says
        x1, y1, x2, y2 = item.rect
        assert changed(out[y1:y2, x1:x2], img[y1:y2, x1:x2]).mean() > 0.5


def test_charts_are_left_out_for_small_faces_and_scale_with_big_ones(fer, astronaut):
    small = cv2.resize(astronaut, (128, 128), interpolation=cv2.INTER_AREA)
    small_faces = fer.analyze(small)
    assert len(small_faces) == 1 and min(np.subtract(small_faces[0].box[2:], small_faces[0].box[:2])) < 48
    _, layout = draw(small, small_faces, return_layout=True)
    assert [item.kind for item in layout] == ["tag"]
    heights = []
    for size in (512, 1024):
        img = cv2.resize(astronaut, (size, size))
        faces = fer.analyze(img)
        _, layout = draw(img, faces, return_layout=True)
        (chart,) = [item.rect for item in layout if item.kind == "chart"]
        heights.append(chart[3] - chart[1])
    assert heights[1] > 1.5 * heights[0]


@needs_shared(PHOTOS / "obama_portrait.jpg")
def test_a_face_filling_the_image_gets_its_tag_inside_at_the_chin(fer):
    img = fastfer.load_image(PHOTOS / "obama_portrait.jpg")
    close = img[60:480, 330:660]
    faces = fer.analyze(close)
    out, layout = draw(close, faces, return_layout=True)
    assert_readable(layout, faces, close.shape)
    assert [item.kind for item in layout] == ["tag"], "no room for a chart outside the face"


def test_options_leave_out_bars_landmarks_and_small_faces(fer, astronaut, astronaut_faces):
    full, layout = draw(astronaut, astronaut_faces, return_layout=True)
    assert sorted(item.kind for item in layout) == ["chart", "tag"]
    plain, layout = draw(astronaut, astronaut_faces, bars=False, return_layout=True)
    assert [item.kind for item in layout] == ["tag"]
    (chart,) = [item.rect for item in draw(astronaut, astronaut_faces, return_layout=True)[1] if item.kind == "chart"]
    x1, y1, x2, y2 = chart
    assert not changed(plain[y1:y2, x1:x2], astronaut[y1:y2, x1:x2]).any()
    dots = draw(astronaut, astronaut_faces, landmarks=True)
    no_dots = draw(astronaut, astronaut_faces, landmarks=False)
    lx, ly = (int(v) for v in astronaut_faces[0].landmarks[2])  # the nose
    assert changed(dots, no_dots)[ly - 2 : ly + 3, lx - 2 : lx + 3].any()
    boxed, layout = draw(astronaut, astronaut_faces, min_face=10_000, return_layout=True)
    assert layout == [] and changed(boxed, astronaut).any(), "the box alone"
    for bad in ({"bars": 1}, {"landmarks": "no"}, {"track_ids": None}):
        with pytest.raises(TypeError):
            draw(astronaut, astronaut_faces, **bad)
    with pytest.raises(ValueError):
        draw(astronaut, astronaut_faces, min_face=-1)


def test_tracked_faces_show_their_id(fer, astronaut):
    (frame,) = list(fer.stream([astronaut]))
    _, layout = draw(frame.image, frame.faces, return_layout=True)
    (tag,) = [item for item in layout if item.kind == "tag"]
    assert tag.text.startswith("#1 happy")
    _, layout = draw(frame.image, frame.faces, track_ids=False, return_layout=True)
    assert [item.text for item in layout if item.kind == "tag"][0].startswith("happy")
