"""The holder's process resources: one instance per process, made once, closed when asked."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid

import pytest

from mlops_lab.project import (
    discard_process_resource,
    peek_process_resource,
    process_resource,
    reset_default,
)


class Thing:
    made = 0

    def __init__(self) -> None:
        time.sleep(0.01)  # a slow factory: threads asking meanwhile must wait for it
        Thing.made += 1
        self.closed = False

    def close(self) -> None:
        self.closed = True


def _key() -> str:
    return f"tests.{uuid.uuid4().hex}"


def test_threads_asking_at_once_get_the_one_instance() -> None:
    key, got = _key(), []
    Thing.made = 0
    threads = [
        threading.Thread(target=lambda: got.append(process_resource(key, Thing))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Thing.made == 1
    assert len({id(g) for g in got}) == 1
    assert peek_process_resource(key) is got[0]
    discard_process_resource(key)


def test_discard_closes_and_the_next_use_makes_a_new_one() -> None:
    key = _key()
    first = process_resource(key, Thing, close=Thing.close)
    discard_process_resource(key)
    assert first.closed
    assert peek_process_resource(key) is None
    assert process_resource(key, Thing, close=Thing.close) is not first
    discard_process_resource(key)


def test_reset_default_lets_go_of_the_resources_made_with_reset_only() -> None:
    kept, dropped = _key(), _key()
    stays = process_resource(kept, Thing, close=Thing.close)
    goes = process_resource(dropped, Thing, close=Thing.close, reset=True)
    reset_default()
    assert goes.closed and peek_process_resource(dropped) is None
    assert not stays.closed and peek_process_resource(kept) is stays
    discard_process_resource(kept)


def test_a_stale_instance_is_replaced() -> None:
    key = _key()
    first = process_resource(key, Thing, stale=lambda t: t.closed)
    assert process_resource(key, Thing, stale=lambda t: t.closed) is first
    first.close()
    second = process_resource(key, Thing, stale=lambda t: t.closed)
    assert second is not first and not second.closed
    discard_process_resource(key)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_a_forked_child_makes_its_own_when_not_inherited() -> None:
    code = (
        "import os\n"
        "from mlops_lab.project import process_resource\n"
        "own = process_resource('t.own', object, inherit=False)\n"
        "shared = process_resource('t.shared', object)\n"
        "r, w = os.pipe()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    ok = process_resource('t.own', object, inherit=False) is not own\n"
        "    ok = ok and process_resource('t.shared', object) is shared\n"
        "    os.write(w, b'1' if ok else b'0')\n"
        "    os._exit(0)\n"
        "os.waitpid(pid, 0)\n"
        "print(os.read(r, 1).decode())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "1", out.stderr


def test_close_all_projects_closes_the_closable_resources() -> None:
    code = (
        "from mlops_lab.project import close_all_projects, peek_process_resource, "
        "process_resource\n"
        "class T:\n"
        "    closed = False\n"
        "    def close(self): self.closed = True\n"
        "t = process_resource('t.closable', T, close=T.close)\n"
        "u = process_resource('t.plain', T)\n"
        "close_all_projects()\n"
        "print(t.closed, peek_process_resource('t.closable'), peek_process_resource('t.plain') is u)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.split() == ["True", "None", "True"], out.stderr
