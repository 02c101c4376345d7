"""The login session in a real browser: tokens live in sessionStorage, the access token is
refreshed before it runs out (the page's clock is moved on, not waited for), and logging out
revokes the refresh token."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from tests.support import SITE, UNIT, login_as
from tests.web.conftest import log_in

pytestmark = pytest.mark.services

NURSE = "web-session-nurse"


def stored(page: Page) -> dict[str, Any]:
    found: dict[str, Any] = page.evaluate("JSON.parse(sessionStorage.getItem('carewatch.session'))")
    return found


def test_the_token_is_refreshed_before_it_expires_and_log_out_revokes_it(
    open_page: Any, api: TestClient, ward: str
) -> None:
    login_as(api, NURSE, "caregiver", site=SITE, units=(UNIT,))
    page: Page = open_page()
    page.clock.install()
    log_in(page, NURSE)
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    first = stored(page)
    lifetime_ms = first["expiresAt"] - first["issuedAt"]
    assert lifetime_ms == 15 * 60 * 1000

    # A minute before expiry the page trades its refresh token for a new pair by itself.
    with page.expect_response(re.compile(r"/api/v1/auth/refresh$")) as refreshed:
        page.clock.fast_forward(lifetime_ms - 55_000)
    assert refreshed.value.status == 200
    # The response has arrived; the page stores the new pair only once it has read the body:
    # wait for that (reading sessionStorage at once raced it, about one run in eight).
    page.wait_for_function(
        "old => JSON.parse(sessionStorage.getItem('carewatch.session'))?.access !== old",
        arg=first["access"],
        polling=50,
        timeout=10_000,
    )
    second = stored(page)
    assert second["access"] != first["access"] and second["refresh"] != first["refresh"]
    assert page.evaluate("window.location.pathname") == "/board"

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/login$"))
    assert page.evaluate("sessionStorage.getItem('carewatch.session')") is None
    again = api.post(
        "/api/v1/auth/refresh",
        json={"refresh_token": second["refresh"]},
        headers={"Authorization": ""},
    )
    assert again.status_code == 401
    # Without a session every page sends the browser to the login, and back after it.
    page.goto("/referrals")
    page.wait_for_url(re.compile(r"/login\?next=%2Freferrals$"))


# The page's fetch, wrapped: the answer to a refresh reaches the page only when the test says.
HOLD_REFRESH = """
const realFetch = window.fetch;
window.heldRefresh = null;
window.fetch = async (input, init) => {
  const response = await realFetch(input, init);
  if (String(input).endsWith('/api/v1/auth/refresh')) {
    const body = await response.clone().json();
    await new Promise((release) => { window.heldRefresh = { body, release }; });
  }
  return response;
};
"""


def test_log_out_during_a_refresh_ends_the_pair_the_refresh_brings(
    open_page: Any, api: TestClient, ward: str
) -> None:
    login_as(api, NURSE, "caregiver", site=SITE, units=(UNIT,))
    page: Page = open_page()
    page.add_init_script(HOLD_REFRESH)
    page.clock.install()
    log_in(page, NURSE)
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    first = stored(page)
    # The server has answered the refresh (the old refresh token is spent), but the answer
    # reaches the page only after the user has pressed "Log out".
    page.clock.fast_forward(first["expiresAt"] - first["issuedAt"] - 55_000)
    page.wait_for_function("() => window.heldRefresh !== null", polling=50, timeout=10_000)
    fresh = page.evaluate("window.heldRefresh.body.refresh_token")
    with page.expect_request(re.compile(r"/api/v1/auth/logout$")) as logged_out:
        page.get_by_role("button", name="Log out").click()
        page.evaluate("window.heldRefresh.release()")
    assert logged_out.value.post_data_json == {"refresh_token": fresh}
    page.wait_for_url(re.compile(r"/login$"))
    assert page.evaluate("sessionStorage.getItem('carewatch.session')") is None
    again = api.post(
        "/api/v1/auth/refresh", json={"refresh_token": fresh}, headers={"Authorization": ""}
    )
    assert again.status_code == 401
