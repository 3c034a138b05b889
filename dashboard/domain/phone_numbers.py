"""Phone numbers: what counts as a number we may send a code to, and its forms."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

MOBILE_TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


class InvalidPhoneNumber(ValueError):
    """The input is not a mobile number we can send to; the message says why, for a person."""

    def __init__(self, message: str, *, field: str = "phone_number") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class MobileNumber:
    country_code: str  # "60": calling code without "+", as RevenueMonster wants it
    national_number: str  # "163877652": national significant number, no trunk "0"
    e164: str  # "+60163877652"

    @property
    def reversed_digits(self) -> str:
        return self.e164[1:][::-1]


def parse_country_code(text: str) -> int:
    """Return the calling code in ``text`` ("60", "+60"), or raise :class:`InvalidPhoneNumber`."""
    digits = text.strip().removeprefix("+")
    if not digits.isdigit() or len(digits) > 3:
        raise InvalidPhoneNumber("Enter a country calling code such as 60.", field="country_code")
    code = int(digits)
    if phonenumbers.region_code_for_country_code(code) == phonenumbers.UNKNOWN_REGION:
        raise InvalidPhoneNumber(f"+{code} is not a country calling code.", field="country_code")
    return code


def parse_mobile_number(country_code: str, number: str) -> MobileNumber:
    """Validate a mobile number typed as a country code and a number in national form (with
    or without the trunk 0, spaces or dashes) or in international form with "+"."""
    code = parse_country_code(country_code)
    text = number.strip()
    if not text:
        raise InvalidPhoneNumber("Enter the phone number.")
    if len(text) > 32:
        raise InvalidPhoneNumber("That is too long to be a phone number.")
    region = phonenumbers.region_code_for_country_code(code)
    try:
        parsed = phonenumbers.parse(text, region)
    except NumberParseException:
        raise InvalidPhoneNumber("That is not a phone number.") from None
    if parsed.country_code != code:
        raise InvalidPhoneNumber(
            f"That number belongs to country code +{parsed.country_code}, not +{code}."
        )
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber(f"That is not a valid phone number for country code +{code}.")
    if phonenumbers.number_type(parsed) not in MOBILE_TYPES:
        raise InvalidPhoneNumber("That is not a mobile number; codes can only go to mobiles.")
    return MobileNumber(
        country_code=str(code),
        national_number=phonenumbers.national_significant_number(parsed),
        e164=phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
    )


def display(e164: str) -> str:
    """An E.164 number in international format for people: "+60 16-387 7652"."""
    try:
        parsed = phonenumbers.parse(e164)
    except NumberParseException:
        return e164
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
