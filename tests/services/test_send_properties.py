"""Property-based: whatever is typed into the send form, no 500, and nothing but a valid,
allow-listed mobile number ever reaches RevenueMonster."""

from __future__ import annotations

import phonenumbers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import csrf_token

COUNTRY_CODES = st.one_of(
    st.sampled_from(["60", "+60", "65", "1", "44", "999", "0"]), st.text(max_size=6)
)
NUMBERS = st.one_of(
    st.from_regex(r"\A\+?[0-9 ()-]{0,20}\Z", fullmatch=True),
    st.sampled_from(["016-387 7652", "+65 9123 4567", "1-800-88-8888", "03-2123 4567", "0"]),
    st.text(max_size=40),
)
MESSAGES = st.one_of(
    st.just("Code {code}"),
    st.text(max_size=30).map(lambda text: text + "{code}"),
    st.text(max_size=50),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(country_code=COUNTRY_CODES, number=NUMBERS, reason=st.text(max_size=30), message=MESSAGES)
def test_no_input_gives_a_500_or_reaches_the_provider_unchecked(
    support, sandbox, simulator, country_code, number, reason, message
):
    page = support.get("/send").get_data(as_text=True)
    response = support.post(
        "/send",
        data={
            "csrf_token": csrf_token(page),
            "idempotency_key": _key(page),
            "country_code": country_code,
            "phone_number": number,
            "reason": reason,
            "message": message,
        },
    )
    assert response.status_code in (200, 302, 400)
    for sms in simulator.simulator.inbox:
        if sms["client_id"] != sandbox:
            continue
        parsed = phonenumbers.parse(f"+{sms['country_code']}{sms['phone_number']}")
        assert phonenumbers.is_valid_number(parsed)
        assert phonenumbers.region_code_for_number(parsed) == "MY"
        assert phonenumbers.number_type(parsed) in (
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        )


def _key(page: str) -> str:
    import re

    return re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', page).group(1)
