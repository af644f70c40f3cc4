"""One module per node of the turn graph; each exposes a ``make_<node>(services)`` factory."""

from graphs.nodes.check_persona import make_check_persona
from graphs.nodes.consolidate import consolidate_session, event_id_for, make_consolidate
from graphs.nodes.feedback import make_capture_feedback, make_feedback
from graphs.nodes.generate import make_generate, to_langchain
from graphs.nodes.persona import make_extract_persona
from graphs.nodes.retrieve import make_retrieve, ordered_traits
from graphs.nodes.review import make_review
from graphs.nodes.session import make_close_session, make_perceive, scratch, session_id_for
from graphs.nodes.write_back import make_write_back, turn_id_for

__all__ = [
           "event_id_for",
           "make_check_persona",
           "make_capture_feedback",
           "make_close_session",
           "make_consolidate",
           "consolidate_session",
           "make_extract_persona",
           "make_feedback",
           "make_generate",
           "make_perceive",
           "make_retrieve",
           "make_review",
           "make_write_back",
           "ordered_traits",
           "scratch",
           "session_id_for",
           "to_langchain",
           "turn_id_for",
]
