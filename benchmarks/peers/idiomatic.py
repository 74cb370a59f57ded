"""fastfer's default models driven the way a user writes it in a page of cv2 + numpy +
onnxruntime, and OpenCV's own YuNet runner (cv2.FaceDetectorYN) with the same classifier.

Both read the ONNX files shipped inside fastfer, feed the detector the same tensor size as
fastfer (its input-size policy), keep the same score threshold and NMS IoU, and crop faces the way
the classifier's manifest entry says (a square ``1 + 2 * margin`` times the box's long side), so
a speed difference is what happens outside ONNX Runtime. Faces are returned as
``[(x1, y1, x2, y2, label), ...]``.
"""

from __future__ import annotations

import cv2
import numpy as np
import onnxruntime as ort

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def _session(path, threads: int = 1) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class Classifier:
    """A grey-input FER2013 classifier (fernet, mini-Xception) with its manifest crop."""

    def __init__(self, path, spec: dict):
        self.session, self.size = _session(path), int(spec["input"]["size"][0])
        self.margin = float(spec["crop"]["margin"])
        self.name = spec["input"]["name"]

    def labels(self, image: np.ndarray, boxes: np.ndarray) -> list:
        if len(boxes) == 0:
            return []
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        crops = []
        for x1, y1, x2, y2 in boxes:
            side = max(x2 - x1, y2 - y1) * (1 + 2 * self.margin)
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            a, b = int(round(cx - side / 2)), int(round(cy - side / 2))
            n = max(1, int(round(side)))
            crop = cv2.copyMakeBorder(gray, n, n, n, n, cv2.BORDER_REPLICATE)[b + n : b + 2 * n, a + n : a + 2 * n]
            crops.append(cv2.resize(crop, (self.size, self.size), interpolation=cv2.INTER_LINEAR))
        batch = (np.stack(crops).astype(np.float32) - 127.5) / 127.5
        (probs,) = self.session.run(None, {self.name: batch[:, None]})
        return [LABELS[i] for i in probs.argmax(axis=1)]


def _resized(image: np.ndarray, long_side: int) -> tuple:
    """The image shrunk so its long side is at most ``long_side``, padded to a multiple of 32."""
    h, w = image.shape[:2]
    scale = min(1.0, long_side / max(h, w))
    small = (
        cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_LINEAR) if scale < 1 else image
    )
    sh, sw = small.shape[:2]
    padded = cv2.copyMakeBorder(small, 0, -sh % 32, 0, -sw % 32, cv2.BORDER_CONSTANT, value=0)
    return padded, scale


class YuNetFer:
    """YuNet with onnxruntime and numpy (its decoding as OpenCV's FaceDetectorYN does it)."""

    def __init__(self, det_path, det_spec, cls_path, cls_spec, threshold: float, nms_iou: float = 0.4):
        self.session, self.steps = _session(det_path), det_spec["decoder"]["steps"]
        self.threshold, self.nms_iou = threshold, nms_iou
        self.classifier = Classifier(cls_path, cls_spec)

    def __call__(self, image: np.ndarray, long_side: int) -> list:
        padded, scale = _resized(image, long_side)
        blob = padded.transpose(2, 0, 1)[None].astype(np.float32)
        out = dict(zip([o.name for o in self.session.get_outputs()], self.session.run(None, {"input": blob})))
        boxes, scores = [], []
        for s in self.steps:
            cols = padded.shape[1] // s
            score = np.sqrt(np.clip(out[f"cls_{s}"][0, :, 0], 0, 1) * np.clip(out[f"obj_{s}"][0, :, 0], 0, 1))
            keep = np.flatnonzero(score >= self.threshold)
            d = out[f"bbox_{s}"][0, keep]
            cx, cy = (keep % cols + d[:, 0]) * s, (keep // cols + d[:, 1]) * s
            w, h = np.exp(d[:, 2]) * s, np.exp(d[:, 3]) * s
            boxes.append(np.stack([cx - w / 2, cy - h / 2, w, h], axis=1))
            scores.append(score[keep])
        return _finish(
            self.classifier, image, np.concatenate(boxes), np.concatenate(scores), scale, self.threshold, self.nms_iou
        )


class RetinaFaceFer:
    """RetinaFace (MobileNetV2) with onnxruntime and numpy: priors, decoding, cv2 NMS."""

    def __init__(self, det_path, det_spec, cls_path, cls_spec, threshold: float, nms_iou: float = 0.4):
        self.session, self.decoder, self.cache = _session(det_path), det_spec["decoder"], {}
        self.threshold, self.nms_iou = threshold, nms_iou
        self.classifier = Classifier(cls_path, cls_spec)

    def _priors(self, h: int, w: int) -> np.ndarray:
        if (h, w) not in self.cache:  # a fair user caches them per input size
            levels = []
            for step, sizes in zip(self.decoder["steps"], self.decoder["min_sizes"]):
                ys, xs = np.mgrid[0 : -(-h // step), 0 : -(-w // step)]
                cx = np.repeat((xs.ravel() + 0.5) * step / w, len(sizes))
                cy = np.repeat((ys.ravel() + 0.5) * step / h, len(sizes))
                m = np.tile(np.asarray(sizes, np.float32), xs.size)
                levels.append(np.stack([cx, cy, m / w, m / h], axis=1))
            self.cache[(h, w)] = np.concatenate(levels).astype(np.float32)
        return self.cache[(h, w)]

    def __call__(self, image: np.ndarray, long_side: int) -> list:
        padded, scale = _resized(image, long_side)
        h, w = padded.shape[:2]
        blob = padded[None, :, :, ::-1].astype(np.float32)  # NHWC RGB 0..255
        deltas, _, probs = self.session.run(["boxes", "landmarks", "scores"], {"image": blob})
        score = probs[0, :, 1]
        keep = np.flatnonzero(score >= self.threshold)
        p, d = self._priors(h, w)[keep], deltas[0, keep]
        centre = p[:, :2] + d[:, :2] * 0.1 * p[:, 2:]
        size = p[:, 2:] * np.exp(d[:, 2:] * 0.2)
        boxes = np.hstack([centre - size / 2, size]) * [w, h, w, h]
        return _finish(self.classifier, image, boxes, score[keep], scale, self.threshold, self.nms_iou)


def _finish(classifier, image, boxes_xywh, scores, scale, threshold, nms_iou) -> list:
    picked = cv2.dnn.NMSBoxes(boxes_xywh.tolist(), scores.tolist(), threshold, nms_iou)
    xywh = boxes_xywh[np.asarray(picked, int).reshape(-1)] / scale
    boxes = np.hstack([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]]) if len(xywh) else np.zeros((0, 4))
    return [(*box, label) for box, label in zip(boxes.tolist(), classifier.labels(image, boxes))]


class OpenCvYuNetFer:
    """cv2.FaceDetectorYN (OpenCV's own YuNet runner) + the same classifier through onnxruntime."""

    def __init__(self, det_path, cls_path, cls_spec, threshold: float, nms_iou: float = 0.4):
        cv2.setNumThreads(1)
        self.detector = cv2.FaceDetectorYN.create(str(det_path), "", (320, 320), threshold, nms_iou, 5000)
        self.classifier = Classifier(cls_path, cls_spec)

    def __call__(self, image: np.ndarray, long_side: int) -> list:
        h, w = image.shape[:2]
        scale = min(1.0, long_side / max(h, w))
        small = cv2.resize(image, (round(w * scale), round(h * scale))) if scale < 1 else image
        self.detector.setInputSize((small.shape[1], small.shape[0]))
        _, found = self.detector.detect(small)
        xywh = (found[:, :4] / scale) if found is not None else np.zeros((0, 4))
        boxes = np.hstack([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]])
        return [(*box, label) for box, label in zip(boxes.tolist(), self.classifier.labels(image, boxes))]
