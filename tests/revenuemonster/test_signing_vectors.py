"""Request signing reproduces every RevenueMonster test vector byte for byte; canonical JSON and key
loading hold at their edges."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from dashboard.revenuemonster import (
    KeyFormatError,
    canonical_json,
    fingerprint,
    generate_private_key,
    load_private_key,
    load_public_key,
    new_nonce,
    parse_json,
    private_key_pem,
    public_key_pem,
    sign,
    signing_plaintext,
    timestamp_now,
    verify,
)
from dashboard.revenuemonster.signing import data_base64

#: RevenueMonster's vectors and keys, kept with the tests (see data/README.md).
VECTORS_DIR = Path(__file__).resolve().parent / "data" / "vectors"
VECTORS_FILE = VECTORS_DIR / "vectors.json"
SECTIONS = {"cases": 9, "divergent_cases": 10, "rm_doc_server_tool_vectors": 3}


def _load_vectors() -> dict[str, Any] | None:
    try:
        return json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


VECTORS = _load_vectors()


def vector_params(*sections: str, where=lambda case: True) -> list[Any]:
    """One param per vector, id = its name; a failing placeholder when the file is missing."""
    if VECTORS is None:
        return [pytest.param(None, id="vectors-file-missing")]
    return [
        pytest.param(case, id=case["name"])
        for section in sections
        for case in VECTORS[section]
        if where(case)
    ]


def require(case: dict[str, Any] | None) -> dict[str, Any]:
    if case is None:
        pytest.fail(f"test vectors not found at {VECTORS_FILE}")
    return case


def parsed_body(case: dict[str, Any]) -> Any:
    """The vector's body as the SDKs parse it (vector A documents only its canonical form)."""
    text = case["body"] if "body" in case else case["canonical_json"]
    return None if text is None else parse_json(text)


def private_key_for(case: dict[str, Any]):
    return load_private_key((VECTORS_DIR / case["private_key_file"]).read_bytes(), min_bits=512)


def test_vectors_file_is_present_and_complete():
    assert VECTORS is not None, f"test vectors not found at {VECTORS_FILE}"
    assert {name: len(VECTORS[name]) for name in SECTIONS} == SECTIONS


@pytest.mark.parametrize(
    "case",
    vector_params(
        "cases",
        "divergent_cases",
        "rm_doc_server_tool_vectors",
        where=lambda case: "expected_x_signature" in case,
    ),
)
def test_vector_is_reproduced_byte_for_byte(case):
    case = require(case)
    body = parsed_body(case)
    assert canonical_json(body) == case["canonical_json"]
    assert data_base64(body) == case["data_base64"]
    plaintext = signing_plaintext(
        method=case["method"],
        url=case["requestUrl"],
        nonce=case["nonceStr"],
        timestamp=case["timestamp"],
        data_base64=case["data_base64"],
    )
    assert plaintext == case["plaintext"]
    request = {
        "method": case["method"],
        "url": case["requestUrl"],
        "nonce": case["nonceStr"],
        "timestamp": case["timestamp"],
        "body": body,
    }
    signature = sign(private_key_for(case), **request)
    assert signature == case["expected_x_signature"]
    public_key = private_key_for(case).public_key()
    if "public_key_file" in case:
        public_key = load_public_key((VECTORS_DIR / case["public_key_file"]).read_bytes())
    assert verify(public_key, signature, **request) is True


@pytest.mark.parametrize(
    "case", vector_params("rm_doc_server_tool_vectors", where=lambda case: "x_signature" in case)
)
def test_doc_verify_vector_holds_only_for_its_real_method(case):
    case = require(case)
    pem = (VECTORS_DIR / case["public_key_file"]).read_text()
    # The docs print this SPKI key under a "BEGIN RSA PUBLIC KEY" label: both must load.
    relabelled = pem.replace("BEGIN PUBLIC KEY", "BEGIN RSA PUBLIC KEY").replace(
        "END PUBLIC KEY", "END RSA PUBLIC KEY"
    )
    body = parsed_body(case)
    request = {"url": case["requestUrl"], "nonce": case["nonceStr"], "timestamp": case["timestamp"]}
    assert data_base64(body) == case["data_base64"]
    assert (
        signing_plaintext(method=case["method"], data_base64=data_base64(body), **request)
        == (case["plaintext"])
    )
    for text in (pem, relabelled):
        key = load_public_key(text, min_bits=case["key_bits"])
        assert key.key_size == case["key_bits"]
        valid = verify(key, case["x_signature"], method=case["method"], body=body, **request)
        assert valid is case["expected_valid"] is True
        assert verify(key, case["x_signature"], method="post", body=body, **request) is False


# -- canonical JSON edges ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ({}, None),
        ([], "[]"),
        ({"a": {}}, '{"a":{}}'),
        (
            {"b": 1, "a": [{"d": 1, "c": 2}, [{"f": 0, "e": 0}]]},
            '{"a":[{"c":2,"d":1},[{"e":0,"f":0}]],"b":1}',
        ),
        (
            {"b": "", "B": "", "a": "", "é": "", "😀": "", "\ufeff": ""},
            '{"B":"","a":"","b":"","é":"","\ufeff":"","😀":""}',
        ),
        ({"10": 1, "2": 2}, '{"10":1,"2":2}'),
        ({"t": True, "f": False, "n": None}, '{"f":false,"n":null,"t":true}'),
        ([1, True, 1.0, 0], "[1,true,1,0]"),
        ("plain", '"plain"'),
    ],
)
def test_canonical_json_structure(value, expected):
    assert canonical_json(value) == expected


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (1.0, "1"),
        (100, "100"),
        (1.5, "1.5"),
        (-2.25, "-2.25"),
        (-0.0, "-0"),
        (0, "0"),
        (12345678901234567890, "12345678901234567000"),
        (2**53, "9007199254740992"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (-1.5e300, "-1.5e+300"),
        (0.000001, "0.000001"),
        (0.0000001, "1e-7"),
        (1.25e-10, "1.25e-10"),
        (5e-324, "5e-324"),
        (0.1 + 0.2, "0.30000000000000004"),
    ],
)
def test_numbers_print_like_go_float64(number, expected):
    assert canonical_json([number]) == f"[{expected}]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<>&", "\\u003c\\u003e\\u0026"),
        ("a/b 'q' \"dq\" c\\d", "a/b 'q' \\\"dq\\\" c\\\\d"),
        ("\n\r\t\b\f", "\\n\\r\\t\\b\\f"),
        ("\x00\x01\x1f\x7f", "\\u0000\\u0001\\u001f\x7f"),
        ("\u2028\u2029", "\\u2028\\u2029"),
        ("café 😀 你好 \ufeff", "café 😀 你好 \ufeff"),
        ("lone \ud800 surrogate", "lone \ufffd surrogate"),
    ],
)
def test_strings_escape_like_go(text, expected):
    assert canonical_json({"k": text}) == f'{{"k":"{expected}"}}'


def test_parse_json_reads_every_number_as_float64():
    parsed = parse_json(b'{"i": 1, "big": 12345678901234567890, "f": 1.0, "b": true}')
    assert parsed == {"i": 1.0, "big": 1.2345678901234567e19, "f": 1.0, "b": True}
    assert all(isinstance(parsed[key], float) for key in ("i", "big", "f"))
    assert parsed["b"] is True
    assert canonical_json(parse_json('{"b":[2,{"z":null,"y":"<"}],"a":1.0}')) == (
        '{"a":1,"b":[2,{"y":"\\u003c","z":null}]}'
    )


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a": -Infinity}', "1e400", "{", ""])
def test_parse_json_rejects_what_go_rejects(text):
    with pytest.raises(ValueError):
        parse_json(text)


@pytest.mark.parametrize("value", [{"a": b"bytes"}, {1: "int key"}, {"a": {1, 2}}, object()])
def test_canonical_json_refuses_non_json_values(value):
    with pytest.raises(TypeError):
        canonical_json(value)


def test_canonical_json_refuses_non_finite_numbers():
    with pytest.raises(ValueError):
        canonical_json({"a": float("nan")})


def test_plaintext_leaves_out_data_when_there_is_none():
    plaintext = signing_plaintext(
        method="GET", url="https://x.test/v3/a?b=c&d=e", nonce="n", timestamp="1", data_base64=None
    )
    assert (
        plaintext
        == "method=get&nonceStr=n&requestUrl=https://x.test/v3/a?b=c&d=e&signType=sha256&timestamp=1"
    )


@pytest.mark.parametrize(
    "header",
    ["", "sha256", "sha256 ", "sha1 AAAA", "SHA256 AAAA", "sha256 !!notbase64", "sha256  AAAA"],
)
def test_malformed_signature_headers_are_invalid_not_errors(rm_key, header):
    request = {"method": "post", "url": "https://x.test/v3/sms", "nonce": "n", "timestamp": "1"}
    assert verify(rm_key.public_key(), header, body={"a": "b"}, **request) is False


def test_signature_covers_every_field(rm_key):
    request = {
        "method": "post",
        "url": "https://sb-open.revenuemonster.my/v3/sms",
        "nonce": "abc",
        "timestamp": "1764115200",
        "body": {"message": "hello"},
    }
    signature = sign(rm_key, **request)
    assert signature.startswith("sha256 ") and len(signature) == len("sha256 ") + 344
    public = rm_key.public_key()
    assert verify(public, signature, **request)
    for name, other in [
        ("method", "get"),
        ("url", "https://open.revenuemonster.my/v3/sms"),
        ("nonce", "abd"),
        ("timestamp", "1764115201"),
        ("body", {"message": "hellO"}),
    ]:
        assert not verify(public, signature, **{**request, name: other}), name


def test_nonce_and_timestamp():
    nonces = {new_nonce() for _ in range(50)}
    assert len(nonces) == 50
    assert all(len(nonce) == 32 and nonce.isascii() and nonce.isalnum() for nonce in nonces)
    assert timestamp_now(lambda: 1764115200.999) == "1764115200"


# -- keys -------------------------------------------------------------------------------------


def test_pkcs1_and_pkcs8_private_keys_are_the_same_key():
    pkcs1 = load_private_key((VECTORS_DIR / "rsa2048_pkcs1_private.pem").read_bytes())
    pkcs8 = load_private_key((VECTORS_DIR / "rsa2048_pkcs8_private.pem").read_text())
    public = load_public_key((VECTORS_DIR / "rsa2048_public.pem").read_bytes())
    assert pkcs1.private_numbers() == pkcs8.private_numbers()
    assert public.public_numbers() == pkcs1.public_key().public_numbers()


def test_small_keys_are_refused_unless_allowed():
    pem = (VECTORS_DIR / "doc_A_v1_tool_generate_private.pem").read_bytes()
    with pytest.raises(KeyFormatError, match="1024 bits; at least 2048"):
        load_private_key(pem)
    assert load_private_key(pem, min_bits=1024).key_size == 1024
    with pytest.raises(KeyFormatError, match="511 bits"):
        load_public_key((VECTORS_DIR / "doc_C_v1_tool_verify_public.pem").read_bytes())


def _ec_private_pem() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def test_unusable_private_keys_raise_a_clear_error_without_key_material(rm_key):
    genuine = private_key_pem(rm_key).decode()
    body_line = genuine.splitlines()[5]
    damaged = genuine.replace(body_line, body_line[::-1])
    encrypted = rm_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )
    cases = {
        "not pem": ("just some text", "Not a PEM private key"),
        "public key": (public_key_pem(rm_key), "Not a PEM private key"),
        "damaged": (damaged, "damaged"),
        "encrypted": (encrypted, "Encrypted private keys are not supported"),
        "ec key": (_ec_private_pem(), "not an RSA key"),
    }
    for name, (pem, words) in cases.items():
        with pytest.raises(KeyFormatError, match=words) as raised:
            load_private_key(pem)
        assert body_line not in str(raised.value), name
        assert raised.value.__cause__ is None, name
        assert isinstance(raised.value, ValueError)


def test_public_key_formats(rm_key):
    spki = public_key_pem(rm_key)
    pkcs1 = rm_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
    )
    assert spki.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert pkcs1.startswith(b"-----BEGIN RSA PUBLIC KEY-----")
    expected = rm_key.public_key().public_numbers()
    for pem in (spki, pkcs1, spki.decode()):
        assert load_public_key(pem).public_numbers() == expected
    for pem, words in [
        (private_key_pem(rm_key), "Not a PEM public key"),
        (b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", "damaged"),
        ("", "Not a PEM public key"),
    ]:
        with pytest.raises(KeyFormatError, match=words):
            load_public_key(pem)


def test_generated_keys_serialise_as_pkcs1_and_fingerprint_like_ssh(rm_key):
    pem = private_key_pem(rm_key)
    assert pem.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert load_private_key(pem).private_numbers() == rm_key.private_numbers()
    der = rm_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    expected = "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")
    assert fingerprint(rm_key) == fingerprint(rm_key.public_key()) == expected
    assert len(expected) == len("SHA256:") + 43
    assert fingerprint(generate_private_key()) != expected
