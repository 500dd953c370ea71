"""Stage 1, data: FER2013 obtained, verified and decoded once into arrays (``fer2013``), its blank images and
duplicates (``audit``), and the one train/validation split (``splits``). Imports only the base modules of
``fer_utils`` (labels, paths, device, scores, provenance)."""
