"""Print the current TOTP code for a user created by `portcullis --output json user add`.

Reads that command's JSON output on standard input, takes the base32 secret from its
`totp_uri`, and computes the RFC 6238 code that Portcullis expects: HMAC-SHA-1,
6 digits, 30-second steps.
"""

import base64
import hashlib
import hmac
import json
import struct
import sys
import time
import urllib.parse


def totp_code(secret_base32: str, now: float) -> str:
    padding = "=" * (-len(secret_base32) % 8)
    key = base64.b32decode(secret_base32.upper() + padding)
    counter = struct.pack(">Q", int(now) // 30)
    digest = hmac.new(key, counter, hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def main() -> None:
    created = json.load(sys.stdin)
    query = urllib.parse.urlparse(created["totp_uri"]).query
    secret = urllib.parse.parse_qs(query)["secret"][0]
    print(totp_code(secret, time.time()))


if __name__ == "__main__":
    main()
