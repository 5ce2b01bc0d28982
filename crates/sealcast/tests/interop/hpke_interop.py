"""Independent HPKE check with pyhpke (PyPI), for the envelope key exchange.

  hpke_interop.py fetch KEY_URL DOMAIN APP STREAM
      Generates a P-256 key pair with pyhpke, POSTs it to KEY_URL as Sealcast expects,
      opens the sealed content key with pyhpke and prints it in hex.
  hpke_interop.py seal PUBLIC_KEY_HEX INFO_HEX PLAINTEXT_HEX
      Seals PLAINTEXT to PUBLIC_KEY with pyhpke; prints "ENC_HEX CIPHERTEXT_HEX".
"""
import base64
import hashlib
import json
import sys
import urllib.request

from pyhpke import AEADId, CipherSuite, KDFId, KEMId

SUITE = CipherSuite.new(KEMId.DHKEM_P256_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.AES128_GCM)


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def fetch(url, domain, app, stream):
    pair = SUITE.kem.derive_key_pair(__import__("os").urandom(32))
    pk = pair.public_key.to_public_bytes()
    body = json.dumps({"pk": base64.urlsafe_b64encode(pk).decode().rstrip("=")}).encode()
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        resp = json.load(r)
    ct_param = [p.split("=", 1)[1] for p in url.split("?", 1)[1].split("&") if p.startswith("ct=")][0]
    kid = hashlib.sha256(b64d(ct_param)).hexdigest()[:32]
    assert resp["kid"] == kid, (resp["kid"], kid)
    info = f"sealcast-envelope-v1\0{domain}\0{app}\0{stream}\0{kid}\0{resp['exp']}".encode()
    ctx = SUITE.create_recipient_context(b64d(resp["enc"]), pair.private_key, info=info)
    print(ctx.open(b64d(resp["key"]), aad=b"").hex())


def seal(pk_hex, info_hex, pt_hex):
    pk = SUITE.kem.deserialize_public_key(bytes.fromhex(pk_hex))
    enc, ctx = SUITE.create_sender_context(pk, info=bytes.fromhex(info_hex))
    print(enc.hex(), ctx.seal(bytes.fromhex(pt_hex), aad=b"").hex())


if __name__ == "__main__":
    {"fetch": fetch, "seal": seal}[sys.argv[1]](*sys.argv[2:])
