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
  all at once, under ONE overall timeout, through the engine it is given (so
  with the engine's key policy and scrubber; this module speaks no HTTP): the
  endpoint is reachable and the model is listed where the provider can list
  models (``Provider.list_models``), and a one-token request makes the round
  trip (with its latency). A probe still running at the deadline is reported
  as an ERROR naming the step it was on. One probe's failure never affects
  another. A provider whose credentials are withheld from a project-chosen
  address is a WARN saying why.
"""

from __future__ import annotations

import asyncio
import os
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from hexai_nvim.config.keys import KeyInfo, mask_url, resolve_api_key
from hexai_nvim.config.model import LAYERS, Config, ConfigError, Entry, ProviderSpec
from hexai_nvim.providers.base import ErrorKind, Message, Request
from hexai_nvim.surfaces.code_action import custom_actions
from hexai_nvim.surfaces.format import with_article

if TYPE_CHECKING:
    from hexai_nvim.engine.core import Engine

OK, WARN, ERROR = "OK", "WARN", "ERROR"
#: Default overall deadline of the live probe.
DEFAULT_PROBE_TIMEOUT_S = 10.0


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
    #: Why the key is not sent to the provider's address ("" when it is).
    withheld: str = ""


def used_providers(config: Config) -> list[ProviderSpec]:
    """Providers named by at least one entry, in the order they first appear."""
    seen: dict[str, ProviderSpec] = {}
    for _surface, listed in config.lists():
        for entry in listed:
            for used in (entry, entry.fallback):
                if used is not None and not used.unavailable:
                    seen.setdefault(used.provider.name, used.provider)
    return list(seen.values())


def key_required(spec: ProviderSpec) -> bool:
    """Whether requests fail without a key (a local server usually needs none)."""
    if spec.kind == "ollama":  # keyless, except Ollama Cloud (hexai's default)
        from hexai_nvim.providers.ollama import is_ollama_cloud

        return is_ollama_cloud(spec.base_url)
    from hexai_nvim.providers.registry import kind_info

    try:
        return kind_info(spec.kind).needs_key
    except ValueError:  # an unknown kind is reported by the config check
        return True


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
            withheld=spec.key_withheld,
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
    section = "Config warnings"
    warnings = list(error.warnings if error is not None else config.warnings)
    _actions, action_problems = custom_actions(config.prompts)
    warnings.extend(f"{p.path}: {p.message} (action ignored)" for p in action_problems)
    for warning in warnings:
        add(WARN, warning, section)
    if not warnings:
        add(OK, "the configuration loaded without warnings", section)

    # -- entries
    section = "Entries"
    for surface, entries in config.lists():
        if not entries:
            add(WARN, f"{surface}: no entries", section)
            continue
        for position, entry in enumerate(entries):
            if entry.unavailable:
                add(ERROR, f"{surface}[{position}] {entry.label}: {entry.unavailable} "
                           "(fails when used)", section)
                continue
            note = " (primary)" if position == 0 and len(entries) > 1 else ""
            if entry.fallback is not None:
                note += f", fallback {entry.fallback.label}"
            add(OK, f"{surface}[{position}] {entry.label}{note}: {entry.provider.kind} at "
                    f"{mask_url(entry.provider.base_url)}, temperature {entry.temperature:g}, "
                    f"max_tokens {entry.max_tokens}, timeout {_format_ms(entry.timeout_ms)}",
                section)

    chat, cli = config.list_name("chat"), config.list_name("cli")
    if chat != cli:
        add(OK, f":HexaiAsk uses models.{chat}, hexai ask uses models.{cli}", "Entries")

    # -- keys
    section = "Keys"
    for key in keys:
        if key.withheld and (key.found or key.required):
            found = f"key found ({key.masked}) from {key.source}" if key.found else "no key"
            add(WARN, f"{key.provider}: {found}, not sent: the project file chose the "
                      "address (see Warnings)", section)
        elif key.found:
            add(OK, f"{key.provider}: key found ({key.masked}) from {key.source}", section)
        elif key.source.startswith(("cmd failed", "lookup failed")):
            add(ERROR, f"{key.provider}: no key: api_key_cmd {key.source}", section)
        elif key.required:
            tried = " or ".join(key.tried) if key.tried else "api_key_env / api_key_cmd"
            add(ERROR, f"{key.provider}: no API key found: set {tried}", section)
        else:
            server = with_article(key.kind)
            add(OK, f"{key.provider}: no key ({server} server usually needs none)", section)
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
    #: The first entry using it (the round trip runs as this entry).
    entry: Entry | None = None

    @property
    def name(self) -> str:
        return f"{self.provider.name}:{self.model}"


def probe_targets(config: Config) -> list[ProbeTarget]:
    """Every distinct ``provider:model`` of the config, in surface order."""
    order: list[tuple[str, str]] = []
    firsts: dict[tuple[str, str], Entry] = {}
    users: dict[tuple[str, str], list[str]] = {}
    for surface, listed in config.lists():
        for position, primary in enumerate(listed):
            chain = [(primary, f"{surface}[{position}]")]
            if primary.fallback is not None:
                chain.append((primary.fallback, f"{surface}[{position}].fallback"))
            for entry, user in chain:
                if entry.unavailable:
                    continue  # reported in the Entries section; nothing to probe
                key = (entry.provider.name, entry.model)
                if key not in firsts:
                    order.append(key)
                    firsts[key] = entry
                users.setdefault(key, []).append(user)
    return [ProbeTarget(firsts[k].provider, k[1], tuple(users[k]), firsts[k]) for k in order]


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


def model_in(model: str, names: Sequence[str], kind: str) -> bool:
    if model in names:
        return True
    # Ollama adds ":latest" to a model pulled without a tag.
    return kind == "ollama" and ":" not in model and f"{model}:latest" in names


#: What the probe asks for its round trip.
PROBE_REQUEST = Request(
    messages=(Message("user", "Reply with the single word OK."),),
    max_tokens=1,
    temperature=0.0,
)


def _probe_entry(target: ProbeTarget, timeout_s: float) -> Entry:
    """The entry the round trip runs as: the target's, one token, the probe's deadline."""
    base = target.entry or Entry(
        surface="ask", index=0, provider=target.provider, model=target.model,
        temperature=0.0, label=target.name, max_tokens=1, timeout_ms=0,
        stream=target.provider.stream,
    )
    return replace(base, max_tokens=1, timeout_ms=max(1, round(timeout_s * 1000)))


async def probe_one(result: ProbeResult, engine: Engine, *, timeout_s: float) -> ProbeResult:
    """Run the steps of one target through ``engine``, recording verdicts in ``result``.

    Step 1 and 2 (reachable, model listed) ask the provider for its model
    list where its API has one; step 3 is a one-token round trip. Both go
    through the engine: the same key policy, the same scrubbing as every
    request.
    """
    target = result.target
    spec = target.provider
    where = _host(spec.base_url)

    result.step = "listing models"
    listing = await engine.list_models(spec)
    error = listing.error
    withheld = error is not None and error.kind is ErrorKind.CONFIG and bool(spec.key_withheld)
    if withheld:
        # The trust rule: a WARN saying why and how to trust the address.
        result.add(WARN, spec.key_withheld)
        result.finished = True
        return result
    if error is not None and listing.http_status is None:
        label = "unreachable" if error.kind in _UNREACHABLE_KINDS else error.kind.value
        result.add(ERROR, f"{label}: {error.message}")
        result.finished = True
        return result
    if listing.http_status is not None:
        result.add(OK, f"reachable ({where}, HTTP {listing.http_status}, "
                       f"{_format_ms(listing.elapsed_ms)})")
    if not listing.supported:
        result.add(OK, f"{spec.kind} servers do not list models (listing skipped)")
    elif error is not None:
        if error.kind is ErrorKind.AUTH:
            result.add(ERROR, f"the model list was refused (HTTP {listing.http_status}): "
                              "check the API key")
        elif error.status is not None:
            result.add(WARN, f"the server does not list models (HTTP {error.status})")
        else:
            result.add(WARN, f"unrecognised model list: {error.message}")
    elif listing.names is not None:
        names = listing.names
        if model_in(target.model, names, spec.kind):
            result.add(OK, "model listed by the server")
        else:
            shown = ", ".join(names[:5]) + (", …" if len(names) > 5 else "")
            result.add(WARN, f"model not in the server's list ({len(names)} listed"
                             + (f": {shown}" if shown else "") + ")")

    # Step 3: a one-token round trip.
    result.step = "one-token round trip"
    fan = engine.fan_out([_probe_entry(target, timeout_s)], PROBE_REQUEST)
    (answer,) = await fan.wait()
    if answer.error is not None:
        level = WARN if answer.error.kind is ErrorKind.CONFIG and spec.key_withheld else ERROR
        result.add(level, f"round trip failed: {answer.error.label()}")
    else:
        elapsed = answer.stats.total_ms or 0.0
        said = answer.text.strip()
        shown = f", answered {said[:20]!r}" if said else ""
        result.add(OK, f"one-token round trip {_format_ms(elapsed)}{shown}")
    result.finished = True
    return result


#: Error kinds that mean the server gave no answer at all.
_UNREACHABLE_KINDS = (ErrorKind.UNREACHABLE, ErrorKind.TIMEOUT)


def _host(url: str) -> str:
    """Host (and port) of ``url`` for a message, credentials masked."""
    safe = mask_url(url)
    return urllib.parse.urlsplit(safe).netloc.rpartition("@")[2] or safe


async def probe_all(
    targets: Sequence[ProbeTarget],
    engine: Engine,
    *,
    timeout_s: float = DEFAULT_PROBE_TIMEOUT_S,
    on_result: Callable[[ProbeResult], None] | None = None,
) -> list[ProbeResult]:
    """Probe every target concurrently through ``engine``; everything ends within ``timeout_s``.

    ``on_result`` is called as each target finishes (in finishing order);
    the returned list is in target order. A target still running at the
    deadline gets an ERROR naming its step. Never raises for a target.
    The caller owns ``engine`` (and closes it).
    """
    results = [ProbeResult(t) for t in targets]

    async def one(result: ProbeResult) -> None:
        try:
            await probe_one(result, engine, timeout_s=timeout_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in one probe must not hide the others
            result.add(ERROR, engine.scrub(f"probe failed: {type(exc).__name__}: {exc}"))
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
    return results


def summary(lines: Sequence[CheckLine]) -> CheckLine:
    """One closing verdict over ``lines``."""
    errors = sum(1 for line in lines if line.level == ERROR)
    warnings = sum(1 for line in lines if line.level == WARN)
    if errors:
        return CheckLine(ERROR, f"{errors} error(s), {warnings} warning(s) in all sections",
                         "Summary")
    if warnings:
        return CheckLine(WARN, f"no errors, {warnings} warning(s) in all sections", "Summary")
    return CheckLine(OK, "everything looks fine", "Summary")
