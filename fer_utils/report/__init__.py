"""Stage 6, report: what the notebooks show and what the pipeline writes: figures (``plots``), text made from numbers
(``findings``), the notebooks' starting point (``study``), papermill (``pipeline``), the shipped model's results and
the README's tables (``results``, ``benchmark_results``), and the import graph that ``make`` follows (``imports``).
May import every stage."""
