"""Fall settings: validated with errors that name the setting, frozen."""

from __future__ import annotations

import re

import pydantic
import pytest

from rules.fall_config import FallConfig


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"impact_g": 0.8}, "impact_g"),
        ({"orientation_change_deg": 200}, "orientation_change_deg"),
        ({"stillness_std_g": -0.1}, "stillness_std_g"),
        ({"cancel_window_s": -1}, "cancel_window_s"),
        ({"impact_threshold": 3}, "Extra inputs are not permitted"),
        ({"getup_deg": 50}, "getup_deg (50.0) must be below orientation_change_deg"),
        ({"long_lie_s": 20}, "long_lie_s (20.0) must be longer than cancel_window_s"),
        ({"drop_free_fall_g": 0.7}, "drop_free_fall_g (0.7) must be below free_fall_g"),
    ],
    ids=lambda v: str(v)[:40],
)
def test_config_is_validated_with_clear_errors(values: dict[str, float], message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=re.escape(message)):
        FallConfig.model_validate(values)


def test_config_defaults_load_and_are_frozen() -> None:
    config = FallConfig.model_validate({"cancel_window_s": 0})
    assert config.cancel_window_s == 0 and config.impact_g == 2.0
    with pytest.raises(pydantic.ValidationError):
        config.impact_g = 3.0  # type: ignore[misc]
