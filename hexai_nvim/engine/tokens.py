"""Token estimates, for when a server reports no usage (and for the context fit).

What a caller may rely on: about :data:`CHARS_PER_TOKEN` characters per token,
rounded up, plus :data:`TEMPLATE_TOKENS_PER_MESSAGE` per chat message; a result
that uses an estimate says so (``EntryStats.tokens_estimated``).
"""

from __future__ import annotations

import math

from hexai_nvim.providers.base import Request

#: Rough size of a token for estimates when the server reports no usage.
CHARS_PER_TOKEN = 4
#: Tokens a chat template adds around each message (ChatML: ``<|im_start|>role\n``
#: ... ``<|im_end|>\n``), for the input estimate when the server reports none.
TEMPLATE_TOKENS_PER_MESSAGE = 4


def estimate_tokens(chars: int) -> int:
    return math.ceil(chars / CHARS_PER_TOKEN)


def estimate_input(request: Request) -> int:
    """The prompt tokens of ``request``, estimated."""
    messages = len(request.messages) if request.fim is None else 0
    return estimate_tokens(request_chars(request)) + TEMPLATE_TOKENS_PER_MESSAGE * messages


def request_chars(request: Request) -> int:
    chars = sum(len(m.content) for m in request.messages)
    if request.fim is not None:
        chars += len(request.fim.prefix) + len(request.fim.suffix)
    return chars
