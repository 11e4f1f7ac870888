"""Re-authentication at signing without a slow hash every time, within one log-in session.

Part 11 lets later signings of one continuous session use the password alone (21 CFR
11.200(a)(1)(i)); the password is still checked at every signing. The stored hash is Argon2,
slow on purpose. Once a signing in a session has checked the password against it, this process
keeps a keyed hash of that password: HMAC-SHA256 under a key made when the process starts (it
never leaves memory), over the session's id, the stored hash and the password. Later signings of
that session in this process compare against it in microseconds. A wrong password is still
refused (the keyed hash was made from the right one); a changed password, another session, a
restarted process or half an hour without a signature fall back to Argon2.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime, timedelta

#: The log-in session the current request belongs to (set by the web layer; None: no proof is
#: kept or used, every check runs the slow hash).
current_session: ContextVar[str | None] = ContextVar("gxpflow_login_session", default=None)

TTL = timedelta(minutes=30)
MAX_PROOFS = 10_000

_KEY = secrets.token_bytes(32)
_lock = threading.Lock()
#: (user id, session id) -> (the stored hash it was made against, keyed hash, expires at)
_proofs: OrderedDict[tuple[int, str], tuple[str, bytes, datetime]] = OrderedDict()


def _keyed(session_id: str, stored_hash: str, password: str) -> bytes:
    material = "\x1f".join((session_id, stored_hash, password)).encode("utf-8")
    return hmac.new(_KEY, material, hashlib.sha256).digest()


def check(user_id: int, stored_hash: str, password: str, slow: Callable[[], bool],
          now: datetime) -> bool:
    """Whether `password` is the user's: from this session's proof when there is one, else by
    `slow` (the Argon2 check), which then leaves a proof for the session's next signing."""
    session_id = current_session.get()
    if not session_id:
        return slow()
    key = (user_id, session_id)
    with _lock:
        found = _proofs.get(key)
    if found is not None and found[0] == stored_hash and found[2] > now:
        if not hmac.compare_digest(found[1], _keyed(session_id, stored_hash, password)):
            return False
        with _lock:
            _proofs[key] = (stored_hash, found[1], now + TTL)
        return True
    if not slow():
        return False
    with _lock:
        _proofs[key] = (stored_hash, _keyed(session_id, stored_hash, password), now + TTL)
        _proofs.move_to_end(key)
        while len(_proofs) > MAX_PROOFS:
            _proofs.popitem(last=False)
    return True


def forget(user_id: int, session_id: str) -> None:
    """Drop a session's proof (log-out; other processes' proofs of it die with the session's
    id, which no later request carries)."""
    with _lock:
        _proofs.pop((user_id, session_id), None)
