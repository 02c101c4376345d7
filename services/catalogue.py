"""The one text catalogue of every surface a person reads: the web pages load
services/api/web/i18n/{en,zh}.json in the browser; pages, notices and the acknowledgement page
are rendered from the same files here (their keys under `pages.*` and `ack.*`, the rest shared:
rule names, severities, outcomes, NEWS2 parameters and units).

Languages are the care team document's codes (`zh-CN`, `en`); `zh-CN` is the product default."""

from __future__ import annotations

import json
import string
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Final, Literal, get_args

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "Language", "catalogue", "has", "text"]

Language = Literal["zh-CN", "en"]
LANGUAGES: Final[tuple[Language, ...]] = get_args(Language)
DEFAULT_LANGUAGE: Final[Language] = "zh-CN"

DIRECTORY: Final = Path(__file__).resolve().parent / "api" / "web" / "i18n"
FILES: Final[Mapping[Language, str]] = {"zh-CN": "zh.json", "en": "en.json"}


@cache
def catalogue(language: Language) -> Mapping[str, str]:
    """Every key of one language (read once; the files ship with the code)."""
    data = json.loads((DIRECTORY / FILES[language]).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{FILES[language]}: not a JSON object")
    return {str(k): str(v) for k, v in data.items()}


def has(language: Language, key: str) -> bool:
    return key in catalogue(language)


class _Params(dict[str, object]):
    def __missing__(self, key: str) -> str:
        # A placeholder the caller did not fill shows as itself, never as a crash at 3 a.m.
        return "{" + key + "}"


def text(language: Language, key: str, /, **params: object) -> str:
    """The entry `key` with its `{placeholders}` filled. A key missing in `language` falls back
    to English, then to the key itself (the completeness test keeps both full)."""
    template = catalogue(language).get(key) or catalogue("en").get(key) or key
    return string.Formatter().vformat(template, (), _Params(params))
