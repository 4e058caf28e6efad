"""Form files are validated when the app starts; a broken one stops start-up naming file and field."""
from __future__ import annotations

import pytest

from gateway import create_app
from gateway.formpack import FormPackError, load_pack
from tests.conftest import make_settings

GOOD = """
code: WEIGH
handler: record_visit
keywords: {en: [WEIGH], zh: [称重], fr: [PESER], sw: [PIMA]}
fields:
  - {name: household, type: id, kind: household, label: {en: household ID, zh: 户号}}
example: {en: WEIGH 40216, zh: 称重 40216}
replies:
  recorded: {en: "Weighed {household}", zh: "已称重{household}"}
"""


def write(tmp_path, name: str, text: str):
    (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_a_deployment_form_joins_the_pack_without_python(tmp_path, database_url):
    folder = write(tmp_path, "weigh.yaml", GOOD)
    app = create_app(make_settings(database_url, FORMS_DIR=str(folder)))
    pack = app.extensions["fieldline"].pack
    assert pack.keywords["称重"][0].code == "WEIGH"
    assert pack.forms["WEIGH"].usage("en") == "WEIGH <household ID>"


@pytest.mark.parametrize("broken, message", [
    (GOOD.replace("type: id", "type: idd"), "field 'household': unknown type 'idd'"),
    (GOOD.replace("handler: record_visit\n", ""), "'handler' is required"),
    (GOOD.replace("kind: household", "kind: animal"), "field 'household': kind must be"),
    (GOOD.replace("keywords: {en: [WEIGH], ", "keywords: {"), "English ('en') keyword"),
    (GOOD.replace("en: [WEIGH]", "en: [HH]"),
     "keyword 'HH' is also used by form HH"),
    (GOOD + "colour: blue\n", "unknown setting(s): colour"),
    (GOOD.replace("label:", "lable:"), "field 'household': unknown setting(s): lable"),
    ("code: [unclosed", "not valid YAML"),
    (GOOD.replace("  - {name: household, type: id,",
                  "  - {name: note, type: text}\n  - {name: household, type: id,"),
     "field 'note': a text field must be the last field"),
])
def test_a_broken_form_names_the_file_and_the_problem(tmp_path, broken, message):
    folder = write(tmp_path, "weigh.yaml", broken)
    with pytest.raises(FormPackError) as info:
        load_pack(folder, languages=("en", "zh"))
    assert str(folder / "weigh.yaml") in str(info.value)
    assert message in str(info.value)


def test_a_form_naming_a_missing_handler_stops_start_up(tmp_path, database_url):
    folder = write(tmp_path, "weigh.yaml", GOOD.replace("handler: record_visit", "handler: weigh_child"))
    with pytest.raises(FormPackError, match=r"weigh.yaml: handler 'weigh_child' does not exist"):
        create_app(make_settings(database_url, FORMS_DIR=str(folder)))


def test_the_cli_reports_a_broken_pack_as_an_error_not_a_traceback(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from gateway.cli import main

    folder = write(tmp_path, "weigh.yaml", GOOD.replace("type: id", "type: idd"))
    monkeypatch.setenv("FORMS_DIR", str(folder))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    result = CliRunner().invoke(main, ["send", "+254712345678", "HELP"])
    assert result.exit_code == 1
    assert "unknown type 'idd'" in result.output
