"""OpenAPI fuzzing: schemathesis drives every operation of the real server from its own spec.

The server under test is a real uvicorn on 127.0.0.1 (the ``serve_model``
fixture), and the spec is the one it publishes at ``/openapi.json``. Each
operation gets a bounded number of generated requests, both ones that fit
the spec (positive) and ones that break it (negative), with a fixed seed;
whatever a client sends, the answer is never a 5xx (``not_a_server_error``).
The iris model (a categorical column) is served behind a bearer token, the
cancer model (numbers only) without one.
"""

from __future__ import annotations

import itertools

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

EXAMPLES = 25  # per operation and generation mode
SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,  # the same requests every run
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
)


def fuzz(url: str, *, headers: dict[str, str] | None = None) -> tuple[int, list[str]]:
    """Run every operation of ``url``'s spec; return (operations, failure reports).

    Operations with path parameters run twice: with generated names (mostly a
    404) and with the served model's name and version, so that generated
    bodies reach the parsing and validation behind the route.
    """
    import requests

    headers = headers or {}
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json", headers=headers)
    served = requests.get(f"{url}/version", headers=headers, timeout=30).json()
    real = {"model_name": served["model"], "model_version": str(served["version"])}
    failures: list[str] = []
    operations = [op.ok() for op in schema.get_all_operations()]
    with requests.Session() as session:
        for operation in operations:
            names = [p.name for p in operation.path_parameters]
            variants = [None, {n: real[n] for n in names}] if names else [None]
            for path_parameters, mode in itertools.product(variants, GenerationMode):
                strategy = operation.as_strategy(
                    generation_mode=mode, path_parameters=path_parameters
                )

                @SETTINGS
                @given(case=strategy)
                def check(case):
                    case.call_and_validate(
                        base_url=url, session=session, headers=headers, checks=[not_a_server_error]
                    )

                try:
                    check()
                except Unsatisfiable:
                    # Nothing in this operation can break the spec (no body, string-only
                    # parameters): only the positive mode applies.
                    assert mode is GenerationMode.NEGATIVE, operation.label
                except (Exception, BaseExceptionGroup) as exc:  # one report per variant
                    failures.append(f"{operation.label} {path_parameters} ({mode}): {exc}")
    return len(operations), failures


@pytest.mark.parametrize(
    ("which", "token"),
    [("cancer", None), ("iris", "s3cret")],
    ids=["numeric-open", "categorical-token"],
)
def test_fuzzing_every_operation_finds_no_server_error(serve_model, which, token):
    served = serve_model(which, token=token)
    headers = {"Authorization": f"Bearer {token}"} if token else None
    n_operations, failures = fuzz(served.url, headers=headers)
    assert n_operations == 14  # v2, MLflow, metrics: the whole published surface
    assert not failures, "\n\n".join(failures)
