"""Ticket secrets and snapshots, signed with each event's Ed25519 key.

A secret is ``base64url(version || ticket id || event id || signature)`` without padding:
1 + 16 + 16 bytes signed, then the 64-byte Ed25519 signature of those 33 bytes, 130
characters in all. It names the ticket and its event, so a scanner holding only the event's
public key can tell a genuine ticket from a forged or altered one, and a ticket of another
event from both, without a network. It carries nothing about the buyer.

Private keys are sealed with AES-GCM under a key derived (HKDF-SHA256) from Django's
``SECRET_KEY``, with the event id as associated data so a sealed key cannot be moved to
another event. Rotating ``SECRET_KEY`` therefore needs the keys resealed first.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

SECRET_VERSION = 1
_SIGNED_LENGTH = 33
_SIGNATURE_LENGTH = 64


class MalformedSecret(ValueError):
    """Not a ticket secret of any version this build reads."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- keys ---------------------------------------------------------------------------------------


def _sealing_key() -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"ticketflow.checkin.event-keys"
    ).derive(settings.SECRET_KEY.encode())


@dataclass(frozen=True, slots=True)
class KeyPair:
    public_key: str
    """Raw public key, base64url."""
    sealed_private_key: str


def key_pair_new(*, event_id: str) -> KeyPair:
    """A fresh key pair for ``event_id``, its private half sealed for storage."""
    private = Ed25519PrivateKey.generate()
    raw = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    nonce = os.urandom(12)
    sealed = AESGCM(_sealing_key()).encrypt(nonce, raw, uuid.UUID(event_id).bytes)
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return KeyPair(public_key=b64url(public), sealed_private_key=b64url(nonce + sealed))


@lru_cache(maxsize=256)
def _private_key(event_id: str, sealed: str) -> Ed25519PrivateKey:
    data = unb64url(sealed)
    raw = AESGCM(_sealing_key()).decrypt(data[:12], data[12:], uuid.UUID(event_id).bytes)
    return Ed25519PrivateKey.from_private_bytes(raw)


@lru_cache(maxsize=256)
def _public_key(public_key: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(unb64url(public_key))


# --- secrets ------------------------------------------------------------------------------------


def secret_new(*, ticket_id: str, event_id: str, sealed_private_key: str) -> str:
    """The signed secret of ticket ``ticket_id`` of ``event_id``."""
    signed = bytes([SECRET_VERSION]) + uuid.UUID(ticket_id).bytes + uuid.UUID(event_id).bytes
    signature = _private_key(str(event_id), sealed_private_key).sign(signed)
    return b64url(signed + signature)


@dataclass(frozen=True, slots=True)
class ParsedSecret:
    ticket_id: str
    event_id: str
    signed: bytes
    signature: bytes


def secret_parse(secret: str) -> ParsedSecret:
    """Read the ids out of ``secret`` (the signature is checked by :func:`secret_verify`)."""
    try:
        data = unb64url(secret.strip())
    except (ValueError, TypeError):
        raise MalformedSecret("not base64url") from None
    if len(data) != _SIGNED_LENGTH + _SIGNATURE_LENGTH or data[0] != SECRET_VERSION:
        raise MalformedSecret("not a ticket secret of a known version")
    return ParsedSecret(
        ticket_id=str(uuid.UUID(bytes=data[1:17])),
        event_id=str(uuid.UUID(bytes=data[17:33])),
        signed=data[:_SIGNED_LENGTH],
        signature=data[_SIGNED_LENGTH:],
    )


def secret_verify(parsed: ParsedSecret, *, public_key: str) -> bool:
    """True when ``parsed`` was signed by the private half of ``public_key``."""
    return verify(public_key=public_key, data=parsed.signed, signature=parsed.signature)


def fingerprint(secret: str) -> str:
    """What a snapshot lists instead of the secret: the first 16 bytes of its SHA-256, in hex."""
    return hashlib.sha256(secret.strip().encode("ascii", "replace")).hexdigest()[:32]


# --- signatures over data -----------------------------------------------------------------------


def canonical_json(data: Any) -> bytes:
    """The bytes a snapshot's signature covers: sorted keys, no spaces, ASCII only."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def sign(*, event_id: str, sealed_private_key: str, data: bytes) -> str:
    return b64url(_private_key(str(event_id), sealed_private_key).sign(data))


def verify(*, public_key: str, data: bytes, signature: bytes) -> bool:
    try:
        _public_key(public_key).verify(signature, data)
    except InvalidSignature:
        return False
    return True
