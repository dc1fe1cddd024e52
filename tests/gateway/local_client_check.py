"""Run by test_local_backend.py inside a network namespace with only loopback (`unshare -n`): starts
`adoptkit sandbox serve --backend local` on a free port, talks to it with the real openai client (chat,
streaming, a budget, a missing key), stops it by pid, and prints what it saw as one JSON line.

    python local_client_check.py CONFIG KEY TIGHT_KEY
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import openai


def main(config: str, key: str, tight_key: str) -> None:
    exe = Path(sys.executable).with_name("adoptkit")
    env = {**os.environ, "ADOPTKIT_CONFIG": config}
    log = open(Path(config).with_name("serve.log"), "w")
    proc = subprocess.Popen([str(exe), "sandbox", "serve", "--backend", "local", "--port", "0"], env=env,
                            stdout=subprocess.PIPE, stderr=log, text=True)
    out: dict = {}
    try:
        line, deadline = "", time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None and not line:
            if select.select([proc.stdout], [], [], 0.2)[0]:
                line = proc.stdout.readline()
        url = line.split()[4]
        client = openai.OpenAI(base_url=url, api_key=key, max_retries=0, timeout=600)
        ask = [{"role": "user", "content": "Name one colour of the sky. My email is jo.bloggs@example.com."}]
        raw = client.chat.completions.with_raw_response.create(model="course-default", messages=ask, max_tokens=12,
                                                              temperature=0)
        reply = raw.parse()
        out["chat"] = {"model": reply.model, "content": reply.choices[0].message.content,
                       "finish": reply.choices[0].finish_reason, "usage": reply.usage.model_dump(),
                       "backend_header": raw.headers.get("x-adoptkit-backend"),
                       "redactions": reply.model_extra["adoptkit"]["redactions"]}
        pieces, usage, models = [], None, set()
        for chunk in client.chat.completions.create(model="course-default", messages=ask, max_tokens=12, stream=True,
                                                    seed=7, stream_options={"include_usage": True}):
            models.add(chunk.model)
            pieces += [c.delta.content or "" for c in chunk.choices]
            usage = chunk.usage.model_dump() if chunk.usage else usage
        out["stream"] = {"models": sorted(models), "text": "".join(pieces), "usage": usage}
        out["listed"] = sorted(m.id for m in client.models.list().data)
        try:
            openai.OpenAI(base_url=url, api_key="not-a-key", max_retries=0).models.list()
        except openai.AuthenticationError as err:
            out["no_key"] = err.status_code
        tight = openai.OpenAI(base_url=url, api_key=tight_key, max_retries=0, timeout=600)
        tight.chat.completions.create(model="course-default", messages=ask, max_tokens=12)  # admitted, then counted
        try:
            tight.chat.completions.create(model="course-default", messages=ask, max_tokens=12)
        except openai.RateLimitError as err:
            out["over_budget"] = err.status_code
    finally:
        proc.terminate()  # this pid only
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main(*sys.argv[1:4])
