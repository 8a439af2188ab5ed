"""The provider registry: one line per wire-format client, and what each declares.

Every client class lists the kinds it serves as :class:`KindInfo` values
(needs a key, default base URL, FIM mode for ``fim = "auto"``, FIM modes
allowed); whether it can list models is whether it overrides
``Provider.list_models``. Everything else — config validation, ``hexai config
show``, the config check, the completion surface, :func:`make_provider` —
asks this module instead of testing kind names.

Adding a wire format: write ``hexai_nvim/providers/<name>.py`` with a
:class:`~hexai_nvim.providers.base.Provider` subclass that declares its
``kinds``, and add its ``"module:Class"`` line to :data:`PROVIDER_CLASSES`.

What a caller may rely on:

- Classes are imported on first use, not when this module is imported (the
  Neovim host imports the config layer at start-up and must stay cheap).
- :func:`kind_names` keeps the order of :data:`PROVIDER_CLASSES` and of each
  class's ``kinds``; a kind served twice is an error at first use.
- :func:`fim_mode` never returns ``auto``: it is a mode of
  :data:`~hexai_nvim.providers.base.FIM_MODES` or ``off``.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import TYPE_CHECKING

from hexai_nvim.providers.base import FIM_CHOICES, KindInfo, Provider

if TYPE_CHECKING:
    from hexai_nvim.config.model import ProviderSpec

__all__ = [
    "PROVIDER_CLASSES",
    "fim_choices",
    "fim_mode",
    "kind_info",
    "kind_names",
    "lists_models",
    "provider_class",
]

#: One line per wire format: ``"module:Class"``.
PROVIDER_CLASSES: tuple[str, ...] = (
    "hexai_nvim.providers.openai:OpenAIProvider",
    "hexai_nvim.providers.anthropic:AnthropicProvider",
    "hexai_nvim.providers.ollama:OllamaProvider",
)


@cache
def _classes() -> dict[str, tuple[type[Provider], KindInfo]]:
    served: dict[str, tuple[type[Provider], KindInfo]] = {}
    for line in PROVIDER_CLASSES:
        module_name, _, class_name = line.partition(":")
        cls = getattr(importlib.import_module(module_name), class_name)
        if not (isinstance(cls, type) and issubclass(cls, Provider)):
            raise TypeError(f"{line} is not a Provider class")
        for info in cls.kinds:
            if info.name in served:
                raise ValueError(f"kind {info.name!r} is served by two classes")
            bad = [m for m in (info.fim_auto, *info.fim_modes) if m not in FIM_CHOICES]
            if bad or info.fim_auto not in ("off", *info.fim_modes):
                raise ValueError(f"kind {info.name!r} declares unknown FIM modes")
            served[info.name] = (cls, info)
    return served


def kind_names() -> tuple[str, ...]:
    """Every kind a provider may have, in registry order."""
    return tuple(_classes())


def kind_info(kind: str) -> KindInfo:
    """The declaration of ``kind``; ``ValueError`` for a kind nobody serves."""
    found = _classes().get(kind)
    if found is None:
        raise ValueError(f"unknown provider kind {kind!r}")
    return found[1]


def provider_class(kind: str) -> type[Provider]:
    """The class serving ``kind``; ``ValueError`` for a kind nobody serves."""
    found = _classes().get(kind)
    if found is None:
        raise ValueError(f"unknown provider kind {kind!r}")
    return found[0]


def lists_models(kind: str) -> bool:
    """Whether the API of ``kind`` can list its models (its class overrides ``list_models``)."""
    cls = provider_class(kind)
    base = getattr(Provider, "list_models", None)
    own = getattr(cls, "list_models", None)
    return own is not None and own is not base


def fim_choices(kind: str) -> tuple[str, ...]:
    """Values the ``fim`` option may take for ``kind``."""
    return ("auto", "off", *kind_info(kind).fim_modes)


def fim_mode(spec: ProviderSpec) -> str:
    """The FIM mode a provider uses: its ``fim`` option with ``auto`` resolved."""
    info = kind_info(spec.kind)
    mode = spec.fim or "auto"
    if mode == "auto":
        return info.fim_auto
    return mode if mode in info.fim_modes else "off"
