"""Two gateway processes on one PostgreSQL (the throwaway server of the `postgres` fixture): keys,
budgets and holds live in the database, so concurrent load split across the replicas never overshoots
one learner's budget. The database URL comes from ADOPTKIT_GATEWAY_DB_URL, as a deployment sets it."""

from __future__ import annotations

import asyncio
import textwrap

import openai
import pytest
import sqlalchemy as sa

from adoptkit.gateway import db
from adoptkit.gateway.keys import KeyStore

from conftest import start_gateway, stop

MSG = [{"role": "user", "content": "Classify as one of: billing, fraud, delivery. Text: I was charged twice."}]


@pytest.mark.slow
def test_two_replicas_on_one_postgresql_enforce_one_budget(postgres, tmp_path):
    (tmp_path / "_config.yml").write_text(textwrap.dedent("""\
        adoptkit:
          gateway:
            db_url: sqlite:///not-used.db   # ADOPTKIT_GATEWAY_DB_URL wins
            limits:
              learner: {tokens_per_day: 300, requests_per_day: 1000, requests_per_minute: null}
              cohort: {tokens_per_day: null, requests_per_day: null}
        """), encoding="utf-8")
    engine = db.connect(postgres)
    key, _ = KeyStore(engine).issue("replica-learner", "pg")
    env = {"ADOPTKIT_GATEWAY_DB_URL": postgres}
    first = second = None
    try:
        first, url1, _ = start_gateway(tmp_path, env)
        second, url2, _ = start_gateway(tmp_path, env)
        assert url1 != url2

        async def run():
            clients = [openai.AsyncOpenAI(base_url=u, api_key=key, max_retries=0, timeout=60) for u in (url1, url2)]

            async def one(i):
                try:
                    r = await clients[i % 2].chat.completions.create(model="course-default", messages=MSG)
                    return r.usage.total_tokens
                except openai.RateLimitError as err:
                    assert "has used" in str(err)
                    return None
            try:
                return await asyncio.gather(*[one(i) for i in range(50)])
            finally:
                for c in clients:
                    await c.close()

        results = asyncio.run(run())
        served = [t for t in results if t is not None]
        assert served and len(served) < 50 and sum(served) <= 300, (len(served), sum(served))
        with engine.connect() as c:
            row = c.execute(sa.select(db.budget.c.requests, db.budget.c.used, db.budget.c.held).where(
                db.budget.c.name == "replica-learner", db.budget.c.level == "learner",
                db.budget.c.window == sa.func.date_trunc("day", db.budget.c.window))).one()
        assert row.used == sum(served) <= 300 and row.held == 0 and row.requests == len(served)
        assert not (tmp_path / "not-used.db").exists()
    finally:
        for proc in (first, second):
            if proc is not None:
                stop(proc)
        engine.dispose()
