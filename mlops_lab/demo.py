"""``mlops-lab demo``: the worked example notebooks, executed end to end in a fresh store.

The notebooks in ``notebooks/`` (shipped inside the wheel as
``mlops_lab/_notebooks``) run with papermill in a real kernel whose store is
``DIR/.mlops``; then a summary read back from that store is printed.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from .errors import InvalidArgumentError

NOTEBOOKS = ["01-track-and-compare.ipynb"]


def notebooks_dir() -> Path:
    """Where the example notebooks are: in the wheel, or in the source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_notebooks", here.parent / "notebooks"):
        if (candidate / NOTEBOOKS[0]).is_file():
            return candidate
    raise InvalidArgumentError(
        "the example notebooks are missing from this installation (looked in "
        f"{here / '_notebooks'} and {here.parent / 'notebooks'})"
    )


def execute(notebook: Path, output: Path, store_root: Path, cwd: Path) -> None:
    """Run one notebook with papermill in a kernel that records into ``store_root``."""
    import papermill

    previous = {k: os.environ.get(k) for k in ("MLOPS_LAB_HOME", "MLOPS_LAB_NOTEBOOK")}
    os.environ["MLOPS_LAB_HOME"] = str(store_root)
    os.environ["MLOPS_LAB_NOTEBOOK"] = str(notebook)
    try:
        papermill.execute_notebook(
            str(notebook),
            str(output),
            kernel_name="python3",
            cwd=str(cwd),
            progress_bar=True,
            log_output=False,
        )
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_demo(directory: str | os.PathLike[str] = "mlops-lab-demo") -> int:
    """Execute the example notebooks in ``directory`` and print what they recorded."""
    from .compare.tables import runs_table
    from .store import Store
    from .store.query import runs_frame

    target = Path(directory).resolve()
    store_root = target / ".mlops"
    if store_root.exists():
        shutil.rmtree(store_root)
    out_dir = target / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    source = notebooks_dir()
    started = time.perf_counter()
    executed = []
    for i, name in enumerate(NOTEBOOKS, 1):
        print(f"[{i}/{len(NOTEBOOKS)}] executing {name}", flush=True)
        output = out_dir / name
        execute(source / name, output, store_root, target)
        executed.append(output)

    store = Store(store_root)
    frame = runs_frame(store, order_by="metrics.test_accuracy desc")
    best = frame.iloc[0] if len(frame) else None
    print()
    print(f"mlops-lab demo finished in {time.perf_counter() - started:.1f} s")
    print(f"  store:          {store_root}")
    print(f"  runs tracked:   {len(frame)}")
    if best is not None:
        print(
            f"  best run:       {best['name']} ({best['run_id'][:8]}), "
            f"test_accuracy {best['metrics.test_accuracy']:.4f}"
        )
    for path in executed:
        print(f"  notebook:       {path}")
    print()
    print(repr(runs_table(frame.head(10))))
    return 0
