"""The web chat at ``/`` in a real headless Chromium (Debian's ``chromium``, driven by Python
playwright): streamed replies, conversations, and the "what I remember about you" panel that
updates after every turn, where a trait is corrected or deleted, the last reply corrected, and
everything forgotten. A screenshot of the panel is checked and kept in ``out/web_chat.png``."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from fakes import RecordingChatModel
from test_service import _Server

from agent.service import create_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
OUT = Path(__file__).resolve().parents[1] / "out"

playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `apt-get install -y chromium` (.ci/run does)")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--no-sandbox", "--disable-gpu",
                                    "--disable-background-networking"])
        yield b
        b.close()


@pytest.fixture
def page(browser, make_bot):
    bot = make_bot(chat_model=RecordingChatModel(replies=[
        "Pixel is a lovely name for a cat.", "Your cat is called Pixel.", "Noted."]),
        personas={"extractor": "rules"})
    with _Server(create_app(bot)) as http:
        tab = browser.new_page(viewport={"width": 1280, "height": 800})
        tab.on("dialog", lambda d: d.accept())
        tab.goto(http.base_url.join("/").__str__())
        tab.fill("#user", "pat")
        tab.dispatch_event("#user", "change")
        yield tab, bot
        tab.close()


def _send(tab, text, replies_before):
    tab.fill("#message", text)
    tab.click("#send")
    tab.wait_for_function(f"document.querySelectorAll('#messages li.agent').length > "
                          f"{replies_before} && !document.getElementById('send').disabled")


def _dark_pixels(png: bytes) -> int:
    from PIL import Image

    gray = Image.open(io.BytesIO(png)).convert("L")
    return sum(1 for v in gray.getdata() if v < 128)


def test_a_turn_streams_and_the_panel_shows_what_was_told(page):
    tab, bot = page
    empty = tab.locator("#traits").screenshot()
    assert tab.locator("#traits li.empty").count() == 1
    _send(tab, "My cat is called Pixel.", 0)
    tab.wait_for_selector("#traits li[data-id]")
    assert tab.locator("#messages li.agent").last.inner_text() == \
        "Pixel is a lovely name for a cat."
    assert tab.locator("#traits li[data-id] .text").all_inner_texts() == ["My cat is called Pixel."]
    shot = tab.locator("#panel").screenshot()
    OUT.mkdir(exist_ok=True)
    (OUT / "web_chat.png").write_bytes(tab.screenshot(full_page=True))
    told = tab.locator("#traits").screenshot()
    assert told != empty and _dark_pixels(told) > _dark_pixels(empty) + 50
    assert _dark_pixels(shot) > 500  # the panel is drawn, with text
    assert [t.text for t in bot.persona("pat")] == ["My cat is called Pixel."]


def test_conversations_are_listed_made_and_switched(page):
    tab, bot = page
    _send(tab, "My cat is called Pixel.", 0)
    tab.click("#new-conversation")
    tab.wait_for_selector("#messages[data-conversation^='c-']")
    assert tab.locator("#conversations li").count() == 2
    assert tab.locator("#messages li").count() == 0  # a fresh thread
    _send(tab, "What is my cat called?", 0)
    convs = bot.list_conversations("pat")
    assert len(convs) == 2 and bot.memories("pat", conversation=convs[0].id).session_turns
    tab.click("#conversations li[data-id='default']")
    tab.wait_for_selector("#messages[data-conversation='default']")
    assert tab.locator("#messages li").count() == 2
    assert tab.locator("#messages li.user").first.inner_text() == "My cat is called Pixel."


def test_traits_are_corrected_and_deleted_replies_corrected_and_all_forgotten(page):
    tab, bot = page
    _send(tab, "My cat is called Pixel.", 0)
    tab.wait_for_selector("#traits li[data-id]")
    tab.click("#traits li[data-id] button:has-text('edit')")
    tab.fill("#traits input.edit", "My cat is called Pixie.")
    tab.click("#traits button:has-text('save')")
    tab.wait_for_selector("#traits .history")
    assert tab.locator("#traits li[data-id] .text").inner_text() == "My cat is called Pixie."
    assert tab.locator("#traits .history").inner_text() == "My cat is called Pixel."
    tab.click("#correct-last")
    tab.fill("#correction", "Say less about names.")
    tab.click("#save-correction")
    tab.wait_for_selector("#corrections li:not(.empty)")
    assert "Say less about names." in tab.locator("#corrections").inner_text()
    assert [f.feedback for f in bot.memory.feedback.list("pat")] == ["Say less about names."]
    tab.click("#traits li[data-id] button:has-text('×')")
    tab.wait_for_selector("#traits li.empty")
    assert bot.persona("pat") == []
    tab.click("#forget")  # the confirm dialog is accepted
    tab.wait_for_function("document.getElementById('status').textContent == 'Forgotten.'")
    assert not bot.known_user("pat")
    assert tab.locator("#corrections li.empty").count() == 1


def test_with_api_keys_the_page_asks_for_one_and_uses_its_tenant(browser, make_bot):
    from agent import Scope
    from agent.service.auth import ApiKeys

    keys = ApiKeys()
    keys.add("kdr_web-test-key-0000000000", "acme")
    bot = make_bot(chat_model=RecordingChatModel(replies=["Noted."]),
                   personas={"extractor": "rules"})
    with _Server(create_app(bot, keys=keys)) as http:
        tab = browser.new_page()
        tab.goto(str(http.base_url.join("/")))
        assert tab.locator("#key-label").is_visible()
        tab.fill("#user", "pat")
        tab.dispatch_event("#user", "change")
        tab.fill("#message", "My cat is called Pixel.")
        tab.click("#send")
        tab.wait_for_selector("#messages li.error")
        assert "API key" in tab.locator("#messages li.error").inner_text()
        assert not bot.known_user(Scope("pat", "acme"))
        tab.fill("#key", "kdr_web-test-key-0000000000")
        tab.dispatch_event("#key", "change")
        _send(tab, "My cat is called Pixel.", 0)
        tab.wait_for_selector("#traits li[data-id]")
        assert [t.text for t in bot.persona(Scope("pat", "acme"))] == ["My cat is called Pixel."]
        assert not bot.known_user("pat")  # the default tenant's pat is someone else
        tab.close()
