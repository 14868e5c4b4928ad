"""Hash chain of the event log (pure: no Django imports).

Each entry's hash is SHA-256 over the previous entry's hash and the entry's canonical JSON, so changing,
removing or reordering any entry breaks every link after it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from moira.units import canonical_json, sha256_hex

GENESIS_HASH = "0" * 64


def entry_hash(previous_hash: str, fields: dict) -> str:
    return sha256_hex(previous_hash + canonical_json(fields))


@dataclass(frozen=True)
class BrokenLink:
    entry_id: int
    reason: str


def first_broken_link(entries: Iterable[tuple[int, str, str, dict]]) -> BrokenLink | None:
    """Walk (id, previous_hash, entry_hash, fields) in order; return the first entry that does not chain."""
    expected_previous = GENESIS_HASH
    for entry_id, previous_hash, stored_hash, fields in entries:
        if previous_hash != expected_previous:
            return BrokenLink(entry_id, "previous hash does not match the entry before it")
        if entry_hash(previous_hash, fields) != stored_hash:
            return BrokenLink(entry_id, "content does not match its hash")
        expected_previous = stored_hash
    return None
