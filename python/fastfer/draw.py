"""``fastfer.draw``: an annotated copy of an image, showing what ``FER.analyze`` (or
``FER.stream``) found, readable from one close face to a crowd.

Per face: its box, its 5 landmarks as dots, a tag ("happy 0.98"; "#3 happy 0.98" for a tracked
video face; "face 0.99", the detector score, for faces from ``FER.detect``) and, when the face
has ``probs`` and is big enough to read one, a bar chart of the 7 expressions. The box, dots and
tag take the colour of the face's expression; :data:`PALETTE` (BGR):

    angry (40, 40, 220) red · disgust (40, 150, 40) green · fear (170, 60, 150) purple ·
    happy (0, 200, 255) amber · sad (210, 110, 30) blue · surprise (220, 200, 0) cyan ·
    neutral (160, 160, 160) grey; faces without a label: :data:`FACE_COLOR` white.

Layout: tags and charts never cover a face (their own included) or each other, and stay inside
the image. Each is tried at places around its face (a tag above the box, below it, then beside
it; a chart right of the box, left of it, then below or above), then smaller or shorter (the
score left out, then the label cut to 3 letters); when none fits, the chart is left out, and the
tag goes inside its own box at the chin as a last resort, or is left out too (the box's colour
still says the expression). Bigger faces are placed first, tags before charts. ``draw(...,
return_layout=True)`` also returns the rectangles placed.

Sizes follow one unit per face, the text height: 1/13 of the geometric mean of the image's and
the face's short sides, kept between a legible 7 px and 1/12 of the image's short side. Chart
rows are about 0.9 unit, at most 1/6 of the face and 1/20 of the image's short side; faces under
:data:`CHART_MIN_FACE` px get no chart. OpenCV drawing only, anti-aliased; nothing is drawn
outside the image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from ._args import number_in
from .core.result import Face
from .io.image import load_image
from .labels import LABELS

PALETTE = {
    "angry": (40, 40, 220),
    "disgust": (40, 150, 40),
    "fear": (170, 60, 150),
    "happy": (0, 200, 255),
    "sad": (210, 110, 30),
    "surprise": (220, 200, 0),
    "neutral": (160, 160, 160),
}
FACE_COLOR = (255, 255, 255)
#: Faces whose box's short side is under this many pixels get no bar chart (unreadable).
CHART_MIN_FACE = 48
_FONT, _AA = cv2.FONT_HERSHEY_SIMPLEX, cv2.LINE_AA
_SHORT = [name[:3] for name in LABELS]  # ang dis fea hap sad sur neu


@dataclass(frozen=True)
class Placed:
    """Where a tag or chart was drawn: ``face`` (its index in ``faces``), ``kind`` ("tag" or
    "chart"), ``rect`` (x1, y1, x2, y2: pixel columns x1..x2-1, rows y1..y2-1) and, for a tag,
    its ``text`` and text height ``unit``."""

    face: int
    kind: str
    rect: tuple
    text: str = ""
    unit: float = 0.0


def _clamp(v: float, lo: int, hi: int) -> int:
    return int(max(lo, min(round(v), hi)))  # lo wins when hi < lo


def _ink(color) -> tuple:
    """Black or white, whichever reads better on ``color``."""
    b, g, r = color
    return (0, 0, 0) if 0.114 * b + 0.587 * g + 0.299 * r > 140 else (255, 255, 255)


def _check_faces(faces) -> None:
    if isinstance(faces, (str, bytes)) or not isinstance(faces, Sequence):
        raise TypeError(f"faces must be a sequence of fastfer.Face, got {type(faces).__name__}")
    for i, face in enumerate(faces):
        if not isinstance(face, Face):
            raise TypeError(f"faces must hold fastfer.Face objects, got {type(face).__name__}")
        if len(face.box) != 4 or not np.isfinite(np.asarray(face.box, float)).all():
            raise ValueError(f"face {i}: its box must be 4 finite numbers, got {face.box}")


def draw(
    image,
    faces,
    *,
    bars: bool = True,
    landmarks: bool = True,
    min_face: float = 0,
    track_ids: bool = True,
    return_layout: bool = False,
):
    """Return an annotated copy (H×W×3 BGR uint8) of ``image`` (anything
    :func:`fastfer.load_image` reads; never modified) with each of ``faces`` (a sequence of
    :class:`fastfer.Face`, as ``FER.analyze``, ``FER.detect`` or ``FER.stream`` give) drawn on it.

    Options: ``bars``: the expression bar charts (where there is room); ``landmarks``: the 5
    dots; ``min_face``: faces whose box's short side is under this many pixels are drawn as
    their box alone; ``track_ids``: "#id" in the tags of tracked faces. ``return_layout=True``
    returns ``(image, [Placed, ...])``: every tag and chart drawn and its rectangle.
    """
    _check_faces(faces)
    for name, flag in (
        ("bars", bars),
        ("landmarks", landmarks),
        ("track_ids", track_ids),
        ("return_layout", return_layout),
    ):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False, got {flag!r}")
    min_face = number_in(min_face, "min_face", 0, note=" (pixels)")
    img = load_image(image)
    out = img.copy() if img is image else np.ascontiguousarray(img)
    placed = layout(out.shape, faces, bars=bars, min_face=min_face, track_ids=track_ids)
    shown = [_side(face) >= min_face for face in faces]
    for face, show in zip(faces, shown):
        _draw_box(out, face, landmarks and show)
    for item in placed:
        if item.kind == "chart":
            _draw_chart(out, faces[item.face], item.rect)
    for item in placed:
        if item.kind == "tag":
            _draw_tag(out, faces[item.face], item)
    return (out, placed) if return_layout else out


def _side(face: Face) -> float:
    x1, y1, x2, y2 = face.box
    return max(0.0, min(x2 - x1, y2 - y1))


def _unit(shape, face: Face) -> float:
    """Text height in pixels for this face; every other size derives from it."""
    side = min(shape[:2])
    face_side = min(max(2.0, _side(face)), side)
    return float(np.clip(np.sqrt(side * face_side) / 13, 7, max(7, side / 12)))


def _color(face: Face) -> tuple:
    return PALETTE[face.label] if face.label in PALETTE else FACE_COLOR


def _tag_text(face: Face, track_ids: bool) -> list:
    """The tag's texts, longest first: each shorter one is tried when the longer does not fit."""
    track = getattr(face, "track_id", None)
    prefix = f"#{track} " if track_ids and track is not None else ""
    if face.probs is None or face.label is None:
        return [f"{prefix}face {face.score:.2f}", f"{prefix}face".strip()]
    return [
        f"{prefix}{face.label} {float(np.max(face.probs)):.2f}",
        f"{prefix}{face.label}",
        f"{prefix}{face.label[:3]}",
    ]


def _tag_metrics(u: float) -> tuple:
    return u / 22, max(1, round(u / 14)), max(1, round(u / 4))  # font scale, thickness, padding


def _tag_size(text: str, u: float) -> tuple:
    scale, thick, pad = _tag_metrics(u)
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, thick)
    return tw + 2 * pad, th + base + pad


def _chart_geometry(shape, face: Face, u: float) -> Optional[tuple]:
    """(row, pad, name_w) of the face's chart, or None when the face is too small for one."""
    side = _side(face)
    if side < CHART_MIN_FACE:
        return None
    row = int(round(min(u * 0.9, side / 6, min(shape[:2]) / 20)))
    if row < 5:
        return None
    pad = max(1, round(row / 4))
    named = row >= 8  # below that the names would be unreadable: bars only
    scale, thick = row * 0.7 / 22, max(1, round(row / 16))
    name_w = max(cv2.getTextSize(s, _FONT, scale, thick)[0][0] for s in _SHORT) + pad if named else 0
    return row, pad, name_w


def _chart_size(row: int, pad: int, name_w: int) -> tuple:
    return pad + name_w + 5 * row + pad, 2 * pad + len(LABELS) * row


class _Free:
    """Rectangles that may not be covered: the face boxes and what was placed so far."""

    def __init__(self, shape, boxes: np.ndarray):
        self.h, self.w = shape[:2]
        self.boxes = boxes
        self.placed = np.zeros((0, 4))

    def fits(self, rect, own: int, inside_own: bool = False) -> bool:
        x1, y1, x2, y2 = rect
        if x1 < 0 or y1 < 0 or x2 > self.w or y2 > self.h:
            return False
        r = np.array(rect, float)
        boxes = self.boxes if not inside_own else np.delete(self.boxes, own, axis=0)
        for others in (boxes, self.placed):
            if (
                len(others)
                and (
                    (others[:, 0] < r[2]) & (others[:, 2] > r[0]) & (others[:, 1] < r[3]) & (others[:, 3] > r[1])
                ).any()
            ):
                return False
        return True

    def take(self, rect) -> None:
        self.placed = np.vstack([self.placed, np.array(rect, float)[None]])


def _around(box, size: tuple, margin: int, sides: str) -> list:
    """Candidate (x1, y1) corners of a ``size`` rectangle touching ``box`` outside it, in the
    order of ``sides`` (a: above, b: below, r: right, l: left)."""
    x1, y1, x2, y2 = box
    w, h = size
    out = []
    for side in sides:
        if side in "ab":
            y = y1 - margin - h if side == "a" else y2 + margin
            out += [(x1, y), (x2 - w, y), ((x1 + x2 - w) / 2, y)]
        else:
            x = x2 + margin if side == "r" else x1 - margin - w
            out += [(x, y1), (x, (y1 + y2 - h) / 2), (x, y2 - h)]
    return out


def layout(shape, faces, *, bars: bool = True, min_face: float = 0, track_ids: bool = True) -> list:
    """Where :func:`draw` puts each tag and chart on an image of ``shape``: a list of
    :class:`Placed`, none overlapping another or any face box (a tag inside its own box is the
    one exception, the last resort), all inside the image."""
    _check_faces(faces)
    h, w = shape[:2]
    boxes = np.array([f.box for f in faces], float).reshape(-1, 4)
    boxes = np.round(np.clip(boxes, 0, [w, h, w, h]))
    free = _Free(shape, boxes)
    order = sorted(
        (i for i, f in enumerate(faces) if _side(f) >= min_face and _side(f) > 0), key=lambda i: (-_side(faces[i]), i)
    )
    placed = []
    for i in order:  # tags first: they say the most
        tag = _place_tag(free, i, faces[i], boxes[i], shape, track_ids)
        if tag is not None:
            free.take(tag.rect)
            placed.append(tag)
    for i in order if bars else ():
        if faces[i].probs is None:
            continue
        rect = _place_chart(free, i, faces[i], boxes[i], shape)
        if rect is not None:
            free.take(rect)
            placed.append(Placed(i, "chart", rect))
    return placed


def _place_tag(free: _Free, i: int, face: Face, box, shape, track_ids: bool):
    u = _unit(shape, face)
    for text in _tag_text(face, track_ids):
        for size_u in (u, max(7.0, u * 0.75)):
            size = _tag_size(text, size_u)
            for x, y in _around(box, size, 0, "abrl"):
                rect = (int(round(x)), int(round(y)), int(round(x)) + size[0], int(round(y)) + size[1])
                if free.fits(rect, i):
                    return Placed(i, "tag", rect, text, size_u)
    # Last resort: inside the box, at the chin, with the shortest text.
    text, size_u = _tag_text(face, track_ids)[-1], max(7.0, u * 0.75)
    size = _tag_size(text, size_u)
    x1, _, x2, y2 = box
    rect = (int(round(x1)), int(round(y2)) - size[1], int(round(x1)) + size[0], int(round(y2)))
    if rect[2] <= x2 and free.fits(rect, i, inside_own=True):
        return Placed(i, "tag", rect, text, size_u)
    return None


def _place_chart(free: _Free, i: int, face: Face, box, shape):
    geometry = _chart_geometry(shape, face, _unit(shape, face))
    if geometry is None:
        return None
    size = _chart_size(*geometry)
    for x, y in _around(box, size, geometry[1], "rlba"):
        rect = (int(round(x)), int(round(y)), int(round(x)) + size[0], int(round(y)) + size[1])
        if free.fits(rect, i):
            return rect
    return None


def _draw_box(out: np.ndarray, face: Face, dots: bool) -> None:
    h, w = out.shape[:2]
    u, color = _unit(out.shape, face), _color(face)
    x1, y1, x2, y2 = face.box
    p1 = (_clamp(x1, 0, w - 1), _clamp(y1, 0, h - 1))
    p2 = (_clamp(x2, 0, w - 1), _clamp(y2, 0, h - 1))
    cv2.rectangle(out, p1, p2, color, max(1, round(u / 9)), _AA)
    if not dots:
        return
    radius = max(1, round(min(u / 7, (min(x2 - x1, y2 - y1)) / 25)))  # small faces, small dots
    for x, y in face.landmarks:
        if np.isfinite(x) and np.isfinite(y) and 0 <= x < w and 0 <= y < h:
            if radius > 1:  # a dark rim, so that the dot shows on skin of any colour
                cv2.circle(out, (int(x), int(y)), radius + max(1, radius // 2), (0, 0, 0), -1, _AA)
            cv2.circle(out, (int(x), int(y)), radius, color, -1, _AA)


def _draw_tag(out: np.ndarray, face: Face, tag: Placed) -> None:
    x1, y1, x2, y2 = tag.rect
    scale, thick, pad = _tag_metrics(tag.unit)
    (_, th), _ = cv2.getTextSize(tag.text, _FONT, scale, thick)
    color = _color(face)
    cv2.rectangle(out, (x1, y1), (x2 - 1, y2 - 1), color, -1)
    cv2.putText(out, tag.text, (x1 + pad, y1 + pad + th), _FONT, scale, _ink(color), thick, _AA)


def _draw_chart(out: np.ndarray, face: Face, rect: tuple) -> None:
    geometry = _chart_geometry(out.shape, face, _unit(out.shape, face))
    assert geometry is not None and face.probs is not None  # _place_chart placed it
    row, pad, name_w = geometry
    cx, cy, cx2, cy2 = rect
    cv2.rectangle(out, (cx, cy), (cx2 - 1, cy2 - 1), (32, 32, 32), -1)
    gap = max(1, row // 5)
    scale, thick = row * 0.7 / 22, max(1, round(row / 16))
    bx, bar_w = cx + pad + name_w, 5 * row
    for i, (label, p) in enumerate(zip(LABELS, face.probs)):
        top, bottom = cy + pad + i * row, cy + pad + (i + 1) * row - gap - 1
        if name_w:
            cv2.putText(
                out, _SHORT[i], (cx + pad, bottom - max(0, row // 6 - 1)), _FONT, scale, (230, 230, 230), thick, _AA
            )
        cv2.rectangle(out, (bx, top), (bx + bar_w - 1, bottom), (70, 70, 70), -1)  # the track
        length = int(round(float(p) * bar_w))
        if length > 0:
            cv2.rectangle(out, (bx, top), (bx + length - 1, bottom), PALETTE[label], -1)
