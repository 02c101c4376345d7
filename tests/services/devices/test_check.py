"""The conformance check's pure analysis: verdicts as the ingest worker gives them, `seq` gaps,
clock skew, rates, missing streams, the exit code and the text; and the safe preview."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.devices.check import (
    SKEW_SAMPLE,
    CheckState,
    Observed,
    Summary,
    Target,
    Verdict,
    format_summary,
    format_verdict,
    observe,
    parse_streams,
    summarize,
)
from services.devices.preview import safe_preview

T0 = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)
DEVICE = "w1"
TARGET = Target(DEVICE, "s1", frozenset({"vitals", "status"}))


def topic(stream: str, *, site: str = "s1", device: str = DEVICE) -> str:
    return f"carewatch/v1/{site}/{device}/{stream}"


def message(
    stream: str = "vitals",
    body: dict[str, Any] | bytes | None = None,
    *,
    at: datetime = T0,
    retained: bool = False,
    to: str | None = None,
) -> Observed:
    if body is None:
        body = {"ts": T0_MS, "hr": 72}
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Observed(to or topic(stream), payload, at, retained=retained)


def run(messages: Sequence[Observed], target: Target = TARGET) -> tuple[CheckState, list[Verdict]]:
    state, verdicts = CheckState(), []
    for m in messages:
        state, verdict = observe(state, target, m)
        verdicts.append(verdict)
    return state, verdicts


# --- verdicts ------------------------------------------------------------------------------

# (message, target, the reason the worker gives, or None for accepted)
VERDICTS: list[tuple[Observed, Target, str | None]] = [
    (message(), TARGET, None),
    (message("vitals", {"ts": T0_MS, "hr": 300}), TARGET, "out_of_range"),
    (message("vitals", {"ts": T0_MS, "hr": "72"}), TARGET, "invalid_field"),
    (message("vitals", b"{not json"), TARGET, "malformed_json"),
    (message("vitals", {"hr": 72}), TARGET, "missing_ts"),
    (message("vitals", {"ts": T0_MS + 600_000, "hr": 72}), TARGET, "future_ts"),
    (message(to=topic("vitals", site="elsewhere")), TARGET, "topic_mismatch"),
    (message(), Target(DEVICE, None), "unknown_device"),
    (message(to=topic("vitals") + "/extra"), TARGET, "bad_topic"),
    (message("heartbeat"), TARGET, "unknown_stream"),
    (message("status", {"online": False}), TARGET, None),
    (message("vitals", b"x" * 70_000), TARGET, "oversized"),
]


@pytest.mark.parametrize(
    ("observed", "target", "reason"),
    VERDICTS,
    ids=[
        "good",
        "out-of-range",
        "string-number",
        "malformed",
        "missing-ts",
        "future-ts",
        "wrong-site",
        "not-provisioned",
        "extra-level",
        "unknown-stream",
        "last-will",
        "oversized",
    ],
)
def test_verdict_is_the_workers(observed: Observed, target: Target, reason: str | None) -> None:
    state, [verdict] = run([observed], target)
    assert verdict.reason == reason
    assert verdict.accepted is (reason is None)
    assert verdict.size == len(observed.payload)
    if reason is None:
        assert verdict.preview == "" and state.reasons == {}
    else:
        assert verdict.detail and verdict.preview
        assert state.reasons == {reason: 1}


def test_stream_of_a_bad_topic_is_not_guessed() -> None:
    _, [verdict] = run([message(to="carewatch/v1/s1/w1")])
    assert verdict.reason == "bad_topic"
    assert verdict.stream == "(topic)"


# --- seq -----------------------------------------------------------------------------------

# (seqs in order of arrival, None for a message without one; gaps, missed, went back,
#  the missed count shown on each message)
SEQS: list[tuple[list[int | None], int, int, int, list[int]]] = [
    ([1, 2, 3], 0, 0, 0, [0, 0, 0]),
    ([1, 2, 5], 1, 2, 0, [0, 0, 2]),
    ([1, 3, 6, 7], 2, 3, 0, [0, 1, 2, 0]),
    ([7, 7], 0, 0, 1, [0, 0]),
    ([10, 11, 0, 1, 2], 0, 0, 1, [0, 0, 0, 0, 0]),
    ([1, None, 2], 0, 0, 0, [0, 0, 0]),
    ([2**63 - 3, 2**63 - 1], 1, 1, 0, [0, 1]),
]


@pytest.mark.parametrize(
    ("seqs", "gaps", "missed", "back", "shown"),
    SEQS,
    ids=["in-order", "one-gap", "two-gaps", "repeat", "restart", "without-seq", "near-max"],
)
def test_seq_gaps(
    seqs: list[int | None], gaps: int, missed: int, back: int, shown: list[int]
) -> None:
    bodies = [
        {"ts": T0_MS + i, "hr": 70} | ({} if s is None else {"seq": s}) for i, s in enumerate(seqs)
    ]
    state, verdicts = run([message("vitals", b) for b in bodies])
    assert (state.gaps, state.missed, state.seq_back) == (gaps, missed, back)
    assert [v.missed for v in verdicts] == shown


def test_a_rejected_message_uses_up_its_seq() -> None:
    state, _ = run(
        [
            message("vitals", {"ts": T0_MS, "seq": 1, "hr": 70}),
            message("vitals", {"ts": T0_MS + 1, "seq": 2, "hr": 300}),  # out_of_range
            message("vitals", {"ts": T0_MS + 2, "seq": 3, "hr": 70}),
        ]
    )
    assert (state.gaps, state.missed, state.reasons) == (0, 0, {"out_of_range": 1})


def test_a_retained_message_is_outside_the_sequence() -> None:
    state, verdicts = run(
        [
            message("status", {"ts": T0_MS - 3_600_000, "seq": 900, "battery": 80}, retained=True),
            message("vitals", {"ts": T0_MS, "seq": 1, "hr": 70}),
            message("vitals", {"ts": T0_MS + 1, "seq": 2, "hr": 70}),
        ]
    )
    assert (state.gaps, state.seq_back, state.skews_s) == (0, 0, (0.0, 0.001))
    assert verdicts[0].retained and verdicts[0].accepted


# --- clock skew ----------------------------------------------------------------------------

# (stream, body, seconds between the message's time and its receipt at T0; None: no time)
SKEWS: list[tuple[str, dict[str, Any], float | None]] = [
    ("vitals", {"ts": T0_MS - 250, "hr": 70}, -0.25),
    ("vitals", {"ts": "2024-05-01T16:30:03+08:00", "hr": 70}, 3.0),
    ("status", {"online": False}, None),
    ("status", {"ts": T0_MS - 2000, "battery": 50}, -2.0),
    # A 1 s window of 50 samples that began 1.5 s before receipt ended 0.5 s before it.
    (
        "motion",
        {"ts": T0_MS - 1500, "hz": 50, "ax": [0.0] * 50, "ay": [0.0] * 50, "az": [1.0] * 50},
        -0.5,
    ),
    ("event", {"ts": T0_MS - 10_000, "type": "fall"}, -10.0),
]


@pytest.mark.parametrize(
    ("stream", "body", "skew"),
    SKEWS,
    ids=["behind", "ahead-rfc3339", "last-will", "status", "motion-window-end", "event"],
)
def test_skew(stream: str, body: dict[str, Any], skew: float | None) -> None:
    state, [verdict] = run([message(stream, body)])
    assert verdict.accepted, verdict.detail
    if skew is None:
        assert verdict.skew is None and state.skews_s == ()
    else:
        assert verdict.skew == timedelta(seconds=skew)
        assert state.skews_s == (skew,)


# (skews of the messages in s, the warning expected, or None)
SKEW_WARNINGS: list[tuple[list[float], str | None]] = [
    ([-0.1, -0.2, -0.05], None),
    ([3.0, 3.1, 2.9], "device clock 3.0s ahead of the server"),
    ([-30.0, -31.0, -29.0], "device clock 30.0s behind the server"),
    ([-0.1, -0.1, 4.0], "a message time 4.0s after its receipt"),
]


@pytest.mark.parametrize(
    ("skews", "warning"), SKEW_WARNINGS, ids=["fine", "ahead", "behind", "one-jump"]
)
def test_skew_summary(skews: list[float], warning: str | None) -> None:
    messages = []
    for i, skew in enumerate(skews):
        sent = T0 + timedelta(milliseconds=i)
        body = {"ts": T0_MS + i, "hr": 70}
        messages.append(message("vitals", body, at=sent - timedelta(seconds=skew)))
    state, _ = run(messages)
    summary = summarize(state, TARGET, elapsed=timedelta(seconds=10))
    assert summary.skew_median_s == pytest.approx(sorted(skews)[1])
    assert summary.skew_min_s == pytest.approx(min(skews))
    assert summary.skew_max_s == pytest.approx(max(skews))
    found = [w for w in summary.warnings if "clock" in w or "message time" in w]
    if warning is None:
        assert found == []
    else:
        assert len(found) == 1 and warning in found[0], found


def test_the_median_follows_recent_messages_and_min_max_all() -> None:
    # 100 messages 30 s behind, then 600 on time: the median is of the last SKEW_SAMPLE only.
    skews = [-30.0] * 100 + [0.0] * 600
    messages = [
        message(
            "vitals", {"ts": T0_MS + i, "hr": 70}, at=T0 + timedelta(milliseconds=i, seconds=-s)
        )
        for i, s in enumerate(skews)
    ]
    state, _ = run(messages)
    assert len(state.skews_s) == SKEW_SAMPLE
    summary = summarize(state, TARGET, elapsed=timedelta(seconds=10))
    assert (summary.skew_median_s, summary.skew_min_s, summary.skew_max_s) == (0.0, -30.0, 0.0)
    assert not [w for w in summary.warnings if "clock" in w]


# --- rates and missing streams -------------------------------------------------------------


def test_rates_per_stream_count_live_messages_only() -> None:
    messages = [message("status", {"ts": T0_MS - 60_000, "battery": 80}, retained=True)]
    messages += [
        message("vitals", {"ts": T0_MS + i * 2000, "hr": 70}, at=T0 + timedelta(seconds=2 * i))
        for i in range(30)
    ]
    messages.append(message("status", {"ts": T0_MS + 30_000, "battery": 79}))
    state, _ = run(messages)
    summary = summarize(state, TARGET, elapsed=timedelta(seconds=60))
    rates = {s.stream: (s.live, s.retained, s.rejected, s.per_minute) for s in summary.streams}
    assert rates == {"status": (1, 1, 0, 1.0), "vitals": (30, 0, 0, 30.0)}
    assert summary.messages == 32 and summary.rejected == 0


# (kind's expected streams, streams seen (retained marked), the missing ones)
MISSING: list[tuple[frozenset[str], list[tuple[str, bool]], tuple[str, ...]]] = [
    (frozenset({"vitals", "status"}), [("vitals", False), ("status", False)], ()),
    (frozenset({"vitals", "status"}), [("vitals", False)], ("status",)),
    (frozenset({"vitals", "status"}), [("vitals", False), ("status", True)], ()),
    (frozenset({"bed", "status"}), [("vitals", False)], ("bed", "status")),
    (frozenset(), [("vitals", False)], ()),
]


@pytest.mark.parametrize(
    ("expected", "seen", "missing"),
    MISSING,
    ids=["all-there", "no-status", "retained-status-counts", "wrong-device", "nothing-expected"],
)
def test_missing_streams(
    expected: frozenset[str], seen: list[tuple[str, bool]], missing: tuple[str, ...]
) -> None:
    target = Target(DEVICE, "s1", parse_streams(sorted(expected)))
    bodies = {"vitals": {"ts": T0_MS, "hr": 70}, "status": {"ts": T0_MS, "battery": 50}}
    state, _ = run([message(s, bodies[s], retained=r) for s, r in seen], target)
    summary = summarize(state, target, elapsed=timedelta(seconds=5))
    assert summary.missing == missing
    assert any("never seen" in w for w in summary.warnings) is bool(missing)


def test_nothing_received_fails() -> None:
    summary = summarize(CheckState(), TARGET, elapsed=timedelta(seconds=5))
    assert summary.messages == 0
    assert summary.missing == ("status", "vitals")
    assert summary.failures == ("no message at all: is the device connected and publishing?",)
    assert summary.exit_code() == 1
    assert format_summary(summary)[-1] == (
        "result: FAIL: no message at all: is the device connected and publishing?"
    )


def test_an_unprovisioned_device_fails_and_says_why() -> None:
    target = Target("stray-1", None)
    summary = summarize(CheckState(), target, elapsed=timedelta(seconds=5))
    assert summary.exit_code() == 1
    assert "stray-1 is not provisioned" in summary.failures[0]
    assert "carewatch device add" in format_summary(summary)[-1]


# --- exit code and text --------------------------------------------------------------------


def summary_of(bodies: list[dict[str, Any]]) -> Summary:
    state, _ = run([message("vitals", b) for b in bodies] + [message("status", {"battery": 9})])
    return summarize(state, TARGET, elapsed=timedelta(seconds=5))


# (vitals bodies, exit code, exit code with --strict)
EXITS: list[tuple[list[dict[str, Any]], int, int]] = [
    ([{"ts": T0_MS, "seq": 1, "hr": 70}, {"ts": T0_MS + 1, "seq": 2, "hr": 71}], 0, 0),
    ([{"ts": T0_MS, "seq": 1, "hr": 70}, {"ts": T0_MS + 1, "seq": 5, "hr": 71}], 0, 1),
    ([{"ts": T0_MS, "seq": 1, "hr": 70}, {"ts": T0_MS + 1, "seq": 2, "hr": 300}], 1, 1),
]


@pytest.mark.parametrize(
    ("bodies", "code", "strict_code"), EXITS, ids=["clean", "gap-warns", "rejected-fails"]
)
def test_exit_code(bodies: list[dict[str, Any]], code: int, strict_code: int) -> None:
    summary = summary_of(bodies)
    assert summary.exit_code() == code
    assert summary.exit_code(strict=True) == strict_code


def test_lines_name_the_reason_and_show_a_safe_payload() -> None:
    _, [good, bad] = run(
        [
            message("vitals", {"ts": T0_MS - 120, "seq": 4, "hr": 70}),
            message("vitals", b'{"ts": 1, "seq": 6}\x1b[2J'),
        ]
    )
    assert format_verdict(good) == "08:30:00.000  vitals    accepted  seq=4  skew=-0.12s  41 B"
    line = format_verdict(bad)
    assert line.startswith("08:30:00.000  vitals    REJECTED malformed_json: ")
    assert "seq=" not in line  # not readable JSON: no seq to take
    assert line.endswith('payload: {"ts": 1, "seq": 6}\\x1b[2J')  # the escape, spelled out
    assert all(c.isprintable() for c in line)

    summary = summarize(
        observe(observe(CheckState(), TARGET, message())[0], TARGET, message("vitals", b"{"))[0],
        TARGET,
        elapsed=timedelta(seconds=4),
    )
    text = "\n".join(format_summary(summary))
    assert "2 message(s), 1 accepted, 1 rejected" in text
    assert "rejected malformed_json: 1" in text
    assert "expected streams never seen: status" in text
    assert text.endswith("result: FAIL: 1 message(s) would be rejected")


def test_parse_streams() -> None:
    assert parse_streams(["vitals", "bed", "vitals"]) == frozenset({"vitals", "bed"})
    with pytest.raises(ValueError, match="'heartbeat'"):
        parse_streams(["vitals", "heartbeat"])


# --- safe preview --------------------------------------------------------------------------

# (payload, limit, preview)
PREVIEWS: list[tuple[bytes, int, str]] = [
    (b'{"hr": 72}', 256, '{"hr": 72}'),
    (b"\xff\xfe{", 256, "\\xff\\xfe{"),
    (b"a\nb\tc\x00d", 256, "a\\nb\\tc\\x00d"),
    (b"\x1b[31mred", 256, "\\x1b[31mred"),
    ("温度".encode(), 256, "温度"),
    ("温度".encode(), 4, "温"),  # the second character is cut: left out, not mangled
    ("温度".encode()[:4], 256, "温\\xe5"),  # a cut the device made itself shows
    ("a\u2028b".encode(), 256, "a\\u2028b"),
    (b"x" * 300, 256, "x" * 256),
]


@pytest.mark.parametrize(
    ("payload", "limit", "preview"),
    PREVIEWS,
    ids=[
        "json",
        "invalid-utf8",
        "control-chars",
        "ansi-escape",
        "cjk",
        "cut-at-limit",
        "cut-by-device",
        "line-separator",
        "long",
    ],
)
def test_safe_preview(payload: bytes, limit: int, preview: str) -> None:
    shown = safe_preview(payload, limit=limit)
    assert shown == preview
    assert shown.isprintable()
