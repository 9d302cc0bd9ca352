"""Payment processors behind one interface, and the built-in sandbox.

The sandbox behaves like public processors' test modes: deterministic test tokens
approve, decline, or fail transiently, so every path can be exercised offline.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol


class ChargeStatus(StrEnum):
    CAPTURED = "CAPTURED"
    DECLINED = "DECLINED"
    UNAVAILABLE = "UNAVAILABLE"  # transient: try again later, nothing was charged


@dataclass(frozen=True, slots=True)
class CardDetails:
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True, slots=True)
class ChargeResult:
    status: ChargeStatus
    reference: str | None
    message: str


class UnknownToken(ValueError):
    """The processor does not recognise the token."""


class RefundFailed(Exception):
    """The processor gave nothing back this time; the same refund may be tried again."""


class PaymentGateway(Protocol):
    async def describe(self, token: str) -> CardDetails:
        """The card behind a processor token; UnknownToken if there is none."""
        ...

    async def charge(
        self, token: str, *, amount_minor: int, currency: str, idempotency_key: str
    ) -> ChargeResult:
        """Authorize and capture. The same idempotency key never charges twice."""
        ...

    async def refund(
        self,
        reference: str,
        *,
        amount_minor: int,
        currency: str,
        idempotency_key: str | None = None,
    ) -> str:
        """Give (part of) a captured charge back; returns the refund's reference.

        The same idempotency key never refunds twice: a retry gets the first refund's
        reference. RefundFailed when nothing was refunded (try again)."""
        ...


# Test tokens, named as public processors name theirs.
_CARDS = {
    "tok_visa": ("visa", "4242"),
    "tok_mastercard": ("mastercard", "4444"),
    "tok_amex": ("amex", "8431"),
    "tok_chargeDeclined": ("visa", "0002"),
    "tok_processingError": ("visa", "0119"),
    "tok_expiredCard": ("visa", "0069"),
    "tok_refundFail": ("visa", "5126"),
}
DECLINING = frozenset({"tok_chargeDeclined"})
EXPIRED = "tok_expiredCard"
UNAVAILABLE = frozenset({"tok_processingError"})
# Charges well; the first refund of each of its charges fails (per idempotency key).
REFUND_FAILS_ONCE = "tok_refundFail"
_REFUND_FAILS_ONCE_PREFIX = "ch_sandbox_rf_"


class SandboxGateway:
    """Approves every token but the declining and failing test tokens.

    Tokens that are not in the table but look like ``tok_…`` (the demo seed's) are
    treated as approving Visa cards, so seeded payment methods can pay.
    """

    def __init__(self, *, today: datetime | None = None) -> None:
        self._year = (today or datetime.now(UTC)).year
        self._charges: dict[str, ChargeResult] = {}
        self._refunds: dict[str, str] = {}
        self._refund_failed: set[str] = set()

    async def describe(self, token: str) -> CardDetails:
        if not token.startswith("tok_") or len(token) > 128:
            raise UnknownToken(token)
        brand, last4 = _CARDS.get(token, ("visa", "4242"))
        if token == EXPIRED:
            return CardDetails(brand, last4, 1, self._year - 1)
        return CardDetails(brand, last4, 12, self._year + 3)

    async def charge(
        self, token: str, *, amount_minor: int, currency: str, idempotency_key: str
    ) -> ChargeResult:
        if idempotency_key in self._charges:
            return self._charges[idempotency_key]
        if token in UNAVAILABLE:
            # Not remembered: a retry with the same key may go through later.
            return ChargeResult(ChargeStatus.UNAVAILABLE, None, "The processor is unavailable.")
        if token in DECLINING:
            result = ChargeResult(ChargeStatus.DECLINED, None, "The card was declined.")
        else:
            digest = hashlib.sha256(f"{idempotency_key}:{amount_minor}".encode()).hexdigest()
            prefix = _REFUND_FAILS_ONCE_PREFIX if token == REFUND_FAILS_ONCE else "ch_sandbox_"
            result = ChargeResult(ChargeStatus.CAPTURED, f"{prefix}{digest[:20]}", "Captured.")
        self._charges[idempotency_key] = result
        return result

    async def refund(
        self,
        reference: str,
        *,
        amount_minor: int,
        currency: str,
        idempotency_key: str | None = None,
    ) -> str:
        key = idempotency_key or reference
        if key in self._refunds:
            return self._refunds[key]
        if reference.startswith(_REFUND_FAILS_ONCE_PREFIX) and key not in self._refund_failed:
            self._refund_failed.add(key)
            raise RefundFailed("The processor could not refund just now; nothing was refunded.")
        seed = reference if idempotency_key is None else f"{reference}:{idempotency_key}"
        made = "re_sandbox_" + hashlib.sha256(seed.encode()).hexdigest()[:20]
        self._refunds[key] = made
        return made
