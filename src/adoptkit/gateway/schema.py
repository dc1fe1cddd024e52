"""What the gateway forwards: one schema per endpoint. A field not listed here is refused (400, naming
it), so nothing the gateway does not understand can carry text past the redactor.

Every string in a forwarded request is one of:

- text (`Text`, and every string inside free-form JSON such as a tool's parameter schema, a
  response_format schema or metadata values): redacted;
- an identifier the model must see unchanged (function names, response_format schema names, keys of
  free-form JSON): checked, and the request is refused (400 naming the field) if it holds personal data;
- a pseudonym slot (a message's `name`, tool-call ids): replaced by `participant_1`, `call_1`, ... in
  order of appearance, consistently within the request, so the original never leaves at all;
- a closed choice (roles, part types, "auto"/"none", encodings): validated against its list.

Images, audio and files are refused: the gateway cannot look inside them for personal data.
Token arrays as embeddings input are refused for the same reason.

`prepare(model)` walks a validated request and returns the body to forward with every text and
identifier replaced by a `Slot`; `fill()` puts the redacted strings back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError

from .errors import APIError

MAX_DEPTH = 32  # nesting of free-form JSON (schemas, metadata, tool arguments)


class Kind:
    """A marker in a field's type: what the walker does with the strings it finds there."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


TEXT, IDENT, PSEUDO_NAME, PSEUDO_CALL, JSON = (Kind("text"), Kind("identifier"), Kind("participant"), Kind("call"),
                                               Kind("json"))

Text = Annotated[str, Field(max_length=2_000_000)]
# a model name, as an alias or BACKEND:MODEL (vLLM's are paths: "vllm:meta-llama/Llama-3.1-8B-Instruct");
# the router resolves it against the configuration, and an Azure deployment is checked again as a path
ModelName = Annotated[str, IDENT, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/@+-]{0,199}$")]
FunctionName = Annotated[str, IDENT, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
FreeJSON = Annotated[dict[str, Any], JSON]
ParticipantName = Annotated[str, PSEUDO_NAME, Field(min_length=1, max_length=256)]
CallId = Annotated[str, PSEUDO_CALL, Field(min_length=1, max_length=256)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, protected_namespaces=())


# ---- content parts -----------------------------------------------------------------------------------
class TextPart(_Model):
    type: Literal["text"]
    text: Text


class RefusalPart(_Model):
    type: Literal["refusal"]
    refusal: Text


def _part_tag(v: Any) -> str:
    kind = v.get("type") if isinstance(v, dict) else getattr(v, "type", None)
    return f"part={kind if kind in ('text', 'refusal') else 'unsupported'}"


class UnsupportedPart(_Model):
    """image_url, input_audio, file, ...: refused with a message that says why."""

    model_config = ConfigDict(extra="allow")
    type: Literal["__never__"]


TextOnly = list[TextPart]
TextOrRefusal = list[Annotated[Union[Annotated[TextPart, Tag("part=text")], Annotated[RefusalPart, Tag("part=refusal")],
                                     Annotated[UnsupportedPart, Tag("part=unsupported")]], Discriminator(_part_tag)]]


# ---- tool calls --------------------------------------------------------------------------------------
class FunctionCall(_Model):
    name: FunctionName
    arguments: Union[Text, FreeJSON]


class ToolCall(_Model):
    id: CallId
    type: Literal["function"] = "function"
    function: FunctionCall


# ---- messages ----------------------------------------------------------------------------------------
class SystemMessage(_Model):
    role: Literal["system", "developer"]
    content: Union[Text, TextOnly]
    name: ParticipantName | None = None


class UserMessage(_Model):
    role: Literal["user"]
    content: Union[Text, TextOrRefusal]
    name: ParticipantName | None = None


class AssistantMessage(_Model):
    role: Literal["assistant"]
    content: Union[Text, TextOrRefusal, None] = None
    refusal: Text | None = None
    name: ParticipantName | None = None
    tool_calls: list[ToolCall] | None = Field(default=None, max_length=128)
    function_call: FunctionCall | None = None


class ToolMessage(_Model):
    role: Literal["tool"]
    content: Union[Text, TextOnly]
    tool_call_id: CallId


class FunctionMessage(_Model):
    role: Literal["function"]
    content: Text | None
    name: FunctionName


def _role_tag(v: Any) -> str:
    role = v.get("role") if isinstance(v, dict) else getattr(v, "role", None)
    return "role=" + ({"developer": "system"}.get(role, role) if role in (
        "system", "developer", "user", "assistant", "tool", "function") else "unknown")


class UnknownRoleMessage(_Model):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]


Message = Annotated[Union[
    Annotated[SystemMessage, Tag("role=system")], Annotated[UserMessage, Tag("role=user")],
    Annotated[AssistantMessage, Tag("role=assistant")], Annotated[ToolMessage, Tag("role=tool")],
    Annotated[FunctionMessage, Tag("role=function")], Annotated[UnknownRoleMessage, Tag("role=unknown")],
], Discriminator(_role_tag)]


# ---- tools and formats -------------------------------------------------------------------------------
class FunctionDef(_Model):
    name: FunctionName
    description: Text | None = None
    parameters: FreeJSON | None = None
    strict: bool | None = None


class Tool(_Model):
    type: Literal["function"]
    function: FunctionDef


class NamedFunction(_Model):
    name: FunctionName


class NamedToolChoice(_Model):
    type: Literal["function"]
    function: NamedFunction


class JSONSchemaFormat(_Model):
    name: FunctionName
    description: Text | None = None
    schema_: FreeJSON | None = Field(default=None, alias="schema")
    strict: bool | None = None


class TextFormat(_Model):
    type: Literal["text", "json_object"]


class SchemaFormat(_Model):
    type: Literal["json_schema"]
    json_schema: JSONSchemaFormat


class Prediction(_Model):
    type: Literal["content"]
    content: Union[Text, TextOnly]


class StreamOptions(_Model):
    include_usage: bool | None = None


# ---- the two endpoints -------------------------------------------------------------------------------
class ChatRequest(_Model):
    model: ModelName
    messages: list[Message] = Field(min_length=1, max_length=2048)
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    n: int | None = Field(default=None, ge=1, le=8)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    seed: Annotated[int, IDENT] | None = Field(default=None, ge=-(2**63), lt=2**63)
    stop: Union[Text, list[Text], None] = Field(default=None)
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    logit_bias: dict[Annotated[str, Field(pattern=r"^\d{1,6}$")], Annotated[int, Field(ge=-100, le=100)]] | None = None
    response_format: Union[TextFormat, SchemaFormat] | None = Field(default=None, discriminator="type")
    tools: list[Tool] | None = Field(default=None, max_length=128)
    tool_choice: Union[Literal["none", "auto", "required"], NamedToolChoice, None] = None
    parallel_tool_calls: bool | None = None
    functions: list[FunctionDef] | None = Field(default=None, max_length=128)
    function_call: Union[Literal["none", "auto"], NamedFunction, None] = None
    prediction: Prediction | None = None
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = None
    service_tier: Literal["auto", "default", "flex", "priority"] | None = None
    store: bool | None = None
    metadata: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=512)]] | None = Field(
        default=None, max_length=16)
    user: Text | None = Field(default=None, max_length=512)
    safety_identifier: Text | None = Field(default=None, max_length=512)
    prompt_cache_key: Text | None = Field(default=None, max_length=512)


class EmbeddingsRequest(_Model):
    model: ModelName
    input: Union[Text, Annotated[list[Text], Field(min_length=1, max_length=2048)]]
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: int | None = Field(default=None, ge=1, le=4096)
    user: Text | None = Field(default=None, max_length=512)


FORWARDED = {"chat": sorted(ChatRequest.model_fields), "embeddings": sorted(EmbeddingsRequest.model_fields)}
_REFUSED_PARTS = {"image_url": "an image", "input_audio": "audio", "file": "a file", "input_image": "an image"}


# ---- validation with errors a person can act on ------------------------------------------------------
def _path(loc: tuple) -> str:
    """`('messages', 0, 'user', 'content', 'list[...]', 1, 'text')` -> `messages[0].content[1].text`."""
    out = ""
    fields_of = {**ChatRequest.model_fields, **EmbeddingsRequest.model_fields}
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif i and loc[i - 1] == "response_format" and part in _FORMAT_TAGS:
            continue  # the union's tag, not a field: response_format.json_schema.name, not ...json_schema.json_schema
        elif "[" in part or "-" in part or "=" in part or part in ("str", "int", "float", "bool", "none", "dict",
                                                                 "list") or part[:1].isupper() or (
                i == 0 and part not in fields_of):
            continue
        else:
            out += ("." if out else "") + part
    return out or "body"


def validate(model_cls: type[_Model], body: dict, endpoint: str) -> _Model:
    """The request as a model, or a 400 that names the field(s) and says what would be accepted."""
    unknown = sorted(set(body) - set(model_cls.model_fields))
    if unknown:
        raise APIError(400, f"Unknown field(s) {', '.join(map(repr, unknown))}: this gateway forwards only the fields it "
                            f"understands and checks for personal data ({', '.join(FORWARDED[endpoint])}). Remove "
                            "them, or ask the administrator if you need one.", code="unknown_field", param=unknown[0])
    try:
        return model_cls.model_validate(body)
    except ValidationError as err:
        raise APIError(400, explain(err), code="invalid_request", param=_first_param(err)) from None
    except RecursionError:
        raise APIError(400, "The request is nested too deeply to check.", code="too_deep") from None


def _first_param(err: ValidationError) -> str:
    return _path(sorted(err.errors(), key=lambda e: len(e["loc"]))[0]["loc"])


_FORMAT_TAGS = ("text", "json_object", "json_schema")
# a union's "none of my shapes" errors: said about a field only when nothing inside it is more precise
_SHAPE_ERRORS = {"string_type", "list_type", "dict_type", "model_type", "model_attributes_type", "none_required"}


def explain(err: ValidationError) -> str:
    """One sentence per field that is wrong (at most five), shortest path first."""
    by_path: dict[str, list[dict]] = {}
    for e in err.errors():
        by_path.setdefault(_path(e["loc"]), []).append(e)
    for path in list(by_path):
        inner = any(p.startswith((path + "[", path + ".")) for p in by_path if p != path)
        if inner and {e["type"] for e in by_path[path]} <= _SHAPE_ERRORS:
            del by_path[path]  # "content: not a string" says less than "content[0].type: an image cannot be sent"
    lines, said = [], set()
    for path, errors in sorted(by_path.items(), key=lambda kv: (len(kv[0]), kv[0]))[:5]:
        sentence = _say(path, errors)
        if sentence not in said:
            said.add(sentence)
            lines.append(f"{path}: {sentence}")
    more = f" (and {len(by_path) - 5} more)" if len(by_path) > 5 else ""
    return "Invalid request: " + "; ".join(lines) + more + "."


def _say(path: str, errors: list[dict]) -> str:
    types = {e["type"] for e in errors}
    given = errors[0].get("input")
    if "extra_forbidden" in types:
        return "is not a field this gateway forwards (it forwards only what it checks for personal data)"
    if path.endswith(".type") and given in _REFUSED_PARTS:
        return (f"{_REFUSED_PARTS[given]} cannot be sent: the gateway cannot check it for personal data. "
                "Send text parts only")
    if path.endswith("]") and isinstance(given, dict) and "role" in given:
        return "the role must be one of system, developer, user, assistant, tool, function"
    if "string_pattern_mismatch" in types:
        pattern = errors[0]["ctx"]["pattern"]
        return f"must match {pattern} (letters, digits and _-)"
    if path.endswith(".content") and types & {"string_type", "list_type"}:
        return f"must be a string or a list of text parts, not {type(given).__name__}"
    if path == "messages":
        return "must be a non-empty list of {role, content} objects"
    if path == "input" or path.startswith("input["):
        return ("must be a string or a list of strings (token arrays are refused: the gateway cannot check them for "
                "personal data)")
    if "union_tag_invalid" in types:
        ctx = errors[0].get("ctx") or {}
        return f"{ctx.get('discriminator', 'type')} must be one of {ctx.get('expected_tags', '')} (got {ctx.get('tag')!r})"
    if path in ("response_format", "stream_options", "prediction", "tool_choice") or "model_type" in types or (
            "model_attributes_type" in types):
        return f"must be an object (got {type(given).__name__}) with the fields OpenAI's API documents"
    msg = errors[0]["msg"].removeprefix("Value error, ")
    return f"{msg[:1].lower()}{msg[1:]} (got {json.dumps(given)[:60] if _jsonable(given) else type(given).__name__})"


def _jsonable(v) -> bool:
    try:
        json.dumps(v)
        return True
    except (TypeError, ValueError, RecursionError):
        return False


# ---- the walk: what is text, what is an identifier ---------------------------------------------------
@dataclass(eq=False)
class Slot:
    """A string of the forwarded body, to be redacted (text) or checked (identifier)."""

    index: int
    path: str
    kind: Kind
    was_number: bool = False
    as_json: bool = False  # tool arguments given as a JSON string: redacted inside, serialised again


class Prepared:
    """The body to forward, with Slots where strings go; `texts[i]` is slot i's original string."""

    def __init__(self):
        self.texts: list[str] = []
        self.slots: list[Slot] = []
        self.pseudonyms: dict[tuple[str, str], str] = {}

    def slot(self, text: str, path: str, kind: Kind, **kw) -> Slot:
        s = Slot(len(self.texts), path, kind, **kw)
        self.texts.append(text)
        self.slots.append(s)
        return s

    def pseudonym(self, kind: Kind, value: str) -> str:
        key = (kind.name, value)
        if key not in self.pseudonyms:
            n = sum(1 for k in self.pseudonyms if k[0] == kind.name) + 1
            self.pseudonyms[key] = f"participant_{n}" if kind is PSEUDO_NAME else f"call_{n}"
        return self.pseudonyms[key]


def prepare(request: _Model) -> tuple[dict, Prepared]:
    prep = Prepared()
    return _walk_model(request, "", prep), prep


_KINDS: dict[int, Kind | None] = {}


def _kind_of(field) -> Kind | None:
    """The Kind marker of a field, also inside `Annotated[...] | None` (looked up once per field)."""
    key = id(field)
    if key not in _KINDS:
        _KINDS[key] = _find_kind(field)
    return _KINDS[key]


def _find_kind(field) -> Kind | None:
    def search(meta, annotation):
        for m in meta:
            if isinstance(m, Kind):
                return m
        for arg in get_args(annotation):
            found = search(getattr(arg, "__metadata__", ()), arg)
            if found:
                return found
        return None
    return search(field.metadata, field.annotation)


def _choices(annotation) -> frozenset:
    """Every string a field's type allows as a closed choice (its Literal values)."""
    if get_origin(annotation) is Literal:
        return frozenset(a for a in get_args(annotation) if isinstance(a, str))
    out = frozenset()
    for arg in get_args(annotation):
        out |= _choices(arg)
    return out


_CHOICES: dict[tuple[type, str], frozenset] = {}


def _walk_model(m: _Model, path: str, prep: Prepared) -> dict:
    out = {}
    cls = type(m)
    for name, field in cls.model_fields.items():
        if name not in m.model_fields_set:
            continue
        key = field.alias or name
        value = getattr(m, name)
        where = f"{path}.{key}" if path else key
        if isinstance(value, str):
            choices = _CHOICES.get((cls, name))
            if choices is None:
                choices = _CHOICES[(cls, name)] = _choices(field.annotation)
            if value in choices:  # a closed choice ("user", "auto", "function"): validated, nothing to check
                out[key] = value
                continue
        if name == "arguments" and isinstance(value, str):
            out[key] = _walk_arguments(value, where, prep)
        elif name == "logit_bias":
            out[key] = value  # digit keys and small integers, validated
        elif name == "metadata" and value is not None:
            out[key] = {prep.slot(k, f"{where} key", IDENT): prep.slot(v, f"{where}.{k}", TEXT) for k, v in value.items()}
        else:
            out[key] = _walk(value, where, _kind_of(field), prep)
    return out


def _walk(value, path: str, kind: Kind | None, prep: Prepared, depth: int = 0):
    if depth > MAX_DEPTH:
        raise APIError(400, f"{path}: nested more than {MAX_DEPTH} levels deep.", code="too_deep", param=path)
    if isinstance(value, BaseModel):
        return _walk_model(value, path, prep)
    if isinstance(value, list):
        return [_walk(v, f"{path}[{i}]", kind, prep, depth + 1) for i, v in enumerate(value)]
    if kind is JSON:
        return _walk_json(value, path, prep, depth)
    if isinstance(value, str):
        if kind in (PSEUDO_NAME, PSEUDO_CALL):
            return prep.pseudonym(kind, value)
        if kind is IDENT:
            if path == "model":
                return value  # resolved by the router against the configured names, never sent as given
            return prep.slot(value, path, IDENT)
        return prep.slot(value, path, TEXT)
    if isinstance(value, int) and not isinstance(value, bool) and kind is IDENT:  # seed
        return prep.slot(str(value), path, IDENT, was_number=True)
    return value


def _walk_json(value, path: str, prep: Prepared, depth: int):
    """Free-form JSON: every string value is text, every key an identifier, every long number text."""
    if depth > MAX_DEPTH:
        raise APIError(400, f"{path}: nested more than {MAX_DEPTH} levels deep.", code="too_deep", param=path)
    if isinstance(value, dict):
        return {prep.slot(str(k), f"{path} key", IDENT): _walk_json(v, f"{path}.{k}", prep, depth + 1)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_walk_json(v, f"{path}[{i}]", prep, depth + 1) for i, v in enumerate(value)]
    if isinstance(value, str):
        return prep.slot(value, path, TEXT)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and len(str(int(abs(value)))) >= 6:
        return prep.slot(repr(value), path, TEXT, was_number=True)  # a card or phone number sent as a number
    return value


def _walk_arguments(text: str, path: str, prep: Prepared):
    """Tool-call arguments: a JSON string is redacted inside (escapes such as \\u0040 decoded) and
    serialised again; anything else is text."""
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        return prep.slot(text, path, TEXT)
    if isinstance(parsed, (dict, list)):
        return _JSONString(_walk_json(parsed, path, prep, 0))
    return prep.slot(text, path, TEXT)


class _JSONString:
    def __init__(self, tree):
        self.tree = tree


def fill(tree, prep: Prepared, results: list[str]):
    """The body to forward: each Slot replaced by its redacted string (a number that needed no change
    stays a number); tool arguments serialised back to a JSON string."""
    if isinstance(tree, Slot):
        out = results[tree.index]
        if tree.was_number and out == prep.texts[tree.index]:
            return json.loads(out)
        return out
    if isinstance(tree, _JSONString):
        return json.dumps(fill(tree.tree, prep, results), ensure_ascii=False)
    if isinstance(tree, dict):
        return {(fill(k, prep, results) if isinstance(k, Slot) else k): fill(v, prep, results) for k, v in tree.items()}
    if isinstance(tree, list):
        return [fill(v, prep, results) for v in tree]
    return tree
