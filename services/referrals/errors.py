"""Errors the referral workflow raises on purpose.

ReferralError (a CareWatchError)
 ├── IllegalTransition   the state machine has no edge from the referral's state to the target
 ├── NotPermitted        the actor's side (care / hospital) or role may not take this step
 └── InvalidReferral     the referral or a transition's input is malformed (naive time, empty
                         reason, a note missing where one is required, vitals out of window, ...)
"""

from __future__ import annotations

from collections.abc import Iterable

from services.errors import CareWatchError


class ReferralError(CareWatchError):
    """Base of every error the referral workflow raises on purpose."""


class IllegalTransition(ReferralError):
    """`from_state -> to_state` is not an edge of the referral state machine."""

    def __init__(
        self, referral_id: str, from_state: str, to_state: str, allowed: Iterable[str]
    ) -> None:
        self.referral_id = referral_id
        self.from_state = from_state
        self.to_state = to_state
        self.allowed = tuple(allowed)
        nexts = ", ".join(self.allowed) if self.allowed else "none: it is a final state"
        super().__init__(
            f"referral {referral_id}: cannot go from {from_state!r} to {to_state!r}; "
            f"allowed next states: {nexts}"
        )


class NotPermitted(ReferralError):
    """The actor may not take this step (wrong side or role)."""

    def __init__(
        self,
        referral_id: str,
        to_state: str,
        *,
        staff_id: str,
        role: str,
        side: str,
        required_side: str,
        allowed_roles: Iterable[str],
    ) -> None:
        self.referral_id = referral_id
        self.to_state = to_state
        self.staff_id = staff_id
        self.role = role
        self.side = side
        self.required_side = required_side
        self.allowed_roles = tuple(allowed_roles)
        who = "the receiving hospital" if required_side == "hospital" else "the care setting"
        super().__init__(
            f"referral {referral_id}: {staff_id} ({side}-side {role}) may not move it to "
            f"{to_state!r}: only {who}'s {'/'.join(self.allowed_roles)} may"
        )


class InvalidReferral(ReferralError):
    """The referral, or the input of a step, is malformed; the message says what to fix."""
