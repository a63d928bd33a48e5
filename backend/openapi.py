"""The OpenAPI 3 description of the HTTP API, served at /openapi.json."""

from __future__ import annotations

from . import __version__
from .learners import ESTIMATORS, STRATEGIES
from .learners.registry import (
    DEFAULT_ESTIMATOR,
    DEFAULT_POOL_ESTIMATOR,
    DEFAULT_POOL_STRATEGY,
    DEFAULT_STRATEGY,
    POOL_ONLY,
)

_ERROR = {"$ref": "#/components/schemas/Error"}
_CHALLENGE = {"$ref": "#/components/schemas/Challenge"}
_LABEL = {"oneOf": [{"type": "integer"}, {"type": "string"}]}
_MATRIX = {"type": "array", "minItems": 1,
           "items": {"type": "array", "minItems": 1, "items": {"type": "number"}}}


def _json(schema: dict) -> dict:
    return {"content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict:
    return {"description": description, **_json(_ERROR)}


_PAID_ERRORS = {
    "400": _error("bad input: nothing changed, nothing charged"),
    "401": _error("the credential does not verify"),
    "402": {"description": "no credential, or its credits are used: a challenge to pay",
            "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
            **_json(_CHALLENGE)},
    "409": _error("the session is in the other mode, or the pool is not uploaded"),
    "410": _error("the session is closed or expired"),
    "413": _error("the body is over the limit"),
    "503": _error("the Lightning node is unavailable"),
}


def _paid(summary: str, request: dict | None, result: dict, description: str = "") -> dict:
    operation = {
        "summary": summary,
        "description": description,
        "security": [{"L402": []}],
        "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                        "schema": {"type": "string", "minLength": 1, "maxLength": 255}}],
        "responses": {"200": {"description": "done", **_json(result)}, **_PAID_ERRORS},
    }
    if request is not None:
        operation["requestBody"] = {"required": True, **_json(request)}
    return operation


def _conflict(operation: dict, description: str) -> dict:
    """An operation whose 409 has more causes than the usual ones."""
    return {**operation, "responses": {**operation["responses"], "409": _error(description)}}


def _obj(properties: dict, required: list[str] | None = None) -> dict:
    schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def _body(properties: dict, required: list[str] | None = None) -> dict:
    """A paid call's JSON body: it may name its session (checked against the credential)."""
    return _obj({**properties, "session_id": {"type": "string"}}, required)


_CREDITS = {"credits_left": {"type": "integer", "minimum": 0}}
_RESULT = {"type": "object", "properties": _CREDITS, "required": ["credits_left"]}
_NPY = {"required": True, "content": {"application/octet-stream": {
    "schema": {"type": "string", "format": "binary"}}}}
_COUNT = {"type": "integer", "minimum": 0}

OPENAPI = {
    "openapi": "3.0.3",
    "info": {
        "title": "alsats",
        "version": __version__,
        "description": "Active learning as a service, paid per iteration over Lightning "
                       "with L402. A train, label or teach call (and a model download) is "
                       "one iteration.",
    },
    "paths": {
        "/healthz": {"get": {"summary": "liveness", "responses": {"200": {
            "description": "serving", **_json({"type": "object", "properties": {
                "status": {"type": "string"}, "sessions": {"type": "integer"}}})}}}},
        "/info": {"get": {"summary": "the server's node and price", "responses": {"200": {
            "description": "info", **_json(_obj({
                "node_pubkey": {"type": "string"}, "price_msat": {"type": "integer"},
                "network": {"type": "string"}, "version": {"type": "string"}}))}}}},
        "/openapi.json": {"get": {"summary": "this document",
                                  "responses": {"200": {"description": "OpenAPI 3"}}}},
        "/pay/initialize": {"post": {
            "summary": "buy iterations for a new session (or, with session_id, for one)",
            "requestBody": {"required": True, **_json(_obj({
                "iterations": {"type": "integer", "minimum": 1},
                "session_id": {"type": "string"},
                "mode": {"type": "string", "enum": ["stream", "pool"]},
                "estimator": {"type": "string", "enum": list(ESTIMATORS), "description":
                              f"default: {DEFAULT_POOL_ESTIMATOR} in pool mode, "
                              f"{DEFAULT_ESTIMATOR} in streamed mode; pool mode only: "
                              f"{', '.join(sorted(POOL_ONLY))}"},
                "strategy": {"type": "string", "enum": list(STRATEGIES), "description":
                             f"default: {DEFAULT_POOL_STRATEGY} in pool mode, "
                             f"{DEFAULT_STRATEGY} in streamed mode"},
                "threshold": {"type": "number", "minimum": 0, "maximum": 1},
                "classes": {"type": "array", "minItems": 2, "items": _LABEL},
            }, ["iterations"]))},
            "responses": {
                "402": {"description": "the challenge: pay its invoice",
                        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
                        **_json(_CHALLENGE)},
                "400": _error("bad settings"), "410": _error("no such session"),
                "413": _error("the body is over the limit"),
                "503": _error("the Lightning node is unavailable"),
            },
        }},
        "/train": {"post": _paid("teach labeled samples (streamed mode)",
                                 _body({"x": _MATRIX, "y": {"type": "array", "items": _LABEL}},
                                      ["x", "y"]), _RESULT)},
        "/label": {"post": _paid("score samples: label or skip (streamed mode)",
                                 _body({"x": _MATRIX}, ["x"]), _RESULT)},
        "/pool": {"put": {
            **_paid("upload the unlabeled pool (pool mode; free)", None, _RESULT,
                    "A new pool starts a new learner: labels and the held-out set are "
                    "dropped."),
            "requestBody": _NPY,
        }},
        "/holdout": {
            "put": {
                **_paid("upload held-out samples, unlabeled (pool mode; free)", None,
                        _obj({"n_holdout": _COUNT, **_CREDITS}, ["n_holdout", "credits_left"]),
                        "Checked like the pool, with the pool's number of features; kept in "
                        "memory only, replacing any earlier set. Their labels stay with the "
                        "client, which scores GET /holdout's predictions itself."),
                "requestBody": _NPY,
            },
            "get": _conflict(_paid(
                "the newest model's predictions for the held-out samples (free)", None,
                _obj({"predicted": {"type": "array", "items": _LABEL, "nullable": True},
                      "model_version": _COUNT, "n_holdout": _COUNT, **_CREDITS},
                     ["predicted", "model_version", "n_holdout", "credits_left"]),
                "predicted is null while the model knows nothing (fewer than two classes "
                "taught); computed once per model_version, by the newest model finished."),
                "the session is in the other mode, or the pool or held-out set is not uploaded"),
        },
        "/query": {"post": _paid(
            "the k most uncertain unlabeled pool samples (free)",
            _body({"k": {"type": "integer", "minimum": 1},
                   "exclude": {"type": "array", "items": {"type": "integer", "minimum": 0}}}),
            _RESULT,
            "exclude: pool indices never to offer (skipped, or labeled but not taught yet), "
            "at most the pool's size, repeats allowed; fewer than k samples (maybe none) "
            "come back when fewer remain. No two samples offered are near-duplicates (one "
            "among the other's nearest neighbours in the pool), nor near-duplicates of an "
            "excluded sample or of a label the ranking model has not learned yet, while "
            "others remain. The newest finished model ranks: model_version says which, "
            "labels_version how many label changes there are (the model may trail them: "
            "it is fitted in the background, never waited for).")},
        "/teach": {"post": _paid(
            "teach one pool sample's label, or many (one iteration each)",
            {"oneOf": [
                _body({"index": {"type": "integer", "minimum": 0}, "label": _LABEL},
                      ["index", "label"]),
                _body({"indices": {"type": "array", "minItems": 1,
                                  "items": {"type": "integer", "minimum": 0}},
                      "labels": {"type": "array", "minItems": 1, "items": _LABEL}},
                      ["indices", "labels"]),
            ]}, _RESULT)},
        "/undo": {"post": _paid("take a taught label back (free)",
                                _body({"index": {"type": "integer", "minimum": 0}},
                                     ["index"]), _RESULT)},
        "/session": {
            "get": _paid("the session's settings, progress and credits (free)", None, _RESULT),
            "delete": _paid("close the session and free its memory (free)", None, _RESULT),
        },
        "/model": {"get": {
            **_paid("the trained model, serialized with skops", None, {}),
            "responses": {"200": {"description": "skops bytes", "content": {
                "application/octet-stream": {"schema": {"type": "string",
                                                        "format": "binary"}}}},
                          **_PAID_ERRORS},
        }},
    },
    "components": {
        "securitySchemes": {"L402": {
            "type": "apiKey", "in": "header", "name": "Authorization",
            "description": "L402 <base64 macaroon>:<hex preimage> (LSAT accepted)"}},
        "schemas": {
            "Error": {"type": "object", "properties": {"error": {"type": "string"}},
                      "required": ["error"]},
            "Challenge": {"type": "object", "required": [
                "error", "session_id", "payment_request", "amount_msat", "iterations"],
                "properties": {
                    "error": {"type": "string"}, "session_id": {"type": "string"},
                    "payment_request": {"type": "string"},
                    "payment_hash": {"type": "string"}, "macaroon": {"type": "string"},
                    "amount_msat": {"type": "integer"}, "iterations": {"type": "integer"},
                    "credits_left": {"type": "integer"}, "settings": {"type": "object"}}},
        },
    },
}
