"""Token strings: `<kind>_<lookup>_<secret>`, stored only as sha256 hashes.

The lookup part is indexed and finds the row; the hash of the whole string proves
possession. Kinds are visible in the prefix so a leaked token is easy to recognise
(and secret scanners can match it).
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

ACCESS = "rga"
REFRESH = "rgr"
API = "rgk"
KINDS = (ACCESS, REFRESH, API)
LOOKUP_LENGTH = 16  # hex characters


@dataclass(frozen=True)
class ParsedToken:
    kind: str
    lookup: str
    value: str


def new_lookup() -> str:
    return secrets.token_hex(LOOKUP_LENGTH // 2)


def new_token(kind: str, lookup: str) -> str:
    return f"{kind}_{lookup}_{secrets.token_urlsafe(32)}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(token_hash(token), stored_hash)


def parse_token(value: str) -> ParsedToken | None:
    """The kind and lookup of a well-formed token string, else None."""
    kind, _, rest = value.partition("_")
    lookup, _, secret = rest.partition("_")
    if (kind not in KINDS or len(lookup) != LOOKUP_LENGTH or not secret
            or any(ch not in "0123456789abcdef" for ch in lookup)):
        return None
    return ParsedToken(kind=kind, lookup=lookup, value=value)
