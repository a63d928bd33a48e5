"""JSON errors for the HTTP API: every refusal is ``{"error": "..."}`` plus any details."""

from __future__ import annotations

import json

from aiohttp import web

NO_POOL = "upload the pool first: PUT /pool with .npy bytes"  # a pool-mode call's 409


def json_error(cls: type[web.HTTPException], message: str,
               headers: dict[str, str] | None = None, **fields: object) -> web.HTTPException:
    """An aiohttp HTTP exception (raise it) whose body is the contract's JSON error."""
    return cls(text=json.dumps({"error": message, **fields}), content_type="application/json",
               headers=headers)


def too_large(limit: int, size: int) -> web.HTTPRequestEntityTooLarge:
    """413 as JSON (aiohttp's class wants the sizes, so json_error cannot make it)."""
    message = f"the body is {size} bytes or more; the limit is {limit}"
    return web.HTTPRequestEntityTooLarge(
        max_size=limit, actual_size=size, text=json.dumps({"error": message}),
        content_type="application/json")
