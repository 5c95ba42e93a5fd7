"""Filters that once crashed the parser answer 400 with the parser's message on the runs route."""

from __future__ import annotations

import json

import pytest
import tornado.httpclient


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"filter": "(" * 3000 + "status = 'x'" + ")" * 3000}, "nested more than"),
        ({"filter": "not " * 3000}, "expected a field"),
        ({"filter": "start_time > '0001-01-01'"}, "not a date or time"),
        ({"filter": "attribute.status = 1"}, "status is text"),
        ({"filter": "tags.team = 5"}, "tags are text"),
        ({"filter": "metrics.acc like '0.9%'"}, "LIKE does not apply"),
        ({"order_by": "(metrics.acc"}, "expected a field"),
    ],
)
async def test_bad_filters_are_400_with_the_parser_message(
    jp_fetch, tracked_runs, params, words
) -> None:
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await jp_fetch("mlops-lab", "api", "runs", params=params)
    assert info.value.code == 400
    body = json.loads(info.value.response.body)
    assert words in body["message"]


async def test_mlflow_spellings_work_on_the_route(jp_fetch, tracked_runs) -> None:
    params = {
        "filter": "attributes.status = 'FINISHED' and metrics.loss != 0.5",
        "order_by": "metrics.loss desc",
    }
    response = await jp_fetch("mlops-lab", "api", "runs", params=params)
    body = json.loads(response.body)
    # svm-3 logged loss NaN: unequal to 0.5, sorted after the numbers.
    assert [r["name"] for r in body["runs"]] == ["rf-1", "rf-0", "gbm-2", "svm-3"]
