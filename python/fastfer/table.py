"""Results as table rows: one row per face, the shape py-feat and the fer package give.

``fastfer.to_frame`` makes a pandas DataFrame of them (pandas is optional and imported only
there); ``fastfer analyze --csv`` writes the same rows.
"""

from __future__ import annotations

from pathlib import Path, PurePath
from typing import Iterable, Mapping, Optional, Sequence

from .core.result import Face
from .labels import LABELS

LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
COLUMNS = (
    ("source", "face", "x1", "y1", "x2", "y2", "score")
    + tuple(f"{name}_{axis}" for name in LANDMARK_NAMES for axis in "xy")
    + ("label",)
    + LABELS
    + ("error",)
)


def face_rows(faces, source=None) -> list:
    """Rows (dicts keyed by :data:`COLUMNS`) for one image's result: a list of faces gives one
    row per face; an exception (an unreadable input in an ``analyze_batch`` slot) gives one row
    with its message under ``error``. ``source`` names the image (its path or index)."""
    if isinstance(faces, BaseException):
        return [{"source": source, "error": str(faces)}]
    rows = []
    for i, face in enumerate(faces):
        if not isinstance(face, Face):
            raise TypeError(f"expected fastfer.Face objects, got {type(face).__name__}")
        row = {"source": source, "face": i, "score": face.score}
        row.update(zip(("x1", "y1", "x2", "y2"), face.box))
        for name, (x, y) in zip(LANDMARK_NAMES, face.landmarks):
            row[f"{name}_x"], row[f"{name}_y"] = float(x), float(y)
        row["label"] = face.label
        if face.probs is not None:
            row.update(zip(LABELS, (float(p) for p in face.probs)))
        rows.append(row)
    return rows


def _images(results, sources: Optional[Sequence] = None) -> Iterable[tuple]:
    """(source, faces or exception) per image, whatever shape of results was given; ``sources``
    names the images of a list of results (else their index)."""
    if isinstance(results, Mapping):  # {path: faces}
        if sources is not None:
            raise ValueError(
                "to_frame: results given as {path: faces} already name their sources; sources= is for a list of results"
            )
        yield from results.items()
        return
    if isinstance(results, (str, bytes, Path)):
        raise TypeError(
            "to_frame takes analysis results (a list of faces, a list of such lists, "
            f"or {{path: faces}}), not {type(results).__name__}"
        )
    results = list(results)
    one_image = all(isinstance(item, Face) for item in results)  # one image's faces (possibly none)
    names = _source_names(sources, 1 if one_image else len(results))
    if one_image:
        yield (None if names is None else names[0]), results
        return
    for index, item in enumerate(results):
        if isinstance(item, (list, tuple)) or isinstance(item, BaseException):
            yield (index if names is None else names[index]), item
        else:
            raise TypeError(
                f"to_frame: item {index} is a {type(item).__name__}, expected a list of "
                "fastfer.Face (one image) or an exception (an unreadable image)"
            )


def _source_names(sources: Optional[Sequence], count: int) -> Optional[list]:
    """``sources`` as a list of ``count`` names (paths become str), or None."""
    if sources is None:
        return None
    if isinstance(sources, (str, bytes, Path)) or not isinstance(sources, Iterable):
        raise TypeError(f"to_frame: sources must be a sequence of names, one per image, got {type(sources).__name__}")
    names = [str(name) if isinstance(name, PurePath) else name for name in sources]
    if len(names) != count:
        raise ValueError(f"to_frame: {len(names)} sources for {count} image results; give one per image")
    return names


def to_frame(results, columns: Optional[Iterable[str]] = None, *, sources: Optional[Sequence] = None):
    """A pandas DataFrame with one row per face: ``source`` (the path, or the image's index in an
    ``analyze_batch`` result; None for one image's faces), ``face`` (its index in the image, an
    integer column that is empty (<NA>) on the row of an unreadable image),
    the box ``x1 y1 x2 y2``, ``score``, the 5 landmarks (``left_eye_x`` ... ``mouth_right_y``),
    ``label``, one column per expression probability (``angry`` ... ``neutral``) and ``error``
    (the message for an unreadable image, whose row has no face).

    ``results``: ``FER.analyze``'s list of faces, ``analyze_batch``'s list of lists, or a dict
    ``{path: faces}``. ``sources``: the names of the images of a list result, in its order (e.g.
    the paths given to ``analyze_batch``: ``to_frame(fer.analyze_batch(paths), sources=paths)``;
    paths become str), in place of their indices. Needs pandas (``pip install pandas``)."""
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError("fastfer.to_frame needs pandas: pip install pandas") from exc
    rows = [row for source, faces in _images(results, sources) for row in face_rows(faces, source)]
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame["face"] = frame["face"].astype("Int64")  # an index, not a float because an error row has none
    if columns is not None:
        frame = frame[list(columns)]
    return frame
