"""The local backend through the gateway (python bench/local_model.py [--threads 1 2] [--tokens 128]).

For each llama.cpp thread count, a real `adoptkit sandbox serve --backend local` process on loopback
(open, loopback only; its own temporary database), driven by the real openai client with streaming:

1. one request at a time (prompts below, temperature 0, `max_tokens` each): time to first token (request
   sent -> first content chunk: queueing, prompt reading and the first sampled token), decode speed
   (tokens after the first / time after the first), and end to end;
2. four learners at once, the same prompts: how long each waits for its first token (the model answers
   one request at a time, so the others queue), and the tokens per second all four get together;
3. embeddings: all-MiniLM-L6-v2 over 64 short texts in one request, texts per second;
4. peak memory: the gateway process's peak resident set (VmHWM) before the model loads and at the end.

The machine's load average (`uptime`) is printed before and after: on a shared 2-core host the figures
move with it. Never part of the tests' pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import openai

PROMPTS = [
    "Explain in a few sentences why a company would run a language model on its own servers.",
    "Write a short, friendly reminder to colleagues to submit their expense claims this week.",
    "List three things a new employee should do in their first week.",
    "Describe what a spreadsheet is to someone who has never used one.",
]


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


ROOT = Path(__file__).resolve().parents[1]


def start(folder: Path, threads: int) -> tuple[subprocess.Popen, str]:
    from adoptkit.llm import models

    models.fetch("all-minilm-l6-v2", ROOT)
    (folder / ".cache").symlink_to(ROOT / ".cache")  # the fetched MiniLM weights; the database stays in `folder`
    config = folder / "_config.yml"
    config.write_text(f"adoptkit:\n  gateway:\n    db_url: sqlite:///gw.db\n    local: {{threads: {threads}, wait_seconds: 900}}\n"
                      "    limits: {learner: {tokens_per_day: null, requests_per_day: null, requests_per_minute: null}}\n",
                      encoding="utf-8")
    exe = Path(sys.executable).with_name("adoptkit")
    proc = subprocess.Popen([str(exe), "sandbox", "serve", "--backend", "local", "--open", "--port", "0"],
                            env={**os.environ, "ADOPTKIT_CONFIG": str(config)}, stdout=subprocess.PIPE,
                            stderr=open(folder / "serve.log", "w"), text=True)
    deadline, line = time.monotonic() + 60, ""
    while time.monotonic() < deadline and not line and proc.poll() is None:
        if select.select([proc.stdout], [], [], 0.2)[0]:
            line = proc.stdout.readline()
    if "http://" not in line:
        proc.kill()
        raise SystemExit(f"the gateway did not start: {(folder / 'serve.log').read_text()[-2000:]}")
    return proc, line.split()[4]


async def one(client: openai.AsyncOpenAI, prompt: str, tokens: int, seed: int) -> dict:
    sent = time.perf_counter()
    first = None
    usage = None
    async for chunk in await client.chat.completions.create(
            model="course-default", messages=[{"role": "user", "content": prompt}], max_tokens=tokens,
            temperature=0, seed=seed, stream=True, stream_options={"include_usage": True}):
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter()
        usage = chunk.usage or usage
    done = time.perf_counter()
    n = usage.completion_tokens
    return {"ttft": first - sent, "total": done - sent, "tokens": n,
            "decode": (n - 1) / (done - first) if n > 1 and done > first else float("nan")}


async def measure(url: str, tokens: int) -> dict:
    client = openai.AsyncOpenAI(base_url=url, api_key="none", max_retries=0, timeout=900)
    await one(client, "Hello", 4, 0)  # loads the model (not timed)
    serial = [await one(client, p, tokens, i) for i, p in enumerate(PROMPTS)]
    started = time.perf_counter()
    together = await asyncio.gather(*(one(client, p, tokens, i) for i, p in enumerate(PROMPTS)))
    wall = time.perf_counter() - started
    texts = [f"Short policy sentence number {i} about leave, expenses and laptops." for i in range(64)]
    t = time.perf_counter()
    reply = await client.embeddings.create(model="course-embed", input=texts)
    embed_s = time.perf_counter() - t
    return {"serial": serial, "together": together, "wall": wall, "embed": (reply.model, len(texts) / embed_s)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--tokens", type=int, default=128, help="max_tokens per request")
    args = ap.parse_args()
    print(f"cores: {os.cpu_count()}; load before: {load()}")
    for threads in args.threads:
        with tempfile.TemporaryDirectory() as tmp:
            proc, url = start(Path(tmp), threads)
            try:
                idle_mb = peak_rss_mb(proc.pid)
                r = asyncio.run(measure(url, args.tokens))
                peak_mb = peak_rss_mb(proc.pid)
            finally:
                proc.terminate()
                proc.wait(timeout=15)
        s, g = r["serial"], r["together"]
        med = statistics.median
        print(f"\n== llama.cpp threads: {threads} (SmolLM2-135M-Instruct Q4_1, max_tokens {args.tokens}, temperature 0)")
        print(f"one at a time ({len(s)} requests): time to first token median {med(x['ttft'] for x in s):.3f} s "
              f"(max {max(x['ttft'] for x in s):.3f}); decode median {med(x['decode'] for x in s):.1f} tokens/s; "
              f"{sum(x['tokens'] for x in s)} tokens in {sum(x['total'] for x in s):.1f} s")
        print(f"{len(g)} at once: time to first token median {med(x['ttft'] for x in g):.2f} s, max "
              f"{max(x['ttft'] for x in g):.2f} s (queued behind each other); "
              f"{sum(x['tokens'] for x in g) / r['wall']:.1f} tokens/s together")
        print(f"embeddings: {r['embed'][0]}, {r['embed'][1]:.0f} texts/s (64 short texts in one request)")
        print(f"gateway peak resident memory: {idle_mb:.0f} MB before the model loads, {peak_mb:.0f} MB at the end")
    print(f"\nload after: {load()}")


if __name__ == "__main__":
    main()
