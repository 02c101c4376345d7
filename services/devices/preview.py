"""A safe preview of raw device bytes, for the dead-letter API and the conformance checker.

Pure. The preview is one line of printable text whatever the device sent: invalid UTF-8
shows as `\\xNN`, control and other unprintable characters as their escapes, so a payload can
neither break a JSON answer or a log line nor drive a terminal (no ANSI escapes pass).
"""

from __future__ import annotations

import codecs
from typing import Final

PREVIEW_BYTES: Final = 256


def safe_preview(payload: bytes, *, limit: int = PREVIEW_BYTES) -> str:
    """The first `limit` bytes of `payload` as printable text (see the module docstring)."""
    # An incremental decoder, not final: a character cut in two at `limit` is dropped rather
    # than shown as a stray `\xNN` that the device never sent.
    decoder = codecs.getincrementaldecoder("utf-8")(errors="backslashreplace")
    text = decoder.decode(payload[:limit], final=len(payload) <= limit)
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def _escape(char: str) -> str:
    return char.encode("unicode_escape").decode("ascii")
