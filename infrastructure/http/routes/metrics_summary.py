"""`GET /context/metrics/summary`: the seed plan's performance summary, from the store.

The figures are the operation log's (application.operation_log): every capture and restore any
process made for this tenant, automatic captures included, so two API processes, the ingest
workers and the CLI all count, and a restart loses nothing. A tenant sees only its own.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ctxstore.application.operation_log import performance_summary
from ctxstore.infrastructure.http.auth import Tenant
from ctxstore.infrastructure.http.deps import ApiDep
from ctxstore.infrastructure.http.errors import ERROR_RESPONSES

router = APIRouter(tags=["operations"], responses=ERROR_RESPONSES)


class OutcomeCounts(BaseModel):
    attempted: int
    succeeded: int
    failed: int = Field(description="The store's failures: an integrity mismatch, a storage "
                                    "error, a conflict that kept recurring.")
    rejected: int = Field(description="The client's mistakes (answered 4xx): not failures.")
    success_rate: float | None = Field(description="succeeded ÷ (succeeded + failed).")


class PerformanceSummaryOut(BaseModel):
    """The plan's `get_performance_summary()` figures (null before there is anything to
    average), and the counts behind them."""

    avg_capture_time_ms: float | None
    avg_compression_ratio: float | None = Field(description="Of the checkpoints captured: "
                                                "compressed ÷ original.")
    avg_restoration_time_ms: float | None
    avg_storage_size_bytes: float | None = Field(description="Compressed size of a checkpoint.")
    total_storage_saved_bytes: int = Field(description="Original − compressed, summed.")
    avg_space_saving: float | None = Field(description="1 − avg_compression_ratio.")
    total_original_bytes: int
    total_compressed_bytes: int
    captures: OutcomeCounts
    automatic_captures: int = Field(description="Succeeded captures by the automatic rounds.")
    restores: OutcomeCounts
    restore_success_rate: float | None = Field(description="The plan's restoration success "
                                               "rate (target 99.9 %).")
    capture_success_rate: float | None


@router.get("/context/metrics/summary", response_model=PerformanceSummaryOut,
            summary="Performance summary (the seed's)")
def metrics_summary(api: ApiDep, tenant: Tenant) -> dict[str, Any]:
    """Capture and restore times, compression ratio, sizes and bytes saved, restores attempted,
    succeeded, failed and rejected with the success rate: this tenant's, across processes."""
    return performance_summary(api.store.operations, tenant).to_dict()
