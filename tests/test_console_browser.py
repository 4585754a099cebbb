"""The admin console in a real browser (Playwright driving Debian's Chromium) against the app on the
local host, the CI simulator, Azurite and the callback receiver.

Screenshots of the main views go to ``.dev/screenshots/`` (git-ignored) for a reviewer to look at:
the page holds no key (the key field is a password field, emptied once used) and shows callback
URLs only redacted.
"""
from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any, Iterator

import playwright.sync_api as playwright_api
import pytest

from ciconnector.storage import clients
from ciconnector.storage.activity import ACTIVITY
from ciconnector.storage.connection import resolve
from dev.cisim import SAMPLE_INSTANCE_ID as INSTANCE

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[1] / ".dev" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.usefixtures("clean_app_state", "clean_activity")


@pytest.fixture
def clean_activity(app_host: Any, app_env: dict[str, str]) -> None:
    """Empty the console's activity table (the shared fixture empties the engine's tables)."""
    service = clients.table_service(resolve(environ=app_env))
    if ACTIVITY in {t.name for t in service.list_tables()}:
        table = service.get_table_client(ACTIVITY)
        for entity in table.list_entities(select=["PartitionKey", "RowKey"]):
            table.delete_entity(entity["PartitionKey"], entity["RowKey"])


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    with playwright_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def open_console(page: Any, host: Any, key: str) -> Any:
    """Load the page and sign in with ``key`` from the keyboard; returns the page response."""
    response = page.goto(host.url("/api/console"))
    page.get_by_label("Master key").focus()
    page.keyboard.type(key)
    page.keyboard.press("Enter")
    return response


def signed_in(page: Any, host: Any) -> None:
    open_console(page, host, host.master_key)
    page.get_by_role("heading", name="Instances").wait_for()


def instance_row(page: Any) -> Any:
    return page.locator("table.instances tbody tr", has=page.locator(f"text={INSTANCE}"))


def shoot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    assert not re.search(r"sig=(?!REDACTED)", page.content())


def subscribe(host: Any, receiver: Any, kind: str, name: str, **parameters: Any) -> dict:
    response = host.request("POST", f"/api/instances/{INSTANCE}/triggers/{kind}/subscriptions",
                            json={"callbackUrl": receiver.callback_url(name), **parameters})
    assert response.status_code == 201, response.text
    return response.json()


def poll_now(host: Any) -> None:
    response = host.invoke("PollInstance", json.dumps({"instanceId": INSTANCE}))
    assert response.status_code < 300, response.text


def flow() -> str:
    return f"flow-{uuid.uuid4().hex[:12]}"


def test_page_renders_the_sample_instance(app_host, receiver, page):
    subscribe(app_host, receiver, "dataSourceRefreshFailed", flow())
    subscribe(app_host, receiver, "segmentThresholdCrossed", flow(), segmentName="HighValueCustomers", threshold=10)
    poll_now(app_host)
    response = open_console(page, app_host, app_host.master_key)
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    page.get_by_role("heading", name="Instances").wait_for()
    row = instance_row(page)
    playwright_api.expect(row).to_contain_text("OK")
    playwright_api.expect(row).to_contain_text("just now")
    playwright_api.expect(row).to_contain_text("2 calls, 0 failed")  # the job history, segments
    playwright_api.expect(row).to_contain_text("1 × Data source refresh fails")
    subscriptions = page.locator("table.subscriptions tbody tr")
    playwright_api.expect(subscriptions).to_have_count(2)
    callback = subscriptions.first.locator("code.url")
    playwright_api.expect(callback).to_have_attribute("title", re.compile("sig=REDACTED$"))
    playwright_api.expect(page.locator("#connector")).to_contain_text(
        f"{app_host.base_url}/api/connector/apiDefinition.swagger.json")
    assert app_host.master_key not in page.content()
    shoot(page, "console-desktop")
    page.set_viewport_size(PHONE)
    shoot(page, "console-phone")


def test_refresh_failure_appears_after_a_poll(app_host, receiver, ci_sim, page):
    name = flow()
    subscribe(app_host, receiver, "dataSourceRefreshFailed", name)
    poll_now(app_host)
    signed_in(page, app_host)
    latest = instance_row(page).locator('td[data-label="Latest event"]')
    playwright_api.expect(latest).to_have_text("none")
    ci_sim.control.start_refresh("Loyalty")
    ci_sim.control.fail_refresh("Loyalty", "The source storage account refused the connection.")
    poll_now(app_host)
    receiver.wait_for(name)
    page.get_by_role("button", name="Refresh").click()
    playwright_api.expect(latest).to_contain_text("Data source refresh fails — Loyalty program · failed")
    playwright_api.expect(page.locator("table.subscriptions")).to_contain_text("sent")
    shoot(page, "console-after-failed-refresh")
    page.set_viewport_size(PHONE)
    shoot(page, "console-after-failed-refresh-phone")


def test_ci_failure_is_a_problem_listed_first(app_host, receiver, ci_sim, page):
    subscribe(app_host, receiver, "dataSourceRefreshFailed", flow())
    ci_sim.control.add_fault(r"/jobs$", 500, times=10)
    poll_now(app_host)
    signed_in(page, app_host)
    row = page.locator("table.instances tbody tr").first
    playwright_api.expect(row).to_contain_text(INSTANCE)
    playwright_api.expect(row).to_contain_text("Problem")
    playwright_api.expect(row).to_contain_text("last poll could not read jobs from CI")
    playwright_api.expect(row).to_contain_text("1 of 1 CI calls failed in the last hour")  # the job history


def test_dead_letter_replayed_from_the_page_is_delivered(app_host, receiver, page):
    name = flow()
    receiver.script(name, [400])  # the flow refuses the payload: a dead letter at once
    created = subscribe(app_host, receiver, "dataSourceRefreshFailed", name)
    test = app_host.request("POST", f"/api/instances/{INSTANCE}/subscriptions/{created['subscriptionId']}/test",
                            key="master")
    assert test.status_code == 202
    receiver.wait_for(name, accepted=False)
    signed_in(page, app_host)
    for _ in range(20):  # the dead letter is written just after the answer arrives
        if page.locator("table.deadletters tbody tr").count():
            break
        page.wait_for_timeout(500)
        page.get_by_role("button", name="Refresh").click()
    playwright_api.expect(instance_row(page)).to_contain_text("1 dead letter")
    letters = page.locator("table.deadletters tbody tr")
    playwright_api.expect(letters).to_have_count(1)
    playwright_api.expect(letters).to_contain_text("callback refused the notification (HTTP 400)")
    shoot(page, "console-dead-letter")

    dialogs: list[str] = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    letters.get_by_role("button", name="Replay").focus()
    page.keyboard.press("Enter")
    playwright_api.expect(page.locator("#status")).to_contain_text("Queued event")
    assert dialogs and dialogs[0].startswith("Replay event")
    [note] = receiver.wait_for(name)
    assert note.body["isTest"] is True and note.body["eventId"] == test.json()["eventId"]
    playwright_api.expect(page.locator("table.deadletters")).to_have_count(0)
    shoot(page, "console-after-replay")


def test_a_makers_function_key_is_refused(app_host, page):
    open_console(page, app_host, app_host.function_key)
    playwright_api.expect(page.locator("#status")).to_contain_text("needs the master key")
    playwright_api.expect(page.get_by_label("Master key")).to_be_visible()
    assert page.locator("table").count() == 0
    for method, path in [("GET", "/api/console/overview"), ("GET", "/api/console/view"),
                         ("POST", f"/api/console/instances/{INSTANCE}/deadletters/replay"),
                         ("POST", f"/api/console/instances/{INSTANCE}/subscriptions/{uuid.uuid4().hex}/enable")]:
        assert app_host.request(method, path).status_code == 401, path
        assert app_host.request(method, path, key=None).status_code == 401, path
    assert app_host.request("GET", "/api/console/overview", key="master").status_code == 200
    shoot(page, "console-key-refused")


@pytest.fixture(scope="module")
def entra_host(funchost_factory: Any, app_env: dict[str, str]) -> Iterator[Any]:
    host = funchost_factory.start(env={**app_env, "AUTH_MODE": "entra"})
    yield host
    host.stop()


def test_entra_mode_signs_in_with_an_admin_token(entra_host, ci_sim, page):
    """In Entra mode the page sends a pasted access token as ``Authorization: Bearer``; the master key
    and a maker's token (no admin app role) are refused."""
    sent: list[dict[str, str]] = []
    page.on("request", lambda r: sent.append(r.headers) if "/api/console/view" in r.url else None)
    open_console(page, entra_host, entra_host.master_key)
    playwright_api.expect(page.locator("#status")).to_contain_text("was refused")
    open_console(page, entra_host, ci_sim.control.user_token("maker"))
    playwright_api.expect(page.locator("#status")).to_contain_text("AdminRoleRequired")
    admin = ci_sim.control.user_token("admin")
    open_console(page, entra_host, f"Bearer {admin}")
    page.get_by_role("heading", name="Instances").wait_for()
    assert sent[0].get("x-functions-key") == entra_host.master_key and "authorization" not in sent[0]
    assert sent[-1]["authorization"] == f"Bearer {admin}" and "x-functions-key" not in sent[-1]
    assert admin not in page.content() and page.evaluate("Object.keys(localStorage).length") == 0
    shoot(page, "console-entra")
