"""Single sign-on for the hub: OpenID Connect through oauthenticator's GenericOAuthenticator.

The provider says who someone is and which groups they are in; `hub_groups` turns that into the hub's
groups, which are what the course acts on: `instructors` (nbgrader's instructor tools), `learners`, and
`cohort-<name>` (the gateway budgets and reports by cohort). Only members of an instructor or learner
group (or an admin group) may log in. The hub re-reads the groups at every login (`manage_groups`).

The same mapping runs in the cluster's hub, which has no adoptkit installed: `deploy/z2jh/values.yaml`
carries a copy of `hub_groups` in `hub.extraConfig`, and tests/test_z2jh.py checks that the two agree.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

from ..settings import OidcSettings, Settings

INSTRUCTORS, LEARNERS, ADMINS = "instructors", "learners", "admins"


def hub_groups(claims, groups_claim="groups", instructor_groups=(INSTRUCTORS,), learner_groups=(LEARNERS,),
               admin_groups=(), cohort_claim="cohort", cohort_prefix="cohort-"):
    """The hub groups of a person whose provider claims are `claims` (the userinfo answer)."""
    def names(value):
        values = value if isinstance(value, list) else [value]
        return [v.strip() for v in values if isinstance(v, str) and v.strip()]

    def cohort(name):  # a cohort name is part of a group name, a budget key and a report label
        slug = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-.")
        return cohort_prefix + slug if slug else None

    theirs = set(names(claims.get(groups_claim)))
    groups = set()
    if theirs & set(instructor_groups):
        groups.add(INSTRUCTORS)
    if theirs & set(learner_groups):
        groups.add(LEARNERS)
    if theirs & set(admin_groups):
        groups.add(ADMINS)
    cohorts = [g[len(cohort_prefix):] for g in theirs if g.startswith(cohort_prefix)]
    if cohort_claim:
        cohorts += names(claims.get(cohort_claim))
    groups.update(c for c in map(cohort, cohorts) if c)
    return sorted(groups)


class DiscoveryError(RuntimeError):
    """The provider's OpenID configuration cannot be read; the message says what to check."""


def discover(issuer: str, timeout: float = 10) -> dict:
    """The provider's endpoints, from its `/.well-known/openid-configuration`."""
    url = f"{issuer.rstrip('/')}/.well-known/openid-configuration"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            meta = json.load(r)
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise DiscoveryError(f"could not read the identity provider's configuration at {url} ({err}). Check "
                             "hub.oidc.issuer and that this machine can reach the provider.") from None
    missing = [k for k in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint") if not meta.get(k)]
    if missing or meta.get("issuer", "").rstrip("/") != issuer.rstrip("/"):
        raise DiscoveryError(f"{url} is not an OpenID provider's configuration for {issuer} (issuer "
                             f"{meta.get('issuer')!r}, missing {missing}). Check hub.oidc.issuer.")
    return meta


def callback_url(settings: Settings) -> str:
    oidc, hub = settings.hub.oidc, settings.hub
    return oidc.callback_url or f"http://{hub.ip}:{hub.port}/hub/oauth_callback"


def generic_oauth(oidc: OidcSettings, callback: str, cohort_prefix: str) -> dict:
    """GenericOAuthenticator's settings for the provider (read at hub start, endpoints discovered)."""
    meta = discover(oidc.issuer)
    mapping = dict(groups_claim=oidc.groups_claim, instructor_groups=tuple(oidc.instructor_groups),
                   learner_groups=tuple(oidc.learner_groups), admin_groups=tuple(oidc.admin_groups),
                   cohort_claim=oidc.cohort_claim, cohort_prefix=cohort_prefix)
    return {
        "client_id": oidc.client_id,  # the secret: OAUTH_CLIENT_SECRET, read by oauthenticator itself
        "oauth_callback_url": callback,
        "authorize_url": meta["authorization_endpoint"],
        "token_url": meta["token_endpoint"],
        "userdata_url": meta["userinfo_endpoint"],
        "scope": list(oidc.scopes),
        "username_claim": oidc.username_claim,
        "manage_groups": True,
        "auth_state_groups_key": lambda auth_state: hub_groups(auth_state.get("oauth_user") or {}, **mapping),
        "allowed_groups": {INSTRUCTORS, LEARNERS},
        "admin_groups": {ADMINS} if oidc.admin_groups else set(),
    }
