"""The fieldline command: send --json speaks the same pipeline as the webhook; demo plays a field day."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from gateway.cli import main


@pytest.fixture
def cli_db(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    roster = tmp_path / "roster.csv"
    roster.write_text("name,phone,role,area,language\nAkinyi,0712 345 678,volunteer,Kisumu/Nyando/Kanyagwal,en\n")
    assert runner.invoke(main, ["roster", "import", str(roster)]).exit_code == 0
    return runner


def send_json(runner, phone: str, text: str) -> dict:
    result = runner.invoke(main, ["send", phone, text, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_send_json_accepted_with_the_new_record(cli_db):
    out = send_json(cli_db, "0712 345 678", "HH Juma Ali")
    assert set(out) == {"reply", "status", "form", "error", "record"}
    assert out["status"] == "accepted" and out["form"] == "HH" and out["error"] is None
    assert out["record"]["type"] == "household"
    assert out["reply"].endswith(f"ID {out['record']['id']}")


@pytest.mark.parametrize("text, status, error, form", [
    ("", "rejected", "empty", None),
    ("XYZZY 1", "rejected", "unknown_keyword", None),
    ("REG", "rejected", "missing_field", "REG"),
    ("V 12345", "rejected", "invalid_id", "V"),
    ("LANG de", "rejected", "invalid_value", "LANG"),
    ("HELP REG", "accepted", None, "HELP"),
])
def test_send_json_reports_status_and_error_codes(cli_db, text, status, error, form):
    out = send_json(cli_db, "+254712345678", text)
    assert (out["status"], out["error"], out["form"]) == (status, error, form)
    assert out["reply"]


def test_send_from_an_unknown_number_is_ignored(cli_db):
    out = send_json(cli_db, "+254799999999", "HH Juma")
    assert (out["status"], out["error"], out["record"]) == ("ignored", "unknown_sender", None)


def test_send_prints_the_plain_reply(cli_db):
    result = cli_db.invoke(main, ["send", "+254712345678", "HELP"])
    assert result.output.startswith("Reports: HH REG V PREG ANC BIRTH LOSS PNC DANGER DEATH IN OUT FP OFF ON HELP LANG.")


def test_demo_plays_a_field_day_with_mistakes_in_two_languages(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["demo", "--db", str(tmp_path / "demo.db")])
    assert result.exit_code == 0, result.output
    from gateway.demo import SCRIPT

    assert len(SCRIPT) >= 20
    lines = result.output.splitlines()
    assert any("Household of Juma Ali registered in Kanyagwal" in line for line in lines)
    assert any("户已在Ombeyi登记" in line for line in lines)
    assert any("is not valid, check the number" in line for line in lines)
    assert any("not registered with Fieldline" in line for line in lines)
    assert "rejected with a reply saying why" in result.output


def test_send_refuses_a_number_that_cannot_be_a_phone(cli_db):
    result = cli_db.invoke(main, ["send", "12345", "HELP"])
    assert result.exit_code == 2
    assert "'12345' is not a valid phone number" in result.output
