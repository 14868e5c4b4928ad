"""QR label codes: 8 random Crockford base-32 symbols and a Luhn mod 32 check symbol (pure: no Django).

Crockford's alphabet leaves out I, L, O and U, so a code read aloud or typed with gloves is hard to get
wrong, and the check symbol catches any single wrong symbol and most swaps of neighbours.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
BODY_LENGTH = 8
_VALUE = {symbol: value for value, symbol in enumerate(ALPHABET)}
# Symbols people type for the ones the alphabet leaves out.
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_URL_TAIL = re.compile(r"/l/([0-9A-Za-z-]+)/?$")


class InvalidLabelCode(ValueError):
    """`check_failed` tells a misread (a symbol wrong) from something that is not a label code at all."""

    def __init__(self, raw: str, *, check_failed: bool):
        self.raw, self.check_failed = raw, check_failed
        super().__init__(f"{raw!r}: the check symbol does not match; re-read the label." if check_failed
                         else f"{raw!r} is not a label code (9 symbols such as 7KQ2-M9XA-4).")


def check_symbol(body: str) -> str:
    """Return the Luhn mod 32 check symbol for `body`."""
    factor = 2
    total = 0
    n = len(ALPHABET)
    for symbol in reversed(body):
        addend = factor * _VALUE[symbol]
        factor = 1 if factor == 2 else 2
        total += addend // n + addend % n
    return ALPHABET[(n - total % n) % n]


def new_code() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
    return body + check_symbol(body)


def normalise(raw: str) -> str:
    """Return the canonical code for what a worker typed or a scanner read, or raise InvalidLabelCode."""
    text = raw.strip()
    url = _URL_TAIL.search(text)
    if url:
        text = url.group(1)
    code = text.upper().replace("-", "").replace(" ", "").translate(_LOOKALIKES)
    if len(code) != BODY_LENGTH + 1 or any(symbol not in _VALUE for symbol in code):
        raise InvalidLabelCode(raw, check_failed=False)
    if check_symbol(code[:-1]) != code[-1]:
        raise InvalidLabelCode(raw, check_failed=True)
    return code


def display(code: str) -> str:
    """Group the code for printing: 7KQ2-M9XA-4."""
    return f"{code[:4]}-{code[4:8]}-{code[8:]}"
