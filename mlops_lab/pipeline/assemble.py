"""The promoted train notebook: the run's captured cells, sliced, then written out.

:func:`sliced_code` reads the run's cells (its context and its own, less the
cells deleted from the saved notebook) and keeps the slice that produced its
results (:mod:`.slicing`), refusing a slice that uses a name no earlier cell
defines; :func:`write_notebook` writes the title, the papermill ``parameters``
cell and the code (:mod:`.parameters` decides what the parameters are).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import PipelineError, PromotionError
from .slicing import Cell, Slice, slice_cells
from .spec import Param

if TYPE_CHECKING:
    from ..tracking.run import Run


def session_cells(run: Run) -> list[Cell]:
    """The run's stored cells (its context and its own), as :class:`~.slicing.Cell`."""
    out = []
    for row in run.store.cells(run.run_id, context=True):
        in_run = row.get("kind") != "context"
        count = row.get("execution_count")
        out.append(
            Cell(
                row["source"],
                status=row.get("status") or "ok",
                in_run=in_run,
                cell_id=row.get("cell_id"),
                execution_count=count,
                label=f"[{count}]" if count is not None else f"#{row['seq']}",
            )
        )
    return _without_deleted(out, run.info.get("source_path"))


def _without_deleted(cells: list[Cell], notebook: str | None) -> list[Cell]:
    """Leave out the cells whose front-end id is no longer in the saved notebook."""
    if not notebook or not str(notebook).endswith(".ipynb") or not any(c.cell_id for c in cells):
        return cells
    try:
        import nbformat

        nb = nbformat.read(notebook, as_version=4)
    except Exception:  # no file, or not a notebook: nothing tells what was deleted
        return cells
    ids = {c.get("id") for c in nb.cells if c.get("id")}
    if not ids:
        return cells
    return [c for c in cells if not c.cell_id or c.cell_id in ids]


def _first_line(source: str) -> str:
    line = next((ln for ln in source.splitlines() if ln.strip()), "")
    return line.strip()[:80]


def _refuse_unresolved(cells: list[Cell], sliced: Slice, pipeline: str) -> None:
    if not sliced.unresolved:
        return
    lines = []
    for item in sliced.unresolved:
        cell = cells[item.cell]
        lines.append(
            f"  {item.name!r}, used by cell {cell.label} ({_first_line(cell.source)}): {item.hint}"
        )
    first = sliced.unresolved[0]
    raise PromotionError(
        "cannot promote: the run's code uses names that no earlier cell defines, so the "
        "pipeline's notebook would fail:\n"
        + "\n".join(lines)
        + "\nDefine them in a cell (and run it), then run the training cells again.",
        pipeline=pipeline,
        name=first.name,
        cell=cells[first.cell].label,
    )


def sliced_code(target: Run, name: str) -> tuple[list[Cell], Slice]:
    """The run's captured cells and the slice of them that produced its results."""
    cells = session_cells(target)
    if not any(c.in_run for c in cells):
        raise PipelineError(
            f"run {target.run_id[:8]} captured no code (was %load_ext mlops_lab loaded "
            "while it ran?)",
            pipeline=name,
        )
    sliced = slice_cells(cells)
    _refuse_unresolved(cells, sliced, name)
    return cells, sliced


def workdir(target: Run) -> Path:
    """Where the run's relative paths point: its notebook's folder, else the working dir."""
    source_nb = target.info.get("source_path")
    if source_nb and str(source_nb).endswith(".ipynb") and Path(source_nb).parent.is_dir():
        return Path(source_nb).resolve().parent
    return Path.cwd()


def write_notebook(
    path: Path, target: Run, name: str, params: dict[str, Param], body: list[str]
) -> None:
    """The train notebook: a title, the papermill ``parameters`` cell, then the code."""
    import nbformat
    import nbformat.v4 as nbf

    code = [nbf.new_code_cell(text) for text in body]
    load = nbf.new_code_cell("%load_ext mlops_lab")
    nb = nbf.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["mlops_lab"] = {"pipeline": name, "source_run": target.run_id}
    nb.cells = [
        nbf.new_markdown_cell(
            f"# {name}: training step\n\nPromoted from run `{target.run_id[:8]}` "
            f"({target.info['name']}). Run it with `mlops-lab pipeline run {name} -p NAME VALUE`."
        ),
        nbf.new_code_cell(
            "\n".join(f"{k} = {p.default!r}" for k, p in params.items()) or "# no parameters",
            metadata={"tags": ["parameters"]},
        ),
        *([] if code and "%load_ext mlops_lab" in code[0].source else [load]),
        *code,
    ]
    nbformat.write(nb, path)
