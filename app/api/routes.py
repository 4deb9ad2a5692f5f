"""Every REST route and the webhook endpoint, gathered in one router; they call the same services as
the CLI and the UI (the routes live by subject: flow_routes, run_routes, letter_routes, hook_routes;
what they share, answers.py)."""

from __future__ import annotations

from fastapi import APIRouter

from app.api import flow_routes, hook_routes, letter_routes, ops_routes, run_routes
from app.api.answers import REFUSALS


def build_router() -> APIRouter:
    router = APIRouter(responses=REFUSALS)
    for part in (flow_routes, run_routes, letter_routes, hook_routes, ops_routes):
        router.include_router(part.router)
    return router
