import copy

import pandas as pd
import pytest

from adoptkit.measure import simulate, xapi, xapi_rules

from _adoption import config

GOOD = {
    "id": "7ccd3322-e1a5-411a-a67d-6a735c76f119",
    "actor": {"objectType": "Agent", "name": "Ana", "account": {"homePage": "https://example.org", "name": "ana"}},
    "verb": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"en-US": "completed"}},
    "object": {"objectType": "Activity", "id": "https://example.org/adoptkit/assignments/x",
               "definition": {"name": {"en": "x"}, "type": "http://adlnet.gov/expapi/activities/assessment"}},
    "result": {"score": {"raw": 18, "min": 0, "max": 24, "scaled": 0.75}, "completion": True, "duration": "PT12M30S"},
    "context": {"platform": "adoptkit", "language": "en-GB", "registration": "ec531277-b57b-4c15-8d91-d292c5b2b8f7",
                "contextActivities": {"grouping": [{"id": "https://example.org/adoptkit/course"}]},
                "extensions": {"https://example.org/ext/role": "sales"}},
    "timestamp": "2026-03-02T09:15:00.000Z",
    "version": "1.0.3",
}


def broken(path, value=None, delete=False):
    st = copy.deepcopy(GOOD)
    *parents, last = path.split(".")
    target = st
    for p in parents:
        target = target[p]
    if delete:
        del target[last]
    else:
        target[last] = value
    return st


def test_a_valid_statement_passes():
    assert xapi_rules.problems(GOOD) == []
    group_actor = {**GOOD, "actor": {"objectType": "Group", "member": [GOOD["actor"]]}}
    assert xapi_rules.problems(group_actor) == []
    ref = {**GOOD, "object": {"objectType": "StatementRef", "id": GOOD["id"]}}
    ref.pop("context")
    assert xapi_rules.problems(ref) == []


@pytest.mark.parametrize("statement, rule", [
    (broken("actor", delete=True), "statement.actor: required"),
    (broken("verb.id", "completed"), "not an absolute IRI"),
    (broken("id", "not-a-uuid"), "not a UUID"),
    (broken("actor.mbox", "mailto:ana@example.org"), "exactly one of"),
    (broken("actor", {"mbox": "ana@example.org"}), "must be a mailto: IRI"),
    (broken("actor", {"mbox_sha1sum": "xyz"}), "40 hexadecimal"),
    (broken("actor", {"account": {"name": "ana"}}), "needs both homePage and name"),
    (broken("actor", {"objectType": "Group"}), "anonymous Group must list its members"),
    (broken("actor", {"objectType": "Group", "member": [{"objectType": "Group", "member": []}]}), "group members must be Agents"),
    (broken("result.score.scaled", 1.5), "outside [-1, 1]"),
    (broken("result.score.raw", 30), "raw: 30 is outside [min, max]"),
    (broken("result.score.min", 24), "must be less than max"),
    (broken("result.success", "yes"), "must be true or false"),
    (broken("result.duration", "12 minutes"), "not an ISO 8601 duration"),
    (broken("timestamp", "2026-03-02 09:15"), "ISO 8601 date-time with a time zone"),
    (broken("timestamp", "2026-03-02T09:15:00-00:00"), "-00:00"),
    (broken("timestamp", "2026-02-30T09:15:00Z"), "not a real date"),
    (broken("context.registration", "abc"), "not a UUID"),
    (broken("context.language", "english!"), "RFC 5646"),
    (broken("context.extensions", {"role": "sales"}), "not an absolute IRI"),
    (broken("verb.display", {"en-US": 3}), "must be a string"),
    (broken("object.definition.interactionType", "essay"), "not one of"),
    (broken("version", "2.0.0"), "not a 1.0.x version"),
    (broken("colour", "blue"), "statement.colour: not a property"),
    (broken("object", {"objectType": "Agent", "account": {"homePage": "https://x.org", "name": "b"}}),
     "only allowed when the object is an Activity"),
    (broken("object", {"objectType": "SubStatement", "actor": GOOD["actor"], "verb": GOOD["verb"],
                       "object": {"objectType": "SubStatement"}}), "cannot contain another SubStatement"),
])
def test_each_rule_catches_its_violation(statement, rule):
    assert any(rule in p for p in xapi_rules.problems(statement)), xapi_rules.problems(statement)


def test_statements_from_records_are_valid_and_ids_are_deterministic(tmp_path):
    s = config(tmp_path)
    c = simulate.cohort(30, 500, seed=2, settings=s)
    badges = pd.DataFrame([("learner00001", "ai-practitioner", "2026-03-20T10:00:00+00:00")],
                          columns=["learner", "badge", "issued_at"])
    published = pd.DataFrame([("learner00002", "book/teachbacks/x.ipynb", "2026-03-21T10:00:00+00:00")],
                             columns=["author", "path", "published_at"])
    a = xapi.statements(c.scores, c.roster, s, badges, published)
    b = xapi.statements(c.scores, c.roster, s, badges, published)
    assert a == b and len({st["id"] for st in a}) == len(a)
    xapi.validate(a)
    verbs = pd.Series([st["verb"]["id"].rsplit("/", 1)[1] for st in a]).value_counts().to_dict()
    submissions = c.scores.groupby(["learner", "assignment"]).ngroups
    assert verbs == {"completed": submissions, "mastered": 1, "shared": 1}
    st = next(x for x in a if x["verb"]["id"].endswith("completed"))
    assert 0 <= st["result"]["score"]["scaled"] <= 1 and st["actor"]["account"]["homePage"] == s.xapi.account_homepage
    with pytest.raises(xapi.XAPIError, match="appears twice"):
        xapi.validate([a[0], a[0]])


def test_send_batches_retries_and_never_duplicates(tmp_path, lrs):
    url, handler = lrs
    s = config(tmp_path)
    stmts = xapi.statements(*(lambda c: (c.scores, c.roster))(simulate.cohort(12, 100, seed=1, settings=s)), s)
    assert len(stmts) > 20
    waits = []
    client = xapi.LRS(url, "lrs-user", "s3cret", batch_size=10, retries=3, sleep=waits.append)
    handler.fail_first = 2  # the LRS is busy twice: the first batch is retried with backoff
    db = tmp_path / "records.db"
    report = client.send(stmts, s, db)
    assert report.sent == len(stmts) and report.retries == 2 and waits == [0.5, 1.0]
    assert set(handler.store) == {st["id"] for st in stmts}
    assert handler.posts[0] == handler.posts[1] == handler.posts[2] == 10  # the same batch, three attempts
    # Running again sends nothing; with the ledger lost, a resend keeps one statement per id.
    assert client.send(stmts, s, db).sent == 0
    again = client.send(stmts, s, tmp_path / "fresh.db")
    assert again.sent == len(stmts) and len(handler.store) == len(stmts)


def test_send_stops_on_refusal_and_validates_before_sending(tmp_path, lrs):
    url, handler = lrs
    s = config(tmp_path)
    stmts = xapi.statements(*(lambda c: (c.scores, c.roster))(simulate.cohort(4, 50, seed=1, settings=s)), s)
    with pytest.raises(xapi.XAPIError, match=r"refused the statements \(401\)"):
        xapi.LRS(url, "lrs-user", "wrong", sleep=lambda _: None).send(stmts, s, tmp_path / "a.db")
    bad = copy.deepcopy(stmts)
    bad[0]["result"]["score"]["scaled"] = 7
    with pytest.raises(xapi.XAPIError, match="nothing was sent"):
        xapi.LRS(url, "lrs-user", "s3cret").send(bad, s, tmp_path / "b.db")
    assert handler.posts == [len(stmts)]  # only the unauthorised attempt reached the server
    changed = copy.deepcopy(stmts)
    handler.store[changed[0]["id"]] = {"something": "else"}
    with pytest.raises(xapi.XAPIError, match="409"):
        xapi.LRS(url, "lrs-user", "s3cret").send(changed, s, tmp_path / "c.db")
    handler.fail_first = 10
    with pytest.raises(xapi.XAPIError, match="after 3 attempts"):
        xapi.LRS(url, "lrs-user", "s3cret", retries=2, sleep=lambda _: None).send(stmts, s, tmp_path / "d.db")


# --- a regrade: the earlier "completed" is voided, never left beside the new one -------------------------------

def regrade(section: dict, learner: str, assignment: str, delta: float) -> None:
    """Change one learner's points in nbgrader's gradebook, as a manual regrade does (manual_score)."""
    import sqlite3

    db = section["measure"]["gradebook"].removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        gid = conn.execute(
            "SELECT grade.id FROM grade JOIN submitted_notebook sn ON grade.notebook_id = sn.id JOIN "
            "submitted_assignment sa ON sn.assignment_id = sa.id JOIN assignment a ON sa.assignment_id = a.id "
            "WHERE sa.student_id = ? AND a.name = ? LIMIT 1", (learner, assignment)).fetchone()[0]
        conn.execute("UPDATE grade SET manual_score = COALESCE(auto_score, 0) + ? WHERE id = ?", (delta, gid))


def test_statement_ids_do_not_depend_on_the_score(tmp_path):
    s = config(tmp_path)
    c = simulate.cohort(6, 100, seed=4, settings=s)
    more = c.scores.assign(score=1.0 - c.scores["score"])
    assert [st["id"] for st in xapi.statements(c.scores, c.roster, s)] == \
        [st["id"] for st in xapi.statements(more, c.roster, s)]


def test_a_regrade_voids_the_earlier_statement_and_sends_the_new_one(tmp_path, lrs):
    from _adoption import ROI, run_adoptkit

    url, handler = lrs
    from adoptkit import settings

    c = simulate.cohort(8, 300, seed=6, settings=settings.parse(ROI, root=tmp_path))
    section = {**ROI, **simulate.write_records(c, tmp_path / "course"), "xapi": {"endpoint": url}}
    root = tmp_path / "course"
    env = {"ADOPTKIT_LRS_USER": handler.user, "ADOPTKIT_LRS_PASSWORD": handler.password}
    r = run_adoptkit(root, section, "xapi", "send", env=env)
    assert r.returncode == 0, r.stderr
    submissions = c.scores.groupby(["learner", "assignment"]).ngroups
    assert len(handler.valid()) == submissions
    learner, assignment = c.scores[["learner", "assignment"]].iloc[0]
    old = next(st for st in handler.valid() if st["actor"]["account"]["name"] == learner
               and st["object"]["id"].endswith(assignment))
    regrade(section, learner, assignment, 1.0)
    r = run_adoptkit(root, section, "xapi", "send", env=env)
    assert r.returncode == 0 and "sent 2 statement(s)" in r.stdout, r.stdout + r.stderr
    void = next(st for st in handler.store.values() if st["verb"]["id"] == xapi_rules.VOIDED)
    assert void["object"] == {"objectType": "StatementRef", "id": old["id"]} and old["id"] in handler.voided
    mine = [st for st in handler.valid() if st["actor"]["account"]["name"] == learner
            and st["object"]["id"].endswith(assignment)]
    assert len(mine) == 1 and mine[0]["id"] != old["id"]
    assert mine[0]["result"]["score"]["raw"] == old["result"]["score"]["raw"] + 1
    assert len(handler.valid()) == submissions  # still one valid "completed" per submission
    # nothing changed: nothing sent; the export shows the records as the LRS holds them, void included
    r = run_adoptkit(root, section, "xapi", "send", env=env)
    assert r.returncode == 0 and "sent 0 statement(s)" in r.stdout
    r = run_adoptkit(root, section, "xapi", "export", "out.json")
    exported = __import__("json").loads((root / "out.json").read_text())
    assert {st["id"] for st in exported} == set(handler.store) - handler.voided  # the voiding statement, not what it voids
    # a second regrade voids the first regrade's statement too (each earlier revision stays voided)
    regrade(section, learner, assignment, 2.0)
    assert run_adoptkit(root, section, "xapi", "send", env=env).returncode == 0
    mine = [st for st in handler.valid() if st["actor"]["account"]["name"] == learner
            and st["object"]["id"].endswith(assignment)]
    assert len(mine) == 1 and mine[0]["result"]["score"]["raw"] == old["result"]["score"]["raw"] + 2
