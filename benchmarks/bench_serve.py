"""Model serving, side by side: ``mlflow models serve``, ``mlops-lab serve`` and a bare FastAPI app.

The same LogisticRegression (scikit-learn's breast_cancer data) is served by
each server in turn, one uvicorn worker each, on 127.0.0.1 only. For each
server the script measures, in the same run:

1. the time from launching the process to the first answered prediction;
2. sequential 1-row requests over one keep-alive connection: p50 and p99;
3. 8 concurrent keep-alive clients sending 1-row requests: requests/s and p50.

mlops-lab runs with input validation and the prediction log on (the log
writes to a temporary store). Every load phase is bounded in count and time.
The machines are shared and noisy: compare the ratios, not absolute figures.

Usage (MLflow must be installed: ``pip install -e ".[bench,serve,onnx]" httpx``)::

    python benchmarks/bench_serve.py            # 3 rounds, writes RESULTS_serve.md
    python benchmarks/bench_serve.py --quick    # 1 round, fewer requests, writes nothing
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

HOST = "127.0.0.1"
CLIENTS = 8

BARE_APP = """
# The reference limit: parse JSON, numpy array, predict, return JSON. No pandas,
# no validation, no logging.
import json, sys
import numpy as np, skops.io as sio
from fastapi import FastAPI, Request
from fastapi.responses import Response
model = sio.load(sys.argv[1], trusted=sio.get_untrusted_types(file=sys.argv[1]))
app = FastAPI()

@app.post("/invocations")
async def invocations(request: Request):
    rows = json.loads(await request.body())["dataframe_split"]["data"]
    predictions = model.predict(np.asarray(rows, dtype=np.float64)).tolist()
    return Response(json.dumps({"predictions": predictions}), media_type="application/json")

import uvicorn
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def prepare(workdir: Path) -> dict[str, list[str]]:
    """Train once; write the MLflow model, the mlops-lab bundle and the bare app's model."""
    import mlflow.sklearn
    import skops.io as sio
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    import mlops_lab as ml

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=5000).fit(X, y)
    X_np = X.to_numpy()  # the bare app's model is fitted without column names
    bare = LogisticRegression(max_iter=5000).fit(X_np, y)
    mlflow.sklearn.save_model(model, str(workdir / "mlflow-model"), input_example=X.head())
    os.environ["MLOPS_LAB_HOME"] = str(workdir / ".mlops")
    with ml.start_run("bench-serve") as run:
        ml.log_model(model, input_example=X.head())
    bundle = ml.package(run, workdir / "bundle", input_example=X.sample(100, random_state=0))
    print(f"mlops-lab bundle: onnx {bundle.onnx['status']}", flush=True)
    sio.dump(bare, workdir / "model.skops")
    (workdir / "bare.py").write_text(BARE_APP)
    body = json.dumps(
        {"dataframe_split": json.loads(X.head(1).to_json(orient="split", index=False))}
    )
    (workdir / "body.json").write_text(body)
    return {
        "mlflow": [
            sys.executable, "-m", "mlflow", "models", "serve", "-m", str(workdir / "mlflow-model"),
            "--env-manager", "local", "-h", HOST, "-w", "1", "-p", "{port}",
        ],
        "mlops-lab": [
            sys.executable, "-m", "mlops_lab.serve", str(workdir / "bundle"),
            "--host", HOST, "--port", "{port}",
        ],
        "bare FastAPI": [sys.executable, str(workdir / "bare.py"), str(workdir / "model.skops"), "{port}"],
    }  # fmt: skip


def launch(cmd: list[str], body: bytes, log: Path) -> tuple[subprocess.Popen, str, float]:
    import httpx

    port = free_port()
    url = f"http://{HOST}:{port}"
    started = time.perf_counter()
    with open(log, "ab") as out:
        # mlflow starts `uvicorn` from PATH: make it this environment's.
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        }
        proc = subprocess.Popen(
            [c.replace("{port}", str(port)) for c in cmd],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd[:4]} exited; see {log}")
        try:
            r = httpx.post(
                url + "/invocations",
                content=body,
                headers={"content-type": "application/json"},
                timeout=2,
            )
            if r.status_code == 200:
                return proc, url, time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.02)
    proc.kill()
    raise RuntimeError(f"{cmd[:4]} not ready within 120 s; see {log}")


def sequential(url: str, body: bytes, n: int) -> list[float]:
    import httpx

    headers = {"content-type": "application/json"}
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(min(50, n)):
            client.post("/invocations", content=body, headers=headers)
        out = []
        for _ in range(n):
            t = time.perf_counter()
            r = client.post("/invocations", content=body, headers=headers)
            out.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text
    return out


def concurrent(url: str, body: bytes, per_client: int, seconds: float) -> tuple[float, list[float]]:
    import httpx

    headers = {"content-type": "application/json"}
    latencies: list[list[float]] = [[] for _ in range(CLIENTS)]
    barrier = threading.Barrier(CLIENTS + 1)
    stop_at = [0.0]

    def client(k: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as c:
            c.post("/invocations", content=body, headers=headers)
            barrier.wait()
            for _ in range(per_client):
                if time.perf_counter() > stop_at[0]:
                    break
                t = time.perf_counter()
                c.post("/invocations", content=body, headers=headers)
                latencies[k].append(time.perf_counter() - t)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + 3600
    barrier.wait()
    start = time.perf_counter()
    stop_at[0] = start + seconds
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    flat = [x for lat in latencies for x in lat]
    return len(flat) / elapsed, flat


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def header() -> str:
    import platform
    from importlib.metadata import version

    pkgs = ["mlops-lab", "mlflow", "fastapi", "uvicorn", "scikit-learn", "onnxruntime", "httpx"]
    vers = ", ".join(f"{p} {version(p)}" for p in pkgs)
    return (
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}, "
        f"Python {platform.python_version()}\nversions: {vers}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 round, fewer requests")
    args = parser.parse_args()
    rounds, n_seq, per_client, seconds = (1, 200, 300, 3.0) if args.quick else (3, 500, 2000, 8.0)
    print(header(), flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    servers = prepare(workdir)
    body = (workdir / "body.json").read_bytes()
    results: dict[str, dict[str, list[float]]] = {
        name: {"ready": [], "p50": [], "p99": [], "rps": [], "load_p50": []} for name in servers
    }
    for r in range(rounds):
        for name, cmd in servers.items():
            proc, url, ready = launch(cmd, body, workdir / f"{name.replace(' ', '-')}.log")
            try:
                seq = sequential(url, body, n_seq)
                rps, lat = concurrent(url, body, per_client, seconds)
            finally:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
            res = results[name]
            res["ready"].append(ready)
            res["p50"].append(statistics.median(seq) * 1000)
            res["p99"].append(pct(seq, 0.99) * 1000)
            res["rps"].append(rps)
            res["load_p50"].append(statistics.median(lat) * 1000)
            print(
                f"round {r + 1} {name:13s} ready {ready:5.2f} s  seq p50 {res['p50'][-1]:6.2f} ms  "
                f"p99 {res['p99'][-1]:6.2f} ms  {CLIENTS} clients {rps:7.0f} req/s  "
                f"p50 {res['load_p50'][-1]:6.2f} ms",
                flush=True,
            )

    def med(name: str, key: str) -> float:
        return statistics.median(results[name][key])

    def spread(name: str, key: str) -> str:
        vals = results[name][key]
        return f"{min(vals):.3g}-{max(vals):.3g}"

    lines = [
        "# Model serving: mlops-lab against `mlflow models serve` and a bare FastAPI app",
        "",
        "Written by `python benchmarks/bench_serve.py` (the full run). The same",
        "LogisticRegression (breast_cancer), 1 uvicorn worker each, 127.0.0.1, 1-row",
        "requests; mlops-lab with input validation and the prediction log on; the bare",
        "app parses JSON, builds a numpy array, predicts and answers JSON (the reference",
        "limit). mlops-lab predicts through ONNX Runtime (its bundle's verified ONNX",
        "model), the bare app through scikit-learn. The load generator (httpx, one",
        "thread per client) shares the 2 cores: the figures are lower bounds.",
        "",
        "```",
        header(),
        "```",
        "",
        f"Medians over {rounds} rounds (spread min-max), {CLIENTS} concurrent keep-alive clients.",
        "",
        "| server | ready s | sequential p50 ms | sequential p99 ms | req/s, 8 clients | p50 ms, 8 clients |",
        "|---|---|---|---|---|---|",
    ]
    keys = ("ready", "p50", "p99", "rps", "load_p50")
    for name in servers:
        lines.append(
            f"| {name} | "
            + " | ".join(f"{med(name, k):.3g} ({spread(name, k)})" for k in keys)
            + " |"
        )
    ml_rps, mf_rps, bare_rps = (med(n, "rps") for n in ("mlops-lab", "mlflow", "bare FastAPI"))
    ml_p50, ml_ready = med("mlops-lab", "p50"), med("mlops-lab", "ready")

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    lines += [
        "",
        "| figure | value | target |",
        "|---|---|---|",
        f"| throughput mlops-lab / MLflow | {ml_rps / mf_rps:.1f}x | >= 10x: {verdict(ml_rps >= 10 * mf_rps)} |",
        f"| throughput mlops-lab / bare FastAPI | {ml_rps / bare_rps:.2f}x | >= 0.7x: {verdict(ml_rps >= 0.7 * bare_rps)} |",
        f"| sequential p50 mlops-lab | {ml_p50:.2f} ms | <= 1.5 ms: {verdict(ml_p50 <= 1.5)} |",
        f"| sequential p50 MLflow / mlops-lab | {med('mlflow', 'p50') / ml_p50:.1f}x | - |",
        f"| ready after launch, mlops-lab | {ml_ready:.2f} s | <= 1.5 s: {verdict(ml_ready <= 1.5)} |",
        f"| ready MLflow / mlops-lab | {med('mlflow', 'ready') / ml_ready:.1f}x | - |",
    ]
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    if not args.quick:
        out = Path(__file__).with_name("RESULTS_serve.md")
        out.write_text(text)
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
