"""What the sandbox gateway costs in front of an upstream (python bench/gateway.py; a benchmark, never a test).

One run, rounds alternating between the configurations so a change in the machine's load hits all alike:

  direct             the client talks to the upstream itself (what the upstream and the client cost)
  gateway            `adoptkit sandbox serve` forwarding to the upstream, redaction on (patterns and the
                     name model, the default)
  gateway, no names  redaction on without the name model (gateway.redaction.ner: false)
  gateway, off       redaction off (gateway.redaction.enabled: false)
  litellm            LiteLLM's proxy, if installed in its own venv (.cache/litellm-venv: see below),
                     forwarding to the same upstream, no guardrail

The upstream is a minimal OpenAI-compatible server on loopback (its own process, a fixed answer, SSE when
asked to stream), so the figures are the proxy's. The load comes from another process: a lean HTTP/1.1
client on kept-alive connections.

Figures, per configuration (medians over the rounds):
  CPU ms per request   the serving process's user+system CPU (from /proc) over N requests sent one at a
                       time: the load-proof figure (other processes' load slows wall-clock figures, not this)
  req/s                completed requests with 50 concurrent clients for a few seconds (wall clock: depends
                       on the machine's load, printed with it)
  streams/s            the same with `stream: true` (eight chunks an answer)

Prompts: real CFPB complaint narratives (public domain, scrubbed by the CFPB with XXXX) in a
classification instruction, as a short prompt (the first 200 characters: what a notebook exercise sends)
and as the whole narrative (about 1,000 characters). Goals from issue 14: <= 1.5 ms gateway CPU per
forwarded request with redaction on, >= 500 req/s with 50 clients on 2 cores, streaming >= 300/s.

LiteLLM, optional and never a dependency of the kit:
  python3 -m venv .cache/litellm-venv && .cache/litellm-venv/bin/pip install 'litellm[proxy]'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LITELLM = ROOT / ".cache" / "litellm-venv" / "bin" / "litellm"
INSTRUCTION = ("Classify the complaint as one of: billing, fraud, credit reporting, debt collection, "
               "mortgage, other. Reply with the label only.\n\nComplaint: ")


def prompts(n: int) -> tuple[list[str], str]:
    try:
        from adoptkit import data

        df = data.load("cfpb_complaints")
        texts = df["Consumer complaint narrative"].dropna().astype(str)
        return [t for t in texts if 300 <= len(t) <= 4000][:n], df.attrs.get("citation", "CFPB")
    except Exception as err:  # no data mirror: say so and use made-up text
        print(f"(CFPB data not available: {err}; using synthetic complaints)")
        rng = random.Random(1)
        words = "bank charged fee twice account card payment late refund called nobody helped credit report".split()
        return [" ".join(rng.choice(words) for _ in range(150)) + "." for _ in range(n)], "synthetic"


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- the upstream: a minimal OpenAI-compatible server --------------------------------------------------
ANSWER = json.dumps({"id": "chatcmpl-bench", "object": "chat.completion", "created": 0, "model": "m",
                     "choices": [{"index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": "billing"}}],
                     "usage": {"prompt_tokens": 60, "completion_tokens": 1, "total_tokens": 61}}).encode()


def _sse() -> bytes:
    base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": "m"}
    chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}]
    chunks += [{**base, "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]}
               for w in ("The ", "complaint ", "is ", "about ", "billing.")]
    chunks += [{**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
               {**base, "choices": [], "usage": {"prompt_tokens": 60, "completion_tokens": 5, "total_tokens": 65}}]
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"


STREAM = _sse()


async def _upstream_conn(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            body = await reader.readexactly(length)
            stream = b'"stream": true' in body or b'"stream":true' in body
            payload, kind = (STREAM, b"text/event-stream") if stream else (ANSWER, b"application/json")
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: " + kind + b"\r\ncontent-length: "
                         + str(len(payload)).encode() + b"\r\n\r\n" + payload)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


def run_upstream(port: int) -> None:
    async def main():
        server = await asyncio.start_server(_upstream_conn, "127.0.0.1", port, backlog=1024)
        async with server:
            await server.serve_forever()
    asyncio.run(main())


# ---- the load: a lean HTTP/1.1 client in its own process -----------------------------------------------
async def _request(reader, writer, host_port: str, path: str, key: str, body: bytes) -> bool:
    writer.write((f"POST {path} HTTP/1.1\r\nHost: {host_port}\r\nAuthorization: Bearer {key}\r\n"
                  f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    ok = head.startswith(b"HTTP/1.1 200")
    headers = {k.strip().lower(): v.strip() for k, _, v in
               (line.decode().partition(":") for line in head.split(b"\r\n")[1:] if line)}
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    else:  # chunked
        while True:
            size = int((await reader.readline()).strip() or b"0", 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return ok


async def _sequential(host_port, path, key, bodies):
    host, port = host_port.split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    times, failed = [], 0
    for b in bodies:
        t = time.perf_counter()
        failed += not await _request(reader, writer, host_port, path, key, b)
        times.append((time.perf_counter() - t) * 1000)
    writer.close()
    return times, failed


async def _concurrent(host_port, path, key, bodies, clients, seconds):
    host, port = host_port.split(":")
    done = failed = 0
    stop_at = time.perf_counter() + seconds

    async def client(i):
        nonlocal done, failed
        reader, writer = await asyncio.open_connection(host, int(port))
        n = i
        while time.perf_counter() < stop_at:
            ok = await _request(reader, writer, host_port, path, key, bodies[n % len(bodies)])
            done += ok
            failed += not ok
            n += clients
        writer.close()

    t = time.perf_counter()
    await asyncio.gather(*[client(i) for i in range(clients)])
    return done, failed, time.perf_counter() - t


def _load(kind, args, out):
    out.put(asyncio.run(_sequential(*args) if kind == "seq" else _concurrent(*args)))


def load(kind: str, *args):
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_load, args=(kind, args, q))
    p.start()
    result = q.get(timeout=900)
    p.join(timeout=30)
    return result


# ---- the servers under test ----------------------------------------------------------------------------
def start_gateway(folder: Path, upstream: str, redaction: dict) -> tuple[subprocess.Popen, str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    cfg = {"adoptkit": {"gateway": {
        "db_url": "sqlite:///gateway.db", "aliases": {"course-default": "up:m"},
        "upstreams": {"up": {"kind": "compatible", "base_url": f"http://{upstream}/v1", "models": ["m"]}},
        "limits": {"learner": {"requests_per_minute": None, "requests_per_day": None, "tokens_per_day": None},
                   "cohort": {"requests_per_day": None, "tokens_per_day": None}},
        "redaction": redaction}}}
    (folder / "_config.yml").write_text(json.dumps(cfg), encoding="utf-8")  # JSON is YAML
    from adoptkit.gateway import db
    from adoptkit.gateway.keys import KeyStore

    engine = db.connect("sqlite:///gateway.db", folder)
    key, _ = KeyStore(engine).issue("bench", "bench")
    engine.dispose()
    env = {**os.environ, "ADOPTKIT_CONFIG": str(folder / "_config.yml")}
    exe = Path(sys.executable).with_name("adoptkit")
    proc = subprocess.Popen([str(exe), "sandbox", "serve", "--port", "0"], env=env, stdout=subprocess.PIPE, text=True)
    ready, _, _ = select.select([proc.stdout], [], [], 120)
    line = proc.stdout.readline() if ready else ""
    if "http://" not in line:
        proc.terminate()
        raise SystemExit(f"the gateway did not start: {line!r}")
    return proc, line.split()[4].removeprefix("http://").removesuffix("/v1"), key


def start_litellm(folder: Path, upstream: str) -> tuple[subprocess.Popen, str, str] | None:
    if not LITELLM.exists():
        return None
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    cfg = folder / "litellm.yaml"
    cfg.write_text(json.dumps({
        "model_list": [{"model_name": "course-default",
                        "litellm_params": {"model": "openai/m", "api_base": f"http://{upstream}/v1", "api_key": "x"}}],
        "litellm_settings": {"telemetry": False, "drop_params": True, "set_verbose": False},
        "general_settings": {"master_key": "sk-bench"}}), encoding="utf-8")
    env = {**os.environ, "LITELLM_TELEMETRY": "False", "LITELLM_LOG": "ERROR", "NO_DOCS": "True",
           "LITELLM_LOCAL_MODEL_COST_MAP": "True", "DISABLE_SCHEMA_UPDATE": "True"}
    log = open(folder / "litellm.log", "w")
    proc = subprocess.Popen([str(LITELLM), "--config", str(cfg), "--host", "127.0.0.1", "--port", str(port),
                             "--num_workers", "1"], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.5)
    if proc.poll() is not None:
        print(f"(LiteLLM did not start; see {folder / 'litellm.log'})")
        return None
    return proc, f"127.0.0.1:{port}", "sk-bench"


def body(text: str, stream: bool = False) -> bytes:
    return json.dumps({"model": "course-default", "stream": stream,
                       "messages": [{"role": "user", "content": INSTRUCTION + text}]}).encode()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=150, help="requests one at a time per set and round")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=6, help="length of each concurrent run")
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()

    texts, source = prompts(a.requests * a.rounds)
    print(f"adoptkit gateway benchmark; prompts from: {source}")
    print(f"cores: {os.cpu_count()}; load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          "(this machine is shared: wall-clock figures move with the load, CPU per request does not)\n")
    up_port = free_port()
    upstream_proc = mp.get_context("spawn").Process(target=run_upstream, args=(up_port,), daemon=True)
    upstream_proc.start()
    upstream = f"127.0.0.1:{up_port}"
    time.sleep(1)
    tmp = Path(tempfile.mkdtemp(prefix="adoptkit-bench-"))
    servers = {"direct": (None, upstream, "x")}
    procs = []
    try:
        for name, red in [("gateway", {}), ("gateway, no names", {"ner": False}),
                          ("gateway, off", {"enabled": False})]:
            proc, host_port, key = start_gateway(tmp / name.replace(", ", "-").replace(" ", "-"), upstream, red)
            procs.append(proc)
            servers[name] = (proc, host_port, key)
        lite = start_litellm(tmp / "litellm", upstream)
        if lite:
            procs.append(lite[0])
            servers["litellm"] = lite
        else:
            print("(LiteLLM's proxy is not installed in .cache/litellm-venv: its column is left out)\n")

        sets = {"short": [t[:200] for t in texts], "narrative": texts}
        results: dict[tuple[str, str], list[float]] = {}
        for rnd in range(a.rounds):
            chunk = slice(rnd * a.requests, (rnd + 1) * a.requests)
            for name, (proc, host_port, key) in servers.items():
                pid = proc.pid if proc else upstream_proc.pid
                load("seq", host_port, "/v1/chat/completions", key,  # warm-up, with text not measured below
                     [body(f"Warm-up {i}. {t[:150]}") for i, t in enumerate(texts[:20])])
                for set_name, items in sets.items():
                    cpu = cpu_seconds(pid)
                    times, failed = load("seq", host_port, "/v1/chat/completions", key,
                                         [body(t) for t in items[chunk]])
                    n = len(times)
                    results.setdefault((name, f"cpu {set_name}"), []).append((cpu_seconds(pid) - cpu) * 1000 / n)
                    results.setdefault((name, f"p50 {set_name}"), []).append(statistics.median(times))
                    if failed:
                        print(f"  ({name}: {failed} of {n} failed)")
                for stream in (False, True):
                    # every request different ("Ticket n."), so no configuration gains from a cache
                    unique = [body(f"Ticket {i}. {texts[i % len(texts)][:200]}", stream) for i in range(8000)]
                    cpu = cpu_seconds(pid)
                    done, failed, took = load("conc", host_port, "/v1/chat/completions", key, unique, a.clients,
                                              a.seconds)
                    label = "streams/s" if stream else "req/s"
                    results.setdefault((name, label), []).append(done / took)
                    results.setdefault((name, f"cpu {label}"), []).append(
                        (cpu_seconds(pid) - cpu) * 1000 / max(done, 1))
                    if failed:
                        print(f"  ({name}: {failed} failed under load)")
            print(f"round {rnd + 1} of {a.rounds} done; load average {os.getloadavg()[0]:.2f}")

        names = list(servers)
        rows = [("CPU ms per request, short prompt (one at a time)", "cpu short"),
                ("CPU ms per request, narrative (one at a time)", "cpu narrative"),
                ("latency p50 ms, short prompt", "p50 short"),
                (f"req/s, {a.clients} concurrent clients, short prompt", "req/s"),
                ("  CPU ms per request under that load", "cpu req/s"),
                (f"streams/s, {a.clients} concurrent clients", "streams/s"),
                ("  CPU ms per stream under that load", "cpu streams/s")]
        print("\n" + f"{'':52}" + "".join(f"{n:>19}" for n in names))
        for label, key in rows:
            print(f"{label:52}" + "".join(f"{statistics.median(results[(n, key)]):19.2f}" for n in names))
        print("\n'direct' CPU is the upstream stand-in's own; the other columns are the proxy process's alone.")
    finally:
        for proc in procs:
            proc.terminate()  # each server we started, by its pid
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
            if proc.stdout:
                proc.stdout.close()
        upstream_proc.terminate()
        upstream_proc.join(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
