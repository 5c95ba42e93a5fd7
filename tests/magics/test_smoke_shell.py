from __future__ import annotations

import pytest
from IPython.core.error import UsageError

import mlops_lab as ml


def test_param_and_log_through_the_shell(shell) -> None:
    shell.run_cell("%mlops start first --tag team=a")
    shell.run_cell("%mlops param C=0.5 model='rf' layers=[64, 32]")
    assert shell.user_ns["C"] == 0.5
    assert shell.user_ns["layers"] == [64, 32]
    shell.run_cell("%mlops log acc=0.9 loss=C/10")
    shell.run_cell("%mlops end")
    run = ml.get_run("first")
    assert run.params == {"C": 0.5, "model": "rf", "layers": [64, 32]}
    assert run.metrics == {"acc": 0.9, "loss": 0.05}
    assert run.tags == {"team": "a"}
    sources = [c["source"] for c in run.cells]
    assert sources[0].startswith("%mlops start")
    assert sources[-1] == "%mlops end"


def test_unknown_verb_is_one_line(shell) -> None:
    with pytest.raises(UsageError, match="unknown verb 'bogus'; valid verbs are"):
        shell.run_cell("%mlops bogus")
