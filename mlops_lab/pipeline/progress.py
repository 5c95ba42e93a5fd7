"""The progress bar of a pipeline run or a sweep: a widget in a notebook, tqdm in a terminal.

``tqdm.auto`` chooses: in a Jupyter kernel with ipywidgets, a widget; anywhere
else, a text bar on stderr. A widget's saved text (what an executed notebook
keeps: papermill, nbconvert, a notebook opened without its kernel) is the bar
as it was when it was first displayed, ``0/5``. So the widget is displayed with
a display id and displayed again under that id when the bar closes: the saved
output then shows the final state (``5/5``, or where it stopped).
"""

from __future__ import annotations

import sys
from typing import Any


class Progress:
    """A tqdm bar over ``total`` steps; ``close()`` leaves its final state in a notebook."""

    def __init__(self, *, total: int, desc: str, unit: str = "it", enabled: bool = True) -> None:
        from tqdm.auto import tqdm

        notebook = sys.modules.get("tqdm.notebook")
        widget = enabled and notebook is not None and issubclass(tqdm, notebook.tqdm)
        options: dict[str, Any] = {"display": False} if widget else {}
        self.bar = tqdm(
            total=total, desc=desc, unit=unit, disable=not enabled, leave=True, **options
        )
        self._handle: Any = None
        if widget and not self.bar.disable:
            from IPython.display import display

            self._handle = display(self.bar.container, display_id=True)
            self.bar.displayed = True

    def describe(self, desc: str) -> None:
        self.bar.set_description(desc)

    def update(self, n: int = 1) -> None:
        self.bar.update(n)

    def close(self) -> None:
        self.bar.close()
        if self._handle is not None:
            self._handle.update(self.bar.container)
            self._handle = None
