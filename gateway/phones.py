"""Phone numbers: one canonical E.164 form wherever a number enters Fieldline."""
from __future__ import annotations

from functools import lru_cache

import phonenumbers


class InvalidPhone(ValueError):
    """A number that cannot be a real phone; the message says why."""


@lru_cache(maxsize=4096)  # a roster's numbers come back all day; parsing one costs a message's statement
def normalize_phone(raw: str, region: str) -> str:
    """'0712 345 678' in KE and '+254712345678' are both '+254712345678'."""
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone("phone number is empty")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidPhone(f"'{raw}' is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(f"'{raw}' is not a valid phone number for {region} or with a country code")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(phone: str | None) -> str:
    """A number fit for logs: country code and last two digits only, '+2547******78'."""
    if not phone:
        return "-"
    keep_head = 4 if phone.startswith("+") else 2
    if len(phone) <= keep_head + 2:
        return "*" * len(phone)
    return phone[:keep_head] + "*" * (len(phone) - keep_head - 2) + phone[-2:]
