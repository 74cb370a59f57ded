"""The same models as fastfer's default, driven the way a user writes it in a page of
cv2 + numpy + onnxruntime: the baseline fastfer has to beat at every image size.

It uses the same ONNX files (read from fastfer's package), the same input size rule (fastfer's
``min_face`` shrink, so both run the detector on the same tensor size), the same thresholds, and
the same face crop (a square 1.027x the box's long side, the manifest's fernet crop), so any
difference in speed is what happens outside ONNX Runtime. YuNet and RetinaFace (the detectors
a default can be drawn from), each as its reference code decodes it.
"""

from __future__ import annotations

import time

import cv2
import numpy as np
import onnxruntime as ort

from fastfer import models


class IdiomaticFer:
    def __init__(
        self,
        detector: str = "yunet",
        classifier: str = "fernet",
        min_face: int = 0,
        max_side: int = 1600,
        threads: int = 1,
    ):
        # The manifest entries, read as a user reads them (plain dicts).
        det, cls = models.spec(detector).to_dict(), models.spec(classifier).to_dict()
        self.kind = det["decoder"]["kind"]
        if self.kind not in ("yunet", "retinaface"):
            raise ValueError("the idiomatic baseline is written for YuNet and RetinaFace")
        self.decoder = det["decoder"]
        self.input_name = det["input"]["name"]
        self.priors_cache: dict = {}
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.det = ort.InferenceSession(str(models.HERE / det["file"]), options, providers=["CPUExecutionProvider"])
        self.cls = ort.InferenceSession(str(models.HERE / cls["file"]), options, providers=["CPUExecutionProvider"])
        self.steps = det["decoder"]["steps"]
        self.threshold = det["decoder"]["score_threshold"]
        self.min_face, self.max_side = min_face, max_side
        self.min_face_px = det["decoder"].get("min_face_px", 1)
        self.size = cls["input"]["size"][0]
        self.margin = cls["crop"]["margin"]
        self.out_names = list(det["outputs"].values())
        self.ort_seconds = 0.0  # time inside session.run during the last call

    def __call__(self, image: np.ndarray):
        self.ort_seconds = 0.0
        h, w = image.shape[:2]
        side = self.max_side
        if self.min_face:
            side = min(side, max(h, w) * self.min_face_px // self.min_face)
        scale = min(1.0, side / max(h, w))
        if scale < 1.0:
            image_s = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_LINEAR)
        else:
            image_s = image
        sh, sw = image_s.shape[:2]
        H, W = -(-sh // 32) * 32, -(-sw // 32) * 32
        if self.kind == "yunet":  # NCHW BGR 0..255
            blob = np.zeros((1, 3, H, W), np.float32)
            blob[0, :, :sh, :sw] = image_s.transpose(2, 0, 1)
        else:  # NHWC RGB 0..255
            blob = np.zeros((1, H, W, 3), np.float32)
            blob[0, :sh, :sw] = cv2.cvtColor(image_s, cv2.COLOR_BGR2RGB)
        start = time.perf_counter()
        out = dict(zip(self.out_names, self.det.run(self.out_names, {self.input_name: blob})))
        self.ort_seconds += time.perf_counter() - start
        if self.kind == "yunet":
            boxes, scores, marks = self._yunet(out, W)
        else:
            boxes, scores, marks = self._retinaface(out, H, W)
        if not len(scores):
            return []
        return self._finish(image, boxes, scores, marks, scale)

    def _retinaface(self, out, H, W):
        """The RetinaFace reference decoding (priors, variances), vectorised numpy."""
        key = (H, W)
        if key not in self.priors_cache:
            rows = []
            for step, sizes in zip(self.decoder["steps"], self.decoder["min_sizes"]):
                fh, fw = -(-H // step), -(-W // step)
                i, j, m = np.meshgrid(np.arange(fh), np.arange(fw), sizes, indexing="ij")
                rows.append(
                    np.stack([(j.ravel() + 0.5) * step, (i.ravel() + 0.5) * step, m.ravel(), m.ravel()], axis=1)
                )
            self.priors_cache[key] = np.vstack(rows).astype(np.float32)
        priors = self.priors_cache[key]
        score = out["scores"][0, :, 1]
        keep = np.flatnonzero(score >= self.threshold)
        v0, v1 = self.decoder["variances"]
        p, d = priors[keep], out["boxes"][0, keep]
        centre = p[:, :2] + d[:, :2] * v0 * p[:, 2:]
        size = p[:, 2:] * np.exp(d[:, 2:] * v1)
        marks = p[:, None, :2] + out["landmarks"][0, keep].reshape(-1, 5, 2) * v0 * p[:, None, 2:]
        return np.hstack([centre - size / 2, size]), score[keep], marks

    def _yunet(self, out, W):
        """YuNet's reference decoding (libfacedetection.train's compare_inference.py), per stride."""
        boxes, scores, marks = [], [], []
        for s in self.steps:
            cls, obj = out[f"cls_{s}"][0, :, 0], out[f"obj_{s}"][0, :, 0]
            score = np.sqrt(np.clip(cls, 0, 1) * np.clip(obj, 0, 1))
            keep = np.flatnonzero(score >= self.threshold)
            if not len(keep):
                continue
            fw = W // s
            cell = np.stack([keep % fw, keep // fw], axis=1).astype(np.float32)
            box = out[f"bbox_{s}"][0, keep]
            centre = (cell + box[:, :2]) * s
            size = np.exp(box[:, 2:]) * s
            boxes.append(np.hstack([centre - size / 2, size]))  # x, y, w, h for cv2.dnn.NMSBoxes
            scores.append(score[keep])
            marks.append(((cell[:, None] + out[f"kps_{s}"][0, keep].reshape(-1, 5, 2)) * s))
        if not boxes:
            return np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2))
        return np.vstack(boxes), np.concatenate(scores), np.vstack(marks)

    def _finish(self, image, boxes, scores, marks, scale):
        if self.min_face:
            big = np.maximum(boxes[:, 2], boxes[:, 3]) >= self.min_face * scale
            boxes, scores, marks = boxes[big], scores[big], marks[big]
        keep = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), self.threshold, 0.4)
        keep = np.asarray(keep, np.int64).reshape(-1)
        if not len(keep):
            return []
        boxes, scores, marks = boxes[keep] / scale, scores[keep], marks[keep] / scale

        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        crops = []
        for x, y, bw, bh in boxes:
            half = max(bw, bh) * (0.5 + self.margin)
            cx, cy = x + bw / 2, y + bh / 2
            # The square crop, as an affine warp (handles faces at the image border).
            m = np.float32(
                [
                    [self.size / (2 * half), 0, -(cx - half) * self.size / (2 * half)],
                    [0, self.size / (2 * half), -(cy - half) * self.size / (2 * half)],
                ]
            )
            crops.append(
                cv2.warpAffine(gray, m, (self.size, self.size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            )
        batch = ((np.stack(crops).astype(np.float32) - 127.5) / 127.5)[:, None]
        start = time.perf_counter()
        (probs,) = self.cls.run(None, {self.cls.get_inputs()[0].name: batch})
        self.ort_seconds += time.perf_counter() - start
        return [(boxes[i], float(scores[i]), marks[i], probs[i]) for i in range(len(keep))]
