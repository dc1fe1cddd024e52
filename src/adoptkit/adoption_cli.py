"""The adoption commands (assess, gamify, sustain, measure), registered on the `adoptkit` group by cli.py."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import click

from . import settings as settings_mod


def _fail(message: str) -> None:
    click.secho(str(message), fg="red", err=True)
    sys.exit(1)


def _errors():
    """Every error type whose message is written for a person: shown as it is, exit code 1."""
    from .engage.badges import BadgeError
    from .engage.cards import CardError
    from .engage.hackathon import HackathonError
    from .engage.nudge import NudgeError
    from .engage.review import ReviewError
    from .engage.teachback import TeachbackError
    from .measure.assessment import GradebookError
    from .measure.cohort import CohortError
    from .measure.roi import RoiConfigError
    from .measure.usage import UsageLogError
    from .measure.xapi import XAPIError

    return (settings_mod.SettingsError, BadgeError, CardError, HackathonError, NudgeError, ReviewError,
            TeachbackError, GradebookError, CohortError, RoiConfigError, UsageLogError, XAPIError)


def _run(fn):
    try:
        return fn()
    except _errors() as err:
        _fail(str(err))


simulate_options = [
    click.option("--simulate", "simulate", type=int, default=None, metavar="N",
                 help="use a seeded simulated cohort of N learners (clearly labelled) instead of the records"),
    click.option("--events", type=int, default=None, help="usage events in the simulated cohort (default 250 per learner)"),
    click.option("--seed", type=int, default=7, show_default=True, help="seed of the simulated cohort"),
]


def with_simulate(f):
    for option in reversed(simulate_options):
        f = option(f)
    return f


def _cohort(simulate: int | None, events: int | None, seed: int, usage_required: bool = False):
    s = _run(settings_mod.current)
    if simulate is not None:
        from .measure import simulate as sim

        return sim.cohort(simulate, events if events is not None else 250 * simulate, seed, settings=s)
    from .measure import cohort

    return cohort.load(s, usage_required=usage_required)


# --- report ------------------------------------------------------------------------------------------

@click.group()
def report() -> None:
    """Reports for the L&D lead: competency before/after, usage, ROI."""


@report.command("competency")
@click.option("--out", type=click.Path(file_okay=False), default="_build/reports", show_default=True)
@with_simulate
def report_competency(out, simulate, events, seed) -> None:
    """Per-role heat map of competency levels before and after, per learner, and sandbox usage."""
    from .measure import competency

    t = time.monotonic()
    path = _run(lambda: competency.report(_cohort(simulate, events, seed), out))
    click.echo(f"wrote {path} (and competency-learners.csv) in {time.monotonic() - t:.1f} s")


@report.command("roi")
@click.option("--out", type=click.Path(file_okay=False), default="_build/reports", show_default=True)
@with_simulate
def report_roi(out, simulate, events, seed) -> None:
    """Kirkpatrick levels 1-4 and Phillips ROI with assumptions and a sensitivity range."""
    from .measure import roi

    t = time.monotonic()
    s = _run(settings_mod.current)
    for line in roi.missing_figures(s, [])[1]:
        click.secho(f"not costed: {line}", fg="yellow", err=True)
    path = _run(lambda: roi.report(_cohort(simulate, events, seed, usage_required=True), out, s))
    click.echo(f"wrote {path} in {time.monotonic() - t:.1f} s")


@report.command("usage")
@with_simulate
def report_usage(simulate, events, seed) -> None:
    """Requests per learner per week, active days and features used, from the gateway's log."""
    from .measure import usage

    c = _run(lambda: _cohort(simulate, events, seed, usage_required=True))
    if c.simulated:
        click.echo(c.label)
    f = c.usage.frame
    if f.empty:
        _fail(f"the usage log {c.usage.source} has no usable requests yet: learners' requests through the sandbox "
              f"gateway fill it (adoptkit sandbox serve), or try the report with --simulate")
    pl = usage.per_learner(f)
    click.echo(f"{c.label}\n{len(f):,} requests from {len(pl):,} learners, {f['ts'].min():%Y-%m-%d} to "
               f"{f['ts'].max():%Y-%m-%d}")
    q = pl[["requests_per_week", "active_days", "features_used"]].describe(percentiles=[0.25, 0.5, 0.75])
    click.echo(q.loc[["25%", "50%", "75%"]].round(1).to_string())
    click.echo("features (share of active learners): " + ", ".join(
        f"{k} {v:.0%}" for k, v in usage.features(f).items()))
    for note in c.notes:
        click.secho(f"note: {note}", fg="yellow")


# --- leaderboard ---------------------------------------------------------------------------------------

@click.command("leaderboard")
@click.option("--privacy", type=click.Choice(["team", "initials", "names"]), default=None,
              help="override engage.leaderboard.privacy (default: team averages only)")
@click.option("--cohort", "cohort_name", default=None, help="one cohort only")
@click.option("--team", default=None, help="one team only")
@click.option("--html", "html_out", type=click.Path(dir_okay=False), default=None, help="also write an HTML page")
@with_simulate
def leaderboard_cmd(privacy, cohort_name, team, html_out, simulate, events, seed) -> None:
    """Points, streaks and sandbox activity per team (or the top learners), without shaming anyone."""
    from .engage import cards, leaderboard

    s = _run(settings_mod.current)

    def go():
        c = _cohort(simulate, events, seed)
        c.require_learners()
        table = leaderboard.standings(c, s, reviews=None if c.simulated else cards.reviews(s))
        return c, leaderboard.board(table, s, privacy, cohort_name, team)

    c, rows = _run(go)
    chosen = privacy or s.engage.leaderboard.privacy
    if c.simulated:  # on stdout, so a copied or piped board cannot pass for real people
        click.echo(f"{c.label}; no real learner is shown.")
    if rows.empty:
        click.echo("nobody to show yet (no scores, or the filter matched nobody)")
        return
    click.echo(rows.to_string(index=False, float_format=lambda x: f"{x:.1f}"))
    if html_out:
        path = leaderboard.write(rows, html_out, f"Leaderboard{f' · {cohort_name}' if cohort_name else ''}",
                                 chosen, c.simulated)
        click.echo(f"wrote {path}")


# --- badges ------------------------------------------------------------------------------------------

@click.group()
def badges() -> None:
    """Open Badges 3.0: keygen, issue (JWT + certificate), verify."""


@badges.command("keygen")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--algorithm", type=click.Choice(["RS256", "ES256", "EdDSA"]), default="RS256", show_default=True)
def badges_keygen(path, algorithm) -> None:
    """Make a signing key at PATH (outside the repository; point ADOPTKIT_BADGE_KEY at it)."""
    from .engage.badges import keygen

    p = _run(lambda: keygen(path, algorithm))
    click.echo(f"wrote {p} (mode 600). export ADOPTKIT_BADGE_KEY={Path(p).resolve()} ; never commit it.")


def badge_facts(c, s):
    """Per learner: levels after the course, graded points, current streak, lessons published."""
    import pandas as pd

    from .engage import cards, leaderboard, review
    from .measure import competency

    lv = competency.levels(c.assessed, s.competency)
    post = lv[lv["phase"] == "post"].pivot_table(index="learner", columns="competency", values="level")
    post.columns = [f"{col} post" for col in post.columns]
    table = leaderboard.standings(c, s, reviews=None if c.simulated else cards.reviews(s))
    facts = table[["points", "streak"]].join(post, how="left")
    facts["published"] = (pd.Series(dtype="int64") if c.simulated else review.published_counts(s)).reindex(
        facts.index).fillna(0)
    return facts


@badges.command("issue")
@click.option("--out", type=click.Path(file_okay=False), default="_build/badges", show_default=True)
@click.option("--no-pdf", is_flag=True, help="HTML certificates only")
def badges_issue(out, no_pdf) -> None:
    """Issue every badge earned and not yet issued: OUT/<learner>/<badge>.jwt, .json, .html (+ .pdf)."""
    from .engage import badges as b

    s = _run(settings_mod.current)

    def go():
        c = _cohort(None, None, 0)
        c.require_assessments()
        names = dict(zip(c.roster["learner"], c.roster["name"]))
        return b.issue_all(badge_facts(c, s), names, out, s, pdf=not no_pdf)

    if warning := b.issuer_warning(s):
        click.secho(warning, fg="yellow", err=True)
    awards = _run(go)
    new = [a for a in awards if a.new]
    for a in new:
        click.echo(f"issued {a.badge} to {a.learner}: {a.path}")
    click.echo(f"{len(new)} new badge(s); {len(awards) - len(new)} already issued")


@badges.command("public-key")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="write it to a file (default: print)")
def badges_public_key(out) -> None:
    """Export the issuer's public key (PEM): give it to anyone who verifies the badges."""
    from .engage import badges as b

    s = _run(settings_mod.current)
    pem = _run(lambda: b.public_pem(s))
    if warning := b.issuer_warning(s):
        click.secho(warning, fg="yellow", err=True)
    if out:
        Path(out).write_bytes(pem)
        click.echo(f"wrote {out}: verify badges with `adoptkit badges verify FILE --public-key {out}`")
    else:
        click.echo(pem.decode().rstrip())


@badges.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--public-key", type=click.Path(exists=True, dir_okay=False), default=None,
              help="the issuer's public key (PEM, from `adoptkit badges public-key`); default: "
                   "ADOPTKIT_BADGE_PUBLIC_KEY, else derived from the configured signing key")
def badges_verify(file, public_key) -> None:
    """Check a badge's signature, expiry and Open Badges 3.0 schema; exit 1 if it fails."""
    import os

    from .engage import badges as b

    def go():
        where = public_key or os.environ.get(b.PUBLIC_KEY_ENV)
        key = b.load_public_key(where) if where else b.load_key().public_key()
        return b.verify(b.read_token(file), key)

    cred = _run(go)
    subject = cred["credentialSubject"]
    who = next((i["identityHash"] for i in subject.get("identifier", []) if i.get("identityType") == "name"),
               subject.get("id"))
    click.secho(f"valid: '{subject['achievement']['name']}' awarded to {who} by {cred['issuer'].get('name')} "
                f"on {cred['issuanceDate'][:10]} ({cred['id']})", fg="green")


# --- hackathon ---------------------------------------------------------------------------------------

@click.group()
def hackathon() -> None:
    """Timed challenges: a live scoreboard page and the final ranking."""


@hackathon.command("scoreboard")
@click.argument("name")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="default _build/hackathons/NAME.html")
@click.option("--watch", type=int, default=None, metavar="SECONDS",
              help="rewrite the page every SECONDS until the end, then write the final ranking")
@click.option("--privacy", type=click.Choice(["team", "initials", "names"]), default=None)
def hackathon_scoreboard(name, out, watch, privacy) -> None:
    """Write the live scoreboard page from the gradebook (once, or every --watch seconds)."""
    from .engage import hackathon as hk

    out = out or f"_build/hackathons/{name}.html"
    while True:
        settings_mod.current.cache_clear()  # read _config.yml each round: the organiser may move the end
        h, st = _run(lambda: hk.load(name, privacy=privacy))
        over = datetime.now(timezone.utc) > hk._aware(h.end)
        path = hk.write(h, st, out, final=over, refresh=watch)
        click.echo(f"{datetime.now():%H:%M:%S} {st.entrants} entries -> {path}{' (final)' if over else ''}")
        if not watch or over:
            return
        time.sleep(watch)


@hackathon.command("final")
@click.argument("name")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="default _build/hackathons/NAME-final.html")
@click.option("--privacy", type=click.Choice(["team", "initials", "names"]), default=None)
@click.option("--force", is_flag=True, help="write it before the end (a provisional ranking)")
def hackathon_final(name, out, privacy, force) -> None:
    """Write the final ranking (HTML + CSV) once the hackathon has ended."""
    from .engage import hackathon as hk

    h, st = _run(lambda: hk.load(name, privacy=privacy))
    if datetime.now(timezone.utc) < hk._aware(h.end) and not force:
        _fail(f"{name} ends at {h.end:%Y-%m-%d %H:%M} UTC: the ranking is not final yet (use --force for a "
              f"provisional one)")
    path = hk.write(h, st, out or f"_build/hackathons/{name}-final.html", final=True)
    click.echo(st.table.to_string(index=False))
    click.echo(f"wrote {path} and {path.with_suffix('.csv')}")


# --- review (Learn-Do-Teach) ---------------------------------------------------------------------------

@click.group()
def review() -> None:
    """Learn-Do-Teach: assign peer reviewers, record rubric scores, publish the best lessons."""


@review.command("assign")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--mentor", "mentors", multiple=True, help="a mentor who also reviews (repeatable)")
def review_assign(seed, mentors) -> None:
    """Give each new teach-back lesson its peer reviewers (never the author)."""
    from .engage import review as rv

    table = _run(lambda: rv.assign(seed=seed, mentors=list(mentors)))
    click.echo(table[["author", "reviewer"]].to_string(index=False) if len(table) else "no lessons yet")


@review.command("score")
@click.argument("author")
@click.option("--reviewer", required=True)
@click.option("--score", "pairs", multiple=True, required=True, metavar="CRITERION=N",
              help="one per rubric criterion, e.g. --score clarity=3")
@click.option("--comment", default="")
def review_score(author, reviewer, pairs, comment) -> None:
    """Record REVIEWER's rubric scores for AUTHOR's lesson."""
    from .engage import review as rv

    scores = {}
    for p in pairs:
        key, sep, value = p.rpartition("=")
        try:
            scores[key.strip()] = float(value)
        except ValueError:
            _fail(f"--score {p!r}: write CRITERION=NUMBER, e.g. clarity=3")
        if not sep:
            _fail(f"--score {p!r}: write CRITERION=NUMBER, e.g. clarity=3")
    _run(lambda: rv.score(author, reviewer, scores, comment))
    click.echo(f"saved {reviewer}'s review of {author}'s lesson")


@review.command("status")
def review_status() -> None:
    """Reviews done per lesson and mean rubric score."""
    from .engage import review as rv

    res = _run(rv.results)
    click.echo(res.to_string(float_format=lambda x: f"{x:.2f}") if len(res) else "no lessons assigned yet")


@review.command("publish")
@click.argument("author", required=False)
@click.option("--best", type=int, default=None, help="publish the N best-reviewed lessons")
def review_publish(author, best) -> None:
    """Copy reviewed lessons into book/teachbacks/ and add them to _toc.yml ("Lessons from colleagues")."""
    from .engage import review as rv
    from .measure import cohort

    s = _run(settings_mod.current)

    def go():
        names = {}
        if s.measure.roster:
            r = cohort.read_roster(s.path(s.measure.roster))
            names = dict(zip(r["learner"], r["name"]))
        return rv.publish(author, best, s, names=names)

    done = _run(go)
    for path, _ in done:
        click.echo(f"published {path}")
    added = _run(lambda: rv.add_to_toc(s.path("_toc.yml"), [line for _, line in done]))
    click.echo(f"added {len(added)} page(s) to _toc.yml under '{rv.TOC_PART}'"
               + (f" ({len(done) - len(added)} already there)" if len(done) > len(added) else "")
               + "; build the book to see them")


# --- microlearning ---------------------------------------------------------------------------------------

@click.group()
def microlearning() -> None:
    """Spaced-repetition review cards drawn from the exercises (FSRS)."""


@microlearning.command("deck")
@click.option("--export", "export_to", type=click.Path(dir_okay=False), default=None,
              help="write the deck as JSON (for learners' servers without the exercises)")
def micro_deck(export_to) -> None:
    """List the review cards by competency."""
    from .engage import cards

    deck = _run(cards.deck)
    for c in deck:
        click.echo(f"{c.competency:11} {c.id:28} {c.front[:70]}")
    click.echo(f"{len(deck)} cards")
    if export_to:
        click.echo(f"wrote {cards.export(deck, export_to)}")


@microlearning.command("due")
@click.argument("learner", required=False)
def micro_due(learner) -> None:
    """Reviews due now and new cards waiting, per learner (or for one)."""
    from .engage import cards
    from .measure import cohort

    def go():
        s = settings_mod.current()
        if learner:
            learners = [learner]
        else:
            c = cohort.load(s)
            c.require_learners()
            learners = list(c.roster["learner"])
        return cards.due_counts(learners, cards.deck(settings=s), settings=s)

    table = _run(go)
    click.echo(table.to_string() if len(table) else "no learners")


# --- nudge ---------------------------------------------------------------------------------------------

@click.command("nudge")
@click.option("--post", is_flag=True, help="post to the webhook named by engage.nudge.webhook_env")
def nudge_cmd(post) -> None:
    """Who is due for review: print the digest, or post it to a Slack-compatible webhook."""
    from .engage import cards, nudge
    from .measure import cohort

    s = _run(settings_mod.current)

    def go():
        c = cohort.load(s)
        c.require_learners()
        due = cards.due_counts(list(c.roster["learner"]), cards.deck(settings=s), settings=s)
        return nudge.build(due, c.roster, c.usage.frame, s, usage_missing=c.usage_missing)

    digest = _run(go)
    click.echo(digest.text)
    if post:
        _run(lambda: nudge.post(digest.text, settings=s))
        click.echo("posted")


# --- xAPI ----------------------------------------------------------------------------------------------

@click.group()
def xapi() -> None:
    """Learning records as xAPI statements: export and send to the LRS."""


def _statements():
    import pandas as pd

    from .measure import cohort, records
    from .measure import xapi as xp

    s = _run(settings_mod.current)
    c = cohort.load(s)
    c.require_learners()
    with records.connect(settings=s) as conn:
        issued = pd.read_sql_query("SELECT learner, badge, issued_at FROM badge_issued", conn)
        published = pd.read_sql_query("SELECT author, path, published_at FROM published", conn)
    stmts = xp.statements(c.scores, c.roster, s, issued, published)
    xp.validate(stmts)
    return stmts


@xapi.command("export")
@click.argument("file", type=click.Path(dir_okay=False))
def xapi_export(file) -> None:
    """Write every learning record as validated xAPI statements (a JSON array) to FILE."""
    import json

    from .measure import xapi as xp

    stmts = _run(lambda: xp.revise(_statements(), settings_mod.current()))  # as the LRS should hold them
    Path(file).write_text(json.dumps(stmts, indent=1), encoding="utf-8")
    click.echo(f"wrote {len(stmts)} valid statement(s) to {file}")


@xapi.command("send")
@click.option("--file", "from_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="send the statements in FILE (from `xapi export`) instead of the current records")
def xapi_send(from_file) -> None:
    """Send statements to the LRS (adoptkit.xapi): batched, retried, never duplicated."""
    import json

    from .measure import xapi as xp

    def go():
        stmts = json.loads(Path(from_file).read_text(encoding="utf-8")) if from_file else _statements()
        return xp.LRS.from_settings().send(stmts)

    r = _run(go)
    click.echo(f"sent {r.sent} statement(s) in {r.batches} batch(es); {r.skipped} already sent; {r.retries} retries")


# --- career growth ------------------------------------------------------------------------------------

@click.group()
def career() -> None:
    """Career growth: verified levels and badges for HR, and a manager's view per team."""


@career.command("export")
@click.argument("file", type=click.Path(dir_okay=False))
def career_export(file) -> None:
    """Write each learner's verified levels, badges and dates as CSV (schema: adoptkit.measure.career.SCHEMA)."""
    from .measure import career as cr
    from .measure import cohort

    s = _run(settings_mod.current)

    def go():
        c = cohort.load(s)
        c.require_learners()
        return cr.export(c, file, s)

    rows = _run(go)
    click.echo(f"wrote {len(rows):,} record(s) for {rows['learner_id'].nunique():,} learner(s) to {file} "
               f"(columns: {', '.join(cr.SCHEMA)})")


@career.command("teams")
@click.option("--min-size", type=click.IntRange(min=1), default=None,
              help="smallest team shown with figures (default: adoptkit.measure.min_group_size)")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False), default=None, help="also write it as CSV")
@with_simulate
def career_teams(min_size, csv_out, simulate, events, seed) -> None:
    """A manager's view: per team, aggregates only, for teams of at least the minimum size."""
    from .measure import career as cr

    s = _run(settings_mod.current)

    def go():
        c = _cohort(simulate, events, seed)
        c.require_learners()
        return c, cr.teams(c, s, min_size)

    c, table = _run(go)
    if c.simulated:
        click.echo(c.label)
    click.echo(table.to_string(index=False, na_rep="–"))
    if csv_out:
        table.to_csv(csv_out, index=False)
        click.echo(f"wrote {csv_out}")


def register(main: click.Group) -> None:
    for cmd in (report, leaderboard_cmd, badges, hackathon, review, microlearning, nudge_cmd, xapi, career):
        main.add_command(cmd)
