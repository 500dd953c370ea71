"""Stage 6, report: what the notebooks show and what the pipeline writes: figures (``plots``), text made from numbers
(``findings``), the notebooks' starting point (``study``), papermill (``pipeline``), the shipped model
(``results``), and a labelled folder of anyone's faces scored (``score_folder``). May import every stage."""
