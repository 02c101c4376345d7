"""The green-channel referral's values: its states and edges, who may take each step, the
timers' configuration, the referral itself and the effects the workflow asks the I/O layer for.

Pure data (the state machine's steps are in `workflow.py`); see that module for the diagram.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rules.news2 import News2Result
from rules.types import Severity, Vital
from services.careteam.team import ReferralTimes
from services.referrals.errors import InvalidReferral
from services.referrals.routing import URGENT, Kind, PartnerKind

State = Literal[
    "suggested",
    "dismissed",
    "requested",
    "accepted",
    "declined",
    "in_transit",
    "admitted",
    "returned",
    "cancelled",
]
STATES: Final[tuple[State, ...]] = get_args(State)
Side = Literal["care", "hospital"]
Role = Literal["admin", "physician", "nurse", "caregiver", "integrator"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)
SIDES: Final[tuple[Side, ...]] = get_args(Side)
Sex = Literal["male", "female", "other", "unknown"]
Trigger = Literal["news2", "fall", "staff", "hospital"]
# Who a notification goes to; the I/O layer resolves each through the roster and the hospital's
# contact: "requester" is the staff member who requested (or confirmed) the referral.
Party = Literal["hospital", "unit", "charge_nurse", "physician", "requester"]

# The edges of the state machine, in the order a UI would offer them.
TRANSITIONS: Final[Mapping[State, tuple[State, ...]]] = {
    "suggested": ("requested", "dismissed"),
    "requested": ("accepted", "declined", "cancelled"),
    "accepted": ("in_transit", "cancelled"),
    "in_transit": ("admitted", "cancelled"),
    "admitted": ("returned",),
    "dismissed": (),
    "declined": (),
    "returned": (),
    "cancelled": (),
}
FINAL_STATES: Final = frozenset(s for s, nexts in TRANSITIONS.items() if not nexts)

# NEWS2 at or above this opens a suggestion (RCP 2017: emergency assessment).
NEWS2_REFERRAL_THRESHOLD: Final = 7


@dataclass(frozen=True, slots=True)
class Permission:
    """Who may move a referral into a state: one side, some roles."""

    side: Side
    roles: frozenset[Role]


_CARE_CLINICAL: Final[frozenset[Role]] = frozenset({"nurse", "physician"})
# On the hospital side an `integrator` account stands for the hospital's own system (HIS)
# answering through the API; admins manage accounts, they do not take clinical steps.
_HOSPITAL: Final[frozenset[Role]] = frozenset({"nurse", "physician", "integrator"})
PERMISSIONS: Final[Mapping[State, Permission]] = {
    "requested": Permission("care", _CARE_CLINICAL),  # confirm a suggestion, or open by hand
    "dismissed": Permission("care", _CARE_CLINICAL),
    "cancelled": Permission("care", _CARE_CLINICAL),
    # Caregivers hand the resident over to the ambulance and welcome them back.
    "in_transit": Permission("care", _CARE_CLINICAL | {"caregiver"}),
    "returned": Permission("care", _CARE_CLINICAL | {"caregiver"}),
    "accepted": Permission("hospital", _HOSPITAL),
    "declined": Permission("hospital", _HOSPITAL),
    "admitted": Permission("hospital", _HOSPITAL),
}
# The hospital side opens a return (a downward referral) with its discharge summary.
RETURN_PERMISSION: Final = Permission("hospital", _HOSPITAL)
# Steps that end or refuse a referral need a reason someone can act on later.
NOTE_REQUIRED: Final[frozenset[State]] = frozenset({"dismissed", "declined", "cancelled"})


# --- configuration -------------------------------------------------------------------------


class ReferralConfig(BaseModel):
    """Referral timers and snapshot bounds, validated at load (all durations in seconds)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # A suggestion nobody confirms or dismisses: tell the charge nurse and physician (once).
    suggestion_confirm_s: float = Field(default=600.0, gt=0, allow_inf_nan=False)
    # The green channel's promise: the hospital answers a request within 15 minutes, or the
    # charge nurse and physician are paged and the hospital is reminded (once).
    hospital_answer_s: float = Field(default=900.0, gt=0, allow_inf_nan=False)
    # A planned referral (appointment, rehabilitation, hospice) is no emergency: the partner
    # answers within three days, or the same people are told.
    planned_answer_s: float = Field(default=3 * 86_400.0, gt=0, allow_inf_nan=False)
    # In transit this long without admission: remind both sides, and again every period.
    transit_admit_s: float = Field(default=4 * 3600.0, gt=0, allow_inf_nan=False)
    # A return starts a post-discharge watch period this many days long (watch.py).
    watch_days: int = Field(default=7, ge=1, le=30)
    # The vitals snapshot covers this much time before the referral was opened.
    snapshot_window_s: float = Field(default=24 * 3600.0, gt=0, allow_inf_nan=False)
    # Device clocks run a little ahead; ingest accepts readings up to 5 min in the future.
    max_future_s: float = Field(default=300.0, ge=0, allow_inf_nan=False)

    def answer_s(self, kind: Kind) -> float:
        """How long the partner has to answer a request of `kind`."""
        return self.hospital_answer_s if kind in URGENT else self.planned_answer_s

    @model_validator(mode="after")
    def _answer_before_transit(self) -> ReferralConfig:
        if self.hospital_answer_s > self.transit_admit_s:
            raise ValueError(
                f"hospital_answer_s={self.hospital_answer_s:g} is longer than "
                f"transit_admit_s={self.transit_admit_s:g}: a green channel must be answered "
                "faster than a transfer takes"
            )
        return self


DEFAULT_CONFIG: Final = ReferralConfig()


def configured(base: ReferralConfig, times: ReferralTimes) -> ReferralConfig:
    """`base` with the care team document's own referral times (`referrals:`) laid over it."""
    given = times.model_dump(exclude_none=True)
    return ReferralConfig.model_validate({**base.model_dump(), **given}) if given else base


# --- the referral --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Actor:
    """A staff member taking a step: who, in which role, on which side of the channel."""

    staff_id: str
    role: Role
    side: Side

    def __post_init__(self) -> None:
        if not self.staff_id.strip() or not self.staff_id.isprintable():
            raise InvalidReferral(f"actor staff_id must be printable text, got {self.staff_id!r}")
        if self.role not in ROLES:
            raise InvalidReferral(f"actor role {self.role!r} is not one of {', '.join(ROLES)}")
        if self.side not in SIDES:
            raise InvalidReferral(f"actor side {self.side!r} is not 'care' or 'hospital'")


@dataclass(frozen=True, slots=True)
class EmergencyContact:
    name: str
    relation: str
    phone: str


@dataclass(frozen=True, slots=True)
class PatientRecord:
    """The resident record the FHIR export carries (services/records), read when exported.
    Identifiers are None when absent or withheld from the caller."""

    sex: Sex | None = None
    birth_date: date | None = None
    national_id: str | None = None
    insurance_no: str | None = None
    phone: str | None = None
    address: str | None = None
    contacts: tuple[EmergencyContact, ...] = ()
    diagnoses: tuple[tuple[str, str], ...] = ()  # (ICD-10 code, display)
    allergies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Resident:
    """Who is referred and where they live in the care setting."""

    resident_id: int
    name: str
    sex: Sex
    birth_date: date
    site_id: str
    unit_id: str
    room: str | None = None
    bed: str | None = None

    @property
    def location(self) -> str:
        parts = [self.site_id, self.unit_id]
        parts += [f"room {self.room}"] if self.room else []
        parts += [f"bed {self.bed}"] if self.bed else []
        return " / ".join(parts)


@dataclass(frozen=True, slots=True)
class Hospital:
    """The partner institution; `contact` is the apprise URL (or tag) of its referral desk."""

    hospital_id: str
    name: str
    contact: str
    kind: PartnerKind = "general_hospital"


@dataclass(frozen=True, slots=True)
class ActiveAlert:
    """An alert open on the resident when the referral was opened."""

    rule_id: str
    severity: Severity
    title: str
    ts: datetime


@dataclass(frozen=True, slots=True)
class TransitionRecord:
    """One step of the history. The opening step has `from_state` None; `actor` None means a
    rule opened the referral (a suggestion) or a timer acted."""

    from_state: State | None
    to_state: State
    at: datetime
    actor: Actor | None
    note: str = ""


@dataclass(frozen=True, slots=True)
class ReasonCode:
    """Why a rule opened a referral, stored as a code and its parameters and put in words in
    each reader's language (services/referrals/reasons.py). `alert`: `rule` (its id) and the
    alert's figures."""

    code: str
    params: tuple[tuple[str, str | float], ...] = ()


@dataclass(frozen=True, slots=True)
class Referral:
    """A referral and everything it carries to the hospital. `sla_fired` names the timers that
    have already fired (see `sla_tick`), so each fires once."""

    referral_id: str
    resident: Resident
    hospital: Hospital
    reason: str
    trigger: Trigger
    vitals: tuple[Vital, ...]  # the snapshot, oldest first
    news2: News2Result | None
    alerts: tuple[ActiveAlert, ...]
    created_at: datetime
    state: State
    history: tuple[TransitionRecord, ...]
    sla_fired: frozenset[str] = frozenset()
    # A rule's reason in words for every language; None: `reason` is the words (staff, old rows).
    reason_code: ReasonCode | None = None
    kind: Kind = "emergency"

    @property
    def updated_at(self) -> datetime:
        """When the referral entered its current state."""
        return self.history[-1].at

    @property
    def requester(self) -> Actor | None:
        """The staff member who requested (or confirmed) the referral, once requested."""
        return next((r.actor for r in self.history if r.to_state == "requested"), None)

    def entered(self, state: State) -> datetime | None:
        """When the referral entered `state`, if it has."""
        return next((r.at for r in self.history if r.to_state == state), None)


# --- effects -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Notify:
    """Send `template` to `parties` (resolved by the I/O layer through the roster and the
    hospital's contact); `context` fills the template."""

    referral_id: str
    parties: tuple[Party, ...]
    template: str
    urgent: bool
    context: tuple[tuple[str, str], ...] = ()
    reason_code: ReasonCode | None = None  # renders the context's "reason" per recipient


@dataclass(frozen=True, slots=True)
class Audit:
    """Write one audit-log row. No actor: a rule or a timer acted."""

    referral_id: str
    action: str
    at: datetime
    from_state: State | None
    to_state: State
    staff_id: str | None = None
    role: Role | None = None
    side: Side | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class SlaFired:
    """A timer fired: persist it on the referral (`record_sla`) so it does not fire again."""

    referral_id: str
    timer: str
    at: datetime


Effect = Notify | Audit | SlaFired
