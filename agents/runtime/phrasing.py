"""Free text as people write it, reduced to the plain request the offline planners and keyword
routing read: "🚀 hey <@UBOT> can you deploy api 1.4.2 to prod please, thanks!" becomes
"deploy api 1.4.2 to production".

It takes away only what never carries meaning for a request: the bot's own (leading) mention,
emoji and `:shortcode:`s at either end, greetings and politeness at either end, and trailing
punctuation; it spells out environment short forms ("to prod" -> "to production") and drops the
display label Slack may add to a mention (`<@U123|dana>` -> `<@U123>`). Everything else keeps
the person's own words and case (a justification stays as written): the planners match
case-insensitively and lower-case the names they take."""

from __future__ import annotations

import re

_LEADING_MENTION = re.compile(r"^<@[A-Z0-9]+(?:\|[^>]*)?>[\s,]*")
_LABELLED_MENTION = re.compile(r"<@([A-Z0-9]+)\|[^>]*>")
_SHORTCODE_START = re.compile(r"^:[a-z0-9_+'-]+:\s*", re.IGNORECASE)
_SHORTCODE_END = re.compile(r"\s*:[a-z0-9_+'-]+:$", re.IGNORECASE)
# Emoji, quotes, backticks and punctuation: anything that is neither a word character nor the
# start (or end) of a Slack mention.
_SYMBOLS_START = re.compile(r"^[^\w<@]+")
_SYMBOLS_END = re.compile(r"[^\w>]+$")
_POLITE_START = re.compile(
    r"^(?:hey|hi|hello|yo|ok(?:ay)?|so)(?:\s+(?:there|team|all|folks|bot))?\b[\s,!]*"
    r"|^(?:can|could|would|will)\s+(?:you|u|someone|somebody)\b\s*"
    r"|^(?:please|pls|plz|kindly)\b\s*"
    r"|^(?:i|we)(?:\s+would|'d)?\s+(?:need|want|like)\s+(?:you\s+)?to\b\s*"
    r"|^(?:let'?s|go\s+ahead\s+and)\b\s*",
    re.IGNORECASE,
)
_POLITE_END = re.compile(
    r"[\s,]*\b(?:please|pls|plz|thanks|thank\s+you|thx|ty|cheers|for\s+me|asap|now)$",
    re.IGNORECASE,
)
_ENVIRONMENT = re.compile(
    r"\b(?P<before>to|in|on|into|from|for)\s+(?P<short>prod|prd|stg|stage)(?![\w.-])",
    re.IGNORECASE,
)
_FULL = {"prod": "production", "prd": "production", "stg": "staging", "stage": "staging"}
_EDGES = (
    _LEADING_MENTION,
    _SHORTCODE_START,
    _SHORTCODE_END,
    _SYMBOLS_START,
    _SYMBOLS_END,
    _POLITE_START,
    _POLITE_END,
)


_CONTEXT_LINE = re.compile(r"^\s*(?:>|&gt;)|^About this message(?: from <@[^>]+>)?:\s*$")
"""A quoted line, or the header of a quoted message (the "Ask hitl about this" shortcut puts
the message it was used on below the request): context for a model, not the request itself."""


def normalise(text: str) -> str:
    """The request in `text` without quoted context, mention of the bot, emoji, politeness or
    punctuation at its edges, environment short forms spelt out, whitespace collapsed."""
    text = "\n".join(line for line in text.splitlines() if not _CONTEXT_LINE.match(line))
    text = " ".join(_LABELLED_MENTION.sub(r"<@\1>", text).split())
    previous = None
    while text != previous:  # "🚀 please, thanks!" unwraps one layer at a time
        previous = text
        for edge in _EDGES:
            text = edge.sub("", text).strip()
    return _ENVIRONMENT.sub(_spelt_out, text)


def _spelt_out(found: re.Match[str]) -> str:
    return f"{found['before']} {_FULL[found['short'].lower()]}"
