"""``POST /webhooks/carrier``: carrier scans, signed with each carrier's shared secret.

Checked in this order, each refusal a JSON ``{"code", "message"}`` with its status,
before anything is written:

- the sending address spent its budget (``ORDERCENTER_CARRIER_WEBHOOK_PER_MINUTE``
  requests a minute, shared across instances as the GraphQL budgets are): 429
  ``RATE_LIMITED`` with ``Retry-After``; every request counts, refused or not, so a
  stranger guessing signatures or flooding the route is slowed like anyone else;
- ``X-Carrier`` names no configured carrier: 401 ``UNKNOWN_CARRIER``;
- the body is over 256 KiB: 413 ``PAYLOAD_TOO_LARGE``;
- ``X-Carrier-Timestamp`` missing or not Unix seconds: 400 ``BAD_TIMESTAMP``;
- ``X-Carrier-Signature`` is not the HMAC of timestamp and body: 401 ``INVALID_SIGNATURE``;
- the timestamp is further than the tolerance from now: 401 ``STALE_TIMESTAMP``;
- the body is not a delivery (JSON, 1 to 100 scans): 400 ``BAD_REQUEST``;
- this very signed delivery was accepted before: 409 ``REPLAYED``.

The signature is checked before the timestamp's age, so a stranger learns nothing
about the window, and before the body is parsed, so unsigned bodies cost no parsing.
An accepted delivery answers 200 with each scan's result (APPLIED, DUPLICATE,
UNKNOWN_TRACKING) and its order's status.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.pipeline import rate_key
from app.ratelimit import MemoryBudget, RedisBudget
from domain.carrier_scans import ScanKind, parse_timestamp, signature_valid, timestamp_fresh
from resolvers.context import Context
from resolvers.mutations.carrier_scans import DeliveryReplayed, Scan, receive_delivery

MAX_BODY_BYTES = 256 * 1024
CARRIER_HEADER = "X-Carrier"
TIMESTAMP_HEADER = "X-Carrier-Timestamp"
SIGNATURE_HEADER = "X-Carrier-Signature"

Text = Annotated[str, Field(min_length=1, max_length=128)]


class ScanBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    scanId: Text
    trackingNumber: Annotated[str, Field(min_length=1, max_length=64)]
    kind: ScanKind
    happenedAt: AwareDatetime
    location: Annotated[str, Field(max_length=200)] | None = None
    message: Annotated[str, Field(max_length=500)] | None = None


class DeliveryBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    scans: Annotated[list[ScanBody], Field(min_length=1, max_length=100)]


def _refuse(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


async def _bounded_body(request: Request) -> bytes | None:
    """The raw body, or None when it is larger than MAX_BODY_BYTES (read no further)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class CarrierWebhook:
    """The route's handler; ``context`` makes the server's own (viewer-less) context."""

    def __init__(
        self,
        secrets: dict[str, str],
        tolerance_seconds: int,
        context: Callable[[], Context],
        budget: MemoryBudget | RedisBudget,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secrets = secrets
        self._tolerance = tolerance_seconds
        self._context = context
        self._budget = budget
        self._clock = clock

    async def handle(self, request: Request) -> Response:
        host = request.client.host if request.client else None
        spent = await self._budget.spend(f"carrier-webhook:{rate_key(None, host)}", 1)
        if not spent.allowed:
            wait = max(1, math.ceil(spent.retry_after))
            refusal = _refuse(429, "RATE_LIMITED", f"Too many deliveries; retry in {wait} s.")
            refusal.headers["Retry-After"] = str(wait)
            return refusal
        carrier = request.headers.get(CARRIER_HEADER, "").strip()
        secret = self._secrets.get(carrier.lower())
        if not carrier or secret is None:
            return _refuse(401, "UNKNOWN_CARRIER", f"{CARRIER_HEADER} names no known carrier.")
        body = await _bounded_body(request)
        if body is None:
            return _refuse(413, "PAYLOAD_TOO_LARGE", f"At most {MAX_BODY_BYTES} bytes.")
        raw_timestamp = request.headers.get(TIMESTAMP_HEADER, "")
        timestamp = parse_timestamp(raw_timestamp)
        if timestamp is None:
            return _refuse(400, "BAD_TIMESTAMP", f"{TIMESTAMP_HEADER} must be Unix seconds.")
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not signature_valid(secret, raw_timestamp, body, signature):
            return _refuse(401, "INVALID_SIGNATURE", f"{SIGNATURE_HEADER} does not match.")
        if not timestamp_fresh(timestamp, self._clock(), self._tolerance):
            return _refuse(
                401, "STALE_TIMESTAMP", f"The timestamp is more than {self._tolerance} s off."
            )
        try:
            delivery = DeliveryBody.model_validate_json(body)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "body"
            return _refuse(400, "BAD_REQUEST", f"{where}: {first['msg']}")
        scans = [
            Scan(
                scan_id=s.scanId,
                tracking_number=s.trackingNumber,
                kind=s.kind,
                happened_at=s.happenedAt,
                location=s.location,
                message=s.message,
            )
            for s in delivery.scans
        ]
        try:
            outcomes = await receive_delivery(
                self._context(),
                carrier=carrier.lower(),
                signature_digest=hashlib.sha256(signature.encode()).hexdigest(),
                scans=scans,
                window=timedelta(seconds=self._tolerance),
            )
        except DeliveryReplayed:
            return _refuse(409, "REPLAYED", "This delivery was received before.")
        answer: dict[str, Any] = {
            "scans": [
                {
                    "scanId": o.scan_id,
                    "result": o.result.value,
                    "orderStatus": None if o.order_status is None else o.order_status.value,
                }
                for o in outcomes
            ]
        }
        return JSONResponse(answer)
