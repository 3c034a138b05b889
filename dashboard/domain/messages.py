"""SMS text: the template with its code, how many SMS segments a text costs, and what a
sender's edit of an approved template may change."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .codes import MASK, PLACEHOLDER

DEFAULT_TEMPLATE = "Your verification code is {code}. It expires in 10 minutes."
MAX_SEGMENTS = 3

# The GSM 03.38 default alphabet; the extension table characters cost two septets each.
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = "^{}\\[~]|€\f"
#: Characters in one SMS, and in each part of a longer one (the rest carries the joining
#: header), by encoding.
SEGMENT_SIZES = {"GSM-7": (160, 153), "UCS-2": (70, 67)}
#: Everything the send page's live preview needs to count as the server does.
SEGMENT_RULES = {
    "basic": GSM7_BASIC,
    "extension": GSM7_EXTENSION,
    "sizes": SEGMENT_SIZES,
    "max": MAX_SEGMENTS,
}


class InvalidTemplate(ValueError):
    """The message template cannot be used; the message says why, for a person."""


@dataclass(frozen=True)
class SegmentCount:
    encoding: str  # "GSM-7" or "UCS-2"
    length: int  # in septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def count_segments(text: str) -> SegmentCount:
    """Segments as a phone network counts them (SEGMENT_SIZES)."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        length = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
        encoding = "GSM-7"
    else:
        length = len(text.encode("utf-16-le")) // 2
        encoding = "UCS-2"
    single, multi = SEGMENT_SIZES[encoding]
    segments = 1 if length <= single else -(-length // multi)
    return SegmentCount(encoding, length, segments)


def check_template(template: str) -> None:
    """Raise :class:`InvalidTemplate` unless the template holds ``{code}`` exactly once and
    the message it makes fits in :data:`MAX_SEGMENTS` segments."""
    if any(ord(ch) < 0x20 and ch != "\n" for ch in template):
        raise InvalidTemplate("The message cannot contain tabs or other control characters.")
    if template.count(PLACEHOLDER) != 1:
        raise InvalidTemplate("The message must contain {code} exactly once.")
    count = count_segments(render(template, "000000"))
    if count.segments > MAX_SEGMENTS:
        raise InvalidTemplate(
            f"The message is {count.segments} SMS long ({count.length} {count.encoding} "
            f"characters); at most {MAX_SEGMENTS} are allowed."
        )


def render(template: str, code: str) -> str:
    return template.replace(PLACEHOLDER, code)


def masked(template: str) -> str:
    return template.replace(PLACEHOLDER, MASK)


# What a phone makes tappable, and so what a rewording could slip in: a scheme (https://,
# intent://...), "www." or a domain-like name (example.com, bit.ly, пример.рф) ...
_LINK = re.compile(
    r"[a-z][a-z0-9+.-]*://\S*|www\.\S*|(?:[^\W_][\w-]*\.)+[^\W\d_]{2,}", re.IGNORECASE
)
# ... and a number: digits, maybe spaced or punctuated as phone numbers are written.
_NUMBER = re.compile(r"\+?\d(?:[\s().-]*\d)*")
_MIN_NUMBER_DIGITS = 6
#: The full stops that IDNA (so a browser) takes for the dot of a domain name.
_DOTS = str.maketrans({"\u3002": ".", "\uff61": "."})


def check_edit(template: str, edited: str) -> None:
    """Raise :class:`InvalidTemplate` unless ``edited``, a sender's rewording of the approved
    ``template``, is one an admin would still approve: a valid template (check_template) that
    adds no link and no phone number the template does not have.

    Editing exists to fix a word or a greeting; a link or a number to call, in a text that
    carries the merchant's name, is what phishing needs, so only the template's own may stay.
    A number is a run of 6 digits or more, or one written with "+"; a digit right against
    ``{code}`` is refused too, so the customer always sees where the code starts and ends.
    Both texts are compared as a phone shows them (compatibility forms folded, invisible
    characters dropped), so "ｅｘａｍｐｌｅ．ｃｏｍ" or a zero-width space inside a name is caught.
    Spelled-out addresses ("example dot com") are beyond any pattern: letting senders edit
    trusts them with the wording, which the recorded text lets auditors check."""
    check_template(edited)
    original, seen = _comparable(template), _comparable(edited)
    if seen.count(PLACEHOLDER) != 1:  # a look-alike {code}: fullwidth braces, say
        raise InvalidTemplate("The message must contain {code} exactly once.")
    if _digit_against_code(seen) and not _digit_against_code(original):
        raise InvalidTemplate(
            "Keep other digits away from {code}: the customer must see where the code "
            "starts and ends."
        )
    known_links = {link.lower() for link in _LINK.findall(original)}
    for link in _LINK.findall(seen):
        if link.lower() not in known_links:
            raise InvalidTemplate(
                f"The message cannot have a link or web address the template does not have "
                f"({link})."
            )
    known_numbers = {digits for digits, _ in _numbers(original)}
    for digits, written in _numbers(seen):
        if digits not in known_numbers:
            raise InvalidTemplate(
                f"The message cannot have a phone number the template does not have ({written})."
            )


def _comparable(text: str) -> str:
    """``text`` as a reader sees it: compatibility forms folded (fullwidth letters, circled
    digits), IDNA's other full stops as ".", invisible format characters dropped."""
    folded = unicodedata.normalize("NFKC", text).translate(_DOTS)
    return "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")


def _digit_against_code(text: str) -> bool:
    before, _, after = text.partition(PLACEHOLDER)
    return before[-1:].isdecimal() or after[:1].isdecimal()


def _numbers(text: str) -> list[tuple[str, str]]:
    """The phone-like numbers of ``text`` (outside ``{code}``): their digits, and as written."""
    found = []
    for match in _NUMBER.finditer(text.replace(PLACEHOLDER, " ")):
        written = match.group()
        digits = "".join(str(unicodedata.digit(ch)) for ch in written if ch.isdecimal())
        if written.startswith("+") or len(digits) >= _MIN_NUMBER_DIGITS:
            found.append((digits, written.strip()))
    return found


def unmasked(text: str) -> str:
    """A recorded text (the code masked) as the template it was sent from: ``{code}`` again."""
    return text.replace(MASK, PLACEHOLDER)
