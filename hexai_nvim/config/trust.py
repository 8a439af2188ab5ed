"""The trust rule: a user's credentials never go to an address a project file chose.

hexai lets a repository's ``.hexaiconfig.toml`` move a provider elsewhere. The
credentials a provider carries come from the person's own layers (the global
file, ``HEXAI_*`` variables, the editor's ``setup{}``): the API key
(``api_key_env`` / ``api_key_cmd``, which a project file may not set at all),
the values of ``headers``, and the user name and password of a ``base_url``.
With them attached, any repository you open could collect them.

The rule, applied here once for every provider while the config is resolved:
when the scheme, host, port or path of the effective ``base_url`` was set or
changed by the project layer (it differs from what the user's layers alone
give), the spec keeps the address (keyless servers still work) but

- ``key_withheld`` says why (the engine then sends no key; a provider that
  needs one fails with a ``config`` error before anything is sent), and
- ``headers`` keeps only the headers the project file itself set; the user's
  are moved to ``withheld_headers`` (known to the scrubber, never sent).

A user name or password in the user's own ``base_url`` cannot travel: the
project's ``base_url`` replaces the whole string, and an address equal to the
user's is the user's. What a caller may rely on: every :class:`ProviderSpec`
out of :func:`guard` holds only credentials that may go to its ``base_url``.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from hexai_nvim.config.keys import mask_url
from hexai_nvim.config.model import ProviderSpec

#: The layer a repository controls.
PROJECT = "project"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def address(url: str) -> tuple[str, str, int | None, str] | None:
    """``(scheme, host, port, path)`` of ``url``, normalised; None when unparsable."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if port is None:
        port = _DEFAULT_PORTS.get(scheme)
    path = parts.path.rstrip("/")
    return scheme, (parts.hostname or "").lower(), port, path


def same_address(a: str, b: str | None) -> bool:
    """Whether ``a`` and ``b`` name the same scheme, host, port and path."""
    if b is None:
        return False
    left, right = address(a), address(b)
    return left is not None and left == right


def user_base_url(
    name: str, layers: Sequence[tuple[str, Mapping[str, Any]]], default: str | None
) -> str | None:
    """The ``base_url`` of provider ``name`` from every layer but the project's."""
    url = default
    for layer, data in layers:
        if layer == PROJECT:
            continue
        table = data.get("providers", {}).get(name)
        if isinstance(table, Mapping) and isinstance(table.get("base_url"), str):
            url = table["base_url"]
    return url


def guard(
    spec: ProviderSpec,
    sources: Mapping[str, str],
    user_url: str | None,
    trust_hint: str,
) -> tuple[ProviderSpec, str | None]:
    """``spec`` with the user's credentials removed when a project chose its
    address, and the warning that says so (None when nothing was withheld).

    ``sources`` maps dotted keys to the layer that set them; ``user_url`` is
    the address the user's layers give (:func:`user_base_url`); ``trust_hint``
    says how to trust the address ("set base_url in your global config").
    """
    if sources.get(f"providers.{spec.name}.base_url") != PROJECT:
        return spec, None
    if same_address(spec.base_url, user_url):
        return spec, None
    prefix = f"providers.{spec.name}.headers."
    kept = {k: v for k, v in spec.headers.items() if sources.get(prefix + k) == PROJECT}
    withheld = {k: v for k, v in spec.headers.items() if k not in kept}
    what: list[str] = []
    if spec.api_key_env or spec.api_key_cmd:
        what.append(f"{spec.name}'s API key")
    if withheld:
        names = ", ".join(sorted(withheld))
        what.append(f"header{'s' if len(withheld) > 1 else ''} {names}")
    if not what:
        return spec, None
    reason = (
        f"providers.{spec.name}.base_url is set by the project file, so "
        f"{' and '.join(what)} {'are' if len(what) > 1 or len(withheld) > 1 else 'is'} "
        f"not sent to {mask_url(spec.base_url)}; {trust_hint} to trust it"
    )
    guarded = replace(
        spec,
        key_withheld=reason,
        headers=MappingProxyType(kept),
        withheld_headers=MappingProxyType(withheld),
    )
    return guarded, reason
