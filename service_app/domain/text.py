"""Text clean-up shared by forms, importers and the CLI."""

from __future__ import annotations

import unicodedata

#: Characters removed from free text: C0/C1 controls except tab and newline.
_CONTROL = {c: None for c in range(0x20) if c not in (0x09, 0x0A)} | {c: None for c in range(0x7F, 0xA0)}


def to_halfwidth(value: str) -> str:
    """Full-width digits, letters and punctuation to their ASCII forms (ＡＢ１２ → AB12).

    For codes, numbers, dates and quarter keys; names keep their full-width punctuation.
    """
    return unicodedata.normalize("NFKC", value)


def clean_text(value: object) -> str:
    """Trimmed text without control characters; None becomes the empty string.

    Trims ideographic spaces (U+3000) too, which Chinese Excel leaves around names.
    """
    if value is None:
        return ""
    text = str(value)
    if not text.isprintable():  # rare: only then pay for the translation table
        text = text.translate(_CONTROL)
    return text.strip()


def clean_code(value: object) -> str:
    """Half-width, trimmed text, for codes and keys."""
    text = clean_text(value)
    return text if text.isascii() else to_halfwidth(text).strip()
