"""`make screenshots`: docs/screenshots/*.png of the portal's main pages, taken in
headless Chromium against the real services with the example programme, a
quarter uploaded through the portal and an access request answered."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import yaml

from tests.browser.conftest import CHROMIUM, portal_on_stack, sign_in
from tests.e2e.journey import quarter
from tests.stack import ROOT
from tiaki.core.clock import nz_today
from tiaki.requests.v1 import requests_pb2 as rpb

OUT = ROOT / "docs" / "screenshots"


def main():
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="portal-shots-"))
    with portal_on_stack(tmp) as (stack, portal):
        stack.create_plan(yaml.safe_load((ROOT / "programmes" / "best-foot-forward.yaml").read_text()))
        rows = quarter(40, seed=3, quarter="2026Q3")
        rows[5]["goals_met"] = "nearly"
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        (tmp / "2026Q3.csv").write_text(text.getvalue())
        OUT.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_context(base_url=portal.url,
                                       viewport={"width": 1100, "height": 800}).new_page()

            def shot(name: str):
                page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
                print(f"docs/screenshots/{name}.png")

            page.goto("/sign-in")
            shot("sign-in")
            sign_in(page, portal.person("privacy-officer"))
            page.goto("/provider/upload?period=2026Q3")
            page.get_by_label("The quarter's CSV file").set_input_files(str(tmp / "2026Q3.csv"))
            page.get_by_role("button", name="Upload and send").click()
            page.wait_for_url("**/provider/uploads/**")
            shot("provider-upload-result")
            stack.wait_for(lambda: stack.unit_deliveries("evaluation"), what="the deliveries")
            opened = stack.requests().OpenAccessRequest(rpb.OpenAccessRequestRequest(
                programme_id="best-foot-forward", client_ref=rows[1]["client_ref"],
                requester="Whānau of client 1", authorisation="signed consent form",
                received=nz_today().isoformat()), metadata=stack.metadata("provider", "ccss"))
            stack.wait_for(lambda: stack.requests().GetRequest(rpb.GetRequestRequest(
                request_id=opened.request.request_id), metadata=stack.metadata("provider", "ccss"))
                .request.state == rpb.REQUEST_STATE_COMPLETE, what="the answer")
            for name, path in (("provider-home", "/provider?period=2026Q3"),
                               ("provider-requests", "/provider/requests"),
                               ("provider-request", f"/provider/requests/{opened.request.request_id}"),
                               ("provider-outcomes", "/provider/outcomes"),
                               ("provider-agreement", "/provider/agreement"),
                               ("provider-letter", "/provider/letter")):
                page.goto(path)
                shot(name)
            page.set_viewport_size({"width": 375, "height": 800})
            page.goto("/provider?period=2026Q3")
            shot("provider-home-375px")
            browser.close()


if __name__ == "__main__":
    main()
