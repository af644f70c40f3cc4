"""Kindred's graph inside another LangGraph application: a help desk that answers order
questions itself and hands everything else to Kindred, which remembers the customer.

    python demos/subgraph_app.py --model fake --data-dir /tmp/desk

The outer graph routes each message; the ``memory`` node *is* Kindred's compiled turn graph,
added as a subgraph. Compiled with ``checkpointer=True`` it keeps its own thread (the open
session, its short-term turns) under the outer app's thread, while its long-term memory lives in
Kindred's stores, so what the customer said in one run is recalled in the next.
"""

from __future__ import annotations

import argparse
import time
from typing import Any, TypedDict

from memory.process import apply_process_defaults

apply_process_defaults()

from langgraph.checkpoint.memory import InMemorySaver  # noqa: E402
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer  # noqa: E402
from langgraph.graph import END, START, StateGraph  # noqa: E402

from graphs import CHECKPOINT_TYPES, TurnContext  # noqa: E402
from kindred import Kindred  # noqa: E402


class Desk(TypedDict, total=False):
    text: str        # shared with Kindred's graph: the customer's message
    reply: str       # shared: the answer
    trace: Any       # shared: what Kindred recalled (None on the orders route)
    route: str       # the desk's own


def route(state: Desk) -> dict[str, Any]:
    return {"route": "orders" if "order" in state["text"].lower() else "memory"}


def orders(state: Desk) -> dict[str, Any]:
    return {"reply": "Your order ships tomorrow.", "trace": None}


def build_desk(bot: Kindred):
    desk = StateGraph(Desk, context_schema=TurnContext)
    desk.add_node("route", route)
    desk.add_node("orders", orders)
    desk.add_node("memory", bot.build_graph(checkpointer=True))  # Kindred, as a subgraph
    desk.add_edge(START, "route")
    desk.add_conditional_edges("route", lambda s: s["route"], ["orders", "memory"])
    desk.add_edge("orders", END)
    desk.add_edge("memory", END)
    saver = InMemorySaver(serde=JsonPlusSerializer(allowed_msgpack_modules=CHECKPOINT_TYPES))
    return desk.compile(checkpointer=saver)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="local")
    parser.add_argument("--data-dir", default="~/.kindred-desk")
    args = parser.parse_args()
    with Kindred(data_dir=args.data_dir, chat_model=args.model) as bot:
        desk = build_desk(bot)
        thread = {"configurable": {"thread_id": "customer-42"}}
        now = time.time()
        for n, text in enumerate(["My dog is called Biscuit.", "Where is my order?",
                                  "What is my dog called?"]):
            out = desk.invoke({"text": text}, thread,
                              context=TurnContext(user_id="customer-42", now=now + n))
            print(f"{out['route']}: {text} -> {out['reply']}")
        recalled = out["trace"].user_traits if out.get("trace") else []
        print(f"Kindred recalled: {recalled}")


if __name__ == "__main__":
    main()
