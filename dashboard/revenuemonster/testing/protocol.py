"""RevenueMonster's side of the wire as the simulator speaks it: the error envelope and its
texts, the checks of an SMS body, and the ``debug`` object of a signature error."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from ..signing import canonical_json, data_base64, parse_json, signing_plaintext

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

# Texts from RevenueMonster's error-code list (tests/revenuemonster/data/error-codes.json).
ERROR_MESSAGES: dict[str, str] = {
    "SMS_FAIL": "Failed to send SMS",
    "TAC_LIMIT": "TAC code limit has been reached",
    "TAC_SENT": "TAC code has sent",
    "SPAM": "Suspicious activity",
    "EXCEEDED_LIMIT": "Rate limit exceeded",
    "TOO_MANY_REQUEST_PER_SECOND": "Reached maximum request limit per second",
    "VERIFICATION_CODE_REACH_DAILY_LIMIT": "Verification code requests have reached daily limit",
    "INVALID_PARAMETER": "Invalid parameters",
    "VALIDATION_ERROR": "Validations error",
    "CLIENT_NO_PERMISSION": "Developer application does not have permission to access",
    "CLIENT_PRODUCT_NOT_SETUP": "Developer application product not setup",
    "SUBSCRIPTION_NOT_ACTIVE": "You have not subscribed to this product",
    "NOT_SUBSCRIBE": "Merchant not subscribed to this product",
    "INSUFFICIENT_MERCHANT_BALANCE": "Insu\ufb03cient merchant balance",
    "API_ENDPOINT_NOT_FOUND": "The api endpoint does not exist",
    "METHOD_NOT_ALLOWED": "Method not allowed",
    "INVALID_REQUEST": "Invalid request",
    "UNAUTHORIZED": "Unauthorized",
    "INVALID_CLIENT": "Invalid client",
    "GRANT_TYPE_INVALID": "Invalid grant type",
    "INVALID_GRANT": "Invalid or expired refresh token",
    "TOKEN_EXPIRED": "Invalid or expired token",  # nosec B105 # an error message
    "TOKEN_INVALID": "Unable to verify your credentials",  # nosec B105 # an error message
    "INVALID_TIMESTAMP": "Could not authenticate - Timestamp",
    "DUPLICATE_REQUEST": "Duplicate request: X-Nonce-Str was already used within 120 seconds",
    "INVALID_REQUEST_SIGNATURE": "The request signature is invalid",
}

SMS_TYPES = frozenset({"VERIFY_CODE", "TAC"})
MAX_REQUEST_BYTES = 64 * 1024
MAX_MESSAGE_CHARS = 1000
_COUNTRY_CODE = re.compile(r"[1-9][0-9]{0,2}")
_NATIONAL_NUMBER = re.compile(r"[1-9][0-9]{3,13}")

_SIGNATURE_REMARKS = {
    "step1": "Sort the json key alphabetically",
    "step2": "Encode the data using Base64 format",
    "step3": (
        "Construct plain text parameters on this format, if the body is empty then the `data` "
        "parameter can be skip"
    ),
    "step4": (
        "Sign this content using sha256 with rsa private key and make sure the public key have "
        "been uploaded to the portal"
    ),
    "step5": (
        "The signature that generated from step 4, pass on the header X-Signature with prefix "
        "the sign type, e.g: sha256 {{ signatureContent }}"
    ),
    "X-Nonce-Str": (
        "Make sure the nonce str is should not contain space and must unique at least for 120 "
        "second, if not the server will throw duplicate request error"
    ),
    "X-Signature": (
        "The signature is invalid, please check preVerifyContent parameter on how to generate "
        "the signature"
    ),
    "X-Timestamp": (
        "Make sure the timestamp generated on UTC timezone and must be maximum the time "
        "difference is 120 second from the request send to the server"
    ),
}


class SimRequest(Request):
    max_content_length = MAX_REQUEST_BYTES


class ProviderError(Exception):
    """Abort a request with RevenueMonster's error envelope."""

    def __init__(self, status: int, code: str, message: str | None = None, **extra: Any) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message or ERROR_MESSAGES.get(code, code)
        self.extra = extra

    def response(self) -> Response:
        return json_response(
            self.status, {"error": {"code": self.code, "message": self.message}, **self.extra}
        )


def json_body(request: Request) -> Any:
    raw = request.get_data(cache=True)
    if not raw.strip():
        return None
    try:
        return parse_json(raw)
    except (ValueError, RecursionError):
        raise ProviderError(
            400, "INVALID_REQUEST", "Invalid request: the body is not JSON"
        ) from None


def request_url(environ: WSGIEnvironment) -> str:
    """The URL as requested: scheme, Host header, raw path and query."""
    target = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if target and "://" in target.split("?", 1)[0]:
        return str(target)  # absolute-form request target
    if not target:
        target = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        if environ.get("QUERY_STRING"):
            target += "?" + environ["QUERY_STRING"]
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}{target}"


def validate_sms(body: Any) -> dict[str, str]:
    """Return the SMS fields, or raise INVALID_PARAMETER / VALIDATION_ERROR."""
    if not isinstance(body, dict):
        raise ProviderError(400, "INVALID_PARAMETER", "Invalid parameters: expected an object")
    fields: dict[str, str] = {}
    for name in ("countryCode", "phoneNumber", "message", "type"):
        value = body.get(name)
        if not isinstance(value, str):
            raise ProviderError(400, "INVALID_PARAMETER", f"Invalid parameters: {name} is required")
        fields[name] = value
    problems = {
        "countryCode": not _COUNTRY_CODE.fullmatch(fields["countryCode"]),
        "phoneNumber": not _NATIONAL_NUMBER.fullmatch(fields["phoneNumber"]),
        "message": not fields["message"].strip() or len(fields["message"]) > MAX_MESSAGE_CHARS,
        "type": fields["type"] not in SMS_TYPES,
    }
    for name, bad in problems.items():
        if bad:
            raise ProviderError(400, "VALIDATION_ERROR", f"Validations error: {name} is invalid")
    return fields


def signature_debug(
    method: str, url: str, nonce: str, nonce_ok: bool, timestamp: str, signature: str, body: Any
) -> dict[str, Any]:
    """RevenueMonster's INVALID_REQUEST_SIGNATURE ``debug`` object (doc-v2 shape)."""
    canonical = canonical_json(body)
    data = data_base64(body)
    plaintext = signing_plaintext(
        method=method, url=url, nonce=nonce, timestamp=timestamp, data_base64=data
    )
    steps: dict[str, dict[str, str]] = {
        "step1": {"content": canonical or ""},
        "step2": {"content": data or ""},
        "step3": {"content": plaintext},
        "step4": {"content": plaintext},
        "step5": {},
    }
    for name, step in steps.items():
        step["remark"] = _SIGNATURE_REMARKS[name]

    def header(name: str, value: str, valid: bool) -> dict[str, Any]:
        return {"currentValue": value, "isValid": valid, "remark": _SIGNATURE_REMARKS[name]}

    return {
        "preVerifyContent": steps,
        "requestHeader": {
            "X-Nonce-Str": header("X-Nonce-Str", nonce, nonce_ok),
            "X-Signature": header("X-Signature", signature, False),
            "X-Timestamp": header("X-Timestamp", timestamp, True),
        },
    }


def json_response(status: int, payload: Any) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return Response(body, status, content_type="application/json; charset=utf-8")
