"""Operations: `/healthz` (database and NATS, each reported) and `/metrics` (Prometheus).

`/healthz` needs no key (probes carry none) and tells nothing about any tenant's data, nor,
without a key once keys are configured, why a check failed;
`/metrics` counts across tenants, so it needs a key once keys are configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool

from ctxstore.application.operation_log import performance_summary
from ctxstore.infrastructure.http.auth import Tenant, header_key
from ctxstore.infrastructure.http.deps import Api, ApiDep
from ctxstore.infrastructure.http.schemas import CheckStatus, Health
from ctxstore.infrastructure.messaging.probe import connect_once

router = APIRouter(tags=["operations"])
NATS_TIMEOUT = 1.0
DLQ_STREAM = "CTX_DLQ"


def _check_database(api: Api) -> CheckStatus:
    started = time.perf_counter()
    try:
        api.store.summary("healthz-probe")
    except Exception as e:  # noqa: BLE001 - any failure is the answer
        return CheckStatus(status="error", detail=f"{type(e).__name__}: {e}"[:500])
    return CheckStatus(status="ok", latency_ms=round((time.perf_counter() - started) * 1000, 2))


async def _nats(api: Api) -> tuple[CheckStatus, int | None]:
    """Connect, check JetStream, and count dead letters; never raises."""
    started = time.perf_counter()
    nc = None
    try:
        nc = await asyncio.wait_for(connect_once(api.settings.nats_url, NATS_TIMEOUT),
                                    timeout=NATS_TIMEOUT * 2)
        js = nc.jetstream(timeout=NATS_TIMEOUT)
        dead: int | None
        try:
            info = await js.stream_info(DLQ_STREAM)
            dead = int(info.state.messages)
        except Exception:  # noqa: BLE001 - no DLQ stream yet: nothing dead
            await js.account_info()
            dead = 0
        latency = round((time.perf_counter() - started) * 1000, 2)
        return CheckStatus(status="ok", latency_ms=latency), dead
    except Exception as e:  # noqa: BLE001
        return CheckStatus(status="unreachable", detail=f"{type(e).__name__}: {e}"[:500]), None
    finally:
        if nc is not None:
            with contextlib.suppress(Exception):
                await nc.close()


@router.get("/healthz", response_model=Health, summary="Health of the database and NATS",
            responses={503: {"model": Health, "description": "The database is not answering."}})
async def healthz(api: ApiDep, request: Request) -> JSONResponse:
    """200 while the database answers (NATS is optional: `degraded` when it is unreachable);
    503 when the database does not. Once keys are configured, the error texts (which may name
    hosts, users or schemas) are given only to a caller with a valid key."""
    database, (nats_status, _) = await asyncio.gather(
        run_in_threadpool(_check_database, api), _nats(api))
    if api.keys.tenant_for(header_key(request.headers)) is None:
        database = database.model_copy(update={"detail": None})
        nats_status = nats_status.model_copy(update={"detail": None})
    overall: Literal["ok", "degraded", "error"]
    if database.status != "ok":
        overall = "error"
    elif nats_status.status != "ok":
        overall = "degraded"
    else:
        overall = "ok"
    health = Health(status=overall, database=database, nats=nats_status)
    return JSONResponse(health.model_dump(mode="json"),
                        status_code=503 if overall == "error" else 200)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}},
                             "description": "Prometheus text format."}})
async def metrics(api: ApiDep, tenant: Tenant) -> Response:
    _, dead = await _nats(api)
    api.metrics.dead_letters.set(-1 if dead is None else dead)
    # Every tenant's: /metrics is the operator's (keyed once keys are configured).
    api.metrics.observe_operations(await run_in_threadpool(
        performance_summary, api.store.operations, None))
    return Response(api.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
