"""Parts catalogues per product kind and the dismantling patterns of the demonstration (pure data).

Vending machines follow the report's figure 12 (domain notes §3.5-§3.7): the blank pattern removes only
what the law requires; pattern ① adds the cooling unit; pattern ② (precise dismantling) adds every known
Cu/Cr holder. Vehicles follow the platform report's part list; their legally required removals are the
ELV Act's fluorocarbons and airbags, and they have no preset beyond the blank pattern.
"""

from __future__ import annotations

# (code, Japanese name, English name, legally required)
VENDING_MACHINE_PARTS = [
    ("battery", "電池", "Battery", True),
    ("fluorescent_lamp", "蛍光灯", "Fluorescent lamp", True),
    ("fluorocarbons", "フロン類", "Fluorocarbons", True),
    ("cooling_unit", "冷却ユニット（ヒーター・配線含む）", "Cooling unit (with heater and wiring)", False),
    ("remote_controller", "リモコン（基板・配線含む）", "Remote controller (with board and wiring)", False),
    ("coin_mech", "コインメック（投入口含む）", "Coin mechanism (with coin slot)", False),
    ("handle_lock", "ハンドルロック", "Handle lock", False),
    ("rack", "ラック", "Racks", False),
    ("back_plate", "背面鋼板", "Back steel plate", False),
    ("other", "その他", "Other", False),
]

VEHICLE_PARTS = [
    ("fluorocarbons", "フロン類", "Fluorocarbons (air conditioner)", True),
    ("airbags", "エアバッグ類", "Airbags and pretensioners", True),
    ("lead_battery", "鉛バッテリー", "Lead-acid battery", False),
    ("traction_battery", "駆動用バッテリー", "Traction battery (Li-ion, NiMH)", False),
    ("wire_harness", "ワイヤーハーネス", "Wire harness", False),
    ("motors", "モーター類", "Motors (starter, alternator, wipers, seats)", False),
    ("aluminium_wheels", "アルミホイール", "Aluminium wheels", False),
    ("bumpers", "バンパー", "Bumpers", False),
    ("glass", "ガラス", "Glass", False),
    ("catalyst", "触媒", "Catalytic converter", False),
    ("radiator", "ラジエーター", "Radiator", False),
    ("engine", "エンジン", "Engine", False),
    ("tyres", "タイヤ", "Tyres", False),
]

CATALOGUES = {"vending_machine": VENDING_MACHINE_PARTS, "vehicle": VEHICLE_PARTS}


def _legal(parts) -> list[str]:
    return [code for code, _, _, legal in parts if legal]


PATTERN_PRESETS: dict[str, dict[str, list[str]]] = {
    "vending_machine": {
        "blank": _legal(VENDING_MACHINE_PARTS),
        "pattern_1": [*_legal(VENDING_MACHINE_PARTS), "cooling_unit"],
        "pattern_2": [*_legal(VENDING_MACHINE_PARTS), "cooling_unit", "remote_controller", "coin_mech", "handle_lock", "rack"],
    },
    "vehicle": {"blank": _legal(VEHICLE_PARTS)},
}
