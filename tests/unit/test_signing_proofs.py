"""Signing proofs: after one slow check in a log-in session, later signings of that session
compare against a keyed hash; anything that is not that session, that password or that stored
hash goes back to the slow check."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from engine.identity import proofs

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


class Slow:
    """The Argon2 check's stand-in: counts its calls, accepts one password."""

    def __init__(self, password: str) -> None:
        self.password = password
        self.calls = 0

    def check(self, candidate: str) -> bool:
        self.calls += 1
        return candidate == self.password


@pytest.fixture
def in_session() -> Iterator[str]:
    token = proofs.current_session.set("session-1")
    yield "session-1"
    proofs.current_session.reset(token)
    proofs.forget(7, "session-1")


def check(slow: Slow, candidate: str, *, stored: str = "hash-1",
          now: datetime = NOW) -> bool:
    return proofs.check(7, stored, candidate, lambda: slow.check(candidate), now)


def test_the_second_signing_of_a_session_does_not_run_the_slow_check(in_session: str) -> None:
    slow = Slow("right")
    assert check(slow, "right") and slow.calls == 1
    assert check(slow, "right") and check(slow, "right")
    assert slow.calls == 1


def test_a_wrong_password_is_refused_with_or_without_a_proof(in_session: str) -> None:
    slow = Slow("right")
    assert not check(slow, "wrong")
    assert check(slow, "right")
    calls = slow.calls
    assert not check(slow, "wrong")
    assert not check(slow, "Right")
    assert slow.calls == calls, "the proof answers, and it says no"


def test_a_changed_password_hash_expiry_or_another_session_go_back_to_the_slow_check(
    in_session: str,
) -> None:
    slow = Slow("right")
    assert check(slow, "right")
    assert check(slow, "right", stored="hash-2") and slow.calls == 2  # password changed
    assert check(slow, "right", stored="hash-2", now=NOW + proofs.TTL + timedelta(seconds=1))
    assert slow.calls == 3  # half an hour without a signature
    token = proofs.current_session.set("session-2")
    try:
        assert check(slow, "right", stored="hash-2") and slow.calls == 4
    finally:
        proofs.current_session.reset(token)
        proofs.forget(7, "session-2")


def test_without_a_session_every_check_is_slow() -> None:
    slow = Slow("right")
    assert check(slow, "right") and check(slow, "right")
    assert slow.calls == 2


def test_log_out_forgets_the_proof(in_session: str) -> None:
    slow = Slow("right")
    assert check(slow, "right")
    proofs.forget(7, in_session)
    assert check(slow, "right") and slow.calls == 2
