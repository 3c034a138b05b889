"""Passkeys (WebAuthn, issue 19)."""
