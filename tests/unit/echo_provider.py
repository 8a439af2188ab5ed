"""A wire format that lives only in the tests: the proof that a provider is one file.

Registered by ``test_registry.py`` with one ``PROVIDER_CLASSES`` line; nothing
else in hexai_nvim names it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from hexai_nvim.providers.base import Call, Finish, KindInfo, Provider, ProviderEvent, TextDelta

if TYPE_CHECKING:
    from hexai_nvim.config.model import ProviderSpec
    from hexai_nvim.providers.http import HttpPool


class EchoProvider(Provider):
    """Answers with the FIM prefix's last word, or the last chat message."""

    kinds = (
        KindInfo("echo", "a test-only echo server", needs_key=False,
                 base_url="http://127.0.0.1:9/echo", fim_auto="completions",
                 fim_modes=("completions",)),
    )
    requires_key = False

    def __init__(self, spec: ProviderSpec, http: HttpPool) -> None:
        self.spec = spec

    async def stream(self, call: Call) -> AsyncIterator[ProviderEvent]:
        fim = call.request.fim
        text = fim.prefix.split()[-1] if fim else call.request.messages[-1].content
        yield TextDelta(text)
        yield Finish("stop")

    async def list_models(self, call: Call) -> list[str]:
        return ["echo-1"]
