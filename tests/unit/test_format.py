"""Wording shared by the surfaces: counts and articles read as English."""

from __future__ import annotations

from hexai_nvim.surfaces.format import count_of, with_article


def test_one_change_two_changes() -> None:
    assert count_of(1, "change") == "1 change"
    assert (count_of(0, "change"), count_of(2, "warning")) == ("0 changes", "2 warnings")


def test_an_ollama_server_a_llamacpp_server() -> None:
    assert with_article("ollama") == "an ollama"
    assert with_article("openai-compatible") == "an openai-compatible"
    assert with_article("llama.cpp") == "a llama.cpp"
    assert with_article("anthropic") == "an anthropic"
