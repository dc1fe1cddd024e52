import json
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from adoptkit.measure import reaction, timing


def _shift_start(path, mode, seconds):
    data = json.loads(path.read_text())
    started = datetime.now(timezone.utc) - timedelta(seconds=seconds)
    data["runs"][mode]["started"] = started.isoformat()
    path.write_text(json.dumps(data))


def test_a_run_is_recorded_once_and_a_rerun_does_not_overwrite_it(tmp_path, capsys):
    t = timing.TaskTimer("summary", "without_ai", folder=tmp_path)
    path = tmp_path / "timings" / "summary.json"
    _shift_start(path, "without_ai", 300)  # the learner took five minutes
    first = t.stop()
    assert 299 <= first <= 310
    # nbgrader re-runs the notebook: start and stop again change nothing
    again = timing.TaskTimer("summary", "without_ai", folder=tmp_path)
    assert again.stop() == first
    assert "already timed" in capsys.readouterr().out
    # on purpose: restart
    timing.TaskTimer("summary", "without_ai", folder=tmp_path, restart=True)
    assert "seconds" not in json.loads(path.read_text())["runs"]["without_ai"]


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        timing.TaskTimer("summary", "with_magic", folder=tmp_path)
    with pytest.raises(ValueError, match="names a file"):
        timing.TaskTimer("../x", "with_ai", folder=tmp_path)


def test_collect_keeps_plausible_finished_runs_and_says_what_it_left_out(tmp_path):
    sub = tmp_path / "submitted"

    def write(learner, runs, name="summary"):
        d = sub / learner / "sales-assessment-post" / "timings"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{name}.json").write_text(json.dumps({"task": name, "runs": runs}))

    write("ana", {"without_ai": {"seconds": 600}, "with_ai": {"seconds": 240}})
    write("ben", {"without_ai": {"seconds": 3}, "with_ai": {"started": "2026-01-01T00:00:00+00:00"}})
    (sub / "cy" / "sales-assessment-post" / "timings").mkdir(parents=True)
    (sub / "cy" / "sales-assessment-post" / "timings" / "summary.json").write_text("{oops")
    df, notes = timing.collect(sub)
    fixed = {"learner": "ana", "assignment": "sales-assessment-post", "task": "summary", "record": None,
             "order": timing.FIXED}
    assert df.to_dict("records") == [{**fixed, "run": 1, "mode": "without_ai", "seconds": 600.0},
                                     {**fixed, "run": 2, "mode": "with_ai", "seconds": 240.0}]
    assert len(notes) == 3 and any("unreadable" in n for n in notes) and any("not finished" in n for n in notes)
    pairs = timing.paired(df)
    assert pairs.loc[0, "minutes_saved"] == 6.0
    assert timing.paired(df[df["mode"] == "with_ai"]).empty


def test_reaction_survey_answers_are_read_back_as_ratings(tmp_path):
    folder = tmp_path / "submitted" / "ana" / "hr-assessment-post"
    q = reaction.survey(folder=folder)
    q.answer(0, reaction.SCALE[4])
    q.answer(2, reaction.SCALE[1])
    df = reaction.collect(tmp_path / "submitted")
    assert df[["question", "rating"]].values.tolist() == [[reaction.QUESTIONS[0][0], 5], [reaction.QUESTIONS[2][0], 2]]


def test_a_folder_that_cannot_be_written_does_not_break_the_notebook(tmp_path, capsys):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the timings folder would go")
    t = timing.TaskTimer("summary", "with_ai", folder=blocker)
    assert "could not be saved" in capsys.readouterr().out
    assert t.stop() is None  # nothing was recorded, and nothing raised


# --- the counterbalanced design -------------------------------------------------------------------------

def test_plan_is_deterministic_counterbalanced_and_abba():
    learners = [f"learner{i:04d}" for i in range(400)]
    orders = [timing.order_of(x, "summary") for x in learners]
    assert orders == [timing.order_of(x, "summary") for x in learners]  # a regrade draws the same plan
    share = orders.count(timing.AI_FIRST) / len(orders)
    assert 0.42 < share < 0.58  # half the cohort, within 3 standard errors of 0.5 for 400 learners
    for x in learners[:50]:
        runs = timing.plan(x, "summary", rounds=2)
        modes = [r["mode"] for r in runs]
        assert modes in (["with_ai", "without_ai", "without_ai", "with_ai"],
                         ["without_ai", "with_ai", "with_ai", "without_ai"])  # ABBA or BAAB
        assert (modes[0] == "with_ai") == (timing.order_of(x, "summary") == timing.AI_FIRST)
        for p in (0, 1):  # each pair: one record by hand, the other with the model
            assert sorted(r["side"] for r in runs if r["pair"] == p) == [0, 1]
    # which record goes with the model is counterbalanced too
    sides = [timing.plan(x, "summary")[0]["side"] for x in learners]
    assert 0.4 < sum(sides) / len(sides) < 0.6


def test_matched_pairs_are_close_in_length_and_refuse_when_none_are():
    texts = [" ".join(["word"] * n) + f" {n}" for n in (40, 41, 80, 82, 120, 160, 161, 300)]
    pairs = timing.matched_pairs(texts, 2)
    for a, b in pairs:
        la, lb = len(a.split()), len(b.split())
        assert abs(la - lb) <= timing.MAX_LENGTH_GAP * max(la, lb)
    with pytest.raises(ValueError, match="within 10%"):
        timing.matched_pairs([" ".join(["w"] * n) for n in (10, 50, 200)], 1)


def test_timed_task_records_each_run_once_in_its_planned_mode(tmp_path, capsys):
    pairs = [("record one " * 30, "record two " * 31), ("record three " * 40, "record four " * 41)]
    task = timing.TimedTask("summary", pairs, folder=tmp_path, learner="ana")
    task.describe()
    assert task.order in capsys.readouterr().out
    path = tmp_path / "timings" / "summary.json"
    for n in range(1, 5):
        run = task.start(n)
        assert run.mode == task.runs[n - 1]["mode"] and run.record in pairs[task.runs[n - 1]["pair"]]
        data = json.loads(path.read_text())
        data["runs"][str(n)]["started"] = (datetime.now(timezone.utc) - timedelta(seconds=60 * n)).isoformat()
        path.write_text(json.dumps(data))
        assert 60 * n - 1 <= run.stop() <= 60 * n + 10
    # nbgrader re-runs the notebook as another user: the plan recorded on the first run stands
    again = timing.TimedTask("summary", pairs, folder=tmp_path, learner="grader")
    assert again.learner == "ana" and again.start(1).stop() == json.loads(path.read_text())["runs"]["1"]["seconds"]
    df, notes = timing.collect(_as_submission(tmp_path))
    assert not notes and sorted(df["run"]) == [1, 2, 3, 4] and set(df["order"]) == {task.order}
    assert df.groupby("mode").size().to_dict() == {"with_ai": 2, "without_ai": 2}


def _as_submission(folder):
    """Lay `folder/timings` out as submitted/<learner>/<assignment>/timings."""
    root = folder.parent / f"{folder.name}-submitted"
    dest = root / "ana" / "engineering-assessment-post"
    dest.mkdir(parents=True)
    (dest / "timings").symlink_to(folder / "timings")
    return root


def _crossover(n, effect, practice, seed):
    """Synthetic paired runs: with AI saves `effect` minutes, and the second run of each pair is `practice`
    minutes faster whatever its mode."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        order = timing.AI_FIRST if i % 2 else timing.HAND_FIRST
        base = rng.normal(10, 2)
        hand = base + (practice if order == timing.AI_FIRST else 0) + rng.normal(0, 0.5)
        ai = base - effect + (practice if order == timing.HAND_FIRST else 0) + rng.normal(0, 0.5)
        rows.append({"learner": f"l{i}", "task": "t", "order": order, "runs": 2, "without_ai": hand * 60,
                     "with_ai": ai * 60, "minutes_saved": hand - ai})
    return pd.DataFrame(rows)


def test_crossover_estimate_removes_practice_and_gives_a_t_interval():
    pairs = _crossover(200, effect=4.0, practice=-1.5, seed=1)  # practice: second runs 1.5 min faster
    naive = pairs.loc[pairs["order"] == timing.HAND_FIRST, "minutes_saved"].mean()
    est = timing.estimate(pairs)
    assert naive == pytest.approx(5.5, abs=0.3)  # by hand first: practice counted as AI's saving
    assert est.counterbalanced and est.low < est.minutes < est.high and est.minutes == pytest.approx(4.0, abs=0.3)
    assert est.practice == pytest.approx(1.5, abs=0.3) and est.n == 200
    # the interval is Welch's t over the two order groups, halved
    a = pairs.loc[pairs["order"] == timing.HAND_FIRST, "minutes_saved"]
    b = pairs.loc[pairs["order"] == timing.AI_FIRST, "minutes_saved"]
    va, vb = a.var() / len(a), b.var() / len(b)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    assert est.high - est.minutes == pytest.approx(stats.t.ppf(0.975, df) * math.sqrt(va + vb) / 2, rel=1e-5)
    assert "counterbalanced crossover" in est.design() and "n = 200" in est.interval()


def test_the_fixed_order_is_reported_as_confounded():
    pairs = _crossover(30, effect=4.0, practice=-1.5, seed=2)
    fixed = pairs[pairs["order"] == timing.HAND_FIRST].assign(order=timing.FIXED)
    est = timing.estimate(fixed)
    assert not est.counterbalanced and "practice is counted as time saved" in est.design()
    d = fixed["minutes_saved"]
    half = stats.t.ppf(0.975, len(d) - 1) * d.std() / math.sqrt(len(d))
    assert (est.low, est.high) == pytest.approx((d.mean() - half, d.mean() + half), rel=1e-5)


def test_the_engineering_post_assessment_runs_the_counterbalanced_task(tmp_path, monkeypatch):
    """Part C of the shipped notebook, executed as two learners whose drawn orders differ."""
    import nbformat
    from nbclient import NotebookClient

    root = Path(__file__).resolve().parents[1]
    source = nbformat.read(root / "exercises" / "engineering-assessment-post" / "engineering-assessment-post.ipynb",
                           as_version=4)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id", "") for c in source.cells]
    first = ids.index("engineering-assessment-post-timed-plan")
    last = ids.index("engineering-assessment-post-timed-stop4")
    part_c = [source.cells[1]] + source.cells[first:last + 1]  # the set-up cell, then the timed task
    assert "TimedTask" in part_c[1].source and "matched_pairs" in part_c[1].source
    (tmp_path / "_config.yml").write_text("title: t\nadoptkit: {}\n")
    monkeypatch.setenv("ADOPTKIT_CONFIG", str(tmp_path / "_config.yml"))
    learners = {}
    for i in range(40):  # one learner of each order
        learners.setdefault(timing.order_of(f"eng{i:02d}", "summary"), f"eng{i:02d}")
    assert len(learners) == 2
    for order, learner in learners.items():
        folder = tmp_path / learner
        folder.mkdir()
        monkeypatch.setenv("JUPYTERHUB_USER", learner)
        nb = nbformat.v4.new_notebook(cells=[nbformat.from_dict(c) for c in part_c],
                                      metadata=source.metadata)
        NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
        saved = json.loads((folder / "timings" / "summary.json").read_text())
        assert saved["design"]["learner"] == learner and saved["design"]["order"] == order
        runs = saved["runs"]
        plan = timing.plan(learner, "summary", 2)
        assert [runs[str(r["run"])]["mode"] for r in plan] == [r["mode"] for r in plan]
        assert len({runs[k]["record"] for k in runs}) == 4 and all("seconds" in r for r in runs.values())
        shown = "\n".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
        assert f"Your order ({order})" in shown and shown.count("WITH the model") >= 2


@pytest.mark.parametrize("df", [1, 2, 3, 4.5, 9, 10, 12.5, 29, 60, 198, 5000])
def test_the_t_quantile_matches_scipy(df):
    assert timing._t(df) == pytest.approx(stats.t.ppf(0.975, df), rel=5e-6)
