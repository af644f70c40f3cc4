"""Every prompt Kindred sends to a model, in one place, versioned.

The texts follow LD-Agent's prompts (arXiv 2406.05925, Appendix; leolee99/LD-Agent), shortened
where a small local model loses the thread. Change a prompt here and bump ``PROMPTS_VERSION``:
traces and evaluation reports record it.
"""

from __future__ import annotations

__all__ = [
    "ANSWER_QUESTION",
    "CLARIFIED_REQUEST",
    "EXTRACT_PERSONA",
    "IS_CORRECTION",
    "JUDGE_ANSWER",
    "JUDGE_REPLY",
    "NO_MEMORY",
    "PERSONA_REGENERATE",
    "PROMPTS_VERSION",
    "SECTION_FEEDBACK",
    "SECTION_MEMORY",
    "SECTION_USER_TRAITS",
    "SUMMARISE_SESSION",
    "SYSTEM",
]

PROMPTS_VERSION = "2026-11-25.2"

# LoCoMo question answering (evals/locomo_qa.py): memories in, a short answer out.
ANSWER_QUESTION = """Below are memories of a conversation between {speaker_a} and {speaker_b}.
{memories}

Answer the question in a short phrase, using only these memories. If they do not say, answer "Not mentioned".
Question: {question}
Answer:"""

# LLM-as-judge for LoCoMo answers (optional, --judge).
JUDGE_ANSWER = """Question: {question}
Gold answer: {truth}
Generated answer: {answer}
Is the generated answer correct (it may be phrased differently or be less detailed, but must not contradict the gold answer)? Reply with CORRECT or WRONG."""

# The LLM judge of `reply_judge` expectations in evaluation scripts.
JUDGE_REPLY = """You are judging a dialogue agent's reply.
Rubric: {rubric}
The user said: "{request}"
The agent replied: "{reply}"
Does the reply satisfy the rubric? Answer YES or NO, then one short reason."""

# Sent after a draft reply that contradicted the agent's persona (check_persona node).
PERSONA_REGENERATE = """Your draft reply said "{trait}", which contradicts what is true about you: "{fact}". Write the reply again, consistent with who you are."""

# The generation system prompt: the agent's role and traits, then the memory sections.
SYSTEM = """You are {agent_name}. {voice}
Your own traits:
{agent_traits}

You are talking with {user_name}. Use what you remember about them when it helps, and never claim to remember something that is not listed below.
{sections}
Reply to {user_name}'s last message in at most {max_words} words."""

SECTION_MEMORY = """<MEMORY> Memories related to this conversation:
{items}"""

NO_MEMORY = "<MEMORY> There is no relevant memory."

SECTION_USER_TRAITS = """<USER_TRAITS> What you know about {user_name}:
{items}"""

SECTION_FEEDBACK = """<FEEDBACK> Earlier, when {user_name} asked something similar ("{request}"), they corrected you, saying: "{feedback}". Take that into account."""

# MemPrompt joins matched feedback to the request: "request | clarification".
CLARIFIED_REQUEST = """{request} | clarification from earlier: "{feedback}\""""

# LD-Agent's event summariser ("summarise the main events ... within 20 words").
SUMMARISE_SESSION = """You are good at extracting events and summarising them in brief sentences. Below is a conversation.
{dialogue}

Summarise the main events of this conversation about the people in it, within 20 words. Output only the summary."""

# LD-Agent's persona extractor, with its NO_TRAIT marker.
EXTRACT_PERSONA = """Extract the speaker's personality traits or personal facts from the utterance below, as one short first-person sentence of no more than 20 words (for example: "I have two cats."). If the utterance reveals nothing about the speaker, output exactly NO_TRAIT.
Utterance: {utterance}
Output:"""

# Implicit feedback (MemPrompt): does the new message correct the assistant's understanding?
IS_CORRECTION = """The user asked: "{request}"
The assistant replied: "{reply}"
The user then said: "{text}"
Is the user's last message a correction of the assistant's reply or of how it understood the request? Answer YES or NO only."""
