"""WIDER FACE evaluation protocol (fastfer.eval.widerface).

Hand-made cases with answers worked out by hand; the real 320-image sample of the validation set
(ground-truth loading, perfect and shifted detections, score rescaling, end-to-end runs); and a
second, deliberately plain, loop-based implementation of the official algorithm written here from
its description, held against the module on random detections.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from _paths import SHARED_DATA, needs_shared

from fastfer.eval import widerface as wf

ROOT = Path(__file__).resolve().parents[1]
DATA = SHARED_DATA / "detection" / "wider_val_dev"
needs_data = needs_shared(DATA / "images", DATA / "ground_truth")


# --------------------------------------------------------------------------- helpers


def xywh_to_xyxy(boxes):
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)


@pytest.fixture(scope="module")
def truth():
    if not (DATA / "images").is_dir():
        pytest.skip(f"WIDER FACE sample not found at {DATA}")
    pytest.importorskip("scipy", reason="scipy reads the WIDER FACE .mat files")
    return wf.load_ground_truth(DATA / "ground_truth")


@pytest.fixture(scope="module")
def present():
    return [name for name, _ in wf.iter_images(DATA)]


def gt_detections(truth, names, shift=0.0):
    """The ground-truth boxes as detections, scores decreasing over the whole set."""
    predictions, k = {}, 0
    for name in names:
        boxes = truth[name]["boxes"]
        xyxy = xywh_to_xyxy(boxes) + shift * np.concatenate([boxes[:, 2:], boxes[:, 2:]], axis=1)
        predictions[name] = (xyxy, 1.0 - (k + np.arange(len(boxes))) / 10_000)
        k += len(boxes)
    return predictions


def random_detections(truth, names, seed, quantise=False):
    """Jittered copies of some GT boxes, duplicates and random boxes, with noisy scores."""
    rng = np.random.default_rng(seed)
    predictions = {}
    for name in names:
        boxes = truth[name]["boxes"]
        size = np.concatenate([boxes[:, 2:], boxes[:, 2:]], axis=1)
        keep = rng.random(len(boxes)) < 0.75
        jittered = xywh_to_xyxy(boxes)[keep] + rng.normal(0, 0.15, (keep.sum(), 4)) * size[keep]
        dup = jittered[rng.random(len(jittered)) < 0.1] + rng.normal(0, 1.0, (1, 4))
        corner = rng.uniform(0, 900, (int(rng.integers(0, 5)), 2))
        noise = np.concatenate([corner, corner + rng.uniform(3, 80, corner.shape)], axis=1)
        xyxy = np.concatenate([jittered, dup, noise])
        scores = rng.random(len(xyxy))
        if quantise:  # many ties
            scores = np.round(scores * 20) / 20
        if rng.random() < 0.05:  # some images without any detection
            xyxy, scores = np.zeros((0, 4)), np.zeros(0)
        predictions[name] = (xyxy, scores)
    return predictions


# --------------------------------------------------------------------------- hand-made cases

# One image: A and B are faces, C a third box. Settings: easy counts A only, medium A and B,
# hard all three. Detections (x1, y1, x2, y2), already sorted, scores already in [0, 1]:
#   1.0    hits A           0.8005 hits C         0.6005 duplicates A (IoU 110/132)
#   0.4005 misses           0.2005 hits B         0.0    misses
TINY_GT = {
    "9--Tiny/img.jpg": {
        "boxes": np.array([[0, 0, 10, 10], [100, 0, 10, 10], [200, 0, 10, 10]], np.float64),
        "easy": np.array([0]),
        "medium": np.array([0, 1]),
        "hard": np.array([0, 1, 2]),
    }
}
TINY_BOXES = np.array(
    [[0, 0, 10, 10], [200, 0, 210, 10], [1, 0, 11, 10], [500, 500, 510, 510], [100, 0, 110, 10], [600, 0, 610, 10]],
    np.float64,
)
TINY_SCORES = np.array([1.0, 0.8005, 0.6005, 0.4005, 0.2005, 0.0])
TINY = {"9--Tiny/img.jpg": (TINY_BOXES, TINY_SCORES)}
# The 1000 thresholds t = 1 - (i+1)/1000 take in 1..6 detections over these i ranges:
TINY_SPANS = [(0, 199), (199, 399), (399, 599), (599, 799), (799, 999), (999, 1000)]


def test_inclusive_iou_uses_plus_one_pixels():
    a = np.array([[0.0, 0, 10, 10]])
    assert wf.inclusive_iou(a, np.array([[1.0, 0, 11, 10]]))[0, 0] == pytest.approx(110 / 132)
    assert wf.inclusive_iou(a, a)[0, 0] == 1.0
    # touching at one pixel column overlaps by 1 x 11 pixels in the inclusive convention
    assert wf.inclusive_iou(a, np.array([[10.0, 0, 20, 10]]))[0, 0] == pytest.approx(11 / 231)
    assert wf.inclusive_iou(a, np.array([[12.0, 0, 20, 10]]))[0, 0] == 0.0
    # IoU exactly 0.5 (5.5 x 11 pixels inside 11 x 11) is a hit: the test is >= 0.5
    half = np.array([[0.0, 0, 4.5, 10]])
    assert wf.inclusive_iou(half, a)[0, 0] == 0.5
    assert wf.match_image(wf.inclusive_iou(half, a), np.array([True]))[0].tolist() == [1]


@pytest.mark.parametrize(
    "setting, tp, proposals",
    [
        ("easy", [1, 1, 1, 1, 1, 1], [1, 1, 2, 3, 3, 4]),  # C and B are ignore boxes
        ("medium", [1, 1, 1, 1, 2, 2], [1, 1, 2, 3, 4, 5]),  # C is an ignore box
        ("hard", [1, 2, 2, 2, 3, 3], [1, 2, 3, 4, 5, 6]),  # nothing ignored
    ],
)
def test_match_image_per_rank_counts(setting, tp, proposals):
    gt = TINY_GT["9--Tiny/img.jpg"]
    counted = np.zeros(3, bool)
    counted[gt[setting]] = True
    iou = wf.inclusive_iou(TINY_BOXES, xywh_to_xyxy(gt["boxes"]))
    got_tp, got_prop = wf.match_image(iou, counted)
    assert got_tp.tolist() == tp
    assert got_prop.tolist() == proposals


def test_hand_made_image_pr_curve_and_ap():
    result = wf.evaluate(TINY, TINY_GT)
    assert result["num_faces"] == {"easy": 1, "medium": 2, "hard": 3}
    assert result["num_images"] == 1 and result["num_detections"] == 6
    # (TP, proposals) when 1..6 detections are in, per setting
    counts = {
        "easy": [(1, 1), (1, 1), (1, 2), (1, 3), (1, 3), (1, 4)],
        "medium": [(1, 1), (1, 1), (1, 2), (1, 3), (2, 4), (2, 5)],
        "hard": [(1, 1), (2, 2), (2, 3), (2, 4), (3, 5), (3, 6)],
    }
    for setting, pairs in counts.items():
        faces = result["num_faces"][setting]
        for (start, stop), (tp, prop) in zip(TINY_SPANS, pairs):
            np.testing.assert_array_equal(result["recall"][setting][start:stop], tp / faces)
            np.testing.assert_array_equal(result["precision"][setting][start:stop], tp / prop)
    # easy: recall 1 at precision 1 from the start. medium: 0.5 x 1 + 0.5 x max(0.5, 0.4).
    # hard: 1/3 x 1 + 1/3 x 1 + 1/3 x max(3/5, 1/2).
    assert result["ap"]["easy"] == pytest.approx(1.0, abs=1e-12)
    assert result["ap"]["medium"] == pytest.approx(0.75, abs=1e-12)
    assert result["ap"]["hard"] == pytest.approx(13 / 15, abs=1e-12)


def test_unsorted_and_xywh_input_give_the_same_result():
    order = np.array([3, 0, 5, 2, 4, 1])
    xywh = TINY_BOXES.copy()
    xywh[:, 2:] -= xywh[:, :2]
    base = wf.evaluate(TINY, TINY_GT)
    for preds, fmt in [
        ({"9--Tiny/img.jpg": (TINY_BOXES[order], TINY_SCORES[order])}, "xyxy"),
        ({"9--Tiny/img.jpg": (xywh, TINY_SCORES)}, "xywh"),
    ]:
        assert wf.evaluate(preds, TINY_GT, box_format=fmt)["ap"] == base["ap"]


def test_scores_are_normalised_over_the_whole_set():
    # min 0.25 and max 0.95 map to 0 and 1: the same normalised scores as an affine image of them
    a = wf.evaluate({"9--Tiny/img.jpg": (TINY_BOXES, 0.25 + 0.7 * TINY_SCORES)}, TINY_GT)
    b = wf.evaluate({"9--Tiny/img.jpg": (TINY_BOXES, 40 * TINY_SCORES - 7)}, TINY_GT)
    assert a["ap"] == pytest.approx(wf.evaluate(TINY, TINY_GT)["ap"], abs=1e-12)
    assert b["ap"] == pytest.approx(a["ap"], abs=1e-12)
    # the official running min starts at 1 (max at 0): scores 3..4 become (s - 1) / 3 in [2/3, 1],
    # so all six detections are in from t = 0.666 on (i = 333), five of them at t = 0.667
    c = wf.evaluate({"9--Tiny/img.jpg": (TINY_BOXES, TINY_SCORES + 3)}, TINY_GT)
    np.testing.assert_array_equal(c["precision"]["hard"][333:], 0.5)
    assert c["precision"]["hard"][332] == 3 / 5


def test_no_detections_and_equal_scores():
    empty = wf.evaluate({"9--Tiny/img.jpg": (np.zeros((0, 4)), np.zeros(0))}, TINY_GT)
    assert empty["ap"] == {"easy": 0.0, "medium": 0.0, "hard": 0.0}
    assert np.isnan(empty["precision"]["easy"]).all() and not empty["recall"]["hard"].any()
    # all scores equal: every detection counts at every threshold (the last PR point throughout)
    flat = wf.evaluate({"9--Tiny/img.jpg": (TINY_BOXES, np.full(6, 0.5))}, TINY_GT)
    np.testing.assert_array_equal(flat["precision"]["hard"], 0.5)
    assert flat["ap"]["hard"] == pytest.approx(0.5)


def test_evaluate_rejects_bad_input():
    with pytest.raises(ValueError, match="box_format"):
        wf.evaluate(TINY, TINY_GT, box_format="cxcywh")
    with pytest.raises(ValueError, match="0--Nope/x.jpg"):
        wf.evaluate({"0--Nope/x.jpg": (TINY_BOXES, TINY_SCORES)}, TINY_GT)
    with pytest.raises(ValueError, match="outside"):
        wf.evaluate(TINY, TINY_GT, images=[])
    with pytest.raises(ValueError, match=r"9--Tiny/img.jpg.*\(6, 5\)"):
        wf.evaluate({"9--Tiny/img.jpg": (np.zeros((6, 5)), TINY_SCORES)}, TINY_GT)
    with pytest.raises(ValueError, match="9--Tiny/img.jpg.*NaN"):
        wf.evaluate({"9--Tiny/img.jpg": (TINY_BOXES, np.r_[np.nan, TINY_SCORES[1:]])}, TINY_GT)
    # an image listed in `images` without predictions simply has no detections
    assert wf.evaluate({}, TINY_GT, images=["9--Tiny/img.jpg"])["num_faces"]["hard"] == 3


# --------------------------------------------------------------------------- real data


@needs_data
def test_ground_truth_matches_the_sample_annotations(truth, present):
    annotations = json.loads((DATA / "annotations.json").read_text())
    attributes = json.loads((DATA / "attributes.json").read_text())["images"]
    assert len(truth) == 3226  # the .mat files describe the whole validation set
    assert len(present) == 320 and set(present) == set(annotations)
    assert sum(len(truth[n]["boxes"]) for n in present) == 3916
    for name in present:
        np.testing.assert_array_equal(truth[name]["boxes"], np.asarray(annotations[name], np.float64).reshape(-1, 4))
        for setting in wf.SETTINGS:
            flags = np.zeros(len(truth[name]["boxes"]), int)
            flags[truth[name][setting]] = 1
            assert flags.tolist() == attributes[name][setting], (name, setting)
    assert all(p.is_absolute() and p.is_file() for _, p in wf.iter_images(DATA))


@needs_data
def test_ground_truth_as_detections_scores_ap_one(truth, present):
    result = wf.evaluate(gt_detections(truth, present), truth)
    counts = {s: sum(len(truth[n][s]) for n in present) for s in wf.SETTINGS}
    assert result["num_faces"] == counts and result["num_images"] == 320
    for setting in wf.SETTINGS:
        assert result["ap"][setting] == pytest.approx(1.0, abs=1e-12)
    shifted = wf.evaluate(gt_detections(truth, present, shift=0.6), truth)
    for setting in wf.SETTINGS:
        assert shifted["ap"][setting] < 0.05


@needs_data
def test_affine_score_rescaling_keeps_ap(truth, present):
    predictions = random_detections(truth, present, seed=1)
    base = wf.evaluate(predictions, truth)["ap"]
    for scale, offset in [(100.0, -20.0), (0.5, 0.25), (3.0, -1.0)]:
        rescaled = {n: (b, scale * s + offset) for n, (b, s) in predictions.items()}
        ap = wf.evaluate(rescaled, truth)["ap"]
        for setting in wf.SETTINGS:
            assert ap[setting] == pytest.approx(base[setting], abs=1e-12)


# ---- a deliberately plain version of the official algorithm, written from its description


def plain_iou(p, g):
    iw = min(p[2], g[2]) - max(p[0], g[0]) + 1
    ih = min(p[3], g[3]) - max(p[1], g[1]) + 1
    if iw <= 0 or ih <= 0:
        return 0.0
    union = (p[2] - p[0] + 1) * (p[3] - p[1] + 1) + (g[2] - g[0] + 1) * (g[3] - g[1] + 1) - iw * ih
    return iw * ih / union


def plain_score_range(predictions, names):
    lo, hi = 1.0, 0.0  # the official running min / max start values
    for name in names:
        for s in predictions[name][1]:
            lo, hi = min(lo, float(s)), max(hi, float(s))
    return lo, hi


def plain_last_ranks(dets):
    """Per threshold t/1000: the last rank whose normalised score reaches it, -1 if none."""
    lasts = []
    for t in range(1000):
        thresh = 1 - (t + 1) / 1000
        last = -1
        for k in range(len(dets) - 1, -1, -1):
            if dets[k][1] >= thresh:
                last = k
                break
        lasts.append(last)
    return lasts


def plain_match(dets, gts, keep):
    """Per detection in rank order: whether it counts as a proposal (not matched to an ignore
    box), and how many kept faces are recalled up to it."""
    recalled = [0] * len(gts)
    is_proposal, recalled_at = [], []
    for box, _ in dets:
        best, best_iou = 0, -1.0
        for j, g in enumerate(gts):
            v = plain_iou(box, g)
            if v > best_iou:
                best, best_iou = j, v
        proposal = 1
        if best_iou >= 0.5:
            if best not in keep:
                proposal = 0  # an ignore box
            elif recalled[best] == 0:
                recalled[best] = 1
        is_proposal.append(proposal)
        recalled_at.append(sum(recalled))
    return is_proposal, recalled_at


def plain_ap(curve, faces):
    """VOC AP of a [proposals, tp] curve over ``faces`` ground-truth faces."""
    recall = [tp / faces for _, tp in curve]
    precision = [tp / prop if prop else 0.0 for prop, tp in curve]
    mrec, mpre = [0.0] + recall + [1.0], [0.0] + precision + [0.0]
    for i in range(len(mpre) - 1, 0, -1):
        mpre[i - 1] = max(mpre[i - 1], mpre[i])
    ap = 0.0
    for i in range(len(mrec) - 1):
        if mrec[i + 1] != mrec[i]:
            ap += (mrec[i + 1] - mrec[i]) * mpre[i + 1]
    return ap


def plain_evaluate(predictions, truth, names):
    lo, hi = plain_score_range(predictions, names)
    faces = {setting: 0 for setting in wf.SETTINGS}
    curves = {setting: [[0, 0] for _ in range(1000)] for setting in wf.SETTINGS}  # [proposals, tp]
    for name in names:
        gts = [[x, y, x + w, y + h] for x, y, w, h in truth[name]["boxes"].tolist()]
        for setting in wf.SETTINGS:
            faces[setting] += len(truth[name][setting])
        boxes, scores = predictions[name]
        if not gts or len(boxes) == 0:
            continue
        order = sorted(range(len(scores)), key=lambda k: -scores[k])
        dets = [(boxes[k].tolist(), (float(scores[k]) - lo) / (hi - lo)) for k in order]
        lasts = plain_last_ranks(dets)
        for setting in wf.SETTINGS:
            is_proposal, recalled_at = plain_match(dets, gts, [int(i) for i in truth[name][setting]])
            for t, last in enumerate(lasts):
                if last >= 0:
                    curves[setting][t][0] += sum(is_proposal[: last + 1])
                    curves[setting][t][1] += recalled_at[last]
    return {setting: plain_ap(curve, faces[setting]) for setting, curve in curves.items()}


@needs_data
@pytest.mark.parametrize("seed, quantise, offset", [(7, False, 0.0), (8, True, 0.0), (9, False, 3.0)])
def test_module_agrees_with_a_plain_implementation(truth, present, seed, quantise, offset):
    predictions = random_detections(truth, present, seed, quantise)
    predictions = {n: (b, s + offset) for n, (b, s) in predictions.items()}
    expected = plain_evaluate(predictions, truth, present)
    got = wf.evaluate(predictions, truth)["ap"]
    assert 0.2 < got["hard"] < 0.95  # a non-trivial curve
    for setting in wf.SETTINGS:
        assert got[setting] == pytest.approx(expected[setting], abs=1e-9), setting


# --------------------------------------------------------------------------- the whole run


@pytest.fixture()
def small_dir(tmp_path, present):
    """A WIDER FACE folder with 6 of the sample's images (copies) and the real ground truth."""
    root = tmp_path / "wider"
    for name in present[::55]:
        (root / "images" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(DATA / "images" / name, root / "images" / name)
    shutil.copytree(DATA / "ground_truth", root / "ground_truth")
    return root


def lookup_detector(truth, data_dir):
    """Stands in for a caller's detector: returns the GT boxes of the image it is given."""
    by_pixels = {}
    for name, path in wf.iter_images(data_dir):
        by_pixels[cv2.imread(str(path)).tobytes()] = xywh_to_xyxy(truth[name]["boxes"])

    def detect(image):
        boxes = by_pixels[image.tobytes()]
        return boxes, np.linspace(0.9, 0.1, len(boxes))

    return detect


@needs_data
def test_run_widerface_scores_only_the_images_present(truth, small_dir, capsys):
    names = [n for n, _ in wf.iter_images(small_dir)]
    assert len(names) == 6
    result = wf.run_widerface(small_dir, lookup_detector(truth, small_dir), progress=True)
    assert result["num_images"] == 6
    assert result["num_faces"] == {s: sum(len(truth[n][s]) for n in names) for s in wf.SETTINGS}
    for setting in wf.SETTINGS:
        if result["num_faces"][setting]:
            assert result["ap"][setting] == pytest.approx(1.0, abs=1e-12)
    err = capsys.readouterr().err
    assert "\reval widerface 6/6 [100%]" in err and "img/s" in err and err.endswith("\n")
    table = wf.format_table(result)
    assert "6 images" in table and all(s in table for s in wf.SETTINGS)
    wf.run_widerface(small_dir, lookup_detector(truth, small_dir), progress=False)
    assert capsys.readouterr().err == ""


@needs_data
def test_write_pr_curves_png(truth, present, tmp_path):
    result = wf.evaluate(random_detections(truth, present, seed=3), truth)
    path = tmp_path / "pr.png"
    wf.write_pr_curves_png(result, path)
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None and image.shape == (600, 800, 3)
    assert (image == 255).all(axis=2).mean() > 0.5  # mostly white canvas
    colourful = np.ptp(image.astype(int), axis=2) > 100  # the coloured curves and legend
    assert colourful.sum() > 500
    wf.write_pr_curves_png(result, tmp_path / "small.png", size=(400, 300))
    assert cv2.imread(str(tmp_path / "small.png")).shape == (300, 400, 3)


@needs_data
def test_run_widerface_reports_missing_parts(tmp_path, small_dir):
    def detect(image):
        return np.zeros((0, 4)), np.zeros(0)

    with pytest.raises(FileNotFoundError, match="not found"):
        wf.run_widerface(tmp_path / "nowhere", detect)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="images"):
        wf.run_widerface(tmp_path / "empty", detect)
    os.remove(small_dir / "ground_truth" / "wider_hard_val.mat")
    with pytest.raises(FileNotFoundError, match="wider_hard_val.mat"):
        wf.run_widerface(small_dir, detect)
    shutil.rmtree(small_dir / "ground_truth")
    with pytest.raises(FileNotFoundError, match="ground_truth"):
        wf.run_widerface(small_dir, detect)


@needs_data
def test_run_widerface_rejects_foreign_and_broken_images(small_dir):
    def detect(image):
        return np.zeros((0, 4)), np.zeros(0)

    shutil.rmtree(small_dir / "images")
    (small_dir / "images").mkdir()
    with pytest.raises(ValueError, match="no <event>/<file>.jpg images"):
        wf.run_widerface(small_dir, detect)
    (small_dir / "images" / "0--Parade").mkdir()
    (small_dir / "images" / "0--Parade" / "not_in_wider.jpg").write_bytes(b"x")
    with pytest.raises(ValueError, match="0--Parade/not_in_wider.jpg"):
        wf.run_widerface(small_dir, detect)
    os.remove(small_dir / "images" / "0--Parade" / "not_in_wider.jpg")
    (small_dir / "images" / "0--Parade" / "0_Parade_Parade_0_247.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="0_Parade_Parade_0_247.jpg"):
        wf.run_widerface(small_dir, detect)


@needs_data
@pytest.mark.parametrize(
    "output, message",
    [
        ((np.zeros((3, 5)), np.zeros(3)), r"\(3, 5\)"),
        ((np.zeros((3, 4)), np.zeros(2)), r"\(2,\)"),
        ((np.array([[0, 0, np.nan, 5.0]]), np.ones(1)), "NaN"),
        ((np.zeros((1, 4)), np.array([np.inf])), "NaN or infinity"),
        (np.zeros((3, 5)), "must return"),
    ],
)
def test_run_widerface_rejects_bad_detector_output(small_dir, output, message):
    first = next(wf.iter_images(small_dir))[0]
    with pytest.raises(ValueError, match=message) as info:
        wf.run_widerface(small_dir, lambda image: output, progress=False)
    assert first in str(info.value)
