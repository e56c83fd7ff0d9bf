"""Checkpoints (the seed's context packages): capture, restore, catalogue, export and import."""

from __future__ import annotations

from fastapi import APIRouter

from infrastructure.http.errors import ERROR_RESPONSES

router = APIRouter(tags=["checkpoints"], responses=ERROR_RESPONSES)
