"""Schedules as data: due items relative to an anchor date, read from _schedules.yaml.

    antenatal:
      anchor: lmp                      # what the offsets count from (documentation only)
      label: {en: "ANC {weeks}w", zh: "产检{weeks}周"}
      items:
        - {item: anc_12w, at: 12w, before: 2w, after: 2w}

An item is due on anchor + at; a matching report inside [due - before, due + after] clears it.
An item may say 'per_unit: true' to multiply 'at' by a quantity (family-planning packs).
'label' names the care in reminders and alerts, per language; an item's own label replaces the
schedule's, and {weeks} and {days} in it are the item's 'at'.
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
    labels: tuple[tuple[str, str], ...] = ()  # (language, text); the schedule's when empty


@dataclass(frozen=True)
class Schedule:
    name: str
    anchor: str
    items: tuple[ScheduleItem, ...]
    labels: tuple[tuple[str, str], ...] = ()

    def label(self, item: str, lang: str) -> str:
        """How reminders and alerts name an item of this schedule, e.g. 'ANC 26w', 'PNC day 3'."""
        spec = next((it for it in self.items if it.item == item), None)
        if spec is None:  # an item the schedule no longer has
            return item
        texts = dict(spec.labels or self.labels)
        text = texts.get(lang) or texts.get("en")
        if text is None:
            return item
        days = spec.at.days
        return text.replace("{weeks}", str(days // 7)).replace("{days}", str(days))


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
        unknown = set(spec) - {"anchor", "items", "label"}
        if unknown:
            raise FormPackError(f"{path}: schedule '{name}': unknown setting(s): {', '.join(sorted(unknown))}")
        items = []
        for i, raw in enumerate(spec["items"]):
            where = f"schedule '{name}' item {i + 1}"
            if not isinstance(raw, dict) or "item" not in raw or "at" not in raw:
                raise FormPackError(f"{path}: {where}: 'item' and 'at' are required")
            extra = set(raw) - {"item", "at", "before", "after", "per_unit", "label"}
            if extra:
                raise FormPackError(f"{path}: {where}: unknown setting(s): {', '.join(sorted(extra))}")
            items.append(ScheduleItem(
                item=str(raw["item"]),
                at=parse_span(path, where + ".at", raw["at"]),
                before=parse_span(path, where + ".before", raw.get("before", 0)),
                after=parse_span(path, where + ".after", raw.get("after", 0)),
                per_unit=bool(raw.get("per_unit", False)),
                labels=_labels(path, where + ".label", raw.get("label")),
            ))
        names = [it.item for it in items]
        if len(set(names)) != len(names):
            raise FormPackError(f"{path}: schedule '{name}': an item name is used twice")
        out[str(name)] = Schedule(name=str(name), anchor=str(spec.get("anchor", "")), items=tuple(items),
                                  labels=_labels(path, f"schedule '{name}'.label", spec.get("label")))
    return out


def _labels(path: Path | str, where: str, value: Any) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = {"en": value}
    if not isinstance(value, dict) or not all(isinstance(v, str) and v.strip() for v in value.values()):
        raise FormPackError(f"{path}: {where}: expected language -> text")
    if "en" not in value:
        raise FormPackError(f"{path}: {where}: an English ('en') text is required")
    return tuple((str(k), v.strip()) for k, v in value.items())
