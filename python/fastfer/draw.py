"""``fastfer.draw``: an annotated copy of an image, showing what ``FER.analyze`` found.

Per face: its box, its 5 landmarks as dots, a tag ("happy 0.98"; "face 0.99", the detector
score, for faces from ``FER.detect``) on a filled background above the box (below it when there
is no room above), and, when the face has ``probs``, a bar chart of the 7 expressions beside the
box (right of it, else left of it, else inside it). The box, dots and tag take the colour of
the face's expression; :data:`PALETTE` (BGR):

    angry (40, 40, 220) red · disgust (40, 150, 40) green · fear (170, 60, 150) purple ·
    happy (0, 200, 255) amber · sad (210, 110, 30) blue · surprise (220, 200, 0) cyan ·
    neutral (160, 160, 160) grey; faces without a label: :data:`FACE_COLOR` white.

Sizes (line thickness, font scale, dot radius, bars) follow one unit per face, the text height:
1/13 of the geometric mean of the image's and the face's short sides, kept between a legible
7 px and 1/12 of the image's short side, so that a 64×64 thumbnail and a 4000×3000 photo both
read well. Chart rows are at most 1/20 of the image's short side; rows under 8 px show bars only.
OpenCV drawing only, anti-aliased; nothing is drawn outside the image.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from .image import load_image
from .labels import LABELS
from .result import Face

PALETTE = {
    "angry": (40, 40, 220), "disgust": (40, 150, 40), "fear": (170, 60, 150),
    "happy": (0, 200, 255), "sad": (210, 110, 30), "surprise": (220, 200, 0),
    "neutral": (160, 160, 160),
}
FACE_COLOR = (255, 255, 255)
_FONT, _AA = cv2.FONT_HERSHEY_SIMPLEX, cv2.LINE_AA
_SHORT = [name[:3] for name in LABELS]  # ang dis fea hap sad sur neu


def _clamp(v: float, lo: int, hi: int) -> int:
    return int(max(lo, min(round(v), hi)))  # lo wins when hi < lo (a tag wider than the image)


def _ink(color) -> tuple:
    """Black or white, whichever reads better on ``color``."""
    b, g, r = color
    return (0, 0, 0) if 0.114 * b + 0.587 * g + 0.299 * r > 140 else (255, 255, 255)


def draw(image, faces) -> np.ndarray:
    """Return an annotated copy (H×W×3 BGR uint8) of ``image`` (anything
    :func:`fastfer.load_image` reads; never modified) with each of ``faces`` (a sequence of
    :class:`fastfer.Face`, as ``FER.analyze`` or ``FER.detect`` return) drawn on it."""
    if isinstance(faces, (str, bytes)) or not isinstance(faces, Sequence):
        raise TypeError(f"faces must be a sequence of fastfer.Face, got {type(faces).__name__}")
    for face in faces:
        if not isinstance(face, Face):
            raise TypeError(f"faces must hold fastfer.Face objects, got {type(face).__name__}")
    img = load_image(image)
    out = img.copy() if img is image else np.ascontiguousarray(img)
    # Layers: boxes and dots, then charts, then tags, so that in a crowd no chart hides a
    # tag; the best face (first) is drawn last, on top.
    for face in faces:
        _draw_face(out, face)
    for face in reversed(faces):
        if face.probs is not None:
            _draw_chart(out, face, _unit(out, face))
    for face in reversed(faces):
        _draw_tag(out, face)
    return out


def _unit(out: np.ndarray, face: Face) -> float:
    """Text height in pixels for this face; every other size derives from it."""
    side = min(out.shape[:2])
    x1, y1, x2, y2 = face.box
    face_side = min(max(2.0, min(x2 - x1, y2 - y1)), side)
    return float(np.clip(np.sqrt(side * face_side) / 13, 7, max(7, side / 12)))


def _color(face: Face) -> tuple:
    return PALETTE[face.label] if face.label in PALETTE else FACE_COLOR


def _draw_face(out: np.ndarray, face: Face) -> None:
    h, w = out.shape[:2]
    u, color = _unit(out, face), _color(face)
    x1, y1, x2, y2 = face.box
    p1 = (_clamp(x1, 0, w - 1), _clamp(y1, 0, h - 1))
    p2 = (_clamp(x2, 0, w - 1), _clamp(y2, 0, h - 1))
    cv2.rectangle(out, p1, p2, color, max(1, round(u / 9)), _AA)
    radius = max(1, round(min(u / 7, (min(x2 - x1, y2 - y1)) / 25)))  # small faces, small dots
    for x, y in face.landmarks:
        if np.isfinite(x) and np.isfinite(y) and 0 <= x < w and 0 <= y < h:
            if radius > 1:  # a dark rim, so that the dot shows on skin of any colour
                cv2.circle(out, (int(x), int(y)), radius + max(1, radius // 2), (0, 0, 0), -1, _AA)
            cv2.circle(out, (int(x), int(y)), radius, color, -1, _AA)


def _draw_tag(out: np.ndarray, face: Face) -> None:
    h, w = out.shape[:2]
    u, color = _unit(out, face), _color(face)
    x1, y1, x2, y2 = face.box
    if face.probs is None:
        text = f"face {face.score:.2f}"
    else:
        text = f"{face.label} {float(np.max(face.probs)):.2f}"
    scale, thick, pad = u / 22, max(1, round(u / 14)), max(1, round(u / 4))
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, thick)
    tag_w, tag_h = tw + 2 * pad, th + base + pad
    if y1 - tag_h >= 0:
        ty = round(y1) - tag_h  # above the box
    elif y2 + tag_h <= h:
        ty = round(y2)  # below it
    else:
        ty = _clamp(y1, 0, h - tag_h)  # inside it
    tx = _clamp(x1, 0, w - tag_w)
    cv2.rectangle(out, (tx, ty), (tx + tag_w - 1, ty + tag_h - 1), color, -1)
    cv2.putText(out, text, (tx + pad, ty + pad + th), _FONT, scale, _ink(color), thick, _AA)


def _draw_chart(out: np.ndarray, face: Face, u: float) -> None:
    h, w = out.shape[:2]
    x1, y1, x2, _ = face.box
    row = max(3, round(min(u * 0.75, min(h, w) / 20)))  # 7 rows: at most ~1/3 of the image
    gap, pad = max(1, row // 5), max(1, round(u / 5))
    scale, thick = row * 0.7 / 22, max(1, round(row / 16))
    named = row >= 8  # below that the names would be unreadable: bars only
    name_w = max(cv2.getTextSize(s, _FONT, scale, thick)[0][0] for s in _SHORT) + pad
    name_w = name_w if named else 0
    bar_w = 5 * row
    chart_w, chart_h = pad + name_w + bar_w + pad, 2 * pad + len(LABELS) * row
    if x2 + pad + chart_w <= w:
        cx = round(x2) + pad  # right of the box
    elif x1 - pad - chart_w >= 0:
        cx = round(x1) - pad - chart_w  # left of it
    else:
        cx = _clamp(x2 - chart_w, 0, w - chart_w)  # inside it, at its right edge
    cy = _clamp(y1, 0, h - chart_h)
    cv2.rectangle(out, (cx, cy), (cx + chart_w - 1, cy + chart_h - 1), (32, 32, 32), -1)
    bx = cx + pad + name_w
    for i, (label, p) in enumerate(zip(LABELS, face.probs)):
        top, bottom = cy + pad + i * row, cy + pad + (i + 1) * row - gap - 1
        if named:
            cv2.putText(out, _SHORT[i], (cx + pad, bottom - max(0, row // 6 - 1)), _FONT, scale,
                        (230, 230, 230), thick, _AA)
        cv2.rectangle(out, (bx, top), (bx + bar_w - 1, bottom), (70, 70, 70), -1)  # the track
        length = int(round(float(p) * bar_w))
        if length > 0:
            cv2.rectangle(out, (bx, top), (bx + length - 1, bottom), PALETTE[label], -1)
