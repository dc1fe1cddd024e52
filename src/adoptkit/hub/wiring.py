"""Where the hub meets the rest of the kit: the sandbox gateway and the grader. One module, so the two
pieces growing in parallel (the gateway's per-learner keys, issue 3; `adoptkit grade`, issue 5) plug in
here and nowhere else.

The gateway runs as a hub-managed service named `sandbox`. Each learner's server gets its URL in
`ADOPTKIT_LLM_URL` (which `adoptkit.llm.client()` reads) and a `JUPYTERHUB_API_TOKEN` that the hub lets
the service check (`access:services!service=sandbox`), so the learner trades that token for their own
gateway key; no upstream key is ever in a learner's environment.
"""

from __future__ import annotations

from ..settings import Settings

GATEWAY_SERVICE = "sandbox"

# A learner's server token may be shown to the gateway, which asks the hub whose it is and in which
# groups they are (its cohort comes from a group named `<prefix><name>`, the gateway's setting).
def cohort_group(settings: Settings, cohort: str) -> str:
    return f"{settings.gateway.hub.cohort_group_prefix}{cohort}"


SERVER_TOKEN_SCOPES = ["users:activity!user", "access:servers!server", "read:users:groups!user",
                       f"access:services!service={GATEWAY_SERVICE}"]

# Variables the gateway service keeps from the hub's environment (a hub-managed service gets only what
# it is given; the hub adds ADOPTKIT_CONFIG, the settings file it was rendered from): the data mirror and
# the upstream keys the gateway's config names. Only the gateway ever holds those keys.
def gateway_env_keep(settings: Settings) -> tuple[str, ...]:
    keys = sorted({u.api_key_env for u in settings.gateway.upstreams.values() if u.api_key_env})
    return ("ADOPTKIT_DATA_MIRROR", "ADOPTKIT_DATA_CACHE", *keys)

# Variables every learner's and instructor's server keeps from the hub's environment, so notebooks load
# the course data offline. Never a key: those stay with the gateway.
SERVER_ENV_KEEP = ("ADOPTKIT_DATA_MIRROR", "ADOPTKIT_DATA_CACHE")


def gateway_args(settings: Settings) -> list[str]:
    """The service's command after the Python interpreter (the hub adds its own `sys.executable`)."""
    # The hub gives a managed service JUPYTERHUB_API_URL, where the gateway checks learners' hub tokens.
    return ["-m", "adoptkit.cli", "sandbox", "serve",
            "--host", settings.sandbox.host, "--port", str(settings.sandbox.port)]


def gateway_url(settings: Settings) -> str:
    """The service's address (the hub's proxy is not in the way: the gateway serves `/v1` at its root)."""
    return f"http://{settings.sandbox.host}:{settings.sandbox.port}"


def learner_environment(settings: Settings) -> dict[str, str]:
    """What a learner's server is told about the gateway (URLs only, never a key)."""
    return {"ADOPTKIT_LLM_URL": f"{gateway_url(settings)}/v1"}


def grade_command(assignment: str) -> list[str]:
    """What a grader runs on the hub (in an instructor's terminal, where nbgrader's config is in force)."""
    return ["adoptkit", "grade", assignment]
