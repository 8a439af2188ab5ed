"""Config check: what was read, what is wrong, and whether every entry answers.

Used by ``:HexaiConfigCheck`` and ``:checkhealth hexai`` (through the host),
it knows nothing of the UI: it produces :class:`CheckLine` values, each
clearly ``OK``, ``WARN`` or ``ERROR``, grouped in sections.

What a caller may rely on:

- :func:`static_report` (no I/O except looking up keys, which the caller does
  with :func:`key_statuses`): files and layers read, validation problems with
  their paths, warnings (the loader's and invalid custom code actions), the
  entries of every surface in order, and per provider whether an API key was
  found (masked) and where from. Key values never appear in any line.
- :func:`probe_all` probes every distinct ``provider:model`` of the config,
  all at once, under ONE overall timeout: the endpoint is reachable, the model
  is listed where the API lists models (Ollama ``/api/tags``, OpenAI-style
  ``/models``), and a one-token request makes the round trip (with its
  latency). A probe still running at the deadline is reported as an ERROR
  naming the step it was on. One probe's failure never affects another.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hexai_nvim.config.keys import KeyInfo, mask_url, resolve_api_key
from hexai_nvim.config.model import LAYERS, SURFACES, Config, ConfigError, ProviderSpec
from hexai_nvim.providers.base import Call, Message, ProviderError, Request, TextDelta
from hexai_nvim.surfaces.code_action import custom_actions

if TYPE_CHECKING:
    from hexai_nvim.providers import HttpPool

OK, WARN, ERROR = "OK", "WARN", "ERROR"
#: Default overall deadline of the live probe.
DEFAULT_PROBE_TIMEOUT_S = 10.0
#: Most of a model list we read.
LIST_BODY_LIMIT = 4 * 1024 * 1024
#: Kinds whose provider can work without a key (local servers).
_KEYLESS_KINDS = ("ollama", "openai-compatible")


@dataclass(frozen=True)
class CheckLine:
    """One verdict. ``level`` is ``OK``, ``WARN`` or ``ERROR``."""

    level: str
    text: str
    section: str = ""

    def to_lua(self) -> dict[str, str]:
        return {"level": self.level, "text": self.text, "section": self.section}


# ---------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyStatus:
    """Whether ``provider`` has a key, shown safely (never the value)."""

    provider: str
    kind: str
    found: bool
    #: ``****abcd`` (see :func:`hexai_nvim.config.keys.mask_secret`) or None.
    masked: str | None
    #: Where it came from: ``env:NAME``, ``cmd``, ``none``, ``cmd failed: ...``.
    source: str
    required: bool
    #: Variables that were tried (for the hint when none was set).
    tried: tuple[str, ...] = ()


def used_providers(config: Config) -> list[ProviderSpec]:
    """Providers named by at least one entry, in the order they first appear."""
    seen: dict[str, ProviderSpec] = {}
    for surface in SURFACES:
        for entry in config.entries(surface):
            seen.setdefault(entry.provider.name, entry.provider)
    return list(seen.values())


def key_required(spec: ProviderSpec) -> bool:
    """Whether requests fail without a key (a local server usually needs none)."""
    return spec.kind not in _KEYLESS_KINDS


def key_statuses(
    config: Config,
    env: Mapping[str, str] | None = None,
    resolve: Callable[[ProviderSpec, Mapping[str, str] | None], KeyInfo] = resolve_api_key,
) -> tuple[list[KeyStatus], dict[str, str | None]]:
    """Key status per used provider, and the key values for the probe (by provider name).

    Blocks while an ``api_key_cmd`` runs: call it in a worker thread.
    """
    statuses: list[KeyStatus] = []
    values: dict[str, str | None] = {}
    for spec in used_providers(config):
        try:
            info = resolve(spec, env)
        except Exception as exc:  # a resolver bug must not hide the other providers
            info = KeyInfo(None, f"lookup failed: {type(exc).__name__}")
        values[spec.name] = info.value or None
        statuses.append(KeyStatus(
            provider=spec.name, kind=spec.kind, found=info.found, masked=info.masked,
            source=info.source, required=key_required(spec), tried=spec.api_key_env,
        ))
    return statuses, values


# ---------------------------------------------------------------------------
# Static report
# ---------------------------------------------------------------------------


def _layer_of(path: str) -> str:
    return "project" if os.path.basename(path) == ".hexaiconfig.toml" else "global"


def _format_ms(ms: float) -> str:
    return f"{ms:.0f} ms" if ms < 1000 else f"{round(ms / 1000, 2):g} s"


def static_report(
    config: Config,
    error: ConfigError | None,
    keys: Sequence[KeyStatus],
    *,
    global_path: str | None = None,
) -> list[CheckLine]:
    """Every line of the check that needs no network.

    ``config`` is the configuration in use (the last good one when ``error``
    says the current files are broken); ``global_path`` is where the global
    file is looked for (reported when it does not exist).
    """
    lines: list[CheckLine] = []

    def add(level: str, text: str, section: str) -> None:
        lines.append(CheckLine(level, text, section))

    # -- files and layers
    section = "Files"
    files = error.files if error is not None and error.files else config.files
    for path in files:
        add(OK, f"read {path} ({_layer_of(path)})", section)
    if global_path and global_path not in files:
        add(OK, f"no global file at {global_path} (built-in defaults apply)", section)
    counts: dict[str, int] = {}
    for layer in config.sources.values():
        counts[layer] = counts.get(layer, 0) + 1
    used = [f"{layer} ({counts[layer]} key{'s' if counts[layer] != 1 else ''})"
            for layer in LAYERS if counts.get(layer)]
    if used:
        add(OK, "layers in effect, lowest first: " + ", ".join(used), section)

    # -- problems
    section = "Problems"
    if error is not None:
        count = len(error.problems)
        add(ERROR, f"the configuration has {count} problem{'s' if count != 1 else ''}; "
                   "the last good configuration stays in use", section)
        for problem in error.problems:
            add(ERROR, str(problem), section)
    else:
        add(OK, "the configuration is valid", section)

    # -- warnings
    section = "Warnings"
    warnings = list(error.warnings if error is not None else config.warnings)
    _actions, action_problems = custom_actions(config.prompts)
    warnings.extend(f"{p.path}: {p.message} (action ignored)" for p in action_problems)
    for warning in warnings:
        add(WARN, warning, section)
    if not warnings:
        add(OK, "no warnings", section)

    # -- entries
    section = "Entries"
    for surface in SURFACES:
        entries = config.entries(surface)
        if not entries:
            add(WARN, f"{surface}: no entries", section)
            continue
        for position, entry in enumerate(entries):
            note = " (primary)" if position == 0 and len(entries) > 1 else ""
            add(OK, f"{surface}[{position}] {entry.label}{note}: {entry.provider.kind} at "
                    f"{mask_url(entry.provider.base_url)}, temperature {entry.temperature:g}, "
                    f"max_tokens {entry.max_tokens}, timeout {_format_ms(entry.timeout_ms)}",
                section)

    # -- keys
    section = "Keys"
    for key in keys:
        if key.found:
            add(OK, f"{key.provider}: key found ({key.masked}) from {key.source}", section)
        elif key.source.startswith(("cmd failed", "lookup failed")):
            add(ERROR, f"{key.provider}: no key: api_key_cmd {key.source}", section)
        elif key.required:
            tried = " or ".join(key.tried) if key.tried else "api_key_env / api_key_cmd"
            add(ERROR, f"{key.provider}: no API key found: set {tried}", section)
        else:
            add(OK, f"{key.provider}: no key (a {key.kind} server usually needs none)", section)
    return lines


# ---------------------------------------------------------------------------
# Live probe
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ProbeTarget:
    """One distinct ``provider:model`` and the entries that use it."""

    provider: ProviderSpec
    model: str
    #: ``surface[position]`` of every entry using it.
    used_by: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.provider.name}:{self.model}"


def probe_targets(config: Config) -> list[ProbeTarget]:
    """Every distinct ``provider:model`` of the config, in surface order."""
    order: list[tuple[str, str]] = []
    specs: dict[tuple[str, str], ProviderSpec] = {}
    users: dict[tuple[str, str], list[str]] = {}
    for surface in SURFACES:
        for position, entry in enumerate(config.entries(surface)):
            key = (entry.provider.name, entry.model)
            if key not in specs:
                order.append(key)
                specs[key] = entry.provider
            users.setdefault(key, []).append(f"{surface}[{position}]")
    return [ProbeTarget(specs[k], k[1], tuple(users[k])) for k in order]


@dataclass
class ProbeResult:
    """The verdicts of one target, filled in as its steps finish."""

    target: ProbeTarget
    lines: list[CheckLine] = field(default_factory=list)
    #: The step under way (named in the timeout verdict).
    step: str = "starting"
    finished: bool = False

    def add(self, level: str, text: str) -> None:
        self.lines.append(CheckLine(level, f"{self.target.name}: {text}", "Probe"))

    @property
    def level(self) -> str:
        levels = {line.level for line in self.lines}
        return ERROR if ERROR in levels else WARN if WARN in levels else OK


def list_url(spec: ProviderSpec) -> str:
    """Where the API lists its models."""
    base = spec.base_url.rstrip("/")
    return f"{base}/api/tags" if spec.kind == "ollama" else f"{base}/models"


def listed_models(spec: ProviderSpec, data: Any) -> list[str] | None:
    """Model names in a list answer (None when the shape is not recognised)."""
    if not isinstance(data, dict):
        return None
    if spec.kind == "ollama":
        items = data.get("models")
        keys: tuple[str, ...] = ("name", "model")
    else:
        items = data.get("data")
        keys = ("id",)
    if not isinstance(items, list):
        return None
    names: list[str] = []
    for item in items:
        if isinstance(item, dict):
            names.extend(str(item[k]) for k in keys if isinstance(item.get(k), str))
    return names


def model_in(model: str, names: Sequence[str], kind: str) -> bool:
    if model in names:
        return True
    # Ollama adds ":latest" to a model pulled without a tag.
    return kind == "ollama" and ":" not in model and f"{model}:latest" in names


def _connect_error(exc: BaseException, url: str) -> str:
    import aiohttp

    where = _host(url)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {where}: {exc.strerror or type(exc.os_error).__name__}"
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return f"no answer from {where} in time"
    if isinstance(exc, (aiohttp.InvalidURL, ValueError)):
        return f"invalid URL {mask_url(url)!r}"
    return f"{where}: {type(exc).__name__}: {exc}"


async def probe_one(
    result: ProbeResult,
    http: HttpPool,
    api_key: str | None,
    *,
    connect_timeout_s: float = 5.0,
    provider_factory: Callable[[ProviderSpec, HttpPool], Any] | None = None,
) -> ProbeResult:
    """Run the three steps of one target, recording verdicts in ``result``."""
    import aiohttp

    target = result.target
    spec = target.provider
    if provider_factory is None:
        from hexai_nvim.providers import make_provider

        provider_factory = make_provider
    try:
        provider = provider_factory(spec, http)
    except ValueError as exc:
        result.add(ERROR, str(exc))
        result.finished = True
        return result
    call = Call(
        model=target.model,
        request=Request(
            messages=(Message("user", "Reply with the single word OK."),),
            max_tokens=1,
            temperature=0.0,
        ),
        stream=spec.stream,
        api_key=api_key,
        connect_timeout_s=connect_timeout_s,
    )

    # Step 1 and 2: reachable, model listed.
    result.step = "listing models"
    url = list_url(spec)
    headers = dict(provider.request_headers(call)) if hasattr(provider, "request_headers") else {}
    headers.pop("Content-Type", None)
    headers.pop("Accept", None)
    session = await http.session()
    started = time.monotonic()
    try:
        async with session.get(
            url,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout_s),
            proxy=http.proxy_for(url),
            allow_redirects=False,
        ) as resp:
            status = resp.status
            body = await _read_limited(resp, LIST_BODY_LIMIT)
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError, ValueError) as exc:
        result.add(ERROR, f"unreachable: {_scrub(_connect_error(exc, url), api_key)}")
        result.finished = True
        return result
    elapsed = (time.monotonic() - started) * 1000
    result.add(OK, f"reachable ({_host(url)}, HTTP {status}, {_format_ms(elapsed)})")
    if status in (401, 403):
        result.add(ERROR, f"the model list was refused (HTTP {status}): check the API key")
    elif status >= 300:
        result.add(WARN, f"the server does not list models at {mask_url(url)} "
                         f"(HTTP {status})")
    else:
        try:
            names = listed_models(spec, json.loads(body))
        except ValueError:
            names = None
        if names is None:
            result.add(WARN, f"unrecognised model list at {mask_url(url)}")
        elif model_in(target.model, names, spec.kind):
            result.add(OK, "model listed by the server")
        else:
            shown = ", ".join(names[:5]) + (", …" if len(names) > 5 else "")
            result.add(WARN, f"model not in the server's list ({len(names)} listed"
                             + (f": {shown}" if shown else "") + ")")

    # Step 3: a one-token round trip.
    if getattr(provider, "requires_key", True) and not api_key and key_required(spec):
        result.add(ERROR, "round trip skipped: no API key")
        result.finished = True
        return result
    result.step = "one-token round trip"
    started = time.monotonic()
    text = ""
    try:
        async for event in provider.stream(call):
            if isinstance(event, TextDelta):
                text += event.text
    except ProviderError as exc:
        status_text = f" (HTTP {exc.status})" if exc.status else ""
        result.add(ERROR, f"round trip failed: {exc.kind.value}{status_text}: "
                          f"{_scrub(exc.message, api_key)}")
    else:
        elapsed = (time.monotonic() - started) * 1000
        answer = f", answered {text.strip()[:20]!r}" if text.strip() else ""
        result.add(OK, f"one-token round trip {_format_ms(elapsed)}{answer}")
    result.finished = True
    return result


async def _read_limited(resp: Any, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = await resp.content.readany()
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)


def _host(url: str) -> str:
    """Host (and port) of ``url`` for a message, credentials masked."""
    safe = mask_url(url)
    return urllib.parse.urlsplit(safe).netloc or safe


def _scrub(text: str, secret: str | None) -> str:
    if secret and len(secret) >= 4:
        return text.replace(secret, "***")
    return text


async def probe_all(
    targets: Sequence[ProbeTarget],
    keys: Mapping[str, str | None],
    *,
    timeout_s: float = DEFAULT_PROBE_TIMEOUT_S,
    http: HttpPool | None = None,
    connect_timeout_s: float = 5.0,
    on_result: Callable[[ProbeResult], None] | None = None,
    provider_factory: Callable[[ProviderSpec, HttpPool], Any] | None = None,
) -> list[ProbeResult]:
    """Probe every target concurrently; everything ends within ``timeout_s``.

    ``on_result`` is called as each target finishes (in finishing order);
    the returned list is in target order. A target still running at the
    deadline gets an ERROR naming its step. Never raises for a target.
    """
    from hexai_nvim.providers import HttpPool

    own_pool = http is None
    pool = http if http is not None else HttpPool()
    results = [ProbeResult(t) for t in targets]

    async def one(result: ProbeResult) -> None:
        try:
            await probe_one(result, pool, keys.get(result.target.provider.name),
                            connect_timeout_s=min(connect_timeout_s, timeout_s),
                            provider_factory=provider_factory)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in one probe must not hide the others
            result.add(ERROR, f"probe failed: {type(exc).__name__}: {exc}")
            result.finished = True
        if on_result is not None:
            on_result(result)

    tasks = [asyncio.ensure_future(one(r)) for r in results]
    try:
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=timeout_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        for result in results:
            if not result.finished:
                result.add(ERROR, f"no answer within {timeout_s:g} s ({result.step})")
                result.finished = True
                if on_result is not None:
                    on_result(result)
    finally:
        for task in tasks:
            task.cancel()
        if own_pool:
            await pool.close()
    return results


def summary(lines: Sequence[CheckLine]) -> CheckLine:
    """One closing verdict over ``lines``."""
    errors = sum(1 for line in lines if line.level == ERROR)
    warnings = sum(1 for line in lines if line.level == WARN)
    if errors:
        return CheckLine(ERROR, f"{errors} error(s), {warnings} warning(s)", "Summary")
    if warnings:
        return CheckLine(WARN, f"no errors, {warnings} warning(s)", "Summary")
    return CheckLine(OK, "everything looks fine", "Summary")
