"""The seven FER2013 classes, in the order of the dataset's folders and of every model's outputs."""

EMOTIONS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
