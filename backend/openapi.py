"""The OpenAPI 3 description of the HTTP API, served at /openapi.json."""

from __future__ import annotations

from . import __version__
from .config import Limits, PoolRules
from .l402 import CHALLENGE_FORM
from .learners import ESTIMATORS, STRATEGIES
from .learners.registry import (
    DEFAULT_ESTIMATOR,
    DEFAULT_POOL_ESTIMATOR,
    DEFAULT_POOL_STRATEGY,
    DEFAULT_STRATEGY,
    POOL_ONLY,
)
from .learners.validation import MAX_FEATURES, MAX_SAMPLES

DEFAULT_LIMITS = Limits()

_ERROR = {"$ref": "#/components/schemas/Error"}
_CHALLENGE = {"$ref": "#/components/schemas/Challenge"}
_LABEL = {"oneOf": [{"type": "integer"}, {"type": "string"}]}


def _json(schema: dict) -> dict:
    return {"content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict:
    return {"description": description, **_json(_ERROR)}


_TOO_MANY = {
    "description": "too many challenges: from the client's address for sessions that never "
                   "paid, or unpaid invoices still open for this session; nothing changed",
    "headers": {"Retry-After": {"description": "seconds to wait",
                                "schema": {"type": "integer", "minimum": 1}}},
    **_json(_ERROR),
}

_WWW_AUTHENTICATE = {"WWW-Authenticate": {
    "description": f"the L402 challenge: {CHALLENGE_FORM}. The same macaroon twice: "
                   "macaroon first, then invoice, for the clients deployed today; version "
                   "and token for the L402 specification as updated in 2026 (bLIP-0026)",
    "schema": {"type": "string"}}}

_PAID_ERRORS = {
    "400": _error("bad input: nothing changed, nothing charged"),
    "401": _error("the credential does not verify"),
    "402": {"description": "no credential, or its credits are used: a challenge to pay",
            "headers": _WWW_AUTHENTICATE,
            **_json(_CHALLENGE)},
    "409": _error("the session is in the other mode, or the pool is not uploaded"),
    "410": _error("the session is closed or expired"),
    "408": _error("the body stopped arriving: nothing charged, the connection is closed"),
    "413": _error("the body is over the limit"),
    "429": _TOO_MANY,
    "503": _error("the Lightning node is unavailable"),
}
# a retry with the same key is not charged again: printable ASCII, as the server checks
_IDEMPOTENCY_KEY = {"name": "Idempotency-Key", "in": "header", "required": False,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255,
                               "pattern": "^[ -~]{1,255}$"}}


def _paid(summary: str, request: dict | None, result: dict, description: str = "", *,
          charged: bool = False, body_required: bool = True) -> dict:
    """An operation behind the paywall; ``charged`` ones cost iterations and take an
    Idempotency-Key (the free ones ignore it)."""
    operation = {
        "summary": summary,
        "description": description,
        "security": [{"L402": []}],
        "responses": {"200": {"description": "done", **_json(result)}, **_PAID_ERRORS},
    }
    if charged:
        operation["parameters"] = [_IDEMPOTENCY_KEY]
    if request is not None:
        operation["requestBody"] = {"required": body_required, **_json(request)}
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
_PROBABILITY = {"type": "number", "minimum": 0, "maximum": 1}
_QUERY_RESULT = _obj({
    "samples": {"type": "array", "items": _obj({
        "index": _COUNT, "uncertainty": _PROBABILITY, "predicted": {**_LABEL, "nullable": True},
        "top_classes": {"type": "array", "nullable": True, "minItems": 2, "maxItems": 2,
                        "items": _obj({"label": _LABEL, "probability": _PROBABILITY},
                                      ["label", "probability"])},
    }, ["index", "uncertainty", "predicted", "top_classes"])},
    "model_version": _COUNT, "labels_version": _COUNT, **_CREDITS,
}, ["samples", "model_version", "labels_version", "credits_left"])
_CLASSES = {
    "description": "2 to 1000 distinct labels, all integers or all strings (of at most "
                   "100 characters)",
    "oneOf": [{"type": "array", "items": {"type": "integer"}},
              {"type": "array", "items": {"type": "string", "maxLength": 100}}],
    "minItems": 2, "maxItems": 1000, "uniqueItems": True,
}
_SETTINGS = ["mode", "estimator", "strategy", "threshold", "classes"]


def _pool_rules(rules: PoolRules) -> dict:
    """The schema of /info's ``pool``, with this server's values as its example."""
    strings = {"type": "array", "items": {"type": "string"}}
    return {**_obj({"shapes": strings, "dtypes": strings,
                    "channels": {"type": "array", "items": _COUNT}, "max_samples": _COUNT,
                    "max_features": _COUNT, "max_values": _COUNT}),
            "description": "what PUT /pool and /holdout accept", "example": rules.published()}


def _accepted(rules: PoolRules) -> str:
    """PUT /pool's rules in words, from the same PoolRules that check it."""
    return (f"One .npy array of shape {', '.join(rules.shapes)} (c: "
            f"{', '.join(map(str, rules.channels))} channels), of dtype "
            f"{', '.join(rules.dtypes)}; at most {rules.max_samples:,} samples of "
            f"{rules.max_features:,} values each, {rules.max_values:,} values in all "
            "(GET /info publishes these rules).")


def document(limits: Limits = DEFAULT_LIMITS) -> dict:
    """The document of a server with these limits (they are part of the contract)."""
    matrix = {"type": "array", "minItems": 1, "maxItems": MAX_SAMPLES,
              "items": {"type": "array", "minItems": 1, "maxItems": MAX_FEATURES,
                        "items": {"type": "number"}}}
    labels = {"type": "array", "maxItems": MAX_SAMPLES, "items": _LABEL}
    many = {"minItems": 1, "maxItems": limits.max_samples_per_call}
    rules = limits.pool_rules()
    return {
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
                    "network": {"type": "string"}, "version": {"type": "string"},
                    "pool": _pool_rules(rules)}))}}}},
            "/openapi.json": {"get": {"summary": "this document",
                                      "responses": {"200": {"description": "OpenAPI 3"}}}},
            "/metrics": {"get": {
                "summary": "Prometheus metrics of the web process that answers",
                "description": "Not served (404) when the server runs with --no-metrics.",
                "responses": {"200": {
                    "description": "Prometheus' text exposition format",
                    "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/pay/initialize": {"post": {
                "summary": "buy iterations for a new session (or, with session_id, for one)",
                "requestBody": {"required": True, **_json(_obj({
                    "iterations": {"type": "integer", "minimum": 1,
                                   "maximum": limits.max_iterations_per_purchase},
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
                    "classes": _CLASSES,
                }, ["iterations"]) | {
                    "description": "with session_id: more iterations for that session, whose "
                                   "settings are fixed (send none); without: a new "
                                   "session.",
                    "not": {"required": ["session_id"],
                            "anyOf": [{"required": [name]} for name in _SETTINGS]}})},
                "responses": {
                    "402": {"description": "the challenge: pay its invoice",
                            "headers": _WWW_AUTHENTICATE,
                            **_json(_CHALLENGE)},
                    "400": _error("bad settings"), "410": _error("no such session"),
                    "408": _error("the body stopped arriving: the connection is closed"),
                    "413": _error("the body is over the limit"),
                    "429": _TOO_MANY,
                    "503": _error("the Lightning node is unavailable"),
                },
            }},
            "/train": {"post": _paid("teach labeled samples (streamed mode)",
                                     _body({"x": matrix, "y": labels}, ["x", "y"]), _RESULT,
                                     charged=True)},
            "/label": {"post": _paid("score samples: label or skip (streamed mode)",
                                     _body({"x": matrix}, ["x"]), _RESULT, charged=True)},
            "/pool": {"put": {
                **_paid("upload the unlabeled pool (pool mode; free)", None, _RESULT,
                        f"{_accepted(rules)} A new pool starts a new learner: labels and the "
                        "held-out set are dropped."),
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
                    "the session is in the other mode, or the pool or held-out set is not "
                    "uploaded"),
            },
            "/query": {"post": _paid(
                "the k most uncertain unlabeled pool samples (free)",
                _body({"k": {"type": "integer", "minimum": 1, "maximum": limits.max_query_k},
                       "exclude": {"type": "array", "items": {"type": "integer", "minimum": 0}}}),
                _QUERY_RESULT,
                "exclude: pool indices never to offer (skipped, or labeled but not taught yet), "
                "at most the pool's size, repeats allowed; fewer than k samples (maybe none) "
                "come back when fewer remain. No two samples offered are near-duplicates (one "
                "among the other's nearest neighbours in the pool), nor near-duplicates of an "
                "excluded sample or of a label the ranking model has not learned yet, while "
                "others remain. The newest finished model ranks: model_version says which, "
                "labels_version how many label changes there are (the model may trail them: "
                "it is fitted in the background, never waited for). Each sample comes with "
                "its uncertainty (the session's strategy, 0 to 1, higher is less sure), the "
                "model's predicted label and top_classes, its two most likely labels with "
                "their probabilities, most likely first; both null while the model knows "
                "nothing (fewer than two classes taught: the samples are then a spread of the "
                "pool, each with uncertainty 1). No body: k = 1.",
                body_required=False)},
            "/teach": {"post": _paid(
                "teach one pool sample's label, or many (one iteration each)",
                {"oneOf": [
                    _body({"index": {"type": "integer", "minimum": 0}, "label": _LABEL},
                          ["index", "label"]),
                    _body({"indices": {"type": "array", **many,
                                      "items": {"type": "integer", "minimum": 0}},
                          "labels": {"type": "array", **many, "items": _LABEL}},
                          ["indices", "labels"]),
                ]}, _RESULT, charged=True)},
            "/undo": {"post": _paid("take a taught label back (free)",
                                    _body({"index": {"type": "integer", "minimum": 0}},
                                         ["index"]), _RESULT)},
            "/session": {
                "get": _paid("the session's settings, progress and credits (free)", None, _RESULT),
                "delete": _paid("close the session and free its memory (free)", None, _RESULT),
            },
            "/model": {"get": {
                **_paid("the trained model, serialized with skops", None, {}, charged=True),
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
