"""Web Push message encryption: RFC 8291 keys in RFC 8188's ``aes128gcm`` content coding.

Each message gets a fresh sender key pair and salt (pass them in only to reproduce a known
answer). Push services must take 4096 bytes of body at least (RFC 8030 section 7.2), so a
message is one record of up to 4096 bytes, header included.
"""

from __future__ import annotations

import os
import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hubbub.push.keys import public_point

__all__ = ["MAX_BODY", "MAX_PLAINTEXT", "RECORD_SIZE", "encrypt"]

RECORD_SIZE = 4096
#: The largest body this module makes (and every push service accepts).
MAX_BODY = 4096
# salt (16) + record size (4) + key id length (1) + key id (the sender's 65-byte public key)
_HEADER = 16 + 4 + 1 + 65
_TAG = 16
#: The longest plaintext that fits: one record, its delimiter byte and tag, after the header.
MAX_PLAINTEXT = MAX_BODY - _HEADER - _TAG - 1
_LAST_RECORD = b"\x02"  # RFC 8188 section 2: the padding delimiter of the last record


def _hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    return HKDF(hashes.SHA256(), length, salt, info).derive(ikm)


def encrypt(
    plaintext: bytes,
    user_agent_key: bytes,
    auth_secret: bytes,
    *,
    sender_key: ec.EllipticCurvePrivateKey | None = None,
    salt: bytes | None = None,
) -> bytes:
    """``plaintext`` encrypted for the subscription whose public key (``p256dh``, an
    uncompressed P-256 point) and ``auth`` secret are given: the body of the push request.

    Raises ``ValueError`` for a key that is not a P-256 point, a secret that is not 16 bytes,
    or a plaintext over :data:`MAX_PLAINTEXT` bytes.
    """
    if len(auth_secret) != 16:
        raise ValueError("the subscription's auth secret is not 16 bytes")
    if len(plaintext) > MAX_PLAINTEXT:
        raise ValueError(f"the plaintext is over {MAX_PLAINTEXT} bytes")
    if len(user_agent_key) != 65 or user_agent_key[0] != 4:
        raise ValueError("the subscription's p256dh is not an uncompressed P-256 point")
    receiver = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), user_agent_key)
    sender_key = sender_key or ec.generate_private_key(ec.SECP256R1())
    salt = os.urandom(16) if salt is None else salt
    sender_public = public_point(sender_key)

    # RFC 8291 section 3.3/3.4: the ECDH secret and the auth secret give the input key
    # material, bound to both public keys; RFC 8188 section 2.2/2.3 derive the key and nonce.
    shared = sender_key.exchange(ec.ECDH(), receiver)
    key_info = b"WebPush: info\x00" + user_agent_key + sender_public
    ikm = _hkdf(auth_secret, shared, key_info, 32)
    content_key = _hkdf(salt, ikm, b"Content-Encoding: aes128gcm\x00", 16)
    nonce = _hkdf(salt, ikm, b"Content-Encoding: nonce\x00", 12)

    # One record, sequence number 0: the nonce is used as derived.
    record = AESGCM(content_key).encrypt(nonce, plaintext + _LAST_RECORD, None)
    header = salt + struct.pack("!IB", RECORD_SIZE, len(sender_public)) + sender_public
    return header + record
