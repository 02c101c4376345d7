"""Errors the referral workflow and its store raise on purpose.

ReferralError (a CareWatchError)
 ├── IllegalTransition   the state machine has no edge from the referral's state to the target
 ├── NotPermitted        the actor's side (care / hospital) or role may not take this step
 ├── InvalidReferral     the referral or a transition's input is malformed (naive time, empty
 │    │                  reason, a note missing where one is required, vitals out of window, ...)
 │    ├── InvalidField   an input names something that is not stored (resident, hospital)
 │    └── InvalidBundle  a FHIR Bundle (a discharge summary) that is not one; `where` says
 │                       which part (e.g. "entry[2].resource.code")
 ├── UnknownReferral     no referral with this id (also a LookupError)
 └── AlreadyOpen         the resident already has a referral or suggestion in progress
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


class InvalidField(InvalidReferral):
    """An input names something that is not there; `field` is that input's name."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


class InvalidBundle(InvalidReferral):
    """A FHIR Bundle received that is not valid FHIR R4 or lacks what a discharge summary
    needs; `where` is the path of the part at fault ("" for the whole)."""

    def __init__(self, where: str, message: str) -> None:
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class UnknownReferral(ReferralError, LookupError):
    """No referral with this id."""

    def __init__(self, referral_id: int) -> None:
        self.referral_id = referral_id
        super().__init__(f"unknown referral {referral_id}")


class AlreadyOpen(ReferralError):
    """The resident already has a referral (or suggestion) in progress: one at a time."""

    def __init__(self, resident_id: int, referral_id: int | None, state: str | None) -> None:
        self.resident_id = resident_id
        self.referral_id = referral_id
        which = f"referral {referral_id} ({state})" if referral_id else "a referral"
        super().__init__(
            f"resident {resident_id} already has {which} in progress: confirm, dismiss or "
            "cancel it instead of opening another"
        )
