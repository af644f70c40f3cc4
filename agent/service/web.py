"""The web chat at ``/``: plain HTML and JavaScript served by the app (no build step).

Why plain files: the page is a client of the same public routes any app uses (the NDJSON chat
stream, conversations, persona, memories, feedback, forget), so it needs nothing the API does not
already offer, installs with the package, and is tested in a real browser
(``tests/test_web_chat.py``). Every user-supplied text is put into the page as text, never as
HTML.
"""

from __future__ import annotations

import html
import json
from importlib.resources import files

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from agent.kindred import Kindred

__all__ = ["STATIC", "add_web_routes"]

STATIC = files("agent.service") / "static"


def add_web_routes(app: FastAPI, bot: Kindred, *, needs_key: bool) -> None:
    """``/`` (the page) and ``/static/…`` (its script and style)."""
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    config = json.dumps({"agent": bot.agent_name, "model": bot.model_name,
                         "needsKey": needs_key})
    page = page.replace("{{CONFIG}}", html.escape(config, quote=True))
    page = page.replace("{{AGENT}}", html.escape(bot.agent_name))

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(page)
