"""Typed view of the `adoptkit:` section of the root `_config.yml`.

Jupyter Book reads the same file and ignores this section, so one file configures the whole kit.
Every default lives here; a wrong value raises SettingsError naming the key, the value and what is
allowed.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from datetime import datetime
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

CONFIG_NAME = "_config.yml"
KNOWN_ROLES = ("marketing", "sales", "hr", "engineering", "finance", "support", "leaders")


class SettingsError(ValueError):
    """A value in `_config.yml` is wrong; the message says which, and what is allowed."""


class _Section(BaseModel):
    # A misspelt key is an error, not a silently ignored setting.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Organisation(_Section):
    name: str = "Example Organisation"
    hourly_cost: float | None = Field(default=None, ge=0, description="loaded cost of an hour of work")
    currency: str = "USD"


class LLM(_Section):
    # "local" means the kit's own endpoint on 127.0.0.1, started on demand; otherwise the gateway's URL.
    endpoint: str = "local"
    model: str = "course-default"
    api_key_env: str = "ADOPTKIT_API_KEY"
    timeout: float = Field(default=60.0, gt=0)

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, v: str) -> str:
        if v != "local" and not re.match(r"^https?://[^\s/]+", v):
            raise ValueError("must be 'local' or an http(s) URL such as http://127.0.0.1:8765/v1")
        return v.rstrip("/")


class DataOverride(_Section):
    """An organisation's own export standing in for a catalog dataset."""

    path: str | None = None  # a CSV file (relative to the config file's folder)
    url: str | None = None  # a database URL (SQLAlchemy), read with `table` or `query`
    table: str | None = None
    query: str | None = None
    sep: str = ","
    rename: dict[str, str] = {}  # the export's column name -> the catalog's column name

    @field_validator("url")
    @classmethod
    def _url(cls, v):
        if v is not None and "://" not in v:
            raise ValueError("must be a database URL such as sqlite:///crm.db or postgresql+psycopg2://...")
        return v

    def model_post_init(self, _ctx) -> None:
        if (self.path is None) == (self.url is None):
            raise ValueError("give exactly one of `path` (a CSV export) or `url` (a database URL)")
        if self.url is not None and (self.table is None) == (self.query is None):
            raise ValueError("a database override needs exactly one of `table` or `query`")


class Data(_Section):
    cache: str = ".cache/data"
    mirror: str | None = None  # ADOPTKIT_DATA_MIRROR wins over this
    overrides: dict[str, DataOverride] = {}


class Sandbox(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)


_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]*$")
_GROUP = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


class OidcSettings(_Section):
    """Single sign-on with OpenID Connect for the pilot hub (`hub.authenticator: oidc`; book/deploy.md).
    The client secret is read from OAUTH_CLIENT_SECRET in the hub's environment, never from this file."""

    issuer: str  # the provider's issuer URL; its /.well-known/openid-configuration is read at hub start
    client_id: str
    callback_url: str | None = None  # default http://<hub.ip>:<hub.port>/hub/oauth_callback
    scopes: list[str] = ["openid", "profile", "email"]
    username_claim: str = "preferred_username"  # becomes the hub user name (and the learner's account)
    groups_claim: str = "groups"  # a list of the person's groups at the provider
    instructor_groups: list[str] = ["instructors"]  # provider groups whose members are instructors
    learner_groups: list[str] = ["learners"]  # provider groups whose members are learners
    admin_groups: list[str] = []  # provider groups whose members are hub admins
    cohort_claim: str | None = "cohort"  # a claim naming the learner's cohort (groups cohort-<name> count too)

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/]+", v):
            raise ValueError("must be the provider's http(s) issuer URL, e.g. https://login.example.com/realms/acme")
        return v.rstrip("/")


class LtiSettings(_Section):
    """LTI 1.3 launches into the pilot hub and grade passback (`hub.authenticator: lti13`; book/deploy.md).
    Every value comes from the platform's registration of the tool. The tool's private key is a file
    (`private_key`, or ADOPTKIT_LTI_KEY naming one), never in this file."""

    issuer: str  # the platform's issuer, e.g. https://moodle.example.com
    client_id: str  # the client id the platform gave the tool
    deployment_ids: list[str] = []  # deployments allowed to launch (empty: any of this client's)
    authorize_url: str  # the platform's OIDC authentication request URL
    jwks_url: str  # the platform's public keyset URL (it signs the id_token)
    token_url: str  # the platform's OAuth 2 access-token URL (grade passback)
    token_audience: str | None = None  # the access-token request's aud, when the platform wants another than token_url
    private_key: str = ".cache/lti/tool-key.pem"  # `adoptkit lti keygen` writes it; its public half is at /services/lms/jwks.json
    username_claim: str = "custom_username"  # a claim, or custom_<name> for a custom parameter
    instructor_roles: list[str] = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
                                   "http://purl.imsglobal.org/vocab/lis/v2/membership#ContentDeveloper",
                                   "http://purl.imsglobal.org/vocab/lis/v2/membership#Administrator"]

    @field_validator("issuer", "authorize_url", "jwks_url", "token_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/]+", v):
            raise ValueError("must be an http(s) URL from the platform's registration of the tool")
        return v  # as registered: the issuer is compared with the id_token's `iss` exactly


class HubSettings(_Section):
    """The pilot JupyterHub on one machine (`adoptkit hub config|start`; book/deploy.md)."""

    ip: str = "127.0.0.1"  # 0.0.0.0 serves the network: put TLS in front (book/deploy.md)
    port: int = Field(default=8000, ge=1, le=65535)  # the address learners open
    hub_port: int = Field(default=8081, ge=1, le=65535)  # the hub's own API, on loopback
    proxy_api_port: int = Field(default=8001, ge=1, le=65535)
    data_dir: str = ".cache/hub"  # hub database, cookie secret, learners' home folders
    exchange_dir: str = ".cache/hub/exchange"  # nbgrader's exchange; /srv/nbgrader/exchange on a server
    course_dir: str = "."  # nbgrader's course root: the folder instructors work in
    nbgrader_config: str = "autograders/nbgrader_config.py"  # the course's nbgrader config
    jupyter_config: str = "deploy/jupyter"  # the kit's per-role Jupyter config (common/, learner/, instructor/)
    proxy_command: str = ".cache/chp/node_modules/.bin/configurable-http-proxy"
    # "shared-password" (passwords from ADOPTKIT_HUB_PASSWORD / ADOPTKIT_HUB_ADMIN_PASSWORD) for a pilot,
    # or any JupyterHub authenticator (an entry-point name or import path) configured in `extra_config`.
    authenticator: str = "shared-password"
    oidc: OidcSettings | None = None  # with authenticator "oidc": the organisation's OpenID provider
    lti: LtiSettings | None = None  # with authenticator "lti13": launches from the organisation's LMS
    extra_config: str | None = None  # a Python file loaded after the rendered config (SSO, overrides)
    admins: list[str] = []
    instructors: list[str] = []
    learners: list[str] = []
    cohorts: dict[str, list[str]] = {}  # hub groups `cohort-<name>`: the gateway budgets by them
    idle_timeout: int = Field(default=3600, ge=0)  # seconds until an idle learner server stops (0: never)

    @field_validator("admins", "instructors", "learners")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        bad = [n for n in v if not _USERNAME.match(n)]
        if bad:
            raise ValueError(f"bad user name(s) {bad}: lower case letters, digits and . _ @ - only "
                             "(nbgrader refuses + and * in a student id)")
        return v

    @field_validator("cohorts")
    @classmethod
    def _cohorts(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, members in v.items():
            if not _GROUP.match(name):
                raise ValueError(f"cohort name {name!r}: lower case letters, digits and . _ - only")
            cls._names(members)
        return v

    def model_post_init(self, _ctx) -> None:
        ports = {"port": self.port, "hub_port": self.hub_port, "proxy_api_port": self.proxy_api_port}
        if len(set(ports.values())) < len(ports):
            raise ValueError(f"the hub's ports must differ: {ports}")
        if (self.authenticator == "oidc") != (self.oidc is not None):
            raise ValueError("single sign-on needs both `authenticator: oidc` and the `oidc:` section "
                             "(issuer, client_id); give both or neither")
        if (self.authenticator == "lti13") != (self.lti is not None):
            raise ValueError("LTI 1.3 launches need both `authenticator: lti13` and the `lti:` section "
                             "(the platform's registration); give both or neither")


class Upstream(_Section):
    """A real model provider the gateway forwards to. Its key is read from `api_key_env` in the gateway's
    own environment, so it never reaches a notebook."""

    kind: Literal["openai", "azure", "ollama", "vllm", "compatible"] = "compatible"
    base_url: str  # e.g. https://api.openai.com/v1, https://NAME.openai.azure.com, http://127.0.0.1:11434/v1
    api_key_env: str | None = None  # None: the upstream needs no key (a local Ollama or vLLM)
    api_version: str = "2024-10-21"  # Azure OpenAI only
    models: list[str] = []  # what learners may ask for, as "NAME:MODEL" (for Azure: deployment names)
    timeout: float = Field(default=60.0, gt=0)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/]+", v):
            raise ValueError("must be an http(s) URL such as https://api.openai.com/v1")
        return v.rstrip("/")


class Limits(_Section):
    """Daily budgets (reset at 00:00 UTC) and a per-minute rate; None means no limit."""

    tokens_per_day: int | None = Field(default=None, ge=0)
    requests_per_day: int | None = Field(default=None, ge=0)
    requests_per_minute: int | None = Field(default=None, ge=0)


class CohortLimits(_Section):
    learner: Limits | None = None  # each learner of this cohort
    cohort: Limits | None = None  # the whole cohort together


class GatewayLimits(_Section):
    learner: Limits = Limits(tokens_per_day=200_000, requests_per_day=1_000, requests_per_minute=60)
    cohort: Limits = Limits(tokens_per_day=5_000_000, requests_per_day=50_000)
    cohorts: dict[str, CohortLimits] = {}  # overrides by cohort name
    # A request without max_tokens may use this many completion tokens (held against the budget until
    # it ends); the gateway passes the cap on to the model when a token budget applies.
    reserve_max_tokens: int = Field(default=4096, ge=1)


class Redaction(_Section):
    enabled: bool = True
    # Redact for the backends in the gateway's own process too (the offline stand-in and the local
    # model): nothing leaves the machine, but a notebook shows exactly what would leave it whichever
    # backend answers. Upstreams are redacted whatever this says.
    offline: bool = True
    entities: list[str] = ["EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "UK_NINO",
                           "IP_ADDRESS", "PERSON"]
    # Presidio's default regions for national formats ("020 7946 0958"); numbers written with + and a
    # country code are found whatever the list. Each region costs time: list the organisation's own.
    phone_regions: list[str] = ["US", "GB", "DE", "FR", "IL", "IN", "CA", "BR"]
    min_score: float = Field(default=0.3, ge=0, le=1)
    org_patterns: dict[str, str] = {}  # ENTITY_NAME -> regex for the organisation's own IDs
    deny_names: list[str] = []  # names to redact wherever they appear (e.g. the people in a dataset)
    deny_names_file: str | None = None  # one name a line, relative to the config file
    ner: bool = True  # PERSON also by the offline name model (en_core_web_sm 3.8); false: the deny-list only
    max_seconds: float = Field(default=20.0, gt=0)  # CPU seconds to check one request's text (then a 400)

    @field_validator("org_patterns")
    @classmethod
    def _patterns(cls, v: dict[str, str]) -> dict[str, str]:
        for name, pattern in v.items():
            if not re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
                raise ValueError(f"{name!r}: entity names are UPPER_CASE, e.g. EMPLOYEE_ID")
            try:
                re.compile(pattern)
            except re.error as err:
                raise ValueError(f"{name}: {pattern!r} is not a valid regular expression ({err})") from None
        return v


class BlockRule(_Section):
    name: str
    patterns: list[str]  # case-insensitive regular expressions
    message: str = "This request is outside what the organisation's AI-use policy allows in the sandbox."


class Policy(_Section):
    blocked: list[BlockRule] = []
    detect_injection: bool = True


class Hub(_Section):
    api_url: str | None = None  # JupyterHub's API, e.g. http://127.0.0.1:8081/hub/api; None: no exchange
    cohort_group_prefix: str = "cohort-"  # a hub group "cohort-2025a" puts its members in cohort "2025a"
    default_cohort: str = "default"


class Price(_Section):
    """Prices are the organisation's figures (its contract or the provider's price page), per million tokens."""

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)


class LocalModel(_Section):
    """The `local` backend: real models on the gateway's own machine (gateway/local.py). Chat: llama.cpp
    serving one GGUF file (the pinned SmolLM2-135M-Instruct unless `path` names another); embeddings:
    all-MiniLM-L6-v2. `pip install 'adoptkit[local]'` brings llama.cpp; `adoptkit models fetch` the weights."""

    path: str | None = None  # a GGUF the organisation side-loads (relative to the config file's folder)
    sha256: str | None = None  # that file's sha256: checked at load when given (the default model is pinned)
    name: str | None = None  # the model id learners see (default: the file's name without .gguf)
    threads: int | None = Field(default=None, ge=1, le=256)  # llama.cpp threads (default: half the cores, 1-4)
    context: int = Field(default=2048, ge=256, le=131072)  # tokens of prompt + answer per request
    max_tokens: int = Field(default=512, ge=1)  # the most a request may generate (a longer ask is cut to this)
    queue: int = Field(default=16, ge=0, le=10_000)  # requests waiting behind the one generating; more get 503
    per_learner: int = Field(default=2, ge=1, le=10_000)  # one learner's requests waiting or generating; more: 429
    wait_seconds: float = Field(default=120.0, gt=0)  # a request waiting longer for its turn gets 503

    @field_validator("sha256")
    @classmethod
    def _sha(cls, v):
        if v is not None and not re.fullmatch(r"[0-9a-f]{64}", v):
            raise ValueError("must be the file's sha256: 64 lowercase hex digits (`sha256sum FILE`)")
        return v


class Gateway(_Section):
    # `adoptkit sandbox serve` answers only learners with a key; the in-process server that
    # `llm.client()` starts for one notebook on 127.0.0.1 always runs open (see gateway/keys.py).
    require_keys: bool = True
    db_url: str = "sqlite:///.cache/gateway.db"  # a relative SQLite path is taken from the config's folder
    max_body_bytes: int = Field(default=2_000_000, gt=0)
    max_text_chars: int = Field(default=400_000, gt=0)  # characters of text in one request (all fields)
    # course-embed: real embeddings on this machine (the hashed stand-in answers, and says so, where the
    # MiniLM weights are not fetched); course-local: the local backend's chat model (gateway/local.py).
    aliases: dict[str, str] = {"course-default": "offline:adoptkit-offline",
                               "course-embed": "local:all-MiniLM-L6-v2",
                               "course-local": "local:default"}
    upstreams: dict[str, Upstream] = {}
    local: LocalModel = LocalModel()
    limits: GatewayLimits = GatewayLimits()
    redaction: Redaction = Redaction()
    policy: Policy = Policy()
    hub: Hub = Hub()
    prices: dict[str, Price] = {}  # model id -> price; the offline model costs nothing

    @model_validator(mode="before")
    @classmethod
    def _db_url_from_env(cls, data):
        # ADOPTKIT_GATEWAY_DB_URL wins over the file, so a database password never sits in _config.yml.
        if env := os.environ.get("ADOPTKIT_GATEWAY_DB_URL"):
            data = {**(data if isinstance(data, dict) else {}), "db_url": env}
        return data

    @field_validator("upstreams")
    @classmethod
    def _names(cls, v: dict[str, Upstream]) -> dict[str, Upstream]:
        bad = [n for n in v if n in ("offline", "local") or not re.fullmatch(r"[A-Za-z0-9_.-]+", n)]
        if bad:
            raise ValueError(f"upstream name(s) {bad}: use letters, digits, '_.-', and not 'offline' or 'local'")
        return v

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, v: dict[str, str]) -> dict[str, str]:
        bad = {k: t for k, t in v.items() if ":" not in t}
        if bad:
            raise ValueError(f"{bad}: an alias points at 'BACKEND:MODEL', e.g. offline:adoptkit-offline")
        return v

    def model_post_init(self, _ctx) -> None:
        for alias, target in self.aliases.items():
            backend = target.split(":", 1)[0]
            if backend not in ("offline", "local") and backend not in self.upstreams:
                raise ValueError(f"alias {alias!r} -> {target!r}: no upstream named {backend!r} "
                                 f"(upstreams: {sorted(self.upstreams) or 'none'})")
# --- Adoption: assess, gamify, sustain, measure (issue 6) -------------------------------------------

_SLUG = r"^[a-z][a-z0-9-]*$"


class Competency(_Section):
    id: str = Field(pattern=_SLUG)
    name: str
    description: str = ""


class CompetencyModel(_Section):
    """What the assessments measure: competencies, named levels 0-4, and the score thresholds."""

    competencies: list[Competency] = [
        Competency(id="prompting", name="Prompting", description="clear instructions, roles, formats, examples"),
        Competency(id="grounding", name="Grounding in data", description="giving the model the facts it needs, from real data"),
        Competency(id="evaluating", name="Evaluating outputs", description="checking answers against a reference before trusting them"),
        Competency(id="privacy", name="Privacy and safety", description="keeping personal and confidential data out of prompts"),
        Competency(id="automation", name="Automation", description="running a model over many items reliably"),
        Competency(id="coding", name="Coding with AI", description="reading, testing and fixing code or formulas an assistant wrote"),
    ]
    levels: list[str] = ["unaware", "aware", "practising", "proficient", "expert"]
    # Share of a competency's points needed for level 1, 2, 3, 4 (level 0 below the first).
    thresholds: list[float] = [0.25, 0.5, 0.75, 0.95]

    @field_validator("levels")
    @classmethod
    def _levels(cls, v):
        if len(v) != 5:
            raise ValueError("name exactly five levels, for 0 to 4")
        return v

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, v):
        if len(v) != 4 or not all(0 < x <= 1 for x in v) or any(a >= b for a, b in zip(v, v[1:])):
            raise ValueError("give four increasing shares in (0, 1], the points needed for levels 1 to 4")
        return v

    def ids(self) -> list[str]:
        return [c.id for c in self.competencies]


class Measure(_Section):
    """Where the records are: the gradebook, submissions, the gateway's usage log, the kit's own store."""

    gradebook: str | None = None  # SQLAlchemy URL; else ADOPTKIT_GRADEBOOK_URL, else the course's SQLite file
    submitted: str = "_nbgrader/submitted"
    usage_log: str | None = None  # default: the gateway's database (adoptkit.gateway.db_url); or a CSV/JSONL export
    records: str = "_nbgrader/adoptkit-records.db"
    roster: str | None = None  # CSV with learner, role, team, cohort (and optional name, email)
    # The nbgrader assignments holding teach-back lessons: a name pattern (fnmatch) or a list of names.
    teachbacks: str | list[str] = "*-teachback"
    # A manager's team view shows aggregates only for teams of at least this many learners.
    min_group_size: int = Field(default=5, ge=1)


_Amount = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class ROI(_Section):
    """The organisation's own figures for `adoptkit report roi`; none has a default, on purpose.

    The costs are the ones the "Measuring ROI" chapter names: learners' time (course_hours_per_learner),
    mentors' time (mentor_hours), and programme_costs such as content_and_facilitation, platform_and_it,
    model_usage. Unset (null) means not costed, and the report says so in its headline; 0 means costed at 0.
    """

    programme_costs: dict[str, _Amount] = {}  # e.g. content_and_facilitation, platform_and_it, model_usage
    tasks_per_week: dict[str, _Amount] = {}  # per role: tasks a learner does each week that the training targets
    weeks_per_year: float = Field(default=46, gt=0, le=53)
    horizon_years: float = Field(default=1, gt=0, le=5)
    cost_per_error: float | None = Field(default=None, ge=0, allow_inf_nan=False)  # value of an error avoided
    # Share of the measured change credited to the programme: an explicit input, shown beside the result.
    attribution: float | None = Field(default=None, gt=0, le=1)
    course_hours_per_learner: float | None = Field(default=None, ge=0, allow_inf_nan=False)  # learners' time
    mentor_hours: float | None = Field(default=None, ge=0, allow_inf_nan=False)  # mentors' and reviewers' time, total
    active_window_days: int = Field(default=28, ge=7)  # "still using it": active in the log's last N days


class LeaderboardSettings(_Section):
    # "team": team averages only (the default: no individual is ranked); "initials" or "names": the top few.
    privacy: Literal["team", "initials", "names"] = "team"
    min_team_size: int = Field(default=3, ge=1)  # smaller teams are pooled so no one is singled out
    top: int = Field(default=10, ge=1)  # individual boards show the top N only; nobody is shown at the bottom
    opt_out: list[str] = []
    streak_points: float = Field(default=2.0, ge=0)  # per working day of the current streak...
    streak_cap: int = Field(default=10, ge=0)  # ...counted up to this many, so habits never outweigh learning
    active_day_points: float = Field(default=1.0, ge=0)  # per active day in the sandbox (last 28 days)


class BadgeRule(_Section):
    id: str = Field(pattern=_SLUG)
    name: str
    description: str
    competencies: dict[str, int] = {}  # competency -> minimum level after the programme
    min_points: float | None = None
    min_streak_days: int | None = None
    min_teachbacks_published: int | None = None


class Badges(_Section):
    issuer_id: str = "https://example.org/adoptkit"  # an IRI the organisation controls
    key_file: str | None = None  # PEM private key; ADOPTKIT_BADGE_KEY (a path) wins; never commit the key
    algorithm: Literal["RS256", "ES256", "EdDSA"] = "RS256"  # RS256 is the one every OB 3.0 verifier supports
    valid_days: int | None = Field(default=None, ge=1)
    schema_mirror: str | None = None  # a folder holding 1EdTech's OB 3.0 schema; ADOPTKIT_OPENBADGES_MIRROR wins
    awards: list[BadgeRule] = [
        BadgeRule(id="ai-practitioner", name="AI Practitioner",
                  description="Reached level 3 (proficient) in prompting, grounding and evaluating outputs.",
                  competencies={"prompting": 3, "grounding": 3, "evaluating": 3}),
        BadgeRule(id="safe-ai-user", name="Safe AI User",
                  description="Reached level 3 (proficient) in privacy and safety.", competencies={"privacy": 3}),
        BadgeRule(id="ai-teacher", name="AI Teacher",
                  description="Wrote a teach-back lesson that peers reviewed and the course published.",
                  min_teachbacks_published=1),
    ]


class Hackathon(_Section):
    assignment: str
    title: str = "Hackathon"
    start: datetime
    end: datetime

    def model_post_init(self, _ctx) -> None:
        if self.end <= self.start:
            raise ValueError("`end` must be after `start`")


class Review(_Section):
    reviewers: int = Field(default=2, ge=1)  # peer reviewers per teach-back lesson
    rubric: dict[str, int] = {"clarity": 4, "correctness": 4, "real data": 4, "exercise": 4}  # criterion -> max
    min_reviews: int = Field(default=2, ge=1)  # before a lesson can be published


class Microlearning(_Section):
    minutes: int = Field(default=5, ge=1)  # a daily session
    new_cards_per_day: int = Field(default=5, ge=0)
    max_cards: int = Field(default=15, ge=1)  # per session


class Nudge(_Section):
    webhook_env: str = "ADOPTKIT_NUDGE_WEBHOOK"  # names the variable holding the Slack-compatible URL (a secret)
    inactive_days: int = Field(default=7, ge=1)


USER_ID = r"[A-Za-z0-9][A-Za-z0-9_.@+-]{0,99}"  # a hub / gradebook user name


class Engage(_Section):
    leaderboard: LeaderboardSettings = LeaderboardSettings()
    badges: Badges = Badges()
    hackathons: dict[str, Hackathon] = {}
    review: Review = Review()
    microlearning: Microlearning = Microlearning()
    nudge: Nudge = Nudge()
    # Who mentors whom (`adoptkit mentor view MENTOR`): mentor id -> the learner ids they mentor (hub user names).
    mentors: dict[str, list[str]] = {}

    @field_validator("mentors")
    @classmethod
    def _mentors(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for mentor, mentees in v.items():
            bad = [x for x in (mentor, *mentees) if not re.fullmatch(USER_ID, x)]
            if bad:
                raise ValueError(f"{bad[0][:40]!r} is not a user id (letters, digits and . _ @ + -, up to 100)")
            if mentor in mentees or len(set(mentees)) < len(mentees):
                raise ValueError(f"{mentor}: a mentor cannot mentor themselves, and lists each mentee once")
        return v


class XAPI(_Section):
    endpoint: str | None = None  # the LRS's xAPI base URL, e.g. https://lrs.example.org/xapi/
    username_env: str = "ADOPTKIT_LRS_USER"
    password_env: str = "ADOPTKIT_LRS_PASSWORD"
    activity_base: str = "https://example.org/adoptkit"  # IRIs of the course's activities start here
    account_homepage: str = "https://example.org"  # learners are accounts on this system (no emails sent)
    batch_size: int = Field(default=100, ge=1, le=1000)
    retries: int = Field(default=4, ge=0)


class LMS(_Section):
    """Packages for the organisation's learning platform (`adoptkit package`; book/deploy.md)."""

    hub_url: str | None = None  # the hub's public address: packages launch into it and take scores from it
    book_url: str | None = None  # the published book: links from a package to pages outside its path
    scorm_origins: list[str] = []  # LMS origins (https://lms.example.com) a package may get a score from the hub in
    mastery: float = Field(default=0.8, gt=0, le=1)  # share of the score a learner needs to pass
    out: str = "_build/lms"  # where packages are written
    service_port: int = Field(default=8766, ge=1, le=65535)  # the hub's `lms` service, on loopback

    @field_validator("hub_url", "book_url")
    @classmethod
    def _url(cls, v):
        if v is not None and not re.match(r"^https?://[^\s/]+", v):
            raise ValueError("must be an http(s) URL such as https://learn.example.com")
        return v.rstrip("/") if v else v

    @field_validator("scorm_origins")
    @classmethod
    def _origins(cls, v):
        bad = [o for o in v if not re.fullmatch(r"https?://[^\s/]+", o)]
        if bad:
            raise ValueError(f"{bad}: an origin is scheme://host[:port], without a path")
        return v


class Settings(_Section):
    organisation: Organisation = Organisation()
    roles: list[str] = ["marketing", "sales", "hr", "engineering", "support", "leaders"]
    llm: LLM = LLM()
    data: Data = Data()
    sandbox: Sandbox = Sandbox()
    hub: HubSettings = HubSettings()
    gateway: Gateway = Field(default_factory=Gateway)  # built per load, so ADOPTKIT_GATEWAY_DB_URL is read then
    competency: CompetencyModel = CompetencyModel()
    measure: Measure = Measure()
    roi: ROI = ROI()
    engage: Engage = Engage()
    xapi: XAPI = XAPI()
    lms: LMS = LMS()
    # Where the config file was found; relative paths in it are taken from here.
    root: Path = Path(".")

    @field_validator("roles")
    @classmethod
    def _roles(cls, v: list[str]) -> list[str]:
        unknown = [r for r in v if r not in KNOWN_ROLES]
        if unknown:
            raise ValueError(f"unknown role(s) {unknown}; allowed: {', '.join(KNOWN_ROLES)}")
        return v

    def path(self, value: str | os.PathLike) -> Path:
        """A path from the config, resolved against the config file's folder."""
        p = Path(os.path.expanduser(value))
        return p if p.is_absolute() else (self.root / p).resolve()


def summary(s: Settings) -> list[str]:
    """The settings an admin checks first, one short line each (`adoptkit config check`; all: --show)."""
    def plural(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    g, e = s.gateway, s.engage
    llm = "the kit's local endpoint (started on demand)" if s.llm.endpoint == "local" else s.llm.endpoint
    mirror = os.environ.get("ADOPTKIT_DATA_MIRROR") or s.data.mirror or "none"
    upstreams = ", ".join(sorted(g.upstreams)) or "none (the offline model answers)"
    return [
        f"organisation   {s.organisation.name} (hourly cost: "
        f"{f'{s.organisation.hourly_cost:g} {s.organisation.currency}' if s.organisation.hourly_cost else 'not set'})",
        f"roles          {', '.join(s.roles)}",
        f"model          {s.llm.model} via {llm}",
        f"data           cache {s.data.cache}; mirror {mirror}; "
        f"{plural(len(s.data.overrides), 'override')}",
        f"sandbox        {s.sandbox.host}:{s.sandbox.port}; keys {'required' if g.require_keys else 'not required'}; "
        f"upstreams: {upstreams}",
        f"hub            {s.hub.ip}:{s.hub.port}; {s.hub.authenticator}; "
        f"{plural(len(s.hub.learners), 'learner')}, {plural(len(s.hub.instructors), 'instructor')}",
        f"competencies   {', '.join(c.id for c in s.competency.competencies)}",
        f"engagement     leaderboard by {e.leaderboard.privacy}; {plural(len(e.badges.awards), 'badge')}; "
        f"{plural(len(e.hackathons), 'hackathon')}",
        f"xAPI           {s.xapi.endpoint or 'no LRS set'}",
    ]


def find_config(start: Path | None = None) -> Path | None:
    """`ADOPTKIT_CONFIG`, else the nearest `_config.yml` with an `adoptkit:` section up from `start`."""
    if env := os.environ.get("ADOPTKIT_CONFIG"):
        return Path(env)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file() and re.search(r"^adoptkit:", candidate.read_text(encoding="utf-8"), re.M):
            return candidate
    return None


def _explain(err: ValidationError, source: str) -> str:
    lines = [f"{source} has {err.error_count()} wrong value(s) in its `adoptkit:` section:"]
    for e in err.errors():
        key = ".".join(["adoptkit", *map(str, e["loc"])])
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "is not a setting the kit knows (misspelt?)"
        lines.append(f"  - {key} = {e.get('input')!r}: {msg}")
    lines.append("Fix these keys in the file (see the commented defaults in the project's _config.yml).")
    return "\n".join(lines)


def parse(section: dict | None, root: Path = Path("."), source: str = CONFIG_NAME) -> Settings:
    """Validate a mapping (the `adoptkit:` section) into Settings."""
    if section is not None and not isinstance(section, dict):
        raise SettingsError(f"{source}: `adoptkit:` must be a mapping of settings, not {type(section).__name__}")
    try:
        return Settings(**(section or {}), root=root)
    except ValidationError as err:
        raise SettingsError(_explain(err, source)) from None


def load(path: Path | str | None = None) -> Settings:
    """Read settings from `path`, or from the config found by `find_config`, or the defaults."""
    path = Path(path) if path else find_config()
    if path is None:
        return Settings(root=Path.cwd())
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise SettingsError(f"{path}: no such config file (ADOPTKIT_CONFIG points at it?)") from None
    except yaml.YAMLError as err:
        raise SettingsError(f"{path}: not valid YAML: {err}") from None
    return parse(doc.get("adoptkit"), root=Path(path).resolve().parent, source=str(path))


@lru_cache(maxsize=1)
def current() -> Settings:
    """The settings for this process (cached; call `current.cache_clear()` after changing the file)."""
    return load()
