from __future__ import annotations

import pytest
from data_frames import make_frame

import mlops_lab as ml
from mlops_lab.data.check import run_check, run_drift, run_validate
from mlops_lab.errors import DataError


@pytest.fixture
def project(tmp_path):
    (tmp_path / "data").mkdir()
    make_frame(seed=0).to_parquet(tmp_path / "data" / "train.parquet")
    make_frame(seed=1).to_parquet(tmp_path / "data" / "new.parquet")
    bad = make_frame(seed=2)
    bad["income"] = bad["income"] * 3
    bad.to_parquet(tmp_path / "data" / "bad.parquet")
    ml.infer_schema(make_frame(seed=0)).save(tmp_path / "schemas" / "train.json")
    return tmp_path


def test_validate_and_drift_exit_codes(project) -> None:
    lines: list[str] = []
    schema = project / "schemas" / "train.json"
    assert run_validate(project / "data" / "new.parquet", schema=schema, out=lines.append) == 0
    assert run_validate(project / "data" / "bad.parquet", schema=schema, out=lines.append) == 1
    assert "FAILED" in lines[-1] and "income" in lines[-1]
    train, new, bad = (project / "data" / f"{n}.parquet" for n in ("train", "new", "bad"))
    assert run_drift(train, new, out=lines.append) == 0
    assert run_drift(train, bad, drift_share=0.1, out=lines.append) == 1


CONFIG = """
[[check.validate]]
data = "data/new.parquet"
schema = "schemas/train.json"

[[check.validate]]
data = "data/{validate}.parquet"
schema = "schemas/train.json"

[[check.drift]]
reference = "data/train.parquet"
current = "data/{drift}.parquet"
drift_share = 0.1
thresholds = {{ wasserstein = 0.3 }}
"""


@pytest.mark.parametrize(
    ("validate", "drift", "code"),
    [("new", "new", 0), ("bad", "new", 1), ("new", "bad", 1), ("missing", "new", 1)],
)
def test_check_runs_the_declared_checks(
    project, monkeypatch, capsys, validate, drift, code
) -> None:
    (project / "mlops-lab.toml").write_text(CONFIG.format(validate=validate, drift=drift))
    (project / "sub").mkdir()
    monkeypatch.chdir(project / "sub")  # found walking up
    assert run_check() == code
    out = capsys.readouterr().out
    assert f"{3 - code} of 3 checks passed" in out
    if validate == "missing":
        assert "ERROR: no dataset file at" in out


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (None, "no mlops-lab.toml found"),
        ("[check", "cannot read"),
        ("[check.lint]\na = 1", "unknown check kinds"),
    ],
)
def test_bad_config(tmp_path, monkeypatch, content, match) -> None:
    monkeypatch.chdir(tmp_path)
    if content is not None:
        (tmp_path / "mlops-lab.toml").write_text(content)
    with pytest.raises(DataError, match=match):
        run_check()


def _cli(argv: list[str]) -> int:
    from mlops_lab.cli import build_parser, run

    args = build_parser().parse_args(argv)
    return run(args.spec, args)


def test_subcommands(project, monkeypatch, capsys) -> None:
    data, schema = project / "data", project / "schemas" / "train.json"
    assert _cli(["validate", str(data / "new.parquet"), "--schema", str(schema)]) == 0
    assert _cli(["validate", str(data / "bad.parquet"), "-s", str(schema)]) == 1
    drift_args = ["drift", str(data / "train.parquet"), str(data / "bad.parquet")]
    assert _cli([*drift_args, "--drift-share", "0.1"]) == 1
    assert _cli([*drift_args, "--threshold", "income=5"]) == 0
    (project / "mlops-lab.toml").write_text(
        '[[check.validate]]\ndata = "data/new.parquet"\nschema = "schemas/train.json"\n'
    )
    monkeypatch.chdir(project)
    from mlops_lab.cli import main

    assert main(["check"]) == 0
    assert "1 of 1 checks passed" in capsys.readouterr().out
    with pytest.raises(ml.MlopsLabError, match="--threshold expects KEY=VALUE"):
        _cli([*drift_args, "--threshold", "x"])


def test_verb_and_command_modules_import_nothing_heavy() -> None:
    import subprocess
    import sys

    code = (
        "import sys, mlops_lab.commands, mlops_lab.cli, mlops_lab.data.check;"
        "mlops_lab.commands.commands();"
        "print(sorted(m for m in ('pandas', 'numpy', 'scipy', 'pyarrow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
