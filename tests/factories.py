"""Building roster and registry rows for tests through the same domain functions the app uses."""
from __future__ import annotations

import itertools
from datetime import date

from gateway.models import Contact, Household, Person
from gateway.people import register_household, register_person
from gateway.roster import area_by_path, save_contact

_phones = itertools.count(1)
VILLAGE = "Kisumu/Nyando/Kanyagwal"
OTHER_VILLAGE = "Kisumu/Nyando/Ombeyi"
FAR_VILLAGE = "Siaya/Alego/Nyalgunga"


def next_phone() -> str:
    return f"+2547{next(_phones) % 100_000_000:08d}"


def contact(session, *, role: str = "volunteer", areas=(VILLAGE,), language: str = "en",
            name: str = "Akinyi Otieno", phone: str | None = None) -> Contact:
    found, _ = save_contact(session, name=name, phone=phone or next_phone(), role=role, areas=list(areas),
                            language=language, region="KE")
    session.flush()
    return found


def household(session, by: Contact, *, village: str = VILLAGE, head: str = "Juma Ali") -> Household:
    return register_household(session, area_by_path(session, village, create=True), head, by)


def person(session, hh: Household, by: Contact, *, name: str = "Amina Juma", sex: str = "F",
           birth_date: date = date(2000, 5, 1)) -> Person:
    return register_person(session, hh, name, sex, birth_date, False, by)
