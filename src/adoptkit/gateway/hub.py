"""JupyterHub exchange: a hub user's API token (JUPYTERHUB_API_TOKEN in their server) for a gateway key.

The gateway asks the hub who owns the token (`GET {hub.api_url}/user`, `Authorization: token ...`) and
issues a key for that user, in the cohort named by their hub group (`cohort-2025a` -> `2025a`) or the
default cohort. Each exchange issues a fresh key (keys are stored hashed, so an old one cannot be shown
again); earlier keys stay valid, so two kernels of one learner do not lock each other out, and
`adoptkit sandbox keys revoke --learner NAME` withdraws them all.
"""

from __future__ import annotations

import os

import anyio
import httpx

from ..settings import Hub
from .errors import APIError
from .keys import KeyStore


async def exchange(cfg: Hub, hub_token: str, store: KeyStore) -> dict:
    # Run as a hub-managed service, the gateway is told the hub's API address by the hub itself.
    api_url = cfg.api_url or os.environ.get("JUPYTERHUB_API_URL")
    if not api_url:
        raise APIError(404, "This gateway has no JupyterHub exchange configured (gateway.hub.api_url).",
                       code="hub_not_configured")
    if not hub_token:
        raise APIError(400, "Send the hub token as {\"hub_token\": ...} (JUPYTERHUB_API_TOKEN in your server).",
                       param="hub_token")
    url = f"{api_url.rstrip('/')}/user"
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            resp = await client.get(url, headers={"Authorization": f"token {hub_token}"})
    except httpx.HTTPError as err:
        raise APIError(503, f"JupyterHub at {api_url} is unreachable ({type(err).__name__}); "
                            "check gateway.hub.api_url.", code="hub_unreachable", outcome="upstream_error") from None
    if resp.status_code in (401, 403):
        raise APIError(401, "JupyterHub did not accept this token (expired, or not a hub token).",
                       code="invalid_hub_token")
    if resp.status_code != 200:
        raise APIError(502, f"JupyterHub answered HTTP {resp.status_code} at {url}.", code="hub_error")
    try:
        user = resp.json()
        name = user["name"]
    except (ValueError, KeyError, TypeError):
        raise APIError(502, f"JupyterHub's answer at {url} has no user name.", code="hub_error") from None
    cohorts = [g.removeprefix(cfg.cohort_group_prefix) for g in user.get("groups") or []
               if isinstance(g, str) and g.startswith(cfg.cohort_group_prefix)]
    cohort = sorted(cohorts)[0] if cohorts else cfg.default_cohort
    key, info = await anyio.to_thread.run_sync(lambda: store.issue(name, cohort, note="jupyterhub exchange"))
    return {"api_key": key, "key_id": info.key_id, "learner": name, "cohort": cohort}
