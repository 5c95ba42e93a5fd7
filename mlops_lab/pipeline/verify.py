"""Promotion verifies itself: the new train notebook, run once, logs the run's metrics.

:func:`verify` executes a promoted ``train.ipynb`` with papermill in a real
kernel (a fresh one from the process's pool of pre-started kernels, so the
pipeline runs that usually follow a promotion find the next one started), with the pipeline's defaults (the promoted run's own parameters), against
a throwaway store, so nothing is added to the project's store; then it compares
every metric the run logged with the one the notebook logged, within ``rtol``.
A notebook that fails raises :class:`~mlops_lab.errors.PromotionError` naming the
cell and the error; the outcome is recorded in ``pipeline.json``
(``source.verification``).
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import PromotionError
from ..project import RUN_ID_ENV_VAR, default_project
from ..store import Store
from .kernel import execute_notebook
from .run import kernel_environment

if TYPE_CHECKING:
    from ..tracking.run import Run
    from .spec import PipelineSpec


@dataclass
class Verification:
    """Metrics of the promoted run against those of its notebook run once."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    rtol: float = 1e-6
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return all(r["ok"] for r in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": "passed" if self.passed else "failed",
            "rtol": self.rtol,
            "seconds": round(self.seconds, 2),
            "metrics": self.rows,
        }

    def __str__(self) -> str:
        lines = [f"verification {'passed' if self.passed else 'FAILED'} (rtol {self.rtol:g})"]
        for r in self.rows:
            mark = "" if r["ok"] else "  <- differs"
            lines.append(
                f"  {r['metric']}: run {r['recorded']!r}, notebook {r['reproduced']!r}{mark}"
            )
        return "\n".join(lines)


def _close(a: float | None, b: float | None, rtol: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=rtol, abs_tol=rtol * 1e-6)


def verify(
    spec: PipelineSpec,
    run: Run,
    *,
    rtol: float = 1e-6,
    kernel_name: str | None = None,
    timeout: float | None = 600,
) -> Verification:
    """Run ``spec``'s notebook once with its defaults and compare metrics with ``run``'s.

    Raises
    ------
    PromotionError
        The notebook failed (names the cell and the error), or a metric differs.
    """
    started = time.monotonic()
    expected = run.metrics
    project = default_project()
    with tempfile.TemporaryDirectory(prefix="mlops-verify-") as tmp:
        store = Store(Path(tmp) / ".mlops")
        saved = list(project.stack)
        project.stack.clear()  # a top-level run in the throwaway store, even inside an open run
        try:
            check = project.start_run(
                f"{spec.name}-verify",
                experiment=spec.experiment,
                tags={"mlops.pipeline": spec.name, "mlops.step": "verify"},
                parent=None,
                store=store,
                source={"source_type": "notebook", "source_path": str(spec.notebook_path)},
            )
            error: BaseException | None = None
            with kernel_environment(
                MLOPS_LAB_HOME=str(store.root),
                MLOPS_LAB_NOTEBOOK=str(spec.notebook_path),
                MLOPS_LAB_WIDGETS="0",
                **{RUN_ID_ENV_VAR: check.run_id},
            ):
                try:
                    execute_notebook(  # the quiet kernel: nothing printed into the cell
                        str(spec.notebook_path),
                        str(Path(tmp) / "train.verify.ipynb"),
                        parameters={k: p.default for k, p in spec.params.items()},
                        kernel_name=kernel_name or spec.kernel,
                        cwd=str(spec.workdir_path),
                        progress_bar=False,
                        execution_timeout=timeout,
                    )
                except Exception as exc:  # papermill's execution error, a dead kernel...
                    error = exc
            project.end_run("failed" if error else "finished", run=check, release=True)
            got = store.latest_metrics(check.run_id)
        finally:
            project.stack[:] = saved
    if error is not None:
        where = getattr(error, "exec_count", None)
        source = (getattr(error, "source", "") or "").strip()
        raise PromotionError(
            f"promotion of {spec.name!r} did not verify: the train notebook failed"
            + (f" at cell [{where}]" if where is not None else "")
            + (":\n" + "\n".join("    " + ln for ln in source.splitlines()) if source else "")
            + f"\n{getattr(error, 'ename', type(error).__name__)}: "
            f"{getattr(error, 'evalue', error)}\n(the notebook is kept in {spec.folder}; "
            "promote with verify=False / --no-verify to skip this check)",
            pipeline=spec.name,
            cell=str(where) if where is not None else None,
        )
    result = Verification(rtol=rtol, seconds=time.monotonic() - started)
    for key, value in sorted(expected.items()):
        other = got.get(key)
        result.rows.append(
            {
                "metric": key,
                "recorded": value,
                "reproduced": other,
                "ok": _close(value, other, rtol),
            }
        )
    return result


def verify_promotion(spec: PipelineSpec, target: Run, *, rtol: float) -> None:
    """:func:`verify` ``spec`` against ``target``, record the outcome in ``pipeline.json``.

    Raises
    ------
    PromotionError
        The notebook failed, or it logged other metrics than the run.
    """
    try:
        outcome = verify(spec, target, rtol=rtol)
    except PromotionError as exc:
        spec.source["verification"] = {"status": "error", "rtol": rtol, "error": str(exc)}
        spec.save()
        raise
    spec.source["verification"] = outcome.to_dict()
    spec.save()
    if not outcome.passed:
        raise PromotionError(
            f"promotion of {spec.name!r} did not verify: the train notebook, run with the run's "
            f"own parameters, logged other metrics:\n{outcome}\n(the notebook is kept in "
            f"{spec.folder}; promote with verify=False / --no-verify to skip this check)",
            pipeline=spec.name,
        )
