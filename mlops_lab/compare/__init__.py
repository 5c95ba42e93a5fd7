"""Run views: the runs table, one run's details and the comparison of runs.

Each view renders as HTML in a notebook and as text in a terminal. Plotly
and ipywidgets are imported only by the interactive views.

``ml.compare`` is both this package and the function
:func:`mlops_lab.compare.api.compare`: importing a submodule makes Python bind
the package as the ``compare`` attribute of ``mlops_lab``, replacing the
function, so the package itself is made callable and calls the function.
"""

from __future__ import annotations

from .._shadow import call_through

call_through(__name__, "mlops_lab.compare.api.compare")
