"""`CtxstoreSaver` against LangGraph's own checkpointer conformance suite
(`langgraph-checkpoint-conformance`), base and every extended capability, embedded on SQLite
and remote on PostgreSQL (a real `ctxstore serve`, with a tenant's key)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import Capability

from ctxstore.infrastructure.adapters.langgraph import CtxstoreSaver
from tests.served import running, serve_env
from tests.support import fresh_schema, make_settings


@pytest.fixture(scope="module")
def server(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("lg-serve")
    env = serve_env(tmp, CONTEXT_STORAGE_BACKEND="postgres", CONTEXT_DATABASE_URL=postgres_dsn,
                    CONTEXT_DATABASE_SCHEMA=fresh_schema(postgres_dsn),
                    CONTEXT_API_KEYS="lg-key:lg-tenant")
    with running([], env, tmp / "serve.log") as url:
        yield url


@pytest.mark.parametrize("capability", [c.value for c in Capability])
@pytest.mark.parametrize("where", ["embedded", "remote"])
async def test_conformance(where: str, capability: str, request: pytest.FixtureRequest,
                           tmp_path: Path) -> None:
    settings = make_settings("sqlite", tmp_path) if where == "embedded" else None
    url = request.getfixturevalue("server") if where == "remote" else None

    @checkpointer_test(name=f"CtxstoreSaver-{where}")
    async def saver() -> AsyncIterator[CtxstoreSaver]:
        made = CtxstoreSaver(settings=settings, url=url, api_key="lg-key" if url else None)
        try:
            yield made
        finally:
            made.close()

    report = await validate(saver, capabilities={capability})
    result = report.results[capability]
    assert result.detected, f"{capability} is not implemented"
    assert result.passed, "\n".join(result.failures)
