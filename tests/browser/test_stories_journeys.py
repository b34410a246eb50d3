"""Provider staff's tender stories in the browser against the real services,
each page checked with axe (no serious or critical violation) and at 375 px:
enter a story, see the original beside the redaction (the original only in
that answer), decide each flag, record consent, export for that use, withdraw.
Another organisation's story is refused."""

from __future__ import annotations

import uuid

import pytest

from tests.browser.conftest import fits_375, no_serious_axe, sign_in

pytestmark = pytest.mark.infra
STORY = ("Mere Tipene (NHI ZVU27KZ) and her partner Sione came to CCSS in March. She lives "
         "in Kaikohe and her son goes to Kaikohe Area School. Ring Mere on 027 555 0199.")


def checked(page):
    assert no_serious_axe(page) == [], page.url
    assert fits_375(page) == [], page.url


def enter_story(page, title: str) -> str:
    """Enters STORY from the list page with the keyboard alone; the story's id."""
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Tender stories").click()
    page.wait_for_url("**/provider/stories")
    checked(page)
    page.get_by_label("Title").fill(title)
    page.get_by_label("The story").fill(STORY)
    page.get_by_role("button", name="Send for de-identification").focus()
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="The original").wait_for()
    return page.locator("form[action$='/approve']").get_attribute("action").split("/")[-2]


def test_enter_review_consent_export_and_withdraw_a_story(page, portal):
    title = f"Winter intake {uuid.uuid4().hex[:6]}"
    sign_in(page, portal.person("privacy-officer"))
    story_id = enter_story(page, title)

    original = page.locator("#original-text").inner_text()
    redacted = page.locator("#redacted-text").inner_text()
    assert "Mere Tipene" in original and "027 555 0199" in original
    assert "Mere" not in redacted and "0199" not in redacted and "[NAME_1]" in redacted
    checked(page)

    # the original is never kept: the story's own page shows only the redaction
    page.goto(f"/provider/stories/{story_id}")
    assert page.get_by_role("heading", name="The original").count() == 0
    assert "Tipene" not in page.content() and "0199" not in page.content()
    assert portal.log().count("Tipene") == 0

    # every flag must be decided: one left undecided is refused, naming it
    page.get_by_role("group", name="Flag 1: place, “Kaikohe”").get_by_label("Keep it").check()
    page.get_by_label("Why it is safe to keep (if kept)").first.fill("Many families live there")
    page.get_by_role("button", name="Approve the redacted text").click()
    assert "That was not accepted" in page.locator("main").inner_text()
    page.goto(f"/provider/stories/{story_id}")
    page.get_by_role("group", name="Flag 1: place, “Kaikohe”").get_by_label("Keep it").check()
    page.get_by_label("Why it is safe to keep (if kept)").first.fill("Many families live there")
    page.get_by_role("group", name="Flag 2: school, “Kaikohe Area School”").get_by_label(
        "Take it out").focus()
    page.keyboard.press("Space")  # the keyboard alone decides a flag and approves
    page.get_by_role("button", name="Approve the redacted text").focus()
    page.keyboard.press("Enter")
    assert "Approved" in page.get_by_role("status").inner_text()
    approved = page.locator("#redacted-text").inner_text()
    assert "Kaikohe Area School" not in approved and "[SCHOOL_1]" in approved
    assert "Kaikohe" in approved
    checked(page)

    page.get_by_label("Use", exact=True).first.select_option("tender")
    page.get_by_label("How they gave it").select_option("signed form")
    page.get_by_role("button", name="Record consent").click()
    page.wait_for_url(f"**/provider/stories/{story_id}")
    assert "tender: given" in page.locator("main").inner_text()
    checked(page)

    page.goto("/provider/stories")
    row = page.get_by_role("row").filter(has_text=title)
    assert "approved" in row.inner_text() and "tender" in row.inner_text()
    page.get_by_label("Use", exact=True).select_option("tender")
    page.get_by_label("Reference").fill("Tender 2026-14")
    with page.expect_download() as download:
        page.get_by_role("button", name="Export approved, consented stories").click()
    pack = open(download.value.path(), encoding="utf-8").read()
    assert "tender pack Tender 2026-14" in pack and title in pack and "[SCHOOL_1]" in pack
    assert "Tipene" not in pack

    page.goto(f"/provider/stories/{story_id}")
    page.get_by_label("How they withdrew it").select_option("phone call")
    page.get_by_role("button", name="Withdraw consent").click()
    said = page.get_by_role("status").inner_text()
    assert "Consent withdrawn" in said and "The Agency had received this story" in said
    assert "withdrawn" in page.locator("main").inner_text()
    checked(page)


def test_another_organisations_story_is_refused(page, portal, browser):
    sign_in(page, portal.person("privacy-officer"))
    story_id = enter_story(page, "Another's story")

    other = browser.new_context(base_url=portal.url).new_page()
    try:
        sign_in(other, portal.person("privacy-officer", org="other-ngo"))
        reply = other.goto(f"/provider/stories/{story_id}")
        assert reply.status == 404
        other.goto("/provider/stories")
        assert "Another's story" not in other.locator("main").inner_text()
        csrf = other.locator("input[name=csrf]").first.get_attribute("value")
        for action in ("consent", "withdraw", "approve"):
            posted = other.request.post(f"/provider/stories/{story_id}/{action}", form={
                "csrf": csrf, "use": "tender", "how": "verbal"})
            assert posted.status == 404, action
        unprotected = page.request.post(f"/provider/stories/{story_id}/consent", form={
            "use": "tender", "how": "verbal"})
        assert unprotected.status == 403
    finally:
        other.context.close()
