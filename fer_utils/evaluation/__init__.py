"""Stage 3, evaluation: predictions scored (``evaluate``: accuracy, F1, confusion, the test subsets), calibration,
perturbations for robustness, and Grad-CAM. Training's sweeps score their trials with it. Imports the base modules,
``data`` and ``model``."""
