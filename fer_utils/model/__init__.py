"""Stage 2, model: the network (``network``), checkpoints, the classifier and its test-time views, what runs it
(``engines``: PyTorch or onnxruntime), the logit cache, export and the realtime onnxruntime twin. Imports the base
modules and ``data``."""
