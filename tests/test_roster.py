"""Roster import from CSV: areas created as needed, a row-by-row report, nothing half-imported."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from gateway.models import Area, AreaKind, Contact, Role
from gateway.roster import RosterError, area_by_path, import_roster

GOOD = """name,phone,role,area,language
Akinyi Otieno,0712 345 678,volunteer,Kisumu/Nyando/Kanyagwal,en
Li Na,+254733567890,volunteer,Kisumu/Nyando/Ombeyi;Kisumu/Nyando/Kanyagwal,zh
Grace Achieng,0711-222-333,staff,Kisumu/Nyando,en
"""


def run(session, text: str):
    return import_roster(session, io.StringIO(text), "KE")


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_good_rows_are_added_with_their_areas(session):
    report = run(session, GOOD)
    assert [r.action for r in report.rows] == ["added", "added", "added"]
    akinyi = session.scalar(select(Contact).where(Contact.phone == "+254712345678"))
    assert akinyi.role is Role.volunteer and [a.name for a in akinyi.areas] == ["Kanyagwal"]
    lina = session.scalar(select(Contact).where(Contact.name == "Li Na"))
    assert [a.name for a in lina.areas] == ["Ombeyi", "Kanyagwal"] and lina.language == "zh"
    nyando = area_by_path(session, "Kisumu/Nyando")
    assert nyando.kind is AreaKind.township and nyando.parent.kind is AreaKind.district
    assert count(session, Area) == 4


def test_the_same_phone_in_another_format_updates_the_contact(session):
    run(session, GOOD)
    report = run(session, "name,phone,role,area,language\nAkinyi O.,+254 712 345678,volunteer,Kisumu/Nyando/Ombeyi,sw\n")
    assert [r.action for r in report.rows] == ["updated"]
    contact = session.scalar(select(Contact).where(Contact.phone == "+254712345678"))
    assert (contact.name, contact.language, [a.name for a in contact.areas]) == ("Akinyi O.", "sw", ["Ombeyi"])
    assert count(session, Contact) == 3


def test_importing_the_same_file_twice_changes_nothing(session):
    run(session, GOOD)
    report = run(session, GOOD)
    assert [r.action for r in report.rows] == ["unchanged"] * 3


BAD = """name,phone,role,area,language
Good Volunteer,0722 000 111,volunteer,Kisumu/Nyando/Kanyagwal,en
Bad Phone,12345,volunteer,Kisumu/Nyando/Kanyagwal,en
Bad Role,0722 000 222,nurse,Kisumu/Nyando/Kanyagwal,en
Township Volunteer,0722 000 333,volunteer,Kisumu/Newtown,en
Bad Language,0722 000 444,volunteer,Kisumu/Nyando/Kanyagwal,de
,0722 000 555,volunteer,Kisumu/Nyando/Kanyagwal,en
Repeat,+254722000111,staff,Kisumu,en
No Area,0722 000 666,staff,,en
Deep,0722 000 777,volunteer,A/B/C/D,en
Empty Level,0722 000 888,volunteer,Kisumu//Kanyagwal,en
"""


def test_bad_rows_are_refused_with_reasons_and_leave_nothing_behind(session):
    report = run(session, BAD)
    actions = [(r.line, r.action) for r in report.rows]
    assert actions[0] == (2, "added")
    assert all(action == "refused" for _, action in actions[1:])
    reasons = {r.line: r.reason for r in report.refused}
    assert "not a valid phone number" in reasons[3]
    assert "role 'nurse'" in reasons[4]
    assert "must be a village" in reasons[5]
    assert "language 'de'" in reasons[6]
    assert reasons[7] == "name is empty"
    assert "already on line 2" in reasons[8]
    assert "needs an area" in reasons[9]
    assert "more than 3 levels" in reasons[10]
    assert "not a path" in reasons[11]
    # the refused township row created no 'Newtown' area, the deep row no 'A'
    names = set(session.scalars(select(Area.name)))
    assert names == {"Kisumu", "Nyando", "Kanyagwal"}
    assert count(session, Contact) == 1
    assert report.summary() == "1 added, 0 updated, 0 unchanged, 9 refused"


def test_fixed_rows_import_on_the_second_try(session):
    run(session, BAD)
    fixed = "name,phone,role,area,language\nBad Phone,0722 000 999,volunteer,Kisumu/Nyando/Kanyagwal,en\n"
    report = run(session, fixed)
    assert [r.action for r in report.rows] == ["added"]


def test_a_file_without_the_columns_is_refused_whole(session):
    with pytest.raises(RosterError, match="no column"):
        run(session, "full name,mobile\nA,0712345678\n")


def test_byte_order_mark_and_header_case_are_accepted(session):
    report = run(session, "\ufeffName,Phone,Role,Area,Language\nA B,0712 345 678,volunteer,X/Y/Z,en\n")
    assert [r.action for r in report.rows] == ["added"]


def test_cli_roster_import_prints_the_report(tmp_path, database_url, monkeypatch):
    from click.testing import CliRunner

    from gateway.cli import main

    path = tmp_path / "roster.csv"
    path.write_text(BAD, encoding="utf-8")
    db = tmp_path / "cli.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(main, ["roster", "import", str(path)])
    assert result.exit_code == 1
    assert "line 2: added" in result.output
    assert "line 4: refused" in result.output and "role 'nurse'" in result.output
    assert "1 added, 0 updated, 0 unchanged, 9 refused" in result.output
