"""The completion surface: context within hexai's limits, prompts, FIM, cleaning."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hexai_nvim.config.model import Entry, General, ProviderSpec
from hexai_nvim.surfaces.completion import (
    CURSOR_MARK,
    BufferView,
    build_context,
    build_request,
    chat_messages,
    clean_suggestion,
    fetch_range,
    fim_prefix,
    render_template,
    split_budget,
    strip_fences,
)


def entry(kind: str = "openai", model: str = "m") -> Entry:
    spec = ProviderSpec(name=kind, kind=kind, base_url="http://127.0.0.1:1")
    return Entry(
        surface="completion", index=0, provider=spec, model=model, temperature=0.1,
        label=f"{kind}:{model}", max_tokens=64, timeout_ms=1000, stream=True,
    )


def view(text: str, *, path: str = "a.py", commentstring: str = "# %s") -> BufferView:
    """``text`` with ``|`` marking the cursor."""
    lines = text.split("\n")
    for row, line in enumerate(lines):
        if "|" in line:
            col = len(line[: line.index("|")].encode())
            lines[row] = line.replace("|", "", 1)
            return BufferView(tuple(lines), 0, row, col, path, "python", commentstring)
    raise AssertionError("no cursor")


def ctx_of(text: str, **general: object):  # type: ignore[no-untyped-def]
    return build_context(view(text), General(**general))  # type: ignore[arg-type]


# -- context ----------------------------------------------------------------------


def test_context_splits_the_line_at_the_cursor_and_names_neighbours() -> None:
    ctx = ctx_of("import os\ndef add(a, b):\n    return a| + b\nprint(add(1, 2))")
    assert ctx.line_before == "    return a"
    assert ctx.line_after == " + b"
    assert ctx.above == "def add(a, b):"
    assert ctx.below == "print(add(1, 2))"
    assert ctx.function == "def add(a, b):"
    assert ctx.char == len("    return a")
    assert ctx.before.endswith("    return a") and ctx.after.startswith(" + b")


def test_byte_columns_are_turned_into_characters() -> None:
    ctx = ctx_of('s = "héllo wörld|"')
    assert ctx.line_before == 's = "héllo wörld'
    assert ctx.char == len('s = "héllo wörld')


def test_minimal_mode_sends_no_additional_context() -> None:
    assert ctx_of("x = |", context_mode="minimal").extra is None


def test_always_full_marks_the_cursor_in_the_whole_file() -> None:
    ctx = ctx_of("a = 1\nb = |\nc = 3", context_mode="always-full")
    assert ctx.extra == f"a = 1\nb = {CURSOR_MARK}\nc = 3"


def test_window_mode_keeps_only_lines_around_the_cursor() -> None:
    lines = [f"line{i}" for i in range(100)]
    lines[50] = "cur|"
    ctx = ctx_of("\n".join(lines), context_mode="window", context_window_lines=10)
    assert ctx.extra is not None
    assert "line45" in ctx.extra and "line55" in ctx.extra
    assert "line44" not in ctx.extra and "line56" not in ctx.extra


def test_file_on_new_func_adds_the_file_only_when_defining_a_function() -> None:
    assert ctx_of("x = 1\nfoo(|", context_mode="file-on-new-func").extra is None
    ctx = ctx_of("x = 1\ndef foo(|", context_mode="file-on-new-func")
    assert ctx.new_function and ctx.in_params and ctx.extra is not None


def test_context_never_exceeds_max_context_tokens() -> None:
    text = "\n".join(f"value_{i} = {i}" for i in range(5000))
    text = text.replace("value_2500 = 2500", "value_2500 = |")
    ctx = ctx_of(text, context_mode="always-full", max_context_tokens=100)
    assert len(ctx.before) + len(ctx.after) <= 400
    assert ctx.before.endswith("value_2500 = ")
    assert ctx.after.startswith("\nvalue_2501")
    # Cut on line boundaries: the kept prefix starts with a whole line.
    assert ctx.before.startswith("value_")


def test_split_budget_gives_unused_suffix_room_to_the_prefix() -> None:
    before, after = split_budget("x" * 1000, "end", 100)
    assert after == "end" and len(before) == 97


def test_fetch_range_follows_the_context_mode() -> None:
    assert fetch_range(General(context_mode="window", context_window_lines=10), 50, 100) == (45, 56)
    full = General(context_mode="always-full", max_context_tokens=25)  # 100 characters
    assert fetch_range(full, 500, 1000) == (400, 601)
    assert fetch_range(full, 5, 10) == (0, 10)


# -- prompts ----------------------------------------------------------------------


def test_render_template_fills_known_placeholders_and_keeps_unknown() -> None:
    assert render_template("{{a}}-{{ b }}-{{c}}", {"a": 1, "b": "x"}) == "1-x-{{c}}"


def test_hexai_completion_templates_are_honoured() -> None:
    prompts = {
        "completion": {
            "system_general": "SYS",
            "user_general": "F={{file}} L={{current}} C={{char}} A={{above}} B={{below}}",
            "additional_context": "CTX:\n{{context}}",
        }
    }
    ctx = ctx_of("a = 1\nb = |\nc = 3", context_mode="always-full")
    msgs = chat_messages(ctx, prompts)
    assert [m.role for m in msgs] == ["system", "user", "user"]
    assert msgs[0].content == "SYS"
    assert msgs[1].content == "F=a.py L=b =  C=4 A=a = 1 B=c = 3"
    assert msgs[2].content.startswith("CTX:\na = 1")


def test_params_templates_are_used_inside_a_parameter_list() -> None:
    prompts = {"completion": {"system_params": "PSYS", "user_params": "P {{function}}"}}
    msgs = chat_messages(ctx_of("def area(|", context_mode="minimal"), prompts)
    assert msgs[0].content == "PSYS"
    assert msgs[1].content == "P def area("


def test_ollama_entries_get_fim_and_others_chat() -> None:
    ctx = ctx_of("def f():\n    return |\n\nf()")
    fim = build_request(ctx, entry("ollama", "qwen2.5-coder"), {})
    chat = build_request(ctx, entry("openai", "gpt"), {})
    assert fim.fim is not None and chat.fim is None
    assert fim.fim.prefix == "# Path: a.py\ndef f():\n    return "
    assert fim.fim.suffix == "\n\nf()"
    assert chat.messages and chat.max_tokens == 64 and chat.temperature == 0.1


def test_fim_prefix_honours_the_provider_native_template() -> None:
    ctx = ctx_of("x = |")
    assert fim_prefix(ctx, {"provider_native": {"completion": "// {{path}}\n{{before}}"}}) == (
        "// a.py\nx = "
    )


# -- cleaning ---------------------------------------------------------------------


def clean(reply: str, text: str) -> str:
    return clean_suggestion(reply, ctx_of(text))


def test_code_fences_are_removed() -> None:
    assert strip_fences("```python\nreturn a + b\n```") == "return a + b"
    assert strip_fences("Here:\n```\nx = 1\n```\nDone") == "x = 1"
    assert strip_fences("`a + b`") == "a + b"
    assert clean("```py\nreturn a + b\n```", "def f(a, b):\n    |") == "return a + b"


@pytest.mark.parametrize(
    ("reply", "text", "expected"),
    [
        ("x = compute()", "    x| ", " = compute()"),
        ("    return a + b", "def f(a, b):\n    return |", "a + b"),
        ("print(value)", "print(|", "value)"),
        ("def add(a, b):\n    return a + b", "def add(a, b):|", "\n    return a + b"),
        ("result = a + b", "result = |", "a + b"),
    ],
)
def test_text_repeating_the_prefix_is_trimmed(reply: str, text: str, expected: str) -> None:
    assert clean(reply, text) == expected


@pytest.mark.parametrize(
    ("reply", "text", "expected"),
    [
        ("a, b)", "print(|)", "a, b"),
        ("len(x)", "print(|)", "len(x)"),
        ("x + 1\nprint(y)", "y = |\nprint(y)", "x + 1"),
        ("value;", "foo = |;", "value"),
    ],
)
def test_text_repeating_the_suffix_is_trimmed(reply: str, text: str, expected: str) -> None:
    assert clean(reply, text) == expected


def test_a_plain_continuation_is_kept_whole() -> None:
    assert clean(" + b\n", "return a|") == " + b"
    assert clean("append(x)", "items.a|") == "ppend(x)"
    assert clean("count", "total_|") == "count"


def test_indentation_on_a_blank_line_is_not_doubled() -> None:
    assert clean("\n    return 1", "def f():\n    |") == "return 1"


def test_empty_or_blank_replies_become_empty() -> None:
    assert clean("   \n", "x = |") == ""
    assert clean("```\n```", "x = |") == ""


@settings(max_examples=200, deadline=None)
@given(
    reply=st.text(alphabet="ab (){}\n`x=;\t", max_size=40),
    before=st.text(alphabet="ab (){}\nx=;\t", max_size=40),
    after=st.text(alphabet="ab (){}\nx=;\t", max_size=40),
)
def test_cleaning_only_ever_cuts_the_reply(reply: str, before: str, after: str) -> None:
    # Cutting, and indenting later lines like the cursor line when the model
    # wrote its block from column 0: line-start blanks are not compared.
    def unindented(text: str) -> str:
        return "\n".join(line.lstrip(" \t") for line in text.split("\n"))

    text = before.replace("|", "") + "|" + after.replace("|", "")
    out = clean(reply, text)
    assert out == "" or out.strip()
    assert unindented(out) in unindented(strip_fences(reply)) or unindented(out) in unindented(
        reply
    )


def test_fim_or_chat_follows_the_kind_declarations_and_the_fim_option() -> None:
    ctx = ctx_of("def f():\n    return |\n\nf()")
    fim_kinds = ["ollama", "openai-compatible", "llamacpp", "mistral"]
    chat_kinds = ["openai", "openrouter", "anthropic"]
    for kind in fim_kinds:
        assert build_request(ctx, entry(kind), {}).fim is not None, kind
    for kind in chat_kinds:
        assert build_request(ctx, entry(kind), {}).fim is None, kind
    off = ProviderSpec(name="o", kind="ollama", base_url="http://127.0.0.1:1", fim="off")
    assert build_request(ctx, replace(entry("ollama"), provider=off), {}).fim is None
    chosen = ProviderSpec(name="o", kind="openai", base_url="http://x/v1", fim="completions")
    assert build_request(ctx, replace(entry("openai"), provider=chosen), {}).fim is not None


def test_fim_requests_stop_at_a_blank_line_with_completion_sized_limits() -> None:
    ctx = ctx_of("class A:\n    def f(self):\n        |")
    unset = replace(entry("ollama"), max_tokens=4000, max_tokens_set=False)
    request = build_request(ctx, unset, {})
    assert request.fim is not None
    assert request.fim.stop == ("\n\n",)
    assert request.fim.max_tokens == 128  # FIM default
    assert request.max_tokens == 256  # the chat fallback's default
    assert request.stop == ()  # chat answers may hold blank lines (prose, fences)
    assert request.fim.indent == 8
    small = replace(unset, max_tokens=32)  # [general] max_tokens smaller still wins
    assert build_request(ctx, small, {}).fim.max_tokens == 32  # type: ignore[union-attr]
    explicit = replace(entry("ollama"), max_tokens=500, max_tokens_set=True)
    request = build_request(ctx, explicit, {})
    assert request.fim is not None and request.fim.max_tokens == 500
    assert request.max_tokens == 500
