"""How a thread is stored: its JSON, deflated against a preset dictionary of the field names
and values every thread repeats, behind a one-byte format tag. A paused deploy thread takes
about 300 bytes instead of 1,150, which is most of what Redis holds per paused thread.

The dictionary is part of the stored format: never edit `_DICTIONARY_1`. A better one gets a
new tag (2, ...) next to it, and `decode` keeps reading every tag ever written. Threads saved
before compression (plain JSON, which starts with `{`) are read as they are."""

from __future__ import annotations

import zlib

from agents.runtime.thread import Thread

_DICTIONARY_1 = (
    b'{"id":"t","agent":"","requester":"","origin":{"channel":"","thread_ts":""},"events":'
    b'[{"at":"2026-"type":"user_message","user":"","text":"","message_ts":"","via":null},'
    b'{"at":"'
    b'"type":"tool_call","call_id":"c","intent":"","arguments":{},"source":"model",'
    b'"usage":null,"terms":null}'
    b'"type":"tool_result","call_id":"c","intent":"","output":{}}'
    b'"type":"approval_decision","call_id":"c","approved":true,"user":"","action_hash":"",'
    b'"reason":null,"edited_action":null,"job":null,"via":null,"break_glass":false}'
    b'"type":"tool_call","call_id":"c","intent":"request_approval","arguments":{"action":'
    b'{"intent":""},"summary":""},"source":"policy","usage":null,'
    b'"terms":{"deciders":[],"quorum":1,"deadline":"","remind_at":"","break_glass":false,'
    b'"notify":null}}],"version":,"created_at":"2026-'
)
_TAG_1 = b"\x01"
_WBITS = -15  # raw deflate: the tag byte says what it is, no zlib header needed
_LEVEL = 6


def encode(thread: Thread) -> bytes:
    """The stored form of `thread`."""
    deflate = zlib.compressobj(_LEVEL, zlib.DEFLATED, _WBITS, zdict=_DICTIONARY_1)
    raw = thread.model_dump_json().encode()
    return _TAG_1 + deflate.compress(raw) + deflate.flush()


def decode(stored: bytes | str) -> Thread:
    """The thread in `stored`: any format this module ever wrote, or plain JSON."""
    if isinstance(stored, bytes) and stored[:1] == _TAG_1:
        inflate = zlib.decompressobj(_WBITS, zdict=_DICTIONARY_1)
        return Thread.model_validate_json(inflate.decompress(stored[1:]) + inflate.flush())
    if isinstance(stored, bytes) and stored[:1] != b"{":
        raise ValueError(f"unknown stored thread format {stored[:1]!r}")
    return Thread.model_validate_json(stored)
