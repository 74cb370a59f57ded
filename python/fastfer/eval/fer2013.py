"""Expression-classifier evaluation on FER2013 and on image folders (``fastfer eval fer2013|folder``).

Readers return ``(images, labels, splits)``: images uint8 N×H×W grey, labels int64 0..6 in
:data:`fastfer.LABELS` order, splits a str array of ``Training``/``PublicTest``/``PrivateTest``
(or None when the source has no split). :func:`read` picks the reader from PATH:

- ``*.npz``: our ``fer2013.npz`` (arrays ``images``, ``labels``, ``usage``).
- ``*.csv``: Kaggle's ``fer2013.csv``, columns ``emotion``, ``pixels`` (2304 space-separated
  ints 0..255), optional ``Usage``; streamed row by row, a bad row is a ValueError naming its line.
- a folder with ``train/`` and/or ``test/``: Kaggle's image-folder layout
  ``{train,test}/<class>/*.jpg``. The split of a file is its name prefix (``Training_``,
  ``PublicTest_``, ``PrivateTest_``) when it has one; otherwise ``train/`` means Training and
  ``test/`` means PrivateTest (that copy does not tell the two test halves apart, so a
  "PrivateTest" figure on it covers the whole test folder).

:func:`read_folder` reads any image-folder set whose sub-folders are numbered (``0..6``, or ``1..7``
where no folder is numbered 0, in the order :data:`ORDERS` names: FER2013's by default, RAF-DB's
or AffectNet's) or are expression names, matched
case-insensitively through :data:`FOLDER_NAMES` (anger/mad -> angry, disgusted -> disgust,
fearful/afraid/scared -> fear, happiness/joy -> happy, sadness -> sad, surprised -> surprise,
neutral). Other folders (contempt, calm: RAVDESS's calm is not neutral, ...) are skipped and
reported. The same mapping names the class folders of the Kaggle layout.

:func:`evaluate` scores probabilities against labels; :func:`format_report` and
:func:`write_confusion_png` (OpenCV drawing only) present the result.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import cv2
import numpy as np

from ..io.image_header import IMAGE_EXTENSIONS
from ..io.png import write_png
from ..labels import LABELS

SPLITS = ("Training", "PublicTest", "PrivateTest")
_SYNONYMS = {
    "angry": ("angry", "anger", "mad"),
    "disgust": ("disgust", "disgusted", "disgusting"),
    "fear": ("fear", "fearful", "afraid", "scared"),
    "happy": ("happy", "happiness", "joy", "joyful"),
    "sad": ("sad", "sadness", "sorrow"),
    "surprise": ("surprise", "surprised"),
    "neutral": ("neutral",),
}
FOLDER_NAMES = {name: LABELS.index(label) for label, names in _SYNONYMS.items() for name in names}
"""Lower-case folder name -> label index; anything else is skipped."""
ORDERS = {
    "fer2013": LABELS,
    # RAF-DB's basic-expression numbering (1 surprise ... 7 neutral), as the MobileNetV3 system's tables use it
    "rafdb": ("surprise", "fear", "disgust", "happy", "sad", "angry", "neutral"),
    # AffectNet's numbering of its first seven expressions
    "affectnet": ("neutral", "happy", "sad", "surprise", "fear", "disgust", "angry"),
}
"""Class order of numbered folders (``<0..6>/``, or ``<1..7>/`` where there is a 7 and no 0)."""
_PREFIX = re.compile(r"^(Training|PublicTest|PrivateTest)_")


def read_npz(path) -> tuple:
    with np.load(path) as data:
        missing = {"images", "labels"} - set(data.files)
        if missing:
            raise ValueError(f"{path}: not a fer2013.npz (no {', '.join(sorted(missing))} array)")
        images, labels = np.asarray(data["images"], np.uint8), data["labels"].astype(np.int64)
        splits = data["usage"].astype(str) if "usage" in data.files else None
    if images.ndim != 3 or len(images) != len(labels) or labels.min(initial=0) < 0 or labels.max(initial=0) > 6:
        raise ValueError(f"{path}: images {images.shape} / labels {labels.shape} are not N×H×W faces with labels 0..6")
    return images, labels, splits


def read_csv(path) -> tuple:
    """Kaggle's fer2013.csv, streamed; ValueError naming the line of the first bad row."""
    images, labels, splits = [], [], []
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        if "emotion" not in header or "pixels" not in header:
            raise ValueError(f"{path}: line 1: expected the header emotion,pixels[,Usage], got {header}")
        ie, ip = header.index("emotion"), header.index("pixels")
        iu = header.index("Usage") if "Usage" in header else None
        for row in reader:
            where = f"{path}: line {reader.line_num}"
            if not row:
                continue
            if len(row) != len(header):
                raise ValueError(f"{where}: {len(row)} fields, expected {len(header)}")
            try:
                label = int(row[ie])
                pixels = np.array(row[ip].split(), np.int64)  # ValueError for a non-integer
            except ValueError:
                raise ValueError(f"{where}: emotion and pixels must be integers") from None
            if not 0 <= label <= 6:
                raise ValueError(f"{where}: emotion {label} is not a label 0..6")
            if pixels.size != 48 * 48 or pixels.min() < 0 or pixels.max() > 255:
                raise ValueError(f"{where}: expected 2304 pixel values 0..255, got {pixels.size}")
            if iu is not None and row[iu].strip() not in SPLITS:
                raise ValueError(f"{where}: Usage {row[iu]!r} is not one of {', '.join(SPLITS)}")
            images.append(pixels.astype(np.uint8).reshape(48, 48))
            labels.append(label)
            splits.append(row[iu].strip() if iu is not None else "")
    if not images:
        raise ValueError(f"{path}: no rows")
    return np.stack(images), np.array(labels, np.int64), np.array(splits) if iu is not None else None


def _numbered_labels(folders: list, order: str) -> dict:
    """{folder name: label index} for folders named by number in ``order``: 0..6, or 1..7 (RAF-DB's
    own numbering) when there is a folder 7 and none numbered 0."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {', '.join(ORDERS)}, got {order!r}")
    numbers = {sub.name: int(sub.name) for sub in folders if sub.name.isdigit()}
    first = 1 if 7 in numbers.values() and 0 not in numbers.values() else 0
    names = ORDERS[order]
    return {name: LABELS.index(names[n - first]) for name, n in numbers.items() if 0 <= n - first < len(names)}


def _class_folders(root: Path, order: str = "fer2013") -> tuple:
    """([(label index, folder)], {skipped folder name: image count}) for the sub-folders of root:
    expression names (and synonyms), or numbers in ``order`` (see :data:`ORDERS`)."""
    known, skipped = [], {}
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    numbered = _numbered_labels(folders, order)
    for sub in folders:
        label = numbered.get(sub.name, FOLDER_NAMES.get(sub.name.lower()))
        if label is None:
            skipped[sub.name] = len(_images_under(sub))
        else:
            known.append((label, sub))
    return known, skipped


def _images_under(folder: Path) -> list:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())


def read_kaggle_folder(path, order: str = "fer2013") -> tuple:
    """Kaggle's ``{train,test}/<class>/*.jpg`` layout, read grey; all images must share one size.
    Class folders are expression names, or numbers in ``order``."""
    root, images, labels, splits = Path(path), [], [], []
    for part, default in (("train", "Training"), ("test", "PrivateTest")):
        if not (root / part).is_dir():
            continue
        known, skipped = _class_folders(root / part, order)
        if skipped:
            raise ValueError(
                f"{root / part}: class folders {sorted(skipped)} are not expression names ({', '.join(LABELS)})"
            )
        for label, folder in known:
            for file in _images_under(folder):
                image = cv2.imread(str(file), cv2.IMREAD_GRAYSCALE)
                if image is None:
                    raise ValueError(f"{file}: cannot be read as an image")
                if images and image.shape != images[0].shape:
                    raise ValueError(
                        f"{file}: {image.shape[1]}x{image.shape[0]}, but the first image is "
                        f"{images[0].shape[1]}x{images[0].shape[0]}"
                    )
                prefix = _PREFIX.match(file.name)
                images.append(image)
                labels.append(label)
                splits.append(prefix.group(1) if prefix else default)
    if not images:
        raise ValueError(f"{root}: no images in train/<class>/ or test/<class>/")
    return np.stack(images), np.array(labels, np.int64), np.array(splits)


def read(path, order: str = "fer2013") -> tuple:
    """(images, labels, splits) from a .npz, a Kaggle .csv or a Kaggle image folder (whose
    numbered class folders follow ``order``)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no such file or folder: {str(path)!r}")
    if p.is_file() and p.suffix.lower() == ".npz":
        return read_npz(p)
    if p.is_file() and p.suffix.lower() == ".csv":
        return read_csv(p)
    if p.is_dir() and ((p / "train").is_dir() or (p / "test").is_dir()):
        return read_kaggle_folder(p, order)
    raise ValueError(
        f"{str(path)!r} is not FER2013 data: expected a .npz, a Kaggle fer2013.csv or "
        "a folder with train/<class>/ and test/<class>/"
    )


def read_folder(path, order: str = "fer2013") -> tuple:
    """(image paths, labels, {skipped folder: image count}) of an image-folder set DIR/<class>/...,
    the class folders named after expressions or numbered in ``order`` (see :data:`ORDERS`)."""
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"no such folder: {str(path)!r}")
    known, skipped = _class_folders(root, order)
    files, labels = [], []
    for label, folder in known:
        found = _images_under(folder)
        files += found
        labels += [label] * len(found)
    if not files:
        raise ValueError(
            f"{root}: no images in sub-folders named after expressions "
            f"({', '.join(LABELS)} or a synonym) or numbered 0..6" + (f"; skipped {sorted(skipped)}" if skipped else "")
        )
    return files, np.array(labels, np.int64), skipped


def evaluate(probs, labels) -> dict:
    """Accuracy, per-class precision/recall/F1/support, macro recall, macro F1 and the 7×7
    confusion matrix (rows = truth, columns = prediction) of argmax(probs). Precision (recall) is 0
    for a class never predicted (never true); macro recall averages the recall of the classes that
    occur in truth (what a user of the rare classes feels: accuracy hides a never-said disgust);
    macro F1 averages the classes that occur in truth or predictions."""
    probs, labels = np.asarray(probs), np.asarray(labels, np.int64)
    if probs.ndim != 2 or probs.shape[1] != len(LABELS) or len(probs) != len(labels) or not len(labels):
        raise ValueError(f"probs {probs.shape} must be (N, 7) with N = len(labels) = {len(labels)} > 0")
    k = len(LABELS)
    confusion = np.bincount(labels * k + probs.argmax(axis=1), minlength=k * k).reshape(k, k)
    tp, support, predicted = np.diag(confusion), confusion.sum(axis=1), confusion.sum(axis=0)
    precision = np.divide(tp, predicted, out=np.zeros(k), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros(k), where=support > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(k), where=precision + recall > 0)
    present = (support > 0) | (predicted > 0)
    return {
        "accuracy": float(tp.sum() / len(labels)),
        "per_class": {
            label: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, label in enumerate(LABELS)
        },
        "macro_recall": float(recall[support > 0].mean()),
        "macro_f1": float(f1[present].mean()),
        "confusion": confusion.tolist(),
        "n": int(len(labels)),
    }


def format_report(result: dict) -> str:
    """A text table: per-class precision/recall/F1/support, accuracy, macro recall and F1, the
    confusion matrix."""
    lines = [f"{'class':<9} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>8}"]
    for label, m in result["per_class"].items():
        lines.append(f"{label:<9} {m['precision']:>9.3f} {m['recall']:>7.3f} {m['f1']:>7.3f} {m['support']:>8d}")
    lines += [
        f"{'accuracy':<9} {result['accuracy']:>25.4f} {result['n']:>8d}",
        f"{'macro recall':<12} {result['macro_recall']:>22.4f}",
        f"{'macro F1':<9} {result['macro_f1']:>25.4f}",
        "",
        "confusion (rows = truth, columns = prediction):",
        " " * 9 + "".join(f"{label:>9}" for label in LABELS),
    ]
    lines += [f"{label:<9}" + "".join(f"{v:>9d}" for v in row) for label, row in zip(LABELS, result["confusion"])]
    return "\n".join(lines)


def write_confusion_png(result: dict, path, title: str = "", cell: int = 84) -> None:
    """The confusion matrix as a PNG heat map, each row normalised to its support (white 0 to dark
    blue 1), each cell showing its row percentage and count; label names on both axes."""
    confusion = np.asarray(result["confusion"], np.int64)
    k, font, black = len(LABELS), cv2.FONT_HERSHEY_SIMPLEX, (0, 0, 0)
    rates = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    left, top = 110, 90
    canvas = np.full((top + k * cell + 45, left + k * cell + 30, 3), 255, np.uint8)
    dark = np.array([140, 60, 10], np.float64)  # BGR dark blue
    for r in range(k):
        for c in range(k):
            x, y = left + c * cell, top + r * cell
            colour = tuple(int(v) for v in 255 + rates[r, c] * (dark - 255))
            cv2.rectangle(canvas, (x, y), (x + cell, y + cell), colour, -1)
            ink = (255, 255, 255) if rates[r, c] > 0.5 else black
            for text, dy, scale in ((f"{100 * rates[r, c]:.1f}%", -4, 0.5), (str(confusion[r, c]), 18, 0.42)):
                w = cv2.getTextSize(text, font, scale, 1)[0][0]
                cv2.putText(canvas, text, (x + (cell - w) // 2, y + cell // 2 + dy), font, scale, ink, 1, cv2.LINE_AA)
        cv2.putText(canvas, LABELS[r], (10, top + r * cell + cell // 2 + 5), font, 0.5, black, 1, cv2.LINE_AA)
        w = cv2.getTextSize(LABELS[r], font, 0.5, 1)[0][0]
        cv2.putText(canvas, LABELS[r], (left + r * cell + (cell - w) // 2, top - 10), font, 0.5, black, 1, cv2.LINE_AA)
    for i in range(k + 1):
        cv2.line(canvas, (left + i * cell, top), (left + i * cell, top + k * cell), (200, 200, 200), 1)
        cv2.line(canvas, (left, top + i * cell), (left + k * cell, top + i * cell), (200, 200, 200), 1)
    cv2.putText(canvas, "predicted", (left + k * cell // 2 - 40, top - 35), font, 0.55, black, 1, cv2.LINE_AA)
    cv2.putText(canvas, "truth", (10, top - 10), font, 0.55, black, 1, cv2.LINE_AA)
    heading = f"{title + ': ' if title else ''}accuracy {100 * result['accuracy']:.2f}%, n = {result['n']}"
    cv2.putText(canvas, heading, (10, 28), font, 0.6, black, 1, cv2.LINE_AA)
    footer = f"macro F1 {result['macro_f1']:.3f}; rows normalised to 100%"
    cv2.putText(canvas, footer, (10, canvas.shape[0] - 15), font, 0.5, black, 1, cv2.LINE_AA)
    write_png(path, canvas, "the confusion-matrix image")
