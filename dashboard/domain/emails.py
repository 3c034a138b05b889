"""Email addresses of staff accounts: checked by ``email-validator`` (syntax only: staff
mail servers are not ours to probe) and held to one script, so that an address cannot pass
for another one that looks the same (``ａdmin@`` in full-width letters, a Cyrillic ``а``)."""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email

MAX_LENGTH = 254


class InvalidEmail(ValueError):
    """Not an address an account may have; the message says why, for a person."""


def normalise(email: str) -> str:
    """The address as accounts keep it (trimmed, lower-cased), or :class:`InvalidEmail`."""
    typed = email.strip()
    if len(typed) > MAX_LENGTH:
        raise InvalidEmail(f"An email address has at most {MAX_LENGTH} characters.")
    if unicodedata.normalize("NFKC", typed) != typed:
        raise InvalidEmail(
            "The address contains full-width or other look-alike characters; type it again."
        )
    if len(_scripts(typed)) > 1:
        raise InvalidEmail("The address mixes letters of different alphabets.")
    try:
        checked = validate_email(typed, check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidEmail(f"That is not an email address: {error}") from None
    return checked.normalized.lower()


def _scripts(text: str) -> set[str]:
    """The scripts of the letters in ``text``, named as Unicode names them (LATIN, GREEK…)."""
    return {unicodedata.name(ch, "?").split()[0] for ch in text if ch.isalpha()}
