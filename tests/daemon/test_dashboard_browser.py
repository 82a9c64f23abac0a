"""The dashboard in a real browser (headless Debian Chromium) against a live daemon on the fakes.

Few and quick on purpose: one browser for the module, a fresh context (so a
fresh sessionStorage) per test, waits bounded by Playwright's ``expect``.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from browser_rig import tab
from daemon_rig import MODEL, Req, Rig, StartRig, chat_body, free_port, poll
from playwright.sync_api import Browser, Page, expect
from typer.testing import CliRunner

from brb import control
from brb.cli.main import app as cli_app
from brb.sim.ollama import FakeOllama
from brb.sim.server import serve_in_thread

TOKEN = "dashboard-test-token"
PRESSED_WITHIN_MS = 2000  # the promise: a shell press is on the page within 2 s
WAIT_MS = 8000  # generous: the machine is shared


def fill_token_and_confirm(page: Page, token: str) -> None:
    dialog = page.locator("#token-dialog")
    expect(dialog).to_be_visible()
    page.fill("#token-input", token)
    dialog.get_by_role("button", name="Use this token").click()
    expect(page.locator("#confirm-dialog")).to_be_visible()
    page.click("#confirm-ok")


def test_page_loads_clean_and_shows_state_queue_spend_and_why_the_button_is_off(
    brb: Rig, browser: Browser
) -> None:
    assert brb.ask().status == 200  # the model now has a queue entry
    with tab(browser) as t:
        page = t.open(brb.url)
        expect(page.locator("#state")).to_have_text("STANDBY", timeout=WAIT_MS)
        expect(page.locator("#mode")).to_have_text("auto")
        expect(page.locator("#queue-total")).to_have_text("0")
        expect(page.locator(f"#model-{MODEL} .model-name")).to_have_text(MODEL)
        expect(page.locator(f"#model-{MODEL} svg.spark")).to_have_count(1)
        expect(page.locator("#upstreams")).to_be_hidden()  # one upstream: no per-upstream lines
        expect(page.locator("#spent")).to_have_text("$0.00")
        expect(page.locator("#limit")).to_have_text("$100.00")
        expect(page.locator("#bar-marks .mark-label")).to_have_text(["80%"])
        expect(page.locator("#providers")).to_contain_text("anthropic")
        expect(page.locator("#events")).to_contain_text("daemon_start")
        # no token configured on the daemon: the button is off, and says why
        expect(page.locator("#press")).to_be_disabled()
        expect(page.locator("#controls-off")).to_contain_text("BRB_ADMIN_TOKEN")
        expect(page.locator("#conn")).to_have_attribute("data-conn", "live", timeout=WAIT_MS)
        assert t.console_errors == []
        assert t.outside_requests == []
        assert any(u.endswith("/static/dashboard.js") for u in t.urls)


def test_a_cli_press_shows_pressed_within_2_s(brb: Rig, browser: Browser) -> None:
    with tab(browser) as t:
        page = t.open(brb.url)
        expect(page.locator("#state")).to_have_text("STANDBY", timeout=WAIT_MS)
        result = CliRunner().invoke(
            cli_app, ["press", "--db", str(brb.db), "--reason", "from the shell", "--for", "10m"]
        )
        assert result.exit_code == 0, result.output
        expect(page.locator("#state")).to_have_text("PRESSED", timeout=PRESSED_WITHIN_MS)
        expect(page.locator("#why")).to_contain_text("from the shell")
        expect(page.locator("#until")).to_contain_text("in ")
        expect(page.locator("#incident-facts")).to_be_visible()


def test_the_button_presses_with_the_admin_token(
    brb: Rig, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRB_ADMIN_TOKEN", TOKEN)
    with tab(browser) as t:
        page = t.open(brb.url)
        expect(page.locator("#press")).to_be_enabled(timeout=WAIT_MS)
        # by keyboard alone: type in the form, Enter presses, the dialogs take Enter and Tab
        page.focus("#press-for")
        page.keyboard.press("Control+A")
        page.keyboard.type("15m")
        page.keyboard.press("Tab")
        page.keyboard.press("Control+A")
        page.keyboard.type("pressed in the browser test")
        page.keyboard.press("Enter")
        expect(page.locator("#token-dialog")).to_be_visible()
        expect(page.locator("#token-input")).to_be_focused()
        page.keyboard.type(TOKEN)
        page.keyboard.press("Enter")
        expect(page.locator("#confirm-dialog")).to_be_visible()
        expect(page.locator("#confirm-dialog [data-cancel]")).to_be_focused()  # safe default
        page.keyboard.press("Tab")
        expect(page.locator("#confirm-ok")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator("#result")).to_contain_text("Pressed until", timeout=WAIT_MS)
        expect(page.locator("#state")).to_have_text("PRESSED")
        status = brb.status()
        assert status["mode"] == "on" and "pressed in the browser test" in status["reason"]
        assert status["override_until"] is not None
        # asked once per session: the release needs no token again, only a confirmation
        page.click("#release")
        expect(page.locator("#token-dialog")).to_be_hidden()
        page.click("#confirm-ok")
        expect(page.locator("#state")).to_have_text("STANDBY", timeout=WAIT_MS)
        assert brb.status()["mode"] == "auto"
        assert page.evaluate("document.cookie") == ""
        assert TOKEN not in page.url


def test_a_wrong_token_shows_the_error_and_changes_nothing(
    brb: Rig, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRB_ADMIN_TOKEN", TOKEN)
    with tab(browser) as t:
        page = t.open(brb.url)
        expect(page.locator("#press")).to_be_enabled(timeout=WAIT_MS)
        page.click("#press")
        fill_token_and_confirm(page, "not-the-token")
        expect(page.locator("#result")).to_contain_text("Wrong admin token", timeout=WAIT_MS)
        assert page.locator("#result").get_attribute("data-kind") == "error"
        expect(page.locator("#state")).to_have_text("STANDBY")
        assert brb.status()["mode"] == "auto"
        assert brb.events("press", "press_noop") == []
        # the wrong token is not kept: the next press asks again
        assert page.evaluate("sessionStorage.length") == 0
        page.click("#press")
        expect(page.locator("#token-dialog")).to_be_visible()
        page.keyboard.press("Escape")  # backing out is always possible, and changes nothing
        expect(page.locator("#result")).to_contain_text("nothing changed")
        assert brb.status()["mode"] == "auto"


def test_a_burst_shows_the_queue_rising_and_active(start_brb: StartRig, browser: Browser) -> None:
    rig = start_brb(
        ollama=FakeOllama(service_s=0.6),
        thresholds={"queue_depth": 2, "wait_time_seconds": 30, "min_active_seconds": 1},
    )
    local_only = {"X-BRB-Local-Only": "1"}  # they queue locally: nothing drains the queue early
    burst = [Req("/api/chat", chat_body("/api/chat", f"burst {i}"), local_only) for i in range(8)]
    with tab(browser) as t:
        page = t.open(rig.url)
        expect(page.locator("#state")).to_have_text("STANDBY", timeout=WAIT_MS)
        answers: list[int] = []
        sender = threading.Thread(target=lambda: answers.extend(a.status for a in rig.burst(burst)))
        sender.start()
        try:
            expect(page.locator("#state")).to_have_text("ACTIVE", timeout=WAIT_MS)
            page.wait_for_function(
                "Number(document.getElementById('queue-total').textContent) >= 2",
                timeout=WAIT_MS,
            )
            expect(page.locator(f"#model-{MODEL} .model-figures")).to_contain_text("waiting")
        finally:
            sender.join(30)
        assert answers == [200] * len(burst)


def test_the_stream_reconnects_after_a_daemon_restart(
    start_brb: StartRig, browser: Browser
) -> None:
    listen = f"127.0.0.1:{free_port()}"
    first = start_brb(listen=listen)
    with tab(browser) as t:
        page = t.open(first.url)
        conn = page.locator("#conn")
        expect(conn).to_have_attribute("data-conn", "live", timeout=WAIT_MS)
        expect(page.locator("#state")).to_have_text("STANDBY")
        assert first.stop() is None  # the open stream does not hold up the stop
        expect(conn).to_have_attribute("data-conn", "lost", timeout=WAIT_MS)
        expect(conn).to_contain_text("reconnecting")
        with first.store() as store:  # pressed while the daemon was down
            control.press(store, now=datetime.now(UTC), source="test", who="pytest")
        second = start_brb(listen=listen, db=first.db)
        assert second.url == first.url
        # back on the stream by itself (not just polling), showing the new daemon's picture
        expect(conn).to_have_attribute("data-conn", "live", timeout=WAIT_MS)
        expect(page.locator("#state")).to_have_text("PRESSED", timeout=WAIT_MS)
        assert t.outside_requests == []


def test_a_two_upstream_pool_lists_each_upstream_with_its_health(
    start_brb: StartRig, browser: Browser
) -> None:
    pool = [
        {"name": "gpu-a", "url": "", "parallel": 1},
        {"name": "gpu-b", "url": "", "parallel": 1},
    ]
    with serve_in_thread(FakeOllama().app(), port=free_port()) as url_a:
        with serve_in_thread(FakeOllama().app(), port=free_port()) as url_b:
            pool[0]["url"], pool[1]["url"] = url_a, url_b
            rig = start_brb(upstreams=pool, health_check_seconds=0.3)
            assert rig.ask().status == 200
        # gpu-b has stopped: the probe marks it down while gpu-a stays up
        poll(
            lambda: (
                {u["name"]: u["healthy"] for u in rig.status()["upstreams"]}
                == {"gpu-a": True, "gpu-b": False}
            ),
            timeout_s=10,
        )
        with tab(browser) as t:
            page = t.open(rig.url)
            lines = page.locator("#upstreams li.upstream")
            expect(lines).to_have_count(2, timeout=WAIT_MS)
            expect(lines.locator(".upstream-name")).to_have_text(["gpu-a", "gpu-b"])
            # health in words and a symbol, not colour alone
            expect(lines.locator(".upstream-health")).to_have_text(["✓ up", "✕ down"])
            expect(lines.nth(0).locator(".upstream-figures")).to_contain_text("in flight")
            expect(lines.nth(0).locator(".upstream-figures")).to_contain_text("next would wait")
            assert t.console_errors == []
            assert t.outside_requests == []
