"""A verb the two shells share does the same thing in both, over a real server.

``%mlops serve`` passes every flag of ``mlops-lab serve`` to the background
server (``--max-rows`` is enforced over HTTP), on a free port; ``mlops-lab
monitor --reference FILE`` computes the input drift a notebook computes from a
variable.
"""

from __future__ import annotations

import time

import httpx
import pytest

import mlops_lab as ml
from mlops_lab.cli import main
from mlops_lab.store.prediction_records import predictions


@pytest.mark.slow
def test_serve_flags_reach_the_background_server_and_monitor_takes_a_file(
    shell, store, tmp_path, capsys
) -> None:
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    X = load_diabetes(as_frame=True).frame.drop(columns="target")
    y = load_diabetes(as_frame=True).frame["target"]
    with ml.start_run("ridge") as run:
        ml.log_model(Ridge(alpha=0.1).fit(X, y), input_example=X.head())
    ml.register_model(run, "diabetes")
    bundle = ml.package("diabetes/1", tmp_path / "bundle")
    shell.user_ns["bundle_dir"] = str(bundle.path)
    shell.run_cell("server = %mlops serve {bundle_dir} --max-rows 5")
    server = shell.user_ns["server"]
    try:
        assert not server.url.endswith(":8080")  # a free port, not the terminal's default
        rows = X.head(6).to_dict("records")
        too_many = httpx.post(server.url + "/invocations", json={"dataframe_records": rows})
        assert too_many.status_code == 413, too_many.text
        ok = httpx.post(server.url + "/invocations", json={"dataframe_records": rows[:5]})
        assert ok.status_code == 200, ok.text
        deadline = time.monotonic() + 20
        while len(predictions(store, bundle.name)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        server.stop()
    capsys.readouterr()
    assert main(["monitor", bundle.name]) == 0
    assert "pass --reference FILE" in capsys.readouterr().out
    X.to_csv(tmp_path / "train.csv", index=False)
    assert main(["monitor", bundle.name, "--reference", str(tmp_path / "train.csv")]) == 0
    out = capsys.readouterr().out
    assert "drifted columns" in out, out
    shell.user_ns["X"] = X
    shell.run_cell(
        "report = %mlops monitor {bundle_name} --reference X".replace("{bundle_name}", bundle.name)
    )
    assert "drifted columns" in shell.user_ns["report"].to_text()
