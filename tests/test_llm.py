"""The offline model's task shapes, and the real openai client against the sandbox over loopback."""

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import httpx2
import openai
import pytest

from adoptkit import llm, settings
from adoptkit.gateway import BackgroundServer
from adoptkit.llm import offline
from adoptkit.llm.replay import ReplayExhausted, replay_client


def ask(text, system=None, **kw):
    msgs = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]
    return offline.answer(msgs, **kw)


def test_picks_one_of_the_listed_labels_by_content():
    prompt = "Classify the complaint into one of: Debt collection, Mortgage, Student loan.\n\n{}"
    assert ask(prompt.format("The collector keeps calling about a debt I never owed.")) == "Debt collection"
    assert ask(prompt.format("My mortgage servicer lost my escrow payment.")) == "Mortgage"
    assert ask(prompt.format("The student loan servicer misapplied my payments.")) == "Student loan"


def test_fills_the_named_json_keys_from_the_text():
    out = json.loads(ask("Customer note: Please call me on 555-123-4567 or mail ann@example.org about the $120.50 charge on my credit card.",
                         system='Return JSON with keys "email", "phone", "amount", "product", "owner". '
                                'product is one of: credit card, mortgage.'))
    assert out == {"email": "ann@example.org", "phone": "555-123-4567", "amount": "$120.50",
                   "product": "credit card", "owner": None}


def test_a_key_list_ends_where_the_fields_details_begin():
    out = json.loads(ask("Product: WHITE HANGING HEART T-LIGHT HOLDER",
                         system="Return only a JSON object with the keys headline and description: headline at most "
                                "60 characters; description at most 300 characters."))
    assert list(out) == ["headline", "description"], "both named keys, and no words of the details taken for keys"


def test_json_schema_response_format_uses_schema_keys_and_enums():
    rf = {"type": "json_schema", "json_schema": {"name": "crm", "schema": {"type": "object", "properties": {
        "priority": {"enum": ["high", "low"]}, "email": {"type": "string"}}}}}
    out = json.loads(ask("Text: urgent! write to bo@corp.io, high priority", response_format=rf))
    assert out == {"priority": "high", "email": "bo@corp.io"}


def test_summarises_extractively_with_the_asked_length():
    text = ("The card was charged twice in March. Support promised a refund. No refund arrived. "
            "The customer wants the duplicate charge reversed.")
    one = ask(f"Summarise in one sentence:\n\n{text}")
    assert one in text and one.count(".") == 1


def test_unknown_task_says_it_is_a_stand_in():
    assert "offline stand-in" in ask("Write a sonnet about quarterly targets")


def test_replay_client_answers_in_order_and_records_requests():
    c = replay_client(["first", "second"])
    for want in ("first", "second"):
        got = c.chat.completions.create(model="m", messages=[{"role": "user", "content": want}])
        assert got.choices[0].message.content == want
    assert [r["messages"][0]["content"] for r in c.requests] == ["first", "second"]
    with pytest.raises(ReplayExhausted):
        c.chat.completions.create(model="m", messages=[{"role": "user", "content": "third"}])


@pytest.fixture(scope="module")
def server():
    s = BackgroundServer().start()
    yield s
    s.stop()


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0)


def test_models_and_chat_over_http(client):
    assert offline.MODEL_ID in [m.id for m in client.models.list().data]
    r = client.chat.completions.create(model="course-default", messages=[
        {"role": "user", "content": "Answer one of: yes, no. Text: yes please"}])
    assert r.choices[0].message.content == "yes"
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens > 0


def test_streaming_matches_the_plain_answer(client):
    msgs = [{"role": "user", "content": "Summarise in two sentences: The bank charged me twice. "
                                        "I called support. Nobody helped me at all. I want a refund."}]
    plain = client.chat.completions.create(model="course-default", messages=msgs).choices[0].message.content
    parts = [c.choices[0].delta.content or "" for c in
             client.chat.completions.create(model="course-default", messages=msgs, stream=True) if c.choices]
    assert "".join(parts) == plain and len(parts) > 2


def test_async_client(server):
    async def go():
        async with openai.AsyncOpenAI(base_url=server.url, api_key="x", max_retries=0) as c:
            r = await c.chat.completions.create(model="course-default",
                                                messages=[{"role": "user", "content": "Answer one of: up, down. Text: down"}])
            return r.choices[0].message.content
    assert asyncio.run(go()) == "down"


def test_errors_use_openai_classes(client, server):
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        client.chat.completions.create(model="gpt-nope", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.BadRequestError, match="messages"):
        client.chat.completions.create(model="course-default", messages=[])
    raw = httpx2.post(f"{server.url}/chat/completions", content=b"{not json", headers={"content-type": "application/json"})
    assert raw.status_code == 400 and "not valid JSON" in raw.json()["error"]["message"]
    big = httpx2.post(f"{server.url}/chat/completions", content=b"x" * (3 * 1024 * 1024))
    assert big.status_code == 413 and big.json()["error"]["type"] == "invalid_request_error"


def test_client_starts_a_local_endpoint_when_none_runs(tmp_path, monkeypatch):
    monkeypatch.delenv("ADOPTKIT_LLM_URL", raising=False)
    s = settings.parse({"sandbox": {"port": _free_port()}}, root=tmp_path)
    c = llm.client(s)
    assert c.base_url.host == "127.0.0.1"
    assert "stand-in" in llm.banner(s)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_sandbox_serve_command_serves_and_stops(tmp_path):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "adoptkit.cli", "sandbox", "serve", "--open", "--port", str(port)],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    assert json.load(r)["service"] == "adoptkit-sandbox"
                    break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()
                assert time.monotonic() < deadline, "sandbox did not start in 30 s"
                time.sleep(0.2)
        c = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x", max_retries=0)
        assert c.chat.completions.create(model="course-default", messages=[
            {"role": "user", "content": "Answer one of: red, blue. Text: blue"}]).choices[0].message.content == "blue"
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def test_a_json_evidence_field_quotes_the_most_relevant_sentence_word_for_word():
    record = ("Applying for: Registered Nurses.\nExperience: 4 years.\n"
              "In my current role I administer nursing care to ill, injured, convalescent, or disabled patients.\n"
              "Education: Master's degree.")
    out = json.loads(ask(f"```\n{record}\n```", system="Criterion: administer nursing care to patients. Return "
                                                        "only a JSON object with the keys evidence and shown."))
    assert out["evidence"] == ("In my current role I administer nursing care to ill, injured, convalescent, or "
                               "disabled patients.")
    assert json.loads(ask("```\nEducation: none.\n```", system="Criterion: zzz qqq. Return JSON with the keys "
                                                                "quote and shown."))["quote"] is None
