"""Verified tokens are remembered (a client sends the same one on every request), but
never past their expiry, and nothing that failed verification is remembered."""

from __future__ import annotations

import time

import jwt

from app.auth import AuthenticatedViewer, TokenVerifier

SECRET = "a-test-secret-of-enough-length-for-hs256"


def _token(user_id: int, seconds: float) -> str:
    claims = {"sub": str(user_id), "exp": time.time() + seconds}
    return jwt.encode(claims, SECRET, algorithm="HS256")


def _verifier() -> TokenVerifier:
    return TokenVerifier(algorithms={"HS256"}, secret=SECRET, leeway_seconds=0)


def test_a_remembered_token_still_expires() -> None:
    verifier = _verifier()
    token = _token(7, 1.0)
    assert verifier.check(token) == AuthenticatedViewer(7)
    assert verifier.check(token) == AuthenticatedViewer(7)  # from memory
    time.sleep(1.1)
    assert verifier.check(token) == "expired"


def test_a_refused_token_is_checked_every_time() -> None:
    verifier = _verifier()
    good = _token(7, 60)
    forged = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    for _ in range(2):
        assert verifier.check(forged) == "invalid"
    other_key = jwt.encode({"sub": "7", "exp": time.time() + 60}, "x" * 40, algorithm="HS256")
    assert verifier.check(other_key) == "invalid"
    assert verifier.check(good) == AuthenticatedViewer(7)
    assert verifier.check(other_key) == "invalid"  # the good one's memory is not shared
