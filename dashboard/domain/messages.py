"""SMS text: the template with its code, and how many SMS segments a text costs."""

from __future__ import annotations

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
