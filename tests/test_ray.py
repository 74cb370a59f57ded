"""A Ray cluster: ``fastfer.scale.ray`` on real local clusters (one node with 2 CPUs, then two simulated
nodes) gives the rows that one process's ``FER.analyze`` gives, an error row for a corrupt file,
and Parquet that pyarrow reads back. Ray is started twice in all (it takes seconds)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
from _many_images import WIDER_DEV, photos, serial_results, wider_dev_images, write_corrupt
from _paths import SHIPPED_PHOTO, needs_shared

import fastfer

try:
    import ray
except ImportError:
    ray = None
_ray_missing = pytest.mark.skipif(ray is None, reason="Ray is not installed (pip install 'fastfer[ray]')")


def needs_ray(test):
    """A test that starts a local Ray cluster: tens of seconds each, so in the extended suite."""
    return pytest.mark.extended(_ray_missing(test))


# Ray Data warns about its own deprecated settings while it builds its configuration (Ray 2.60):
# its own business, not ours.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")


def test_import_fastfer_never_imports_ray():
    code = (
        "import sys, fastfer, fastfer.scale.parallel, fastfer.cli; fastfer.FER; "
        "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def faces_by_path(rows: list) -> dict:
    """{path: [(face index, row), ...] or the error text} from SCHEMA rows."""
    out: dict = {}
    for row in rows:
        if row["error"] is not None:
            assert row["face"] is None and row["box"] is None and row["label"] is None
            out[row["path"]] = row["error"]
        else:
            out.setdefault(row["path"], [])
            if row["face"] is not None:
                out[row["path"]].append(row)
    return out


def assert_rows_equal_serial(rows: list, paths: list) -> None:
    got = faces_by_path(rows)
    assert sorted(got) == sorted(str(p) for p in paths)  # every input, faces or not, once
    for path, expected in zip(paths, serial_results(paths)):
        entry = got[str(path)]
        if isinstance(expected, Exception):
            assert entry == str(expected), path
            continue
        assert [row["face"] for row in entry] == list(range(len(expected))), path
        for row, face in zip(sorted(entry, key=lambda r: r["face"]), expected):
            # float32 columns hold the very values of the Face (its floats came from float32).
            assert row["box"] == list(face.box) and row["score"] == face.score, path
            assert np.array_equal(np.array(row["landmarks"], np.float32), face.landmarks), path
            assert row["label"] == face.label, path
            assert [row[name] for name in fastfer.LABELS] == face.probs.tolist(), path


@needs_ray
def test_predictor_turns_a_batch_into_face_rows_error_rows_and_no_face_rows(tmp_path):
    import fastfer.scale.ray

    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((96, 128, 3), 128, np.uint8))
    paths = [SHIPPED_PHOTO, write_corrupt(tmp_path), blank]
    batch = {
        "path": np.array([str(p) for p in paths]),
        "bytes": np.array([p.read_bytes() for p in paths], dtype=object),
    }
    table = fastfer.scale.ray.FERPredictor(threads=1)(batch)
    assert table.schema == fastfer.scale.ray.SCHEMA
    rows = table.to_pylist()
    assert_rows_equal_serial(rows, paths)
    assert [r["face"] for r in rows if r["path"] == str(blank)] == [None]  # counted, without a face
    assert "corrupt.jpg" in rows[[r["path"] for r in rows].index(str(paths[1]))]["error"]


@needs_ray
def test_predictor_names_the_columns_it_needs():
    import fastfer.scale.ray

    with pytest.raises(ValueError, match="'bytes' and 'path' columns"):
        fastfer.scale.ray.FERPredictor(threads=1)({"image": np.array([b""], dtype=object)})


@needs_ray
@pytest.mark.parametrize("options", [{"actors": 0}, {"cpus_per_actor": 1.5}, {"batch_size": "8"}])
def test_analyze_refuses_bad_sizes_before_starting_anything(options):
    import fastfer.scale.ray

    with pytest.raises(ValueError, match="must be a positive int"):
        fastfer.scale.ray.analyze([SHIPPED_PHOTO], **options)


@pytest.fixture(scope="class")
def one_node_cluster():
    """``ray.init(num_cpus=2)``: the cluster a laptop or one server runs; stopped after the class."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning")
    yield
    ray.shutdown()


@needs_ray
@pytest.mark.usefixtures("one_node_cluster")
class TestOneNode:
    def test_photos_and_a_corrupt_file_become_rows_that_read_back_from_parquet(self, tmp_path):
        import pyarrow.parquet as pq

        import fastfer.scale.ray

        paths = [*photos(), write_corrupt(tmp_path)]
        fastfer.scale.ray.analyze(paths).write_parquet(str(tmp_path / "out"))
        table = pq.read_table(tmp_path / "out")
        assert table.schema.remove_metadata().equals(fastfer.scale.ray.SCHEMA)
        rows = table.to_pylist()
        assert_rows_equal_serial(rows, paths)
        errors = [r for r in rows if r["error"] is not None]
        assert [r["path"] for r in errors] == [str(paths[-1])]
        assert "could not decode" in errors[0]["error"]

    def test_a_dataset_of_bytes_and_paths_is_taken_as_it_is(self, tmp_path):
        import fastfer.scale.ray

        paths = [SHIPPED_PHOTO, write_corrupt(tmp_path)]
        dataset = ray.data.from_items([{"path": str(p), "bytes": p.read_bytes()} for p in paths])
        assert_rows_equal_serial(fastfer.scale.ray.analyze(dataset, actors=1).take_all(), paths)

    def test_cli_joins_the_cluster_and_writes_parquet(self, tmp_path):
        import pyarrow.parquet as pq

        paths = [*photos(), write_corrupt(tmp_path)]
        address = ray.get_runtime_context().gcs_address
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "fastfer",
                "analyze",
                "--ray",
                address,
                *map(str, paths),
                "--parquet",
                str(tmp_path / "out"),
                "--no-progress",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert out.returncode == 1, out.stderr  # the corrupt file, named on stderr
        assert f"{paths[-1]}: error: could not decode" in out.stderr
        assert f"{len(paths)} images" in out.stdout and "1 unreadable" in out.stdout
        assert_rows_equal_serial(pq.read_table(tmp_path / "out").to_pylist(), paths)

    @needs_shared(WIDER_DEV)
    def test_wider_dev_images_equal_serial_analyze(self):
        import fastfer.scale.ray

        paths = wider_dev_images(320)
        rows = fastfer.scale.ray.analyze(paths, actors=2, batch_size=8).take_all()
        assert_rows_equal_serial(rows, paths)


@needs_ray
def test_two_nodes_both_do_work(tmp_path):
    """Two raylets on this machine (``ray.cluster_utils.Cluster``), 1 CPU each: one actor per node."""
    import time

    from ray.cluster_utils import Cluster

    import fastfer.scale.ray

    @ray.remote(num_cpus=0)
    class Arrivals:
        def __init__(self):
            self.count = 0

        def arrive(self) -> int:
            self.count += 1
            return self.count

        def seen(self) -> int:
            return self.count

    class NodeRecordingPredictor(fastfer.scale.ray.FERPredictor):  # local: Ray ships it by value
        def __init__(self, **options):
            super().__init__(**options)
            self.first_call = True

        def __call__(self, batch):
            import pyarrow as pa

            if self.first_call:
                # Each actor's first call waits (up to a minute) for the other actor's first call.
                # With one call in flight per actor, Ray Data must then hand the next block to the
                # other actor; without this wait the first actor Ray Data saw ready could finish
                # all 8 images before it noticed the second (CI saw exactly that once).
                self.first_call = False
                arrivals = ray.get_actor("fastfer-test-arrivals")
                ray.get(arrivals.arrive.remote())
                deadline = time.monotonic() + 60
                while ray.get(arrivals.seen.remote()) < 2 and time.monotonic() < deadline:
                    time.sleep(0.05)
            table = super().__call__(batch)
            node = ray.get_runtime_context().get_node_id()
            return table.append_column("node", pa.array([node] * len(table)))

    paths = []
    for k in range(8):
        paths.append(tmp_path / f"photo_{k}.jpg")
        shutil.copy(SHIPPED_PHOTO, paths[-1])
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "object_store_memory": 100 << 20, "include_dashboard": False},
    )
    try:
        cluster.add_node(num_cpus=1, object_store_memory=100 << 20)
        ray.init(address=cluster.address, logging_level="warning")
        nodes = {node["NodeID"] for node in ray.nodes() if node["Alive"]}
        assert len(nodes) == 2
        arrivals = Arrivals.options(name="fastfer-test-arrivals").remote()  # lives while this handle does
        # One image per call and one call in flight per actor: the second call goes to the other actor.
        dataset = fastfer.scale.ray.read_images(paths).map_batches(
            NodeRecordingPredictor,
            batch_size=1,
            num_cpus=1,
            compute=ray.data.ActorPoolStrategy(size=2, max_tasks_in_flight_per_actor=1),
        )
        rows = dataset.take_all()
        ray.kill(arrivals)
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert {row["node"] for row in rows} == nodes
    assert_rows_equal_serial(rows, paths)


@pytest.mark.parametrize(
    "argv, address, paths, uris",
    [
        (["--ray", "photos/"], "", ["photos/"], []),  # a path, not an address
        (["--ray", "head:6379", "a.jpg"], "head:6379", ["a.jpg"], []),
        (
            ["--ray", "ray://head:10001", "s3://bucket/faces/", "a.jpg"],
            "ray://head:10001",
            ["a.jpg"],
            ["s3://bucket/faces/"],
        ),
        (["--ray", "auto", "a.jpg"], "auto", ["a.jpg"], []),
        (["a.jpg", "--ray"], "", ["a.jpg"], []),
    ],
)
def test_cli_tells_a_ray_address_from_a_path(argv, address, paths, uris):
    from fastfer.cli import build_parser, scale

    args = build_parser().parse_args(["analyze", *argv])
    assert scale.take_ray_inputs(args) == uris
    assert (args.ray, args.paths) == (address, paths)
