"""No personal data leaves by any field or format: every forwarded field x every PII format, sent with
the real openai client through the running gateway to a recording upstream on loopback; the upstream
must receive none of it (or, where the gateway refuses a request, nothing at all).

The formats are the ones that slipped past before (issue 14): card numbers with no-break spaces, line
breaks, dots, slashes, " - ", a space between every digit, full-width digits, zero-width characters and
soft hyphens inside, digits of another script; full-width SSNs; lower-case unspaced IBANs; zero-width characters inside an email;
a full-width "＠"; an email escaped as \\u0040 inside tool arguments; plus a phone number with no-break
spaces and a deny-listed name. All values are synthetic (Luhn- and mod-97-valid, made up here)."""

from __future__ import annotations

import json
import re
import unicodedata

import openai
import pytest

from adoptkit.gateway.textnorm import normalise

CARD = "4532015112830366"  # Luhn-valid, made up
CARD2 = "5425233430109903"
IBAN = "DE44500105175407324931"  # mod-97-valid, made up


def groups(n: str, sep: str) -> str:
    return sep.join(n[i:i + 4] for i in range(0, len(n), 4))


FORMATS = {
    "card, no-break spaces": (groups(CARD, "\u00a0"), CARD),
    "card, thin spaces": (groups(CARD2, "\u2009"), CARD2),
    "card, line breaks": (groups(CARD, "\n"), CARD),
    "card, dots": (groups(CARD2, "."), CARD2),
    "card, slashes": (groups(CARD, "/"), CARD),
    "card, spaced dashes": (groups(CARD2, " - "), CARD2),
    "card, a space between every digit": (" ".join(CARD), CARD),
    "card, full-width digits": ("".join(chr(0xFF10 + int(d)) for d in CARD), CARD),
    "card, zero-width spaces": ("\u200b".join(groups(CARD2, " ").split(" ")), CARD2),
    "card, soft hyphens": ("\u00ad".join(groups(CARD, " ").split(" ")), CARD),
    "card, Arabic-Indic digits": ("".join(chr(0x0660 + int(d)) for d in CARD2), CARD2),
    "SSN, full-width": ("５３６－９０－４３９９", "536904399"),
    "IBAN, lower case, unspaced": (IBAN.lower(), IBAN),
    "IBAN, grouped": (groups(IBAN, " "), IBAN),
    "email, zero-width inside": ("dana.whit\u200bfield@exam\u200cple.com", "dana.whitfield@example.com"),
    "email, full-width at": ("dana.whitfield＠example.com", "dana.whitfield@example.com"),
    "email, bidi mark inside": ("dana.whit\u200efield@example.org", "dana.whitfield@example.org"),
    "phone, no-break spaces": ("+44\u00a020\u00a07946\u00a00321", "442079460321"),
    "name on the deny-list": ("Maria Okafor", "Maria Okafor"),
}


def leaked(original: str, strings: list[str]) -> bool:
    """Does any received string still hold the value (after normalising what was received)?"""
    for s in strings:
        text = normalise(s).text
        if "@" in original:
            local = original.split("@")[0]
            if local.lower() in text.lower():
                return True
        elif original[:2].isalpha() and original[2:4].isdigit():  # an IBAN: 10 characters in a row
            have = re.sub(r"[^A-Z0-9]", "", text.upper())
            if any(original[i:i + 10] in have for i in range(len(original) - 9)):
                return True
        elif original.isdigit():
            have = "".join(str(unicodedata.decimal(c)) for c in s if c.isdecimal())  # digits of any script
            if any(original[i:i + 7] in have for i in range(len(original) - 6)):
                return True
        elif any(w.lower() in text.lower() for w in original.split()):
            return True
    return False


def strings_in(tree) -> list[str]:
    if isinstance(tree, str):
        return [tree]
    if isinstance(tree, dict):
        return [s for k, v in tree.items() for s in [k, *strings_in(v)]]
    if isinstance(tree, list):
        return [s for v in tree for s in strings_in(v)]
    return []


TOOL = {"type": "function", "function": {"name": "lookup_account", "description": "Look up an account.",
                                         "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}


def chat(pii: str) -> dict:
    """Each forwarded chat field with the value in it: field name -> create() keyword arguments."""
    user = {"role": "user", "content": "Summarise the note."}
    call = {"id": "call_a1", "type": "function", "function": {"name": "lookup_account", "arguments": "{}"}}
    return {
        "messages[].content": dict(messages=[{"role": "user", "content": f"Note: {pii} asked for a refund."}]),
        "content text part": dict(messages=[{"role": "user", "content": [{"type": "text", "text": f"Note: {pii}."}]}]),
        "system message": dict(messages=[{"role": "system", "content": f"The customer is {pii}."}, user]),
        "developer message": dict(messages=[{"role": "developer", "content": [{"type": "text", "text": pii}]}, user]),
        "message name": dict(messages=[{"role": "user", "content": "Hello", "name": pii.replace(" ", "_")[:60]}]),
        "user": dict(messages=[user], user=pii),
        "safety_identifier": dict(messages=[user], extra_body={"safety_identifier": pii}),
        "prompt_cache_key": dict(messages=[user], extra_body={"prompt_cache_key": pii}),
        "metadata": dict(messages=[user], metadata={"customer": pii}, store=True),
        "stop": dict(messages=[user], stop=[pii, "END"]),
        "legacy function_call.arguments": dict(messages=[
            user, {"role": "assistant", "content": None,
                   "function_call": {"name": "lookup_account", "arguments": json.dumps({"q": pii})}},
            {"role": "function", "name": "lookup_account", "content": "found"}]),
        "tool_call arguments (string)": dict(messages=[
            user, {"role": "assistant", "content": None,
                   "tool_calls": [{**call, "function": {"name": "lookup_account", "arguments": json.dumps({"q": pii})}}]},
            {"role": "tool", "tool_call_id": "call_a1", "content": "found"}]),
        "tool_call arguments (escaped JSON)": dict(messages=[
            user, {"role": "assistant", "content": None,
                   "tool_calls": [{**call, "function": {"name": "lookup_account",
                                                        "arguments": json.dumps({"q": pii}, ensure_ascii=True).replace(
                                                            "@", "\\u0040")}}]},
            {"role": "tool", "tool_call_id": "call_a1", "content": "found"}]),
        "tool_call arguments (object)": dict(messages=[
            user, {"role": "assistant", "content": None,
                   "tool_calls": [{**call, "function": {"name": "lookup_account", "arguments": {"q": pii}}}]},
            {"role": "tool", "tool_call_id": "call_a1", "content": "found"}]),
        "tool message content": dict(messages=[
            user, {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_a1", "content": f"Account holder: {pii}"}]),
        "tool call id": dict(messages=[
            user, {"role": "assistant", "content": None, "tool_calls": [{**call, "id": pii[:60]}]},
            {"role": "tool", "tool_call_id": pii[:60], "content": "found"}]),
        "tools[].function.description": dict(messages=[user], tools=[
            {"type": "function", "function": {**TOOL["function"], "description": f"Accounts of {pii}"}}]),
        "tools[].function.parameters": dict(messages=[user], tools=[
            {"type": "function", "function": {**TOOL["function"], "parameters": {
                "type": "object", "properties": {"q": {"type": "string", "description": f"e.g. {pii}",
                                                       "enum": [pii, "other"], "default": pii}}}}}]),
        "response_format json_schema": dict(messages=[user], response_format={
            "type": "json_schema", "json_schema": {"name": "note", "description": f"About {pii}", "schema": {
                "type": "object", "description": pii, "properties": {"who": {"type": "string", "const": pii}}}}}),
        "prediction.content": dict(messages=[user], prediction={"type": "content", "content": f"Reply to {pii}"}),
        "assistant refusal part": dict(messages=[
            user, {"role": "assistant", "content": [{"type": "refusal", "refusal": f"I cannot discuss {pii}."}]},
            user]),
        "assistant refusal field": dict(messages=[
            user, {"role": "assistant", "content": None, "refusal": f"Not about {pii}."}, user]),
    }


def test_every_field_and_format_reaches_the_upstream_without_the_value(gateway, upstream):
    c = gateway.client(gateway.key())
    answered = refused = 0
    failures = []
    for fmt, (written, original) in FORMATS.items():
        for field, kwargs in chat(written).items():
            before = len(upstream.requests)
            try:
                c.chat.completions.create(model="course-real", **kwargs)
                answered += 1
            except openai.BadRequestError as err:  # refused, naming the field: then nothing may have left
                refused += 1
                assert err.body and err.body.get("param"), (fmt, field, err)
                assert len(upstream.requests) == before, (fmt, field)
                continue
            body = upstream.requests[-1]["body"]
            if leaked(original, strings_in(body)):
                failures.append(f"{field} x {fmt}: {json.dumps(body, ensure_ascii=False)[:300]}")
    assert not failures, "\n".join(failures)
    assert answered >= len(FORMATS) * 20  # nearly every field is forwarded (redacted), not refused


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_embeddings_input_in_every_format(gateway, upstream, fmt):
    written, original = FORMATS[fmt]
    c = gateway.client(gateway.key())
    c.embeddings.create(model="rec:embed-1", input=[f"Contact {written} about the invoice", "plain text"])
    assert not leaked(original, strings_in(upstream.last("/v1/embeddings")["body"]))
    c.embeddings.create(model="rec:embed-1", input=f"{written}", user=written)
    assert not leaked(original, strings_in(upstream.last("/v1/embeddings")["body"]))


def test_the_learner_is_told_what_was_actually_redacted(gateway):
    c = gateway.client(gateway.key())
    raw = c.chat.completions.with_raw_response.create(model="course-real", messages=[
        {"role": "user", "content": f"Card {groups(CARD, chr(0xa0))}, SSN ５３６－９０－４３９９, iban {IBAN.lower()}"}])
    assert raw.parse().adoptkit["redactions"] == {"CREDIT_CARD": 1, "US_SSN": 1, "IBAN_CODE": 1}
    assert raw.headers["x-adoptkit-redactions"] == "CREDIT_CARD=1,IBAN_CODE=1,US_SSN=1"


def test_fields_the_gateway_does_not_understand_are_refused_by_name(gateway, upstream):
    c = gateway.client(gateway.key())
    before = len(upstream.requests)
    with pytest.raises(openai.BadRequestError, match="Unknown field.*'customer_notes'") as err:
        c.chat.completions.create(model="course-real", messages=[{"role": "user", "content": "hi"}],
                                  extra_body={"customer_notes": "dana.whitfield@example.com"})
    assert err.value.body["param"] == "customer_notes"
    with pytest.raises(openai.BadRequestError, match=r"messages\[0\]\.content: must be a string or a list"):
        c.chat.completions.create(model="course-real", messages=[
            {"role": "user", "content": {"type": "text", "text": "dana.whitfield@example.com"}}])
    with pytest.raises(openai.BadRequestError, match=r"messages\[0\]\.secret: is not a field"):
        c.chat.completions.create(model="course-real", messages=[
            {"role": "user", "content": "hi", "secret": "dana.whitfield@example.com"}])
    with pytest.raises(openai.BadRequestError, match="an image cannot be sent"):
        c.chat.completions.create(model="course-real", messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}])
    with pytest.raises(openai.BadRequestError, match="token arrays are refused"):
        c.embeddings.create(model="rec:embed-1", input=[[101, 2023, 102]])
    assert len(upstream.requests) == before  # nothing left


def test_personal_data_in_an_identifier_is_refused_not_forwarded(gateway, upstream):
    c = gateway.client(gateway.key())
    before = len(upstream.requests)
    with pytest.raises(openai.BadRequestError, match=r"tools\[0\]\.function\.parameters\.properties key.*personal data"):
        c.chat.completions.create(model="course-real", messages=[{"role": "user", "content": "hi"}], tools=[
            {"type": "function", "function": {"name": "f", "parameters": {
                "type": "object", "properties": {"dana.whitfield@example.com": {"type": "string"}}}}}])
    with pytest.raises(openai.BadRequestError, match=r"seed.*personal data"):
        c.chat.completions.create(model="course-real", messages=[{"role": "user", "content": "hi"}], seed=int(CARD))
    assert len(upstream.requests) == before
    # ordinary names of functions and schema keys pass
    c.chat.completions.create(model="course-real", messages=[{"role": "user", "content": "hi"}], tools=[TOOL])
    assert upstream.last()["body"]["tools"][0]["function"]["name"] == "lookup_account"
