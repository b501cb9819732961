"""Chat templates (Jinja) shipped with models: GGUF metadata, tokenizer_config.json.

Loaders render them with Jinja, some outside its sandbox (llama-cpp-python before 0.2.72,
CVE-2024-34359), so a template can walk from any object to `os`: `cycler.__init__.__globals__`,
`().__class__.__mro__[1].__subclasses__()`. Real templates never touch private attributes, so
any reach for one is flagged, however it is spelled.
"""

import re

from .context import Context
from .result import Severity

_OPENERS = re.compile(r"\{\{|\{%")
_CLOSERS = {"{{": "}}", "{%": "%}"}
_WALKS = {
    # .__class__, ._TemplateReference__context, ["__globals__"], attr("__mro__")
    "private attribute": re.compile(r"\.\s*_|\[\s*['\"]_|\b__\w+__\b"),
    # attr() and friends take the attribute's name as a string, which can be assembled
    "computed attribute": re.compile(r"\|\s*attr\b|\bgetattr\b|\.(?:mro|subclasses)\s*\("),
    # an underscore spelled as an escape, to get past filters like this one
    "escaped underscore": re.compile(r"\\x5f|\\u005f|\\U0000005f|\\137", re.IGNORECASE),
    # Jinja's own globals, which reach the Python module they live in
    "template globals": re.compile(r"\b(?:lipsum|cycler|joiner|self|request|config)\s*\."),
}


def _tags(template: str) -> list[str]:
    """The expressions and statements of a template (literal text cannot reach code)."""
    tags, position = [], 0
    while opener := _OPENERS.search(template, position):
        end = template.find(_CLOSERS[opener.group()], opener.end())
        if end < 0:  # unclosed: Jinja refuses it, but judge the rest rather than skip it
            tags.append(template[opener.end() :])
            break
        tags.append(template[opener.end() : end])
        position = end + 2
    return tags


def check(template: str, location: str, context: Context) -> None:
    for tag in _tags(template):
        for what, pattern in _WALKS.items():
            match = pattern.search(tag)
            if match:
                context.add(
                    Severity.HIGH,
                    "template.injection",
                    f"the chat template uses a {what} ({match.group().strip()!r}): a way "
                    "from template objects to Python code",
                    location,
                )
