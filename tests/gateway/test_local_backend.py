"""The `local` backend: SmolLM2-135M-Instruct under llama.cpp, answering the real openai client through
the gateway's keys, budgets, redaction and usage log; constrained JSON; a bounded queue that leaves the
rest of the gateway free; refused files; side-loaded GGUFs. Generations are kept to a few tokens."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import jsonschema
import openai
import pytest
import sqlalchemy as sa

from adoptkit import settings
from adoptkit.gateway import db
from adoptkit.gateway.app import create_app
from adoptkit.gateway.keys import KeyStore
from adoptkit.gateway.server import BackgroundServer
from adoptkit.llm import models

pytest.importorskip("llama_cpp", reason="the local model needs `pip install 'adoptkit[local]'` (in the test extra)")

HERE = Path(__file__).parent
GGUF = models.locate("smollm2-135m-instruct", HERE.parents[1])["SmolLM2-135M-Instruct.Q4_1.gguf"]
ASK = [{"role": "user", "content": "Reply with one word: what colour is grass?"}]


def serve(root: Path, gateway: dict | None = None, **local) -> BackgroundServer:
    s = settings.parse({"gateway": {"db_url": "sqlite:///gw.db", "local": local, **(gateway or {})}}, root=root)
    return BackgroundServer(settings=s).start()


def client(server, cls=openai.OpenAI):
    return cls(base_url=server.url, api_key="none", max_retries=0, timeout=600)


def rows(root: Path) -> list[dict]:
    engine = db.connect("sqlite:///gw.db", root)
    try:
        with engine.connect() as c:
            return [r._asdict() for r in c.execute(sa.select(db.usage).order_by(db.usage.c.id))]
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    root = tmp_path_factory.mktemp("local")
    server = serve(root)
    yield server, root
    server.stop()


def netns_prefix() -> list[str]:
    """`unshare -n` with loopback up, where this machine allows it (root on Linux): no route but 127.0.0.1."""
    if shutil.which("unshare") and shutil.which("ip"):
        probe = subprocess.run(["unshare", "-n", "ip", "link", "set", "lo", "up"], capture_output=True)
        if probe.returncode == 0:
            return ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]
    return []


@pytest.mark.slow
def test_sandbox_serve_backend_local_answers_the_openai_client_with_no_network(tmp_path):
    """Done means this: `adoptkit sandbox serve --backend local`, no provider, no network: the real model answers
    the real openai client, plain and streaming, through keys, budgets, redaction and the usage log."""
    config = tmp_path / "_config.yml"
    config.write_text(textwrap.dedent("""\
        adoptkit:
          gateway:
            db_url: sqlite:///gw.db
            limits:
              cohorts:
                tight: {learner: {tokens_per_day: 60}}
        """), encoding="utf-8")
    keys = KeyStore(db.connect("sqlite:///gw.db", tmp_path))
    key, _ = keys.issue("ana", "pilot")
    tight, _ = keys.issue("ben", "tight")
    prefix = netns_prefix()
    proc = subprocess.run([*prefix, sys.executable, str(HERE / "local_client_check.py"), str(config), key, tight],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}\n{(tmp_path / 'serve.log').read_text()}"
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    chat = got["chat"]
    assert chat["model"] == "SmolLM2-135M-Instruct" and chat["backend_header"] == "local"
    assert isinstance(chat["content"], str) and chat["content"].strip()
    assert chat["finish"] in ("stop", "length")
    assert chat["usage"]["prompt_tokens"] > 10 and 0 < chat["usage"]["completion_tokens"] <= 12
    assert chat["redactions"] == {"EMAIL_ADDRESS": 1}  # the model saw a placeholder, as a provider would
    stream = got["stream"]
    assert stream["models"] == ["SmolLM2-135M-Instruct"] and stream["text"].strip()
    assert 0 < stream["usage"]["completion_tokens"] <= 12
    assert "local:SmolLM2-135M-Instruct" in got["listed"] and "course-local" in got["listed"]
    assert got["no_key"] == 401 and got["over_budget"] == 429
    logged = [r for r in rows(tmp_path) if r["endpoint"] == "chat"]
    ana = [r for r in logged if r["learner"] == "ana"]
    assert [r["backend"] for r in ana] == ["local", "local"] and all(r["status"] == 200 for r in ana)
    assert {r["backend_model"] for r in logged} == {"SmolLM2-135M-Instruct"}  # the file served, never "default"
    assert ana[0]["completion_tokens"] == chat["usage"]["completion_tokens"]
    assert ana[1]["completion_tokens"] == stream["usage"]["completion_tokens"]
    ben = [r for r in logged if r["learner"] == "ben"]
    assert [r["status"] for r in ben] == [200, 429]
    assert ben[0]["prompt_tokens"] + ben[0]["completion_tokens"] <= 60  # the hold was fitted to the real prompt
    assert "jo.bloggs@example.com" not in json.dumps(logged, default=str)
    print("network isolation:", "unshare -n" if prefix else "not available here")


def test_same_seed_same_sample_and_openai_parameters(local):
    server, _ = local
    c = client(server)
    kw = dict(model="course-local", messages=ASK, max_tokens=8, temperature=1.2, seed=1234)
    first, again = (c.chat.completions.create(**kw).choices[0].message.content for _ in range(2))
    assert first == again  # a seed makes a sample repeatable (on one machine)
    stopped = c.chat.completions.create(model="local:default", messages=ASK, max_tokens=3, temperature=0)
    assert stopped.usage.completion_tokens <= 3
    assert stopped.model == "SmolLM2-135M-Instruct"


def test_json_schema_is_enforced_while_decoding(local):
    server, _ = local
    c = client(server)
    schema = {"type": "object", "additionalProperties": False, "required": ["label", "urgent"],
              "properties": {"label": {"type": "string", "enum": ["billing", "delivery", "account"]},
                             "urgent": {"type": "boolean"}}}
    fmt = {"type": "json_schema", "json_schema": {"name": "ticket", "schema": schema, "strict": True}}
    msg = [{"role": "user", "content": "Ticket: I was charged twice for my order. Classify it."}]
    reply = c.chat.completions.create(model="course-local", messages=msg, response_format=fmt, max_tokens=40,
                                      temperature=1.0, seed=5)
    jsonschema.validate(json.loads(reply.choices[0].message.content), schema)
    text = "".join(ch.choices[0].delta.content or "" for ch in c.chat.completions.create(
        model="course-local", messages=msg, response_format=fmt, max_tokens=40, seed=6, stream=True) if ch.choices)
    jsonschema.validate(json.loads(text), schema)
    plain = c.chat.completions.create(model="course-local", messages=msg, response_format={"type": "json_object"},
                                      max_tokens=40, seed=7)
    assert plain.choices[0].finish_reason == "length" or isinstance(json.loads(plain.choices[0].message.content),
                                                                    (dict, list, str, int, float, bool, type(None)))


@pytest.mark.parametrize("extra, says", [
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}, "cannot call tools"),
    ({"n": 2}, "one choice a request"),
    ({"logprobs": True}, "does not return logprobs"),
    ({"temperature": 3}, "temperature: input should be less than or equal to 2"),  # the gateway's schema
    ({"seed": -1}, "`seed` must be an integer"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "up to 4"),
    ({"max_tokens": 0}, "max_tokens: input should be greater than or equal to 1"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "t", "schema": {"type": "foo"}}}}, "cannot turn this JSON schema"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "t", "schema": {"$ref": "http://127.0.0.1:9/x"}}}}, "cannot turn"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "t", "schema": {"type": "array", "minItems": 10**9}}}}, "too large"),
    ({"response_format": {"type": "yaml"}}, "'type' must be one of 'text', 'json_object', 'json_schema'"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:,"}}]}]}, "an image cannot be sent"),
    ({"messages": [{"role": "tool", "content": "x", "tool_call_id": "1"}]}, "system, user and assistant"),
])
def test_what_the_local_model_cannot_do_gets_a_clear_400(local, extra, says):
    server, _ = local
    body = {"model": "course-local", "messages": ASK, "max_tokens": 4, **extra}
    with pytest.raises(openai.BadRequestError, match=says.replace("(", r"\(")):
        client(server).chat.completions.create(**body)


def test_a_too_long_conversation_gets_a_400(tmp_path):
    server = serve(tmp_path, context=256)
    try:
        long = [{"role": "user", "content": "word " * 400}]
        with pytest.raises(openai.BadRequestError, match="too long for the local model"):
            client(server).chat.completions.create(model="course-local", messages=long, max_tokens=4)
    finally:
        server.stop()


def test_the_queue_is_bounded_and_the_rest_of_the_gateway_keeps_flowing(tmp_path):
    """The model's thread is held busy on purpose: other requests still answer, local ones wait in a queue of
    one, the next is told the model is busy (503), and the waiting one is answered once the model is free."""
    server = serve(tmp_path, queue=1)
    backend = server.app.state.gateway.router.backends["local"]
    release = threading.Event()

    def long_generation():  # stands for another learner's long generation, holding the model
        release.wait(60)
        backend._release()

    backend._admit()
    backend._thread.submit(long_generation)

    async def scenario():
        c = client(server, openai.AsyncOpenAI)
        first = asyncio.create_task(c.chat.completions.create(model="course-local", messages=ASK, max_tokens=4))
        while backend._admitted < 2:  # the first request is queued behind the busy model
            await asyncio.sleep(0.01)
        with pytest.raises(openai.InternalServerError, match="busy: 2 requests are ahead") as err:  # 503
            await c.chat.completions.create(model="course-local", messages=ASK, max_tokens=4)
        assert err.value.status_code == 503
        # everything that does not need the model answers meanwhile
        other = await c.chat.completions.create(model="course-default", messages=ASK)
        listed = await c.models.list()
        assert other.model == "adoptkit-offline" and listed.data
        assert not first.done()
        release.set()
        reply = await first
        assert reply.model == "SmolLM2-135M-Instruct"

    try:
        asyncio.run(scenario())
    finally:
        release.set()
        server.stop()


def test_a_swapped_or_missing_model_file_is_refused_with_what_to_do(tmp_path):
    fake = tmp_path / "models" / "mine.gguf"
    fake.parent.mkdir()
    fake.write_bytes(b"GGUF not really")
    pinned = hashlib.sha256(b"the file the organisation meant").hexdigest()
    server = serve(tmp_path, path="models/mine.gguf", sha256=pinned)
    try:
        with pytest.raises(openai.InternalServerError, match="refusing .*mine.gguf.*sha256") as err:
            client(server).chat.completions.create(model="course-local", messages=ASK, max_tokens=4)
        assert err.value.status_code == 503
    finally:
        server.stop()
    server = serve(tmp_path, path="models/absent.gguf")
    try:
        with pytest.raises(openai.InternalServerError, match="not a file"):
            client(server).chat.completions.create(model="course-local", messages=ASK, max_tokens=4)
        assert "local:absent" not in {m.id for m in client(server).models.list().data}
    finally:
        server.stop()


def test_a_side_loaded_gguf_is_served_under_its_own_name(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "our-pilot-model.gguf").symlink_to(GGUF)
    server = serve(tmp_path, path="models/our-pilot-model.gguf", sha256=models.sha256(GGUF))
    try:
        c = client(server)
        assert "local:our-pilot-model" in {m.id for m in c.models.list().data}
        reply = c.chat.completions.create(model="local:our-pilot-model", messages=ASK, max_tokens=4)
        assert reply.model == "our-pilot-model" and reply.usage.completion_tokens >= 1
        with pytest.raises(openai.NotFoundError, match="serves 'our-pilot-model'"):
            c.chat.completions.create(model="local:SmolLM2-135M-Instruct", messages=ASK, max_tokens=4)
    finally:
        server.stop()


def test_learners_take_turns_at_the_model_and_each_has_a_cap(tmp_path):
    """The model's thread is held busy; learner A queues two requests, then B one: B is served between A's
    two (not after both). A third request from A is refused with a 429 naming gateway.local.per_learner."""
    from adoptkit.gateway.local import LocalBackend, YourTurnsUsed, _Job

    backend = LocalBackend(settings.LocalModel(per_learner=2), tmp_path)
    served, release = [], threading.Event()

    def record(job):  # stands for a generation: note whose it was
        served.append(job.learner)
        backend._release(job.learner)

    backend._generate = record
    backend._thread.submit(release.wait, 60)
    loop = asyncio.new_event_loop()
    try:
        for learner in ("A", "A", "B"):
            backend._admit(learner)
            backend._enqueue(_Job({}, loop, learner))
        with pytest.raises(YourTurnsUsed, match="already have 2 requests .*gateway.local.per_learner is 2") as err:
            backend._admit("A")
        assert err.value.status == 429
        backend._admit("C")  # another learner still gets in
        backend._enqueue(_Job({}, loop, "C"))
        release.set()
        backend._thread.submit(lambda: None).result(timeout=30)
        assert served == ["A", "B", "C", "A"]
        assert backend._admitted == 0 and not backend._per_learner and not backend._waiting
    finally:
        release.set()
        backend._thread.shutdown(wait=True)
        loop.close()


def test_budget_holds_are_fitted_to_the_real_prompt_and_never_overshoot(tmp_path):
    """The gateway holds an estimate; the local model counts the real prompt (its chat template adds a
    system prompt the estimate does not see) and the hold is fitted to it before anything is generated.
    Four concurrent requests on a 150-token day: what is used never passes 150, and the ones that do not
    fit are refused (429) or cut short."""
    config = tmp_path / "_config.yml"
    config.write_text(textwrap.dedent("""\
        adoptkit:
          gateway:
            db_url: sqlite:///gw.db
            local: {per_learner: 4}
            limits:
              learner: {tokens_per_day: 150, requests_per_day: 100, requests_per_minute: 100}
        """), encoding="utf-8")
    s = settings.load(config)
    key, _ = KeyStore(db.connect("sqlite:///gw.db", tmp_path)).issue("cleo", "pilot")
    server = BackgroundServer(app=create_app(s, require_keys=True)).start()
    ask = [{"role": "user", "content": "Write three sentences about the sea."}]

    async def scenario():
        c = openai.AsyncOpenAI(base_url=server.url, api_key=key, max_retries=0, timeout=600)

        async def one(seed):
            try:
                r = await c.chat.completions.create(model="course-local", messages=ask, max_tokens=30, seed=seed)
                return r.usage.total_tokens
            except openai.RateLimitError as err:
                return str(err)
        return await asyncio.gather(*[one(i) for i in range(4)])

    try:
        results = asyncio.run(scenario())
        print("four requests on a 150-token day:", results)
        used = [r for r in results if isinstance(r, int)]
        refused = [r for r in results if isinstance(r, str)]
        assert used and refused, results
        assert sum(used) <= 150, results
        assert all("budget" in r for r in refused), refused
        status = openai.OpenAI(base_url=server.url, api_key=key, max_retries=0).get("/usage", cast_to=dict)
        assert status["budget"]["learner"]["tokens_held"] == 0  # every hold settled
        assert status["budget"]["learner"]["tokens_today"] == sum(used)
    finally:
        server.stop()


def test_redaction_offline_switch_covers_the_local_model_as_it_does_the_stand_in(tmp_path):
    ask = [{"role": "user", "content": "Reply with one word. My email is jo.bloggs@example.com."}]
    for offline, redacted in ((True, {"EMAIL_ADDRESS": 1}), (False, {})):
        (tmp_path / str(offline)).mkdir()
        server = serve(tmp_path / str(offline), gateway={"redaction": {"offline": offline}})
        try:
            for model in ("course-local", "course-default"):
                reply = client(server).chat.completions.create(model=model, messages=ask, max_tokens=2)
                assert reply.model_extra["adoptkit"]["redactions"] == redacted, (model, offline)
                assert reply.model_extra["adoptkit"]["redacted"] is offline
        finally:
            server.stop()
