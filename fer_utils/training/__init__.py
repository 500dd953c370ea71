"""Stage 4, training: options and profiles (``config``), augmentation, input pipelines, the schedule, several
processes, run folders, the training loop (``train``), Optuna sweeps and the GPU profiles.
Imports the base modules, ``data``, ``model`` and ``evaluation``."""
