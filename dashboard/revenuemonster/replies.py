"""What a complete answer from RevenueMonster means when it is not a success: a rejection
with its error code, a redirect that is not followed, or an answer that proves nothing."""

from __future__ import annotations

import copy
import re
from typing import Any

from .outcomes import NotSent, Rejected, Unknown
from .transport import Reply


def _error_envelope(payload: Any) -> tuple[str, str] | None:
    """``(code, message)`` of ``{"error": {"code", "message"}}``, or None."""
    if not isinstance(payload, dict) or not isinstance(payload.get("error"), dict):
        return None
    code = payload["error"].get("code")
    if not isinstance(code, str) or not code:
        return None
    message = payload["error"].get("message")
    return code, (message if isinstance(message, str) and message else code)


def sms_failure(reply: Reply) -> Rejected | NotSent | Unknown:
    """Classify an answer of the SMS endpoint that is not a success. A redirect is never
    followed (that could send twice), yet the request did reach a server, which may have
    acted on it before redirecting: unknown, not "not sent"."""
    who = "The RevenueMonster SMS endpoint"
    if 300 <= reply.status < 400:
        return Unknown(
            f"HTTP_{reply.status}",
            f"{who} answered a redirect (HTTP {reply.status}), which is not followed; the "
            "request reached a server and may have been processed. Check the configured URL.",
            reply.status,
        )
    return failure(reply, who)


def failure(reply: Reply, who: str) -> Rejected | NotSent | Unknown:
    """Classify an answer that is not a success; a redirect of a request that sends nothing
    (the token endpoint's) means nothing was sent."""
    status = reply.status
    if 300 <= status < 400:  # a redirect is not processing; following it could send twice
        return NotSent(
            "UNEXPECTED_REDIRECT",
            f"{who} answered a redirect (HTTP {status}), which is not followed. "
            "Check the configured URL. Nothing was sent.",
            status,
        )
    error = _error_envelope(reply.payload)
    if status >= 500:
        detail = f" (error code {error[0]})" if error else ""
        return Unknown(f"HTTP_{status}", f"{who} answered HTTP {status}{detail}.", status)
    if error is not None:
        debug = reply.payload.get("debug")
        return Rejected(error[0], error[1], status, debug=_redact_debug(debug))
    if status == 401:
        return Rejected("HTTP_401", f"{who} refused the credentials (HTTP 401).", status)
    return Unknown(
        "MALFORMED_RESPONSE", f"{who} answered HTTP {status} with an undocumented body.", status
    )


def _redact_debug(debug: Any) -> dict[str, Any] | None:
    """Copy a signature ``debug`` object without what must not be kept: the signature and
    every content derived from the body (it holds the verification code)."""
    if not isinstance(debug, dict):
        return None
    redacted = copy.deepcopy(debug)
    steps = redacted.get("preVerifyContent")
    if isinstance(steps, dict):
        for step in steps.values():
            if isinstance(step, dict) and isinstance(step.get("content"), str):
                step["content"] = _redact_content(step["content"])
    headers = redacted.get("requestHeader")
    if isinstance(headers, dict) and isinstance(headers.get("X-Signature"), dict):
        headers["X-Signature"]["currentValue"] = "[redacted]"
    return redacted


def _redact_content(content: str) -> str:
    if "&method=" in content or content.startswith("method="):  # a plaintext to sign
        return re.sub(r"(^|&)data=[^&]*", r"\1data=[redacted]", content)
    return f"[redacted: {len(content)} characters derived from the body]"
