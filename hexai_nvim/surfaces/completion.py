"""The completion surface: what to ask for at the cursor, and what to show of the answer.

Nothing here does I/O or knows Neovim: the host hands in the buffer lines
around the cursor (:class:`BufferView`), this module builds a
:class:`CursorContext` within hexai's ``[general]`` limits, a
:class:`~hexai_nvim.providers.base.Request` per entry (fill-in-the-middle for
Ollama, a chat prompt from hexai's ``[prompts.completion]`` templates for the
rest), and cleans each answer (:func:`clean_suggestion`).

What a caller may rely on:

- :func:`context_limits` says how much text around the cursor
  :func:`build_context` can use (Lua sends that much with each trigger);
  :func:`fetch_range` is the line range the host reads when Lua sent none.
  Handing in more is harmless.
- Context text never exceeds ``max_context_tokens`` (estimated at
  :data:`CHARS_PER_TOKEN` characters per token), split around the cursor so
  the text nearest to it is kept; cuts fall on line boundaries where possible.
- :func:`clean_suggestion` returns only text to insert at the cursor: code
  fences removed, anything repeating the text left of the cursor or right of
  it trimmed, trailing blanks dropped. An empty string means "nothing useful".
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hexai_nvim.config.model import Entry, General
from hexai_nvim.providers.base import FimFile, FimPrompt, Message, Request

#: Rough size of one token, used to turn ``max_context_tokens`` into characters.
CHARS_PER_TOKEN = 4
#: How the cursor is marked inside the additional context sent to chat models.
CURSOR_MARK = "<|cursor|>"
#: Share of the context budget given to the text after the cursor (the rest,
#: and whatever the suffix leaves unused, goes to the text before it).
SUFFIX_SHARE = 0.25
#: How far up to look for the enclosing function's first line.
FUNCTION_SCAN_LINES = 200

CONTEXT_MODES = ("minimal", "window", "file-on-new-func", "always-full")

# Our own default prompts. Same template names and placeholders as hexai's
# ``[prompts.completion]`` table, so a hexai config's templates drop in.
DEFAULT_PROMPTS: Mapping[str, str] = {
    # A chat model is told what the slot is, shown one example of the answer
    # shape, and allowed to restate the cursor line or the line after it
    # (clean_suggestion removes restated boundary lines); small models follow
    # an example far better than a rule.
    "system_general": (
        "You are a code completion engine inside an editor. Reply with only the code "
        "that goes at the cursor: no explanations, no Markdown, no code fences, no "
        "cursor marker. Continue exactly where the cursor is; keep the file's "
        "indentation for any further lines.\n"
        "Example. Current line (cursor at character 11): `    return ` in\n"
        "def add(a, b):\n    return \n"
        "Correct reply: a + b"
    ),
    "user_general": (
        "Complete the code at the cursor.\n"
        "File: {{file}}\n"
        "Enclosing function: {{function}}\n"
        "Line above: {{above}}\n"
        "Current line (cursor at character {{char}}, indented {{indent}} columns): "
        "{{current}}\n"
        "Line below: {{below}}\n"
        "Reply with the inserted code only."
    ),
    "system_params": (
        "You complete function parameter lists. Answer with only the parameters to "
        "insert (no parentheses, no body, no prose)."
    ),
    "user_params": (
        "The cursor is inside a function's parameter list.\n"
        "Function line: {{function}}\n"
        "Current line (cursor at character {{char}}): {{current}}\n"
        "Answer with the parameters only."
    ),
    # The marker is explained once, not in a line a model likes to echo first.
    "additional_context": (
        "The file around the cursor (" + CURSOR_MARK + " stands for the cursor; never "
        "write it):\n{{context}}"
    ),
}

_DEF_RE = re.compile(
    r"^\s*(?:(?:export|pub(?:\([^)]*\))?|async|static|public|private|protected|local|"
    r"override|inline|extern|default)\s+)*"
    r"(?:def|func|function|fn|fun|sub|proc|procedure|defun|defn|method)\b"
)
_PLACEHOLDER_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_FENCE_RE = re.compile(r"^[ \t]*(```|~~~)[^\n]*$", re.MULTILINE)
_IDENT_RE = re.compile(r"\w")
_WORD_END_RE = re.compile(r"\w+$")


# ---------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BufferView:
    """Lines of a buffer around the cursor, as the host read them.

    ``lines[0]`` is buffer line ``first_line`` (0-based); ``row`` is the
    cursor's 0-based buffer line and ``col`` its 0-based *byte* column, as
    Neovim reports them.
    """

    lines: tuple[str, ...]
    first_line: int
    row: int
    col: int
    path: str = ""
    filetype: str = ""
    #: The buffer's 'commentstring' (``"# %s"``), used to label the file for FIM.
    commentstring: str = ""
    #: Other open buffers, for FIM formats that take them (llama.cpp ``input_extra``).
    files: tuple[FimFile, ...] = ()


@dataclass(frozen=True)
class CursorContext:
    """Everything the prompts may use about the cursor's surroundings."""

    path: str
    filetype: str
    #: Text before the cursor (bounded), ending at the cursor.
    before: str
    #: Text after the cursor (bounded), starting at the cursor.
    after: str
    line_before: str
    line_after: str
    above: str
    below: str
    #: Cursor position in characters (not bytes) within the current line.
    char: int
    #: First line of the enclosing function, stripped ("" when none found).
    function: str
    in_params: bool
    new_function: bool
    #: The additional context for chat prompts (per ``context_mode``), or None.
    extra: str | None
    commentstring: str = ""
    #: Other open buffers (:attr:`BufferView.files`).
    files: tuple[FimFile, ...] = ()

    @property
    def current(self) -> str:
        return self.line_before + self.line_after


# ---------------------------------------------------------------------------
# Context
# ---------------------------------------------------------------------------


def char_budget(general: General) -> int:
    """``max_context_tokens`` in characters (at least one line's worth)."""
    return max(80, int(general.max_context_tokens) * CHARS_PER_TOKEN)


#: Tokens kept free in a server's context for the instructions and the chat
#: template around the code.
PROMPT_RESERVE_TOKENS = 256
#: Share of what is left that the code may take: code often has fewer than
#: :data:`CHARS_PER_TOKEN` characters per token, and the budget is in characters.
CONTEXT_SAFETY = 0.75


def fit_context(general: General, context_tokens: int | None,
                answer_tokens: int) -> General | None:
    """``general`` with a ``max_context_tokens`` that fits a server whose context
    is ``context_tokens`` with room for an answer of ``answer_tokens``; None when
    the configured ceiling already fits (or the context is unknown). Never above
    the user's ``max_context_tokens``."""
    if not context_tokens:
        return None
    room = context_tokens - max(0, answer_tokens) - PROMPT_RESERVE_TOKENS
    fits = max(32, int(room * CONTEXT_SAFETY))
    if fits >= general.max_context_tokens:
        return None
    return dataclasses.replace(general, max_context_tokens=fits)


def context_limits(general: General) -> dict[str, float]:
    """What Lua sends with a trigger, per side of the cursor: ``lines`` (0: no
    line limit) and ``chars`` (bytes in Lua, at least as many as characters).

    Each side may take the whole character budget (the other side's unused
    share goes to it, see :func:`split_budget`), so each side is bounded by it;
    with ``suffix_share`` Lua bounds the text after the cursor by what the
    text before it leaves (ASCII text, where bytes are characters).
    """
    chars = char_budget(general)
    if general.context_mode in ("minimal", "window"):
        return {"lines": max(1, int(general.context_window_lines) // 2), "chars": chars,
                "suffix_share": SUFFIX_SHARE}
    return {"lines": 0, "chars": chars, "suffix_share": SUFFIX_SHARE}


def fetch_range(general: General, row: int, line_count: int) -> tuple[int, int]:
    """Buffer lines ``[start, end)`` that :func:`build_context` needs for ``row``.

    Window modes need ``context_window_lines`` around the cursor; full modes
    need everything the character budget could hold (each line costs at least
    its newline, so lines further away than the budget are cut anyway).
    """
    line_count = max(line_count, row + 1)
    if general.context_mode in ("minimal", "window"):
        half = max(1, int(general.context_window_lines) // 2)
    else:
        half = char_budget(general)
    return max(0, row - half), min(line_count, row + half + 1)


def _byte_col_to_char(line: str, col: int) -> int:
    if col <= 0:
        return 0
    return len(line.encode("utf-8")[:col].decode("utf-8", errors="ignore"))


def build_context(view: BufferView, general: General) -> CursorContext:
    """The cursor's surroundings, bounded by hexai's ``[general]`` context settings."""
    lines = list(view.lines) or [""]
    idx = min(max(view.row - view.first_line, 0), len(lines) - 1)
    line = lines[idx]
    char = _byte_col_to_char(line, view.col)
    line_before, line_after = line[:char], line[char:]
    above = lines[idx - 1] if idx > 0 else ""
    below = lines[idx + 1] if idx + 1 < len(lines) else ""

    mode = general.context_mode if general.context_mode in CONTEXT_MODES else "minimal"
    if mode in ("minimal", "window"):
        half = max(1, int(general.context_window_lines) // 2)
        lo, hi = max(0, idx - half), min(len(lines), idx + half + 1)
    else:
        lo, hi = 0, len(lines)
    prefix_text = "\n".join([*lines[lo:idx], line_before])
    suffix_text = "\n".join([line_after, *lines[idx + 1 : hi]])
    before, after = split_budget(prefix_text, suffix_text, char_budget(general))

    function = _enclosing_function(lines, idx, line_before)
    new_function = bool(_DEF_RE.match(line_before))
    in_params = new_function and _unbalanced_open_paren(line_before)

    extra: str | None
    if mode == "minimal" or (mode == "file-on-new-func" and not new_function):
        extra = None
    else:
        extra = before + CURSOR_MARK + after

    return CursorContext(
        path=view.path,
        filetype=view.filetype,
        before=before,
        after=after,
        line_before=line_before,
        line_after=line_after,
        above=above,
        below=below,
        char=char,
        function=function,
        in_params=in_params,
        new_function=new_function,
        extra=extra,
        commentstring=view.commentstring,
        files=view.files,
    )


def split_budget(before: str, after: str, budget: int) -> tuple[str, str]:
    """Cut ``before`` (keeping its end) and ``after`` (keeping its start) to ``budget`` chars.

    The suffix gets :data:`SUFFIX_SHARE` of the budget, the prefix the rest
    plus whatever the suffix does not use (and vice versa).
    """
    if len(before) + len(after) <= budget:
        return before, after
    after_quota = min(len(after), int(budget * SUFFIX_SHARE))
    before_quota = min(len(before), budget - after_quota)
    after_quota = min(len(after), budget - before_quota)
    return _keep_end(before, before_quota), _keep_start(after, after_quota)


def _keep_end(text: str, n: int) -> str:
    if len(text) <= n:
        return text
    cut = text[len(text) - n :] if n > 0 else ""
    nl = cut.find("\n")
    # Drop the partial first line unless that would drop everything.
    return cut[nl + 1 :] if 0 <= nl < len(cut) - 1 else cut


def _keep_start(text: str, n: int) -> str:
    if len(text) <= n:
        return text
    cut = text[:n] if n > 0 else ""
    nl = cut.rfind("\n")
    return cut[:nl] if nl > 0 else cut


def _enclosing_function(lines: Sequence[str], idx: int, line_before: str) -> str:
    if _DEF_RE.match(line_before):
        return line_before.strip()
    for i in range(idx - 1, max(-1, idx - 1 - FUNCTION_SCAN_LINES), -1):
        if _DEF_RE.match(lines[i]):
            return lines[i].strip()
    return ""


def _unbalanced_open_paren(text: str) -> bool:
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
    return depth > 0


# ---------------------------------------------------------------------------
# Prompts
# ---------------------------------------------------------------------------


def render_template(template: str, values: Mapping[str, object]) -> str:
    """Replace ``{{name}}`` placeholders; unknown ones stay as written."""

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(values[name]) if name in values else match.group(0)

    return _PLACEHOLDER_RE.sub(sub, template)


def completion_prompts(prompts: Mapping[str, Any]) -> dict[str, str]:
    """hexai's ``[prompts.completion]`` templates over our defaults (blank ones ignored)."""
    merged = dict(DEFAULT_PROMPTS)
    table = prompts.get("completion")
    if isinstance(table, Mapping):
        for key, value in table.items():
            if isinstance(value, str) and value.strip():
                merged[str(key)] = value
    return merged


def template_values(ctx: CursorContext) -> dict[str, object]:
    """The placeholders a completion template may use (hexai's, plus ours)."""
    return {
        # hexai's
        "file": ctx.path,
        "path": ctx.path,
        "function": ctx.function,
        "above": ctx.above,
        "current": ctx.current,
        "below": ctx.below,
        "char": ctx.char,
        "before": ctx.before,
        # ours
        "after": ctx.after,
        "prefix": ctx.before,
        "suffix": ctx.after,
        "filetype": ctx.filetype,
        "cursor": CURSOR_MARK,
        "indent": len(ctx.current) - len(ctx.current.lstrip(" \t")),
    }


def chat_messages(ctx: CursorContext, prompts: Mapping[str, Any]) -> tuple[Message, ...]:
    """System + user message from the templates, then the additional context if any."""
    templates = completion_prompts(prompts)
    values = template_values(ctx)
    kind = "params" if ctx.in_params else "general"
    messages = [
        Message("system", render_template(templates[f"system_{kind}"], values)),
        Message("user", render_template(templates[f"user_{kind}"], values)),
    ]
    if ctx.extra is not None and ctx.extra.strip():
        header = render_template(templates["additional_context"], {"context": ctx.extra})
        messages.append(Message("user", header if header.strip() else ctx.extra))
    return tuple(messages)


def fim_prefix(ctx: CursorContext, prompts: Mapping[str, Any]) -> str:
    """The FIM prefix: hexai's ``[prompts.provider_native] completion`` template if set,
    else the text before the cursor under a "Path:" comment in the buffer's comment syntax."""
    table = prompts.get("provider_native")
    template = table.get("completion") if isinstance(table, Mapping) else None
    if isinstance(template, str) and template.strip():
        return render_template(template, template_values(ctx))
    if ctx.path and "%s" in ctx.commentstring:
        header = ctx.commentstring.replace("%s", f" Path: {ctx.path} ", 1).strip()
        header = re.sub(r"\s+", " ", header)
        return f"{header}\n{ctx.before}"
    return ctx.before


#: ``max_tokens`` of a chat completion request when the entry sets none
#: (FIM requests: :data:`hexai_nvim.providers.fim.FIM_DEFAULT_MAX_TOKENS`).
CHAT_DEFAULT_MAX_TOKENS = 256


#: Other open buffers sent as FIM context: how many, and how much of each.
EXTRA_FILES = 3
EXTRA_FILE_CHARS = 4000


def wants_files(entries: Sequence[Entry]) -> bool:
    """Whether any entry's FIM format takes other open files (llama.cpp ``/infill``)."""
    from hexai_nvim.providers.registry import fim_mode

    for entry in entries:
        try:
            if fim_mode(entry.provider) == "infill":
                return True
        except ValueError:
            continue
    return False


def uses_fim(entry: Entry) -> bool:
    """Whether the entry's provider sends fill-in-the-middle requests (its ``fim``
    option, ``auto`` meaning what its kind declares)."""
    from hexai_nvim.providers.registry import fim_mode

    try:
        return fim_mode(entry.provider) != "off"
    except ValueError:  # an unknown kind fails later, with its own message
        return False


def build_request(ctx: CursorContext, entry: Entry, prompts: Mapping[str, Any]) -> Request:
    """The request for one entry: FIM where the provider does it, chat otherwise.

    A FIM request still carries the chat messages, so a provider that cannot
    do FIM for this model can fall back to them. Without an entry
    ``max_tokens`` a FIM request asks for at most
    :data:`~hexai_nvim.providers.fim.FIM_DEFAULT_MAX_TOKENS` tokens and stops at
    a blank line; a chat one for :data:`CHAT_DEFAULT_MAX_TOKENS`. Neither asks
    for more than ``[general] max_tokens``.
    """
    from hexai_nvim.providers.fim import FIM_DEFAULT_MAX_TOKENS, FIM_DEFAULT_STOP

    messages = chat_messages(ctx, prompts)
    fim = None
    if uses_fim(entry):
        line = ctx.line_before
        fim = FimPrompt(
            prefix=fim_prefix(ctx, prompts),
            suffix=ctx.after,
            stop=FIM_DEFAULT_STOP,
            max_tokens=(
                entry.max_tokens
                if entry.max_tokens_set
                else min(entry.max_tokens, FIM_DEFAULT_MAX_TOKENS)
            ),
            indent=len(line) - len(line.lstrip(" \t")),
            extra=ctx.files,
        )
    return Request(
        messages=messages,
        max_tokens=answer_tokens(entry),
        temperature=entry.temperature,
        fim=fim,
    )


def answer_tokens(entry: Entry) -> int:
    """The ``max_tokens`` of ``entry``'s completion request (its chat form): the
    entry's own when set, else at most :data:`CHAT_DEFAULT_MAX_TOKENS`."""
    if entry.max_tokens_set:
        return entry.max_tokens
    return min(entry.max_tokens, CHAT_DEFAULT_MAX_TOKENS)


# ---------------------------------------------------------------------------
# Cleaning
# ---------------------------------------------------------------------------


def strip_fences(text: str) -> str:
    """The body of the first fenced code block, or ``text`` without stray fence lines;
    a reply that is one inline code span loses its backticks."""
    fences = list(_FENCE_RE.finditer(text))
    if fences:
        start = fences[0].end()
        end = fences[1].start() if len(fences) > 1 else len(text)
        body = text[start:end]
        if body.startswith("\n"):
            body = body[1:]
        if body.strip():
            return body.rstrip("\n")
        # An empty first block: drop the fence lines and keep what remains.
        return _FENCE_RE.sub("", text).strip("\n")
    stripped = text.strip()
    if (
        len(stripped) >= 2
        and stripped.startswith("`")
        and stripped.endswith("`")
        and stripped.count("`") == 2
        and "\n" not in stripped
    ):
        return stripped[1:-1]
    return text


def _is_boundary(text: str, pos: int) -> bool:
    """Whether ``text[pos:]`` starts a new token (word/non-word change or line start)."""
    if pos <= 0:
        return True
    prev, cur = text[pos - 1], text[pos]
    if prev == "\n" or prev.isspace() or cur.isspace():
        return True
    return bool(_IDENT_RE.match(prev)) != bool(_IDENT_RE.match(cur))


def trim_prefix_repeat(suggestion: str, before: str, line_before: str) -> str:
    """Drop the start of ``suggestion`` that repeats the end of ``before``.

    Counted as a repeat, when it starts at a token boundary: an overlap
    covering everything typed on the current line (ignoring its indentation)
    or the word being typed, or one of at least 4 characters. Leading blanks
    the model put before a repeat are dropped with it.
    """
    if not suggestion or not before:
        return suggestion
    body = suggestion.lstrip(" \t")
    typed = line_before.lstrip(" \t")
    word = _WORD_END_RE.search(line_before)
    word_len = len(word.group(0)) if word else 0
    limit = min(len(body), len(before), 4000)
    for k in range(limit, 0, -1):
        if not before.endswith(body[:k]):
            continue
        start = len(before) - k
        covers_typed = (bool(typed) and k >= len(typed)) or (word_len > 0 and k >= word_len)
        if (covers_typed and _is_boundary(before, start)) or (
            k >= 4 and _is_boundary(before, start)
        ):
            return body[k:]
    return suggestion


_OPENERS, _CLOSERS = "([{", ")]}"


def _closer_excess(text: str) -> int:
    """Closing brackets minus opening ones."""
    return sum(text.count(c) for c in _CLOSERS) - sum(text.count(c) for c in _OPENERS)


def trim_suffix_repeat(suggestion: str, after: str, line_after: str) -> str:
    """Drop the end of ``suggestion`` that repeats the start of ``after``.

    Counted as a repeat: an overlap covering the rest of the current line
    (ignoring trailing blanks), or one of at least 4 characters ending at a
    token boundary of ``after``. A tail holding brackets is trimmed only when
    the suggestion closes more brackets than it opens (``len(x)`` before an
    existing ``)`` is kept whole; ``x)`` loses its ``)``).
    A balanced tail (``print(y)`` repeating the next line) is always trimmed.
    """
    if not suggestion or not after:
        return suggestion
    body = suggestion.rstrip()
    rest = line_after.rstrip()
    limit = min(len(body), len(after), 4000)
    for k in range(limit, 0, -1):
        tail = body[len(body) - k :]
        if not after.startswith(tail):
            continue
        covers_line = bool(rest) and k >= len(rest)
        at_boundary = k == len(after) or _is_boundary(after, k)
        if not (covers_line or (k >= 4 and at_boundary)):
            continue
        kept = body[: len(body) - k]
        if _closer_excess(tail) > 0 and not (
            _closer_excess(body) > 0 and _closer_excess(kept) >= 0
        ):
            continue
        return kept
    return suggestion


def _strip_repeated_indent(suggestion: str, line_before: str, line_after: str) -> str:
    """On a blank line, drop leading newlines and indentation the line already has."""
    if line_before.strip() or line_after.strip():
        return suggestion
    text = suggestion.lstrip("\n")
    indent = len(text) - len(text.lstrip(" \t"))
    drop = min(indent, len(line_before))
    if drop and text[:drop] == line_before[:drop]:
        text = text[drop:]
    return text


#: Markers a model may echo: our cursor mark, ``<cursor>`` tags, special tokens
#: of FIM templates (``<|fim_middle|>``, ``<fim_suffix>``, CodeLlama's ``<MID>``)
#: and end-of-text tokens. Never part of an insertion.
_MARKER_RE = re.compile(
    r"<\|[A-Za-z0-9_]+\|>|</?\|?cursor\|?>|<(?:fim[_-][a-z]+|PRE|SUF|MID|EOT)>|"
    r"<\|?endoftext\|?>"
)
#: Openers of a chat model's prose ("Here is the code:", "Sure!", "I'm sorry ...").
_PROSE_OPENER_RE = re.compile(
    r"^(here\b|sure\b|certainly|of course|okay\b|ok[,.!]|"
    r"the (?:complet|missing|code|cursor|rest|answer|result|function|line)|"
    r"this (?:code|completes|will|is|should|line|function)|to complete|i(?:'m| am| would|"
    r" will| can|'ll)\b|you can|below|let me|note:|explanation)",
    re.IGNORECASE,
)
#: Characters that make a line code rather than prose.
_CODE_CHARS_RE = re.compile(r"[=;{}()\[\]<>`$]|->|=>|::")
#: What prose may wrap around a word: ``(cursor``, ``columns)``, ``add`,``.
_WORD_RE = re.compile(r"^[(\[\"'`]*[A-Za-z][A-Za-z'-]*[)\]\"'`,.:;!?]*$|^\d+[,.)]?$")
_BACKTICKED_RE = re.compile(r"`[^`\n]*`")
#: A line that only closes something (its restatement must match to the column).
_CLOSING_LINE_RE = re.compile(
    r"^\s*(?:[)\]}]+|end|fi|done|esac|endif|endfunction|endwhile|endfor)?[)\]};,]*\s*$"
)
_COMMENT_LEADERS = ("#", "//", "--", "/*", "*", ";", '"""', "'''", "<!--")


def strip_markers(text: str) -> str:
    """``text`` without echoed cursor marks and template tokens; a line that held
    one and is prose or nothing once it is gone ("The cursor marked as <|cursor|>:")
    goes with it."""
    if not _MARKER_RE.search(text):
        return text
    lines = []
    for line in text.split("\n"):
        bare = _MARKER_RE.sub("", line)
        if bare != line and (not bare.strip() or _is_prose(bare)):
            continue
        lines.append(bare)
    return "\n".join(lines)


def _is_prose(line: str) -> bool:
    """Whether ``line`` reads as a sentence to the user rather than code.

    A sentence may be cut by the token limit (no full stop) and may quote
    code in backticks; a line of code has operators or is mostly not words.
    """
    text = line.strip()
    if not text:
        return False
    words = text.split()
    if (
        len(words) >= 5
        and text[0].isupper()
        and not re.search(r"[=;{}]", _BACKTICKED_RE.sub("w", text))
        and sum(bool(_WORD_RE.match(w)) for w in words) >= 0.85 * len(words)
    ):
        return True
    if _CODE_CHARS_RE.search(text):
        return False
    if _PROSE_OPENER_RE.match(text):
        return True
    return len(words) >= 3 and text[0].isupper() and text[-1] in ".:!?"


#: Filetypes whose text is prose: answers there are never cut as chatter.
PROSE_FILETYPES = frozenset(
    {"markdown", "text", "gitcommit", "rst", "org", "tex", "asciidoc", "mail", "help"}
)


def _in_comment_or_string(ctx: CursorContext) -> bool:
    """The cursor is where prose is what one writes: a comment, a docstring, a
    prose filetype."""
    if ctx.filetype in PROSE_FILETYPES:
        return True
    if ctx.line_before.lstrip().startswith(_COMMENT_LEADERS):
        return True
    return ctx.before.count('"""') % 2 == 1 or ctx.before.count("'''") % 2 == 1


def strip_prose(text: str) -> str:
    """Drop leading prose lines and a trailing prose paragraph around the code."""
    lines = text.split("\n")
    start = 0
    while start < len(lines) and (not lines[start].strip() or _is_prose(lines[start])):
        start += 1
    lines = lines[start:]
    # A last paragraph of sentences after a blank line ("This returns the sum.").
    while lines and not lines[-1].strip():
        lines.pop()
    blanks = [i for i, line in enumerate(lines) if not line.strip()]
    if blanks:
        cut = blanks[-1]
        tail = [line for line in lines[cut + 1 :] if line.strip()]
        if all(_is_prose(line) for line in tail) and any(line.strip() for line in lines[:cut]):
            lines = lines[:cut]
    return "\n".join(lines)


def _same_line(said: str, there: str) -> bool:
    """Whether the suggestion's line ``said`` restates the buffer's line ``there``.

    A line that only closes a block (``}``, ``end``) must match to the column:
    ``  }`` closing an inner block is not the ``}`` of the function below it.
    """
    if _CLOSING_LINE_RE.match(there):
        return said.rstrip() == there.rstrip()
    return said.strip() == there.strip()


def trim_restated_suffix_lines(suggestion: str, after: str) -> str:
    """Drop the suggestion's last lines when they restate the lines after the
    cursor line (blank lines on either side ignored, whatever their length)."""
    following = [line for line in after.split("\n")[1:] if line.strip()]
    lines = suggestion.split("\n")
    filled = [i for i, line in enumerate(lines) if line.strip()]
    for n in range(min(len(filled) - 1, len(following)), 0, -1):
        tail = filled[-n:]
        if all(_same_line(lines[i], there) for i, there in zip(tail, following, strict=False)):
            return "\n".join(lines[: tail[0]]).rstrip()
    return suggestion


def _reindent(suggestion: str, raw_first_indent: int, line_before: str) -> str:
    """Give later lines the cursor line's indentation when the model wrote the
    block from column 0 (its first line unindented, a later code line at column 0)."""
    indent = line_before[: len(line_before) - len(line_before.lstrip(" \t"))]
    if not indent or line_before.strip() or raw_first_indent:
        return suggestion
    lines = suggestion.split("\n")
    later = [line for line in lines[1:] if line.strip()]
    if not any(
        line[:1] not in (" ", "\t") and not _CLOSING_LINE_RE.match(line) for line in later
    ):
        return suggestion
    return "\n".join([lines[0], *(indent + line if line.strip() else line for line in lines[1:])])


def clean_suggestion(text: str, ctx: CursorContext) -> str:
    """Only what should be inserted at the cursor ("" when nothing useful remains).

    In order: echoed markers and template tokens out, the first fenced block
    (or the text without stray fences), prose before and after the code out
    (not in a comment or docstring), indentation the line already has
    dropped, a block written from column 0 indented like the cursor line, and
    what repeats the text before the cursor or the lines after it trimmed.
    """
    cleaned = strip_markers(text.replace("\r\n", "\n"))
    cleaned = strip_fences(cleaned)
    if not _in_comment_or_string(ctx):
        cleaned = strip_prose(cleaned)
    first = cleaned.lstrip("\n").split("\n", 1)[0]
    raw_indent = len(first) - len(first.lstrip(" \t"))
    cleaned = _strip_repeated_indent(cleaned, ctx.line_before, ctx.line_after)
    cleaned = _reindent(cleaned, raw_indent, ctx.line_before)
    cleaned = trim_prefix_repeat(cleaned, ctx.before, ctx.line_before)
    cleaned = trim_suffix_repeat(cleaned, ctx.after, ctx.line_after)
    cleaned = trim_restated_suffix_lines(cleaned, ctx.after)
    cleaned = cleaned.rstrip()
    return cleaned if cleaned.strip() else ""
