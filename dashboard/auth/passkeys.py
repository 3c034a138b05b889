"""Passkeys (WebAuthn, issue 19): the routes."""
