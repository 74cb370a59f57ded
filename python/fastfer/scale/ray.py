"""A Ray cluster: fastfer over Ray Data, one ``FER`` per actor (``pip install "fastfer[ray]"``).

:class:`FERPredictor` is a callable class for ``Dataset.map_batches``: Ray builds it once per
actor of an actor pool (one ``FER``, its ONNX Runtime threads = the actor's CPUs) and calls it
on batches of encoded image bytes with their paths, the ``bytes`` and ``path`` columns that
``ray.data.read_binary_files(..., include_paths=True)`` gives. fastfer decodes them itself, so
its pixel cap and decode errors apply. Each batch becomes a table of :data:`SCHEMA`:

- one row per face: ``path``, ``face`` (0, 1, ... best detection score first), ``box``
  (x1, y1, x2, y2), ``score``, ``landmarks`` (5 × [x, y]), ``label`` and the seven probabilities,
  one column each in ``fastfer.LABELS`` order;
- one row for an image without faces (``face`` and the face columns null), so every input is
  accounted for;
- one row for an image that cannot be read, with ``error`` saying why (null elsewhere): one bad
  file never fails the job.

:func:`analyze` builds the whole pipeline from paths (or a dataset with those two columns) and
returns the dataset, ready for ``write_parquet``. ``import fastfer`` never imports Ray; this
module does.
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Optional, Union

try:
    import pyarrow as pa
    import ray
    import ray.data
except ImportError as exc:  # the optional extra is missing
    raise ImportError(f"fastfer.scale.ray needs Ray Data: pip install 'fastfer[ray]' ({exc})") from exc

from .._args import positive_int
from ..errors import Error
from ..io.image import decode_image, get_max_pixels
from ..io.image_header import IMAGE_EXTENSIONS as FILE_EXTENSIONS
from ..labels import LABELS

SCHEMA = pa.schema(
    [
        ("path", pa.string()),
        ("face", pa.int32()),
        ("box", pa.list_(pa.float32())),
        ("score", pa.float32()),
        ("landmarks", pa.list_(pa.list_(pa.float32()))),
        ("label", pa.string()),
        *[(name, pa.float32()) for name in LABELS],
        ("error", pa.string()),
    ]
)
#: Images per block when a list of files is read (a block is a few MB of encoded images).
IMAGES_PER_BLOCK = 64
# Only the image formats fastfer reads, when a folder is given to read_binary_files.
IMAGE_EXTENSIONS = sorted(ext[1:] for ext in FILE_EXTENSIONS)  # Ray's spelling: no dot


def _actor_cpus() -> int:
    """The CPUs Ray assigned to this actor (at least 1): ONNX Runtime's intra-op threads."""
    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
    return max(1, int(cpus))


def _column(batch: Any, name: str) -> list:
    """One column of a map_batches batch as a list, whatever the batch format (a dict of numpy
    arrays, a pandas DataFrame or a pyarrow Table)."""
    try:
        column = batch[name]
    except KeyError:
        raise ValueError(
            f"FERPredictor needs batches with 'bytes' and 'path' columns "
            "(ray.data.read_binary_files(..., include_paths=True)); "
            f"this one has {list(getattr(batch, 'column_names', None) or batch.keys())}"
        ) from None
    return column.to_pylist() if hasattr(column, "to_pylist") else list(column)


class FERPredictor:
    """A callable class for ``Dataset.map_batches`` (with an actor pool): see the module docstring.

    Args:
        threads: ONNX Runtime intra-op threads per model; default: the CPUs Ray gave the actor.
        max_pixels: the pixel cap for decoding (default: fastfer's process default in the actor,
            ``FASTFER_MAX_PIXELS`` or 100 megapixels).
        fer_options: ``fastfer.FER``'s other arguments (detector, classifier, score_threshold, ...).
    """

    def __init__(self, *, threads: Optional[int] = None, max_pixels: Optional[int] = None, **fer_options):
        from ..core.fer import FER

        self.fer = FER(threads=_actor_cpus() if threads is None else threads, **fer_options)
        self.max_pixels = get_max_pixels() if max_pixels is None else max_pixels

    def __call__(self, batch: Any) -> "pa.Table":
        rows: dict = {field.name: [] for field in SCHEMA}
        for path, data in zip(_column(batch, "path"), _column(batch, "bytes")):
            try:
                # Decoded as load_image would read the file, so the error names it the same way.
                image = decode_image(data, f"'{path}'", self.max_pixels)
                faces = self.fer.analyze(image)
            except (OSError, Error) as exc:
                _add_row(rows, path, error=str(exc))
                continue
            if not faces:
                _add_row(rows, path)
            for index, face in enumerate(faces):
                _add_row(rows, path, index, face)
        return pa.table(rows, schema=SCHEMA)


def _add_row(rows: dict, path: str, index: Optional[int] = None, face=None, error: Optional[str] = None) -> None:
    rows["path"].append(path)
    rows["face"].append(index)
    rows["box"].append(None if face is None else list(face.box))
    rows["score"].append(None if face is None else face.score)
    rows["landmarks"].append(None if face is None else face.landmarks.tolist())
    rows["label"].append(None if face is None else face.label)
    for k, name in enumerate(LABELS):
        rows[name].append(None if face is None else float(face.probs[k]))
    rows["error"].append(error)


def _cluster_cpus() -> int:
    if not ray.is_initialized():
        ray.init()  # what Ray Data would do on first use: a local cluster, or RAY_ADDRESS's
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def analyze(
    paths_or_dataset: Union[str, "os.PathLike[str]", Iterable, "ray.data.Dataset"],
    *,
    actors: Optional[int] = None,
    cpus_per_actor: int = 1,
    batch_size: int = 16,
    **options,
) -> "ray.data.Dataset":
    """Every face of every image, as a Ray dataset of :data:`SCHEMA` rows (lazy: it runs when
    consumed, e.g. by ``.write_parquet(folder)``, ``.to_pandas()`` or ``.take_all()``).

    Args:
        paths_or_dataset: a file or folder path or URI (``s3://...``), a list of them (read with
            ``ray.data.read_binary_files``; in a folder, only image extensions), or a dataset with
            ``bytes`` and ``path`` columns. On a multi-node cluster every node must reach the
            paths: shared storage or a cloud URI.
        actors: the actor pool's size, all started at once (default: one actor to start with,
            and Ray adds more while there is work, up to the cluster's CPUs // cpus_per_actor).
        cpus_per_actor: CPUs Ray reserves per actor, which are its ONNX Runtime threads.
        batch_size: images per call of an actor.
        options: :class:`FERPredictor`'s (``max_pixels`` and ``fastfer.FER``'s arguments).
    """
    cpus_per_actor = positive_int(cpus_per_actor, "cpus_per_actor")
    batch_size = positive_int(batch_size, "batch_size")
    if actors is not None:
        actors = positive_int(actors, "actors")
    if isinstance(paths_or_dataset, ray.data.Dataset):
        dataset = paths_or_dataset
    else:
        dataset = read_images(paths_or_dataset)
    if actors is None:
        # One actor to start with, more (up to the cluster's CPUs) while there is work.
        pool = ray.data.ActorPoolStrategy(min_size=1, max_size=max(1, _cluster_cpus() // cpus_per_actor))
    else:
        pool = ray.data.ActorPoolStrategy(size=actors)
    return dataset.map_batches(
        FERPredictor, fn_constructor_kwargs=options, batch_size=batch_size, num_cpus=cpus_per_actor, compute=pool
    )


def read_images(paths: Union[str, "os.PathLike[str]", Iterable]) -> "ray.data.Dataset":
    """``ray.data.read_binary_files`` with paths, for :class:`FERPredictor`: a list of local files
    is read as given; folders and URIs contribute their image files only. The read tasks ask for
    no CPU: reading is I/O, and a fixed pool of actors holding every CPU would otherwise leave
    none to read with and wait forever. So their number at once is capped (a quarter of the
    cluster's CPUs, at least 2), and a list of files is read in blocks of at most
    :data:`IMAGES_PER_BLOCK` (and at least 4 blocks per CPU, as one block goes to one actor).
    Uncapped, Ray ran one task per few files, each new one in a fresh worker process (seconds of
    CPU to start), which on a 2-CPU machine doubled the time of a 320-image job with one actor
    (41.8 s against 21 s)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise ValueError("no paths to analyze")
    # Files named one by one are read whatever their extension (the caller chose them).
    named_files = all(os.path.isfile(p) for p in paths)
    cpus = _cluster_cpus()
    concurrency = max(2, cpus // 4)
    blocks = {}
    if named_files:
        # A block goes to one actor whole: at least 4 per CPU, so that every actor gets work.
        count = min(len(paths), max(-(-len(paths) // IMAGES_PER_BLOCK), 4 * cpus))
        blocks["override_num_blocks"] = count
        concurrency = min(concurrency, count)  # Ray warns of a cap above it
    return ray.data.read_binary_files(
        paths,
        include_paths=True,
        num_cpus=0,
        concurrency=concurrency,
        file_extensions=None if named_files else IMAGE_EXTENSIONS,
        **blocks,
    )


__all__ = ["FERPredictor", "IMAGE_EXTENSIONS", "SCHEMA", "analyze", "read_images"]
