"""Units, rounding and canonical JSON shared by the pure calculation modules (no Django imports)."""

from __future__ import annotations

import hashlib
import json
from decimal import ROUND_HALF_UP, Decimal

KG_PER_T = Decimal("1000")
WH_PER_KWH = Decimal("1000")
HUNDRED = Decimal("100")


def quantize(value: Decimal, places: int) -> Decimal:
    """Round half up to `places` decimals, the rounding every figure on a certificate uses."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def canonical_json(payload: dict) -> str:
    """Serialise with sorted keys and no whitespace; decimals must already be strings."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def decimal_or_none(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)
