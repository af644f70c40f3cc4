"""A tiny OpenAI-compatible chat server for tests, on loopback (our own fake, tested itself).

It answers ``POST /v1/chat/completions`` (plain JSON or server-sent events when ``stream`` is
true) with ``respond(messages)`` and records every request body. A request's ``max_tokens`` (or
``max_completion_tokens``) cuts the answer after that many words, with ``finish_reason``
"length", as a real server cuts at its token limit.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


class OpenAIStub:
    def __init__(self, respond: Callable[[list[dict]], str]) -> None:
        self.respond = respond
        self.requests: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                return

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append(body)
                text = stub.respond(body["messages"])
                limit = body.get("max_completion_tokens") or body.get("max_tokens")
                finish = "stop"
                if limit and len(text.split(" ")) > limit:
                    text, finish = " ".join(text.split(" ")[:limit]), "length"
                if body.get("stream"):
                    self._stream(body, text, finish)
                else:
                    self._json(body, text, finish)

            def _json(self, body: dict, text: str, finish: str) -> None:
                payload = json.dumps({
                    "id": "cmpl-1", "object": "chat.completion", "created": int(time.time()),
                    "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": finish,
                                 "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload.encode())

            def _stream(self, body: dict, text: str, finish: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                words = text.split(" ")
                pieces = [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
                for i, piece in enumerate(pieces):
                    chunk = {"id": "cmpl-1", "object": "chat.completion.chunk",
                             "created": int(time.time()), "model": body["model"],
                             "choices": [{"index": 0, "delta": {"content": piece},
                                          "finish_reason": finish if i == len(pieces) - 1
                                          else None}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "OpenAIStub":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
