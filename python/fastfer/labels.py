"""The expression classes, in the FER2013 order every model and result uses."""

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
