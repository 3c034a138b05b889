"""Free text people type (reasons, names): what makes it say something."""

from __future__ import annotations

import unicodedata


def has_visible_text(text: str) -> bool:
    """Whether ``text`` has a character that is neither space nor a control, format or
    unassigned one: a reason of one zero-width space says nothing, though it is not empty."""
    return any(not ch.isspace() and unicodedata.category(ch)[0] not in "CZ" for ch in text)
