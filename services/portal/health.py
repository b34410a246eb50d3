"""GET /healthz: whether this portal instance can serve, for Docker's health check and
Kubernetes' probes (deploy/): 200 when its store answers within a second, else 503.
It makes no session (the sign-in page makes one a visit) and says nothing about anyone."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def healthz(request: Request) -> PlainTextResponse:
    if await run_in_threadpool(request.app.state.portal.store_answers):
        return PlainTextResponse("ok\n")
    return PlainTextResponse("the portal's store does not answer\n", status_code=503)


ROUTES = [Route("/healthz", healthz, methods=["GET"])]
