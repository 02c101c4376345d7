"""The login throttle's two limits, as pure logic (time is a parameter): each account from
each address, and a higher ceiling per address (tests/e2e/test_auth.py runs them in the app)."""

from __future__ import annotations

from services.auth.throttle import LoginThrottle, Throttle

NAT = "10.0.0.1"  # one address in front of a shift's phones


def test_one_account_from_one_address_is_throttled_and_others_there_are_not() -> None:
    throttle = LoginThrottle(per_account=3, per_address=20)
    assert [throttle.allow("wang", NAT, 0.0) for _ in range(4)] == [True, True, True, False]
    assert throttle.allow(" WANG ", NAT, 1.0) is False  # the same account, however typed
    assert throttle.retry_after("wang", NAT, 1.0) == 59.0
    # The rest of the shift behind the same address logs in at handover.
    assert all(throttle.allow(f"nurse-{n}", NAT, 2.0) for n in range(10))
    assert throttle.allow("wang", "10.0.0.2", 2.0)  # the same account from elsewhere
    assert throttle.allow("wang", NAT, 60.0)  # the window has moved on


def test_an_address_has_a_ceiling_across_accounts() -> None:
    throttle = LoginThrottle(per_account=3, per_address=5)
    assert [throttle.allow(f"u{n}", NAT, float(n)) for n in range(6)] == [True] * 5 + [False]
    assert throttle.allow("u9", NAT, 10.0) is False
    assert throttle.allow(None, NAT, 10.0) is False  # a refresh meets the ceiling too
    assert throttle.retry_after("u9", NAT, 10.0) == 50.0
    assert throttle.allow("u9", "10.0.0.2", 10.0)
    assert throttle.allow("u9", NAT, 60.0)  # the first attempt left the window


def test_a_refused_attempt_is_not_counted_against_the_other_limit() -> None:
    throttle = LoginThrottle(per_account=2, per_address=4)
    for _ in range(5):  # one account hammered: only its 2 attempts count at the address
        throttle.allow("wang", NAT, 0.0)
    assert throttle.allow("li", NAT, 0.0) and throttle.allow("zhao", NAT, 0.0)


def test_a_key_is_full_without_recording() -> None:
    throttle = Throttle(limit=1, window_s=10.0)
    assert throttle.full("k", 0.0) is False
    assert throttle.full("k", 0.0) is False  # asking records nothing
    assert throttle.allow("k", 0.0) and throttle.full("k", 5.0) and not throttle.full("k", 10.0)
