"""The official WIDER FACE evaluation protocol (easy / medium / hard AP), in numpy.

Same numbers as the official ``widerface_evaluate`` (the Python port of the MATLAB eval):

* Ground truth: ``wider_face_val.mat`` lists per event the files and their ``face_bbx_list``
  boxes (x, y, w, h); ``wider_{easy,medium,hard}_val.mat`` list per image the 1-based indices
  (``gt_list``) of the boxes that count in that setting. Every other box is an *ignore* box.
  Only the images being evaluated contribute, and the face count of a setting is the number of
  counted boxes over those images.
* Scores of all detections of all evaluated images are normalised together as
  ``(s - lo) / (hi - lo)`` with ``lo = min(1, min s)`` and ``hi = max(0, max s)`` (the official
  code starts its running min at 1 and max at 0). If every score is equal, all become 1.
* Per image, detections are sorted by score, descending (the official code assumes its input
  files are; the order among equal scores cannot change any count). Boxes become x1, y1, x2, y2
  (``x2 = x + w`` for x, y, w, h input) and IoU uses inclusive pixels: width ``x2 - x1 + 1``.
  Each detection, in rank order, takes the GT box of highest IoU (first one on ties). If that
  IoU >= 0.5: an ignore box makes the detection *ignored* (it is not a proposal); a counted box
  not yet recalled becomes recalled (a true positive); a counted box already recalled leaves the
  detection a false positive. Images without GT boxes or without detections add nothing.
* At 1000 thresholds ``t = 1 - (i + 1) / 1000`` (i = 0..999) each image gives: proposals =
  non-ignored detections up to the last rank whose score >= t, and TP = recalled boxes at that
  rank (both 0 when no score reaches t). These are summed over images; precision = TP /
  proposals (NaN where there is no proposal, as in the official code), recall = TP / faces.
* AP is the VOC area: sentinels (recall 0, precision 0) in front and (1, 0) behind, precision made
  non-increasing from the right, sum of recall steps times precision after the step (NaN
  precisions count as 0; they only occur at recall 0, where they never enter the sum).

``min_face=N`` (not part of the official protocol, 0 = off) scores a detector for a face library
that does not look for faces under N pixels (``FER(min_face=N)``): counted ground-truth boxes
whose long side ``max(w, h)`` is under N become ignore boxes, exactly as the official ignore
boxes are treated (a detection matching one is not a proposal), and leave the face counts.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping

import cv2
import numpy as np

from .._args import int_in
from .._progress import show_progress
from ..errors import ImageDecodeError
from ..io.png import write_png

SETTINGS = ("easy", "medium", "hard")
GT_FILES = ("wider_face_val.mat",) + tuple(f"wider_{s}_val.mat" for s in SETTINGS)
THRESHOLDS = 1.0 - (np.arange(1000) + 1) / 1000  # same float ops as the official loop


def load_ground_truth(gt_dir) -> dict[str, dict[str, np.ndarray]]:
    """``{"<event>/<file>.jpg": {"boxes": (N, 4) float x,y,w,h, "easy"|"medium"|"hard": 0-based
    int indices of the counted boxes}}`` for the whole validation set."""
    gt_dir = Path(gt_dir)
    if not gt_dir.is_dir():
        raise FileNotFoundError(f"WIDER FACE ground-truth folder not found: {gt_dir}")
    missing = [name for name in GT_FILES if not (gt_dir / name).is_file()]
    if missing:
        raise FileNotFoundError(f"missing in {gt_dir}: {', '.join(missing)}")
    try:
        from scipy.io import loadmat
    except ImportError as exc:  # optional dependency
        raise ImportError("reading the WIDER FACE .mat files needs scipy (pip install scipy)") from exc
    face = loadmat(str(gt_dir / GT_FILES[0]))
    lists = {s: loadmat(str(gt_dir / f"wider_{s}_val.mat"))["gt_list"] for s in SETTINGS}
    truth: dict[str, dict[str, np.ndarray]] = {}
    for e, event in enumerate(face["event_list"][:, 0]):
        files, boxes = face["file_list"][e, 0][:, 0], face["face_bbx_list"][e, 0][:, 0]
        for j, name in enumerate(files):
            entry = {"boxes": np.asarray(boxes[j], dtype=np.float64).reshape(-1, 4)}
            for s in SETTINGS:
                idx = np.asarray(lists[s][e, 0][j, 0], dtype=np.int64).ravel() - 1
                if idx.size and (idx.min() < 0 or idx.max() >= len(entry["boxes"])):
                    raise ValueError(f"wider_{s}_val.mat: box index out of range for {name[0]}")
                entry[s] = idx
            truth[f"{event[0]}/{name[0]}.jpg"] = entry
    return truth


def iter_images(data_dir) -> Iterator[tuple[str, Path]]:
    """(``"<event>/<file>.jpg"``, absolute path) for every image under ``data_dir/images``, sorted."""
    root = Path(data_dir) / "images"
    if not root.is_dir():
        raise FileNotFoundError(f"WIDER FACE images folder not found: {root}")
    for path in sorted(root.glob("*/*.jpg")):
        yield f"{path.parent.name}/{path.name}", path.resolve()


def check_detections(name: str, boxes, scores) -> tuple[np.ndarray, np.ndarray]:
    """Validate one image's detections; float64 ``(N, 4)`` boxes and ``(N,)`` scores."""
    boxes, scores = np.asarray(boxes, dtype=np.float64), np.asarray(scores, dtype=np.float64)
    if boxes.size == 0 and scores.size == 0:
        return np.zeros((0, 4)), np.zeros(0)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or scores.shape != (len(boxes),):
        raise ValueError(f"{name}: detections need boxes (N, 4) and scores (N,), got {boxes.shape} and {scores.shape}")
    if not (np.isfinite(boxes).all() and np.isfinite(scores).all()):
        raise ValueError(f"{name}: detections contain NaN or infinity")
    return boxes, scores


def inclusive_iou(boxes: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(P, G) IoU of x1,y1,x2,y2 boxes counting pixels inclusively (+1), as the official code."""
    b, g = boxes[:, None, :], gt[None, :, :]
    iw = np.minimum(b[..., 2], g[..., 2]) - np.maximum(b[..., 0], g[..., 0]) + 1
    ih = np.minimum(b[..., 3], g[..., 3]) - np.maximum(b[..., 1], g[..., 1]) + 1
    inter = np.where((iw > 0) & (ih > 0), iw * ih, 0.0)
    area_b = (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1)
    area_g = (gt[:, 2] - gt[:, 0] + 1) * (gt[:, 3] - gt[:, 1] + 1)
    union = area_b[:, None] + area_g[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=inter > 0)


def match_image(iou: np.ndarray, counted: np.ndarray, iou_threshold: float = 0.5):
    """Greedy matching of rank-ordered detections. ``iou`` (P, G); ``counted`` (G,) bool.
    Returns per rank the cumulative (recalled GT count, non-ignored proposal count)."""
    if iou.shape[1] == 0:
        return np.zeros(len(iou), np.int64), np.arange(1, len(iou) + 1)
    best = iou.argmax(axis=1)
    hit = iou[np.arange(len(iou)), best] >= iou_threshold
    ignored = hit & ~counted[best]
    candidates = np.flatnonzero(hit & counted[best])
    first = candidates[np.unique(best[candidates], return_index=True)[1]]
    new_tp = np.zeros(len(iou), np.int64)
    new_tp[first] = 1
    return np.cumsum(new_tp), np.cumsum(~ignored)


def voc_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """VOC area under the PR curve (NaN precision counts as 0)."""
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([0.0], np.nan_to_num(precision, nan=0.0), [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    step = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[step + 1] - mrec[step]) * mpre[step + 1]))


def _evaluated_images(predictions: Mapping, ground_truth: Mapping, images, box_format: str) -> list:
    """evaluate's arguments checked; the names of the images it scores, in order."""
    if box_format not in ("xyxy", "xywh"):
        raise ValueError(f"box_format must be 'xyxy' or 'xywh', got {box_format!r}")
    names = list(predictions) if images is None else list(dict.fromkeys(images))
    unknown = [n for n in names if n not in ground_truth]
    if unknown:
        raise ValueError(f"images not in the WIDER FACE ground truth: {unknown[:5]}")
    extra = set(predictions) - set(names)
    if extra:
        raise ValueError(f"predictions for images outside `images`: {sorted(extra)[:5]}")
    return names


def evaluate(
    predictions: Mapping[str, tuple],
    ground_truth: Mapping[str, dict],
    *,
    images: Iterable[str] | None = None,
    box_format: str = "xyxy",
    iou_threshold: float = 0.5,
    min_face: int = 0,
) -> dict:
    """Score ``predictions`` (``{"<event>/<file>.jpg": (boxes (N, 4), scores (N,))}``) against
    :func:`load_ground_truth` output. ``images`` are the images evaluated (default: the keys of
    ``predictions``); one without an entry has no detections. ``box_format``: "xyxy" or "xywh".
    ``min_face``: counted faces whose long side is under this many pixels become ignore boxes
    (0 = the official protocol).

    Returns ``{"ap", "precision", "recall", "num_faces"}`` (each a dict per setting; curves are
    arrays over :data:`THRESHOLDS`) plus ``"num_images"``, ``"num_detections"``, ``"thresholds"``.
    """
    # A Python int from here on: the result (its "min_face" too) goes to JSON as it is.
    min_face = int_in(min_face, "min_face", 0, note=" (0 = the official protocol)")
    names = _evaluated_images(predictions, ground_truth, images, box_format)
    dets = {n: check_detections(n, *predictions.get(n, ((), ()))) for n in names}
    every = np.concatenate([s for _, s in dets.values()] + [np.zeros(0)])
    lo, hi = every.min(initial=1.0), every.max(initial=0.0)  # official start values: min 1, max 0
    tp = {s: np.zeros(len(THRESHOLDS), np.int64) for s in SETTINGS}
    proposals = {s: np.zeros(len(THRESHOLDS), np.int64) for s in SETTINGS}
    faces = {s: 0 for s in SETTINGS}
    for name in names:
        truth, (boxes, scores) = _with_min_face(ground_truth[name], min_face), dets[name]
        for s in SETTINGS:
            faces[s] += len(truth[s])
        if len(truth["boxes"]) == 0 or len(boxes) == 0:
            continue
        _count_image(truth, boxes, scores, (lo, hi), box_format, iou_threshold, tp, proposals)
    ap, precision, recall = _pr_curves(tp, proposals, faces)
    return {
        "ap": ap,
        "precision": precision,
        "recall": recall,
        "num_faces": faces,
        "num_images": len(names),
        "num_detections": int(every.size),
        "thresholds": THRESHOLDS.copy(),
        "min_face": min_face,
    }


def _with_min_face(truth: dict, min_face: int) -> dict:
    """``truth`` with its faces under ``min_face`` pixels (long side) made ignore boxes, like the
    official ones (0: unchanged)."""
    if not min_face:
        return truth
    small = np.maximum(truth["boxes"][:, 2], truth["boxes"][:, 3]) < min_face
    return {**truth, **{s: truth[s][~small[truth[s]]] for s in SETTINGS}}


def _count_image(
    truth: dict, boxes, scores, span: tuple, box_format: str, iou_threshold: float, tp: dict, proposals: dict
) -> None:
    """Add one image's true positives and proposals at every threshold, per setting, to ``tp`` and
    ``proposals``. ``span``: the lowest and highest score over the whole set, which the scores are
    normalised by (as the official code does). The image has faces and detections."""
    lo, hi = span
    order = np.argsort(-scores, kind="stable")
    boxes, scores = boxes[order], scores[order]
    scores = (scores - lo) / (hi - lo) if hi > lo else np.ones_like(scores)
    if box_format == "xywh":
        boxes = np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)
    gt = truth["boxes"]
    iou = inclusive_iou(boxes, np.concatenate([gt[:, :2], gt[:, :2] + gt[:, 2:]], axis=1))
    ranks = np.searchsorted(-scores, -THRESHOLDS, side="right")  # detections with score >= t
    for s in SETTINGS:
        counted = np.zeros(len(gt), bool)
        counted[truth[s]] = True
        tp_rank, prop_rank = match_image(iou, counted, iou_threshold)
        tp[s] += np.concatenate(([0], tp_rank))[ranks]
        proposals[s] += np.concatenate(([0], prop_rank))[ranks]


def _pr_curves(tp: dict, proposals: dict, faces: dict) -> tuple[dict, dict, dict]:
    """AP, precision and recall per setting from the summed counts (AP NaN for a setting with no faces)."""
    ap, precision, recall = {}, {}, {}
    for s in SETTINGS:
        precision[s] = np.full(len(THRESHOLDS), np.nan)
        np.divide(tp[s], proposals[s], out=precision[s], where=proposals[s] > 0)
        recall[s] = tp[s] / faces[s] if faces[s] else np.zeros(len(THRESHOLDS))
        ap[s] = voc_ap(recall[s], precision[s]) if faces[s] else float("nan")
    return ap, precision, recall


def run_widerface(data_dir, detect: Callable, progress: bool | None = None, min_face: int = 0) -> dict:
    """Run ``detect(image_bgr) -> (boxes (N, 4) x1,y1,x2,y2 pixels, scores (N,))`` on every image
    under ``data_dir/images`` and score it against ``data_dir/ground_truth`` (:func:`evaluate`).
    ``progress``: None shows a progress bar on stderr when it is a terminal; True/False force it.
    ``min_face``: see :func:`evaluate` (0 = the official protocol)."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"WIDER FACE folder not found: {data_dir}")
    images = list(iter_images(data_dir))
    truth = load_ground_truth(data_dir / "ground_truth")
    if not images:
        raise ValueError(f"no <event>/<file>.jpg images under {data_dir / 'images'}")
    unknown = [name for name, _ in images if name not in truth]
    if unknown:
        raise ValueError(f"images not in the WIDER FACE validation ground truth: {unknown[:5]}")
    show = sys.stderr.isatty() if progress is None else bool(progress)
    predictions, start, shown = {}, time.perf_counter(), 0.0
    for done, (name, path) in enumerate(images, 1):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise ImageDecodeError(f"{name}: cannot read image {path}")
        output = detect(image)
        if not isinstance(output, (tuple, list)) or len(output) != 2:
            raise ValueError(f"{name}: detect must return (boxes, scores), got {type(output).__name__}")
        predictions[name] = check_detections(name, *output)
        if show and (done == len(images) or time.perf_counter() - shown >= 0.1):
            show_progress(done, len(images), start, "eval widerface")
            shown = time.perf_counter()
    seconds = time.perf_counter() - start
    if show:
        sys.stderr.write("\n")
    names = [n for n, _ in images]
    result = evaluate(predictions, truth, images=names, box_format="xyxy", min_face=min_face)
    # The official protocol's AP of the same detections, for comparison with published figures.
    result["official_ap"] = (
        evaluate(predictions, truth, images=names, box_format="xyxy")["ap"] if min_face else dict(result["ap"])
    )
    result["seconds"] = seconds
    return result


def format_table(result: dict) -> str:
    """A small text table of AP and face counts per setting."""
    protocol = f", faces under {result['min_face']} px ignored" if result.get("min_face") else ""
    lines = [
        f"WIDER FACE val: {result['num_images']} images, {result['num_detections']} detections{protocol}",
        f"{'setting':<8} {'AP':>7} {'faces':>7}",
    ]
    for s in SETTINGS:
        ap = result["ap"][s]
        lines.append(f"{s:<8} {'n/a' if np.isnan(ap) else f'{ap:.4f}':>7} {result['num_faces'][s]:>7}")
    return "\n".join(lines)


def write_pr_curves_png(result: dict, path, size: tuple[int, int] = (800, 600)) -> None:
    """Draw the three PR curves (AP in the legend) as a PNG of ``size`` (width, height)."""
    width, height = size
    left, right, top, bottom = 70, 25, 45, 60
    canvas = np.full((height, width, 3), 255, np.uint8)
    font, black, grey = cv2.FONT_HERSHEY_SIMPLEX, (0, 0, 0), (225, 225, 225)
    px = lambda r: left + r * (width - left - right)  # noqa: E731
    py = lambda p: height - bottom - p * (height - top - bottom)  # noqa: E731
    for k in range(11):
        v = k / 10
        x, y = int(round(px(v))), int(round(py(v)))
        cv2.line(canvas, (x, top), (x, height - bottom), grey, 1)
        cv2.line(canvas, (left, y), (width - right, y), grey, 1)
        cv2.line(canvas, (x, height - bottom), (x, height - bottom + 6), black, 1)
        cv2.line(canvas, (left - 6, y), (left, y), black, 1)
        cv2.putText(canvas, f"{v:.1f}", (x - 12, height - bottom + 22), font, 0.45, black, 1, cv2.LINE_AA)
        cv2.putText(canvas, f"{v:.1f}", (left - 40, y + 5), font, 0.45, black, 1, cv2.LINE_AA)
    cv2.rectangle(canvas, (left, top), (width - right, height - bottom), black, 1)
    cv2.putText(canvas, "Recall", (width // 2 - 25, height - 15), font, 0.6, black, 1, cv2.LINE_AA)
    cv2.putText(canvas, "Precision", (10, top - 12), font, 0.6, black, 1, cv2.LINE_AA)
    title = f"WIDER FACE val ({result['num_images']} images)"
    title_w = cv2.getTextSize(title, font, 0.6, 1)[0][0]
    cv2.putText(canvas, title, ((width - title_w) // 2, top - 12), font, 0.6, black, 1, cv2.LINE_AA)
    colours = {"easy": (40, 160, 40), "medium": (0, 130, 255), "hard": (40, 40, 220)}
    legend = (left + 8, height - bottom - 92), (left + 215, height - bottom - 8)
    for s in SETTINGS:
        keep = np.isfinite(result["precision"][s])
        pts = np.stack([px(result["recall"][s][keep]), py(result["precision"][s][keep])], axis=1)
        if len(pts):
            cv2.polylines(canvas, [np.round(pts * 16).astype(np.int32)], False, colours[s], 2, cv2.LINE_AA, shift=4)
    cv2.rectangle(canvas, *legend, (255, 255, 255), -1)
    cv2.rectangle(canvas, *legend, black, 1)
    for i, s in enumerate(SETTINGS):
        ap = result["ap"][s]
        y = height - bottom - 20 - 24 * (2 - i)
        cv2.line(canvas, (left + 15, y - 5), (left + 45, y - 5), colours[s], 3)
        cv2.putText(canvas, s, (left + 55, y), font, 0.55, black, 1, cv2.LINE_AA)
        label = f"AP {'n/a' if np.isnan(ap) else f'{ap:.3f}'}"
        cv2.putText(canvas, label, (left + 130, y), font, 0.55, black, 1, cv2.LINE_AA)
    write_png(path, canvas, "the PR-curve image")
