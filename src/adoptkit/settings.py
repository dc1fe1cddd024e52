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
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

CONFIG_NAME = "_config.yml"
KNOWN_ROLES = ("marketing", "sales", "hr", "engineering", "finance", "support", "leadership")


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
        Competency(id="coding", name="Coding with AI", description="reading, testing and fixing code an assistant wrote"),
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
    teachbacks: str = "teachback"  # the nbgrader assignment holding teach-back lessons


class ROI(_Section):
    """The organisation's own figures for `adoptkit report roi`; none has a default, on purpose."""

    programme_costs: dict[str, float] = {}  # e.g. licences, facilitation, learners' time, platform
    tasks_per_week: dict[str, float] = {}  # per role: tasks a learner does each week that the training targets
    weeks_per_year: float = Field(default=46, gt=0, le=53)
    horizon_years: float = Field(default=1, gt=0, le=5)
    cost_per_error: float | None = Field(default=None, ge=0)  # value of an error avoided (optional)
    attribution: float = Field(default=1.0, gt=0, le=1)  # share of the change credited to the programme
    course_hours_per_learner: float | None = Field(default=None, ge=0)  # learners' time in training, costed
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


class Engage(_Section):
    leaderboard: LeaderboardSettings = LeaderboardSettings()
    badges: Badges = Badges()
    hackathons: dict[str, Hackathon] = {}
    review: Review = Review()
    microlearning: Microlearning = Microlearning()
    nudge: Nudge = Nudge()


class XAPI(_Section):
    endpoint: str | None = None  # the LRS's xAPI base URL, e.g. https://lrs.example.org/xapi/
    username_env: str = "ADOPTKIT_LRS_USER"
    password_env: str = "ADOPTKIT_LRS_PASSWORD"
    activity_base: str = "https://example.org/adoptkit"  # IRIs of the course's activities start here
    account_homepage: str = "https://example.org"  # learners are accounts on this system (no emails sent)
    batch_size: int = Field(default=100, ge=1, le=1000)
    retries: int = Field(default=4, ge=0)


class Settings(_Section):
    organisation: Organisation = Organisation()
    roles: list[str] = ["marketing", "sales", "hr", "engineering"]
    llm: LLM = LLM()
    data: Data = Data()
    sandbox: Sandbox = Sandbox()
    competency: CompetencyModel = CompetencyModel()
    measure: Measure = Measure()
    roi: ROI = ROI()
    engage: Engage = Engage()
    xapi: XAPI = XAPI()
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
