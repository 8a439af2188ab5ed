"""The one scrubber (hexai_nvim.secrets): every configured secret, whole or echoed in part."""

from __future__ import annotations

import base64
import io
import logging
from pathlib import Path

import pytest

from hexai_nvim.config import ConfigError, load_config
from hexai_nvim.config.model import ProviderSpec
from hexai_nvim.secrets import (
    REDACTED,
    ScrubbedStream,
    Scrubber,
    ScrubbingFormatter,
    remember,
    scrub,
    secrets_of_spec,
)

KEY = "sk-proj-AbCdEf0123456789GhIjKlMn"


def slices(secret: str, n: int = 6) -> list[str]:
    return [secret[i : i + n] for i in range(len(secret) - n + 1)]


def test_whole_cut_and_prefixed_echoes_are_removed() -> None:
    s = Scrubber([KEY])
    for echo in (
        f"Incorrect API key provided: {KEY}.",
        f"Incorrect API key provided: {KEY[:8]}{'*' * 20}{KEY[-4:]}",
        f"bad key {KEY[:14]}... here",
        f'{{"key":"{KEY}"}}',
        f"Authorization: Bearer {KEY[3:]}",
    ):
        out = s.scrub(echo)
        assert REDACTED in out
        assert not any(piece in out for piece in slices(KEY)), out
    assert s.scrub("nothing secret here: 127.0.0.1:8080, 200 OK") == (
        "nothing secret here: 127.0.0.1:8080, 200 OK"
    )


def test_header_values_url_passwords_and_basic_forms_are_secrets() -> None:
    token, password = "tok-proxy-77aa88bb99ccXYZ", "pw-url-0f0f0f0f0f0fAB"
    basic = base64.b64encode(b"bob:hunter2hunter2").decode()
    spec = ProviderSpec(
        name="p", kind="openai-compatible",
        base_url=f"http://alice:{password}@127.0.0.1:9/v1?api_key=qk-0123456789abcd",
        headers={"X-Proxy-Token": token, "Authorization": f"Basic {basic}"},
        withheld_headers={"X-Other": "withheld-value-0123456789"},
    )
    found = secrets_of_spec(spec)
    user_pass = base64.b64encode(f"alice:{password}".encode()).decode()
    assert {token, password, user_pass, basic, "hunter2hunter2", "bob:hunter2hunter2",
            "qk-0123456789abcd", "withheld-value-0123456789"} <= found
    s = Scrubber(found)
    text = (f"echo: Basic {user_pass} / {basic} / {token} / hunter2hunter2 / {password} "
            "from http://alice:****@127.0.0.1:9/v1")
    out = s.scrub(text)
    for secret in found:
        # (a "Scheme token" value is gone whole; its token is a secret of its own)
        strong = ":" not in secret and " " not in secret
        assert not (strong and any(piece in out for piece in slices(secret))), secret
    assert "http://alice:****@127.0.0.1:9/v1" in out  # the user name is no secret


def test_short_values_are_not_secrets() -> None:
    s = Scrubber(["json", "1", "", None, "abc1234"])
    assert s.scrub("application/json 1 abc1234") == "application/json 1 abc1234"


def test_the_log_formatter_and_the_terminal_stream_scrub(tmp_path: Path) -> None:
    remember(KEY)
    record = logging.LogRecord("hexai_nvim", logging.ERROR, __file__, 1,
                               "failed: %s", (f"key {KEY}",), None)
    assert KEY[:10] not in ScrubbingFormatter("%(message)s").format(record)
    buffer = io.StringIO()
    stream = ScrubbedStream(buffer)
    stream.write(f"error: {KEY}\n")
    assert buffer.getvalue() == f"error: {REDACTED}\n"
    assert scrub(KEY) == REDACTED


@pytest.mark.parametrize("key", ["headers", "api_key_cmd"])
def test_a_wrong_typed_secret_value_is_never_echoed(tmp_path: Path, key: str) -> None:
    secret = "sk-wrongtype-0123456789abcdef"
    value = f'"Authorization: Bearer {secret}"' if key == "headers" else f"[\"{secret}\"]"
    path = tmp_path / "config.toml"
    path.write_text(f'[providers.corp]\nkind = "openai-compatible"\n'
                    f'base_url = "http://127.0.0.1:9/v1"\n{key} = {value}\n')
    with pytest.raises(ConfigError) as caught:
        load_config(str(path), cwd=str(tmp_path), env={})
    text = str(caught.value)
    assert f"providers.corp.{key}" in text
    assert not any(piece in text for piece in slices(secret)), text


def test_the_precompiled_scrubber_removes_what_the_plain_one_did() -> None:
    # The fast path (one regex for whole secrets, one search for any slice)
    # must not let anything through that the token pass would catch.
    other = "tok-0123abcdXYZW9876"
    scrubber = Scrubber([KEY, other])
    assert scrubber.scrub(f"a {KEY}{other} b") == f"a {REDACTED}{REDACTED} b"
    for piece in (KEY[3:15], KEY[-9:], other[2:10]):
        assert scrubber.scrub(f"echo: x{piece}y)") == f"echo: {REDACTED})"
    plain = "def mean(values):\n    return sum(values) / len(values)\n"
    assert scrubber.scrub(plain) == plain
    assert scrubber.scrub_data({"lines": [plain, f"k={KEY}"], "n": 3}) == {
        "lines": [plain, f"k={REDACTED}"], "n": 3}
    # Registering later secrets recompiles: they are removed too.
    late = "late-9876zyxwLKJH5432"
    scrubber.add(late)
    assert late not in scrubber.scrub(f"x {late} y")
    assert Scrubber().scrub_data({"a": [KEY]}) == {"a": [KEY]}
