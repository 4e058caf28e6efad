"""Schedules as data: due items relative to an anchor date, read from _schedules.yaml.

    antenatal:
      anchor: lmp                      # what the offsets count from (documentation only)
      items:
        - {item: anc_12w, at: 12w, before: 2w, after: 2w}

An item is due on anchor + at; a matching report inside [due - before, due + after] clears it.
An item may say 'per_unit: true' to multiply 'at' by a quantity (family-planning packs).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from .formpack import FormPackError

_SPAN = re.compile(r"^\s*(\d+)\s*([dw])\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class ScheduleItem:
    item: str
    at: timedelta
    before: timedelta
    after: timedelta
    per_unit: bool = False


@dataclass(frozen=True)
class Schedule:
    name: str
    anchor: str
    items: tuple[ScheduleItem, ...]


def parse_span(path: Path | str, where: str, value: Any) -> timedelta:
    """'12w' -> 84 days, '3d' -> 3 days, 0 -> 0 days."""
    if isinstance(value, int) and value >= 0:
        return timedelta(days=value)
    m = _SPAN.match(str(value))
    if not m:
        raise FormPackError(f"{path}: {where}: '{value}' is not a span like 3d or 12w")
    n = int(m[1])
    return timedelta(days=n * 7 if m[2].lower() == "w" else n)


def schedules_from_dict(path: Path | str, data: dict) -> dict[str, Schedule]:
    out: dict[str, Schedule] = {}
    for name, spec in data.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("items"), list) or not spec["items"]:
            raise FormPackError(f"{path}: schedule '{name}': needs a list of items")
        unknown = set(spec) - {"anchor", "items"}
        if unknown:
            raise FormPackError(f"{path}: schedule '{name}': unknown setting(s): {', '.join(sorted(unknown))}")
        items = []
        for i, raw in enumerate(spec["items"]):
            where = f"schedule '{name}' item {i + 1}"
            if not isinstance(raw, dict) or "item" not in raw or "at" not in raw:
                raise FormPackError(f"{path}: {where}: 'item' and 'at' are required")
            extra = set(raw) - {"item", "at", "before", "after", "per_unit"}
            if extra:
                raise FormPackError(f"{path}: {where}: unknown setting(s): {', '.join(sorted(extra))}")
            items.append(ScheduleItem(
                item=str(raw["item"]),
                at=parse_span(path, where + ".at", raw["at"]),
                before=parse_span(path, where + ".before", raw.get("before", 0)),
                after=parse_span(path, where + ".after", raw.get("after", 0)),
                per_unit=bool(raw.get("per_unit", False)),
            ))
        names = [it.item for it in items]
        if len(set(names)) != len(names):
            raise FormPackError(f"{path}: schedule '{name}': an item name is used twice")
        out[str(name)] = Schedule(name=str(name), anchor=str(spec.get("anchor", "")), items=tuple(items))
    return out
