"""The admin view's forms; each carries its CSRF token."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import PasswordField, RadioField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from gateway.config import LANGUAGES

try:  # WTForms 3.3 takes choices as SelectChoice and warns about tuples
    from wtforms import SelectChoice
except ImportError:  # pragma: no cover - older WTForms
    SelectChoice = None


def options(pairs) -> list:
    """Choices for a select field from (value, label) pairs."""
    pairs = list(pairs)
    return [SelectChoice(value, label) for value, label in pairs] if SelectChoice else pairs


ROLES = options([("volunteer", "Volunteer"), ("staff", "Staff"), ("admin", "Admin")])
LANGUAGE_NAMES = {"en": "English", "zh": "中文", "fr": "Français", "sw": "Kiswahili"}


class SignInForm(FlaskForm):
    phone = StringField("Phone number", validators=[DataRequired(), Length(max=40)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class ContactForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=80)])
    phone = StringField("Phone number", validators=[DataRequired(), Length(max=40)])
    role = SelectField("Role", choices=ROLES)
    language = SelectField("Language", choices=options((code, LANGUAGE_NAMES.get(code, code)) for code in LANGUAGES))
    areas = SelectMultipleField("Villages or areas", coerce=int, validate_choice=True)
    password = PasswordField("New password (staff and admins; leave empty to keep)",
                             validators=[Optional(), Length(max=200)])


class ImportForm(FlaskForm):
    file = FileField("Roster CSV", validators=[FileRequired("Choose a CSV file to import.")])


class AreaForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=80)])
    parent = SelectField("Under", coerce=int)


class NoteForm(FlaskForm):
    note = TextAreaField("Note", validators=[Optional(), Length(max=200)])


class ReviewForm(FlaskForm):
    decision = RadioField("Mark", choices=options([("verified", "Verified"), ("wrong", "Wrong")]),
                          validators=[DataRequired("Choose verified or wrong.")])
    note = TextAreaField("Note", validators=[Optional(), Length(max=200)])


class SimulatorForm(FlaskForm):
    phone = StringField("From", validators=[DataRequired(), Length(max=40)])
    text = TextAreaField("Message", validators=[Length(max=480)])


class UssdForm(FlaskForm):
    phone = StringField("From", validators=[DataRequired(), Length(max=40)])
    answer = StringField("Answer", validators=[Length(max=40)])
