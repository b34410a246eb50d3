"""Signing in as a person does, in the browser: the password, the code from
an authenticator app, the home page for their role, signing out; with the
keyboard alone; every page checked with axe and at 375 px."""

from __future__ import annotations

import pytest

from tests.browser.conftest import fits_375, no_serious_axe, sign_in

pytestmark = pytest.mark.infra


def test_sign_in_with_the_second_factor_then_sign_out(page, portal):
    who = portal.person("privacy-officer")
    page.goto("/")
    assert page.url.endswith("/sign-in"), "a signed-out browser is sent to sign in"
    assert no_serious_axe(page) == []
    assert fits_375(page) == []

    page.get_by_label("Staff id").fill(who.id)
    page.get_by_label("Password").fill(who.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/sign-in/code")
    assert no_serious_axe(page) == []
    page.get_by_label("Code from your authenticator app").fill("000000")
    page.get_by_role("button", name="Continue").click()
    assert "That code is not right" in page.get_by_role("alert").inner_text()
    page.get_by_label("Code from your authenticator app").fill(who.code())
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/")
    assert "Kia ora Test Privacy-Officer" in page.inner_text("main")
    assert no_serious_axe(page) == []
    assert fits_375(page) == []
    cookie = next(c for c in page.context.cookies() if c["name"] == "tiaki_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/sign-in?m=out")
    assert "You are signed out" in page.inner_text("main")
    page.goto("/account")
    assert page.url.endswith("/sign-in"), "the old session is over"


def test_a_role_without_families_information_signs_in_with_the_password_alone(page, portal):
    who = portal.person("board-member")
    sign_in(page, who)
    assert "board-member" in page.inner_text("main")


def test_sign_in_with_the_keyboard_alone(page, portal):
    who = portal.person("reporting-admin")
    page.goto("/sign-in")
    page.keyboard.press("Tab")  # the skip link first
    assert page.evaluate("document.activeElement.textContent") == "Skip to the content"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "staff_id"
    page.keyboard.type(who.id)
    page.keyboard.press("Tab")
    page.keyboard.type(who.password)
    page.keyboard.press("Enter")
    page.wait_for_url("**/sign-in/code")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "code"
    page.keyboard.type(who.code())
    page.keyboard.press("Enter")
    page.wait_for_url("**/")
    assert "Kia ora" in page.inner_text("main")
