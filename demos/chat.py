"""The terminal chat demo: the same program as `kindred chat`.

    python demos/chat.py --user alice                 # the embedded local model
    python demos/chat.py --user alice --model fake    # canned replies, instant
"""

from agent.cli import app

if __name__ == "__main__":
    app(["chat", *__import__("sys").argv[1:]])
