"""Run views: the runs table, one run's details and the comparison of runs.

Each view renders as HTML in a notebook and as text in a terminal. Plotly
and ipywidgets are imported only by the interactive views. The public entry
points are :func:`mlops_lab.compare` and :func:`mlops_lab.runs_widget`
(:mod:`.api`).
"""
