"""The form pack: report forms as data, loaded from YAML and validated at start-up.

One YAML file per form lives in ``gateway/forms/`` (the default pack) and optionally in a
deployment's ``FORMS_DIR``, whose forms replace default ones of the same code. Files whose name
starts with ``_`` hold shared data: ``_messages.yaml`` the replies that belong to no one form,
``_schedules.yaml`` the schedules of care that forms start, clear and end (see schedules.py),
``_codes.yaml`` code sets that several forms share (a codes field may name one: ``codes: danger``).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

DEFAULT_FORMS_DIR = Path(__file__).parent / "forms"
FIELD_TYPES = frozenset(
    {"id", "integer", "decimal", "date", "weeks", "age", "choice", "codes", "phone", "text"}
)
ID_KINDS = frozenset({"person", "household", "any", "alert"})
ROLES = frozenset({"volunteer", "staff", "admin"})


class FormPackError(ValueError):
    """A form file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    required: bool = True
    min: float | None = None
    max: float | None = None
    labels: dict[str, str] = field(default_factory=dict)
    keys: dict[str, tuple[str, ...]] = field(default_factory=dict)
    kind: str | None = None  # for id fields: person, household, any
    choices: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    max_length: int | None = None
    accept_date: bool = False  # for weeks: a date (e.g. the LMP) may be given instead

    def label(self, lang: str) -> str:
        return self.labels.get(lang) or self.labels.get("en") or self.name


@dataclass(frozen=True)
class Form:
    code: str
    handler: str
    keywords: dict[str, tuple[str, ...]]
    fields: tuple[Field, ...]
    roles: frozenset[str]
    examples: dict[str, str]
    replies: dict[str, dict[str, str]]
    options: dict[str, Any]
    source: str
    order: int = 100  # place in keyword lists and menus
    starts: tuple[str, ...] = ()  # schedules a report of this form starts
    clears: tuple[str, ...] = ()  # schedules whose due item a report of this form clears
    ends: tuple[str, ...] = ()  # schedules a report of this form ends
    titles: dict[str, str] = field(default_factory=dict)  # the form's name in menus, per language

    def keyword(self, lang: str) -> str:
        words = self.keywords.get(lang) or self.keywords["en"]
        return words[0]

    def title(self, lang: str) -> str:
        """The form's name in menus (USSD), e.g. 'Pregnancy'; the keyword when it has no title."""
        return self.titles.get(lang) or self.titles.get("en") or self.keyword(lang)

    def example(self, lang: str) -> str:
        return self.examples.get(lang) or self.examples.get("en", self.keyword(lang))

    def usage(self, lang: str) -> str:
        """The compact form in the sender's language, e.g. 'PREG <ID> <weeks>'."""
        parts = [self.keyword(lang)]
        for f in self.fields:
            parts.append(f"<{f.label(lang)}>" if f.required else f"[{f.label(lang)}]")
        return " ".join(parts)


class FormPack:
    """All forms of a deployment, indexed by code and by every keyword in every language."""

    def __init__(
        self, forms: Iterable[Form], messages: dict[str, dict[str, str]], version: str,
        schedules: dict | None = None,
    ):
        self.schedules = schedules or {}
        self.forms: dict[str, Form] = {f.code: f for f in sorted(forms, key=lambda f: (f.order, f.code))}
        self.messages = messages
        self.version = version
        self.keywords: dict[str, tuple[Form, str]] = {}
        for form in self.forms.values():
            for lang, words in form.keywords.items():
                for word in words:
                    key = word.upper()
                    other = self.keywords.get(key)
                    if other and other[0].code != form.code:
                        raise FormPackError(
                            f"{form.source}: keyword '{word}' is also used by form {other[0].code}"
                        )
                    self.keywords.setdefault(key, (form, lang))
        # longest first, so that VISIT wins over V when a keyword is glued to a value
        self.keywords_by_length = sorted(self.keywords, key=len, reverse=True)

    def message(self, key: str, lang: str) -> str:
        texts = self.messages[key]
        return texts.get(lang) or texts["en"]

    def keyword_list(self, lang: str, role: str | None = None) -> str:
        """The keywords HELP lists; a form with 'options: {listed: false}' is left out (it is
        taught where it is needed, as ACK is by every alert) but still understood."""
        return " ".join(
            f.keyword(lang)
            for f in self.forms.values()
            if (role is None or role in f.roles) and f.options.get("listed", True)
        )


def load_pack(extra_dir: str | Path | None = None, languages: Iterable[str] = ("en",)) -> FormPack:
    """Load the default pack plus a deployment's folder; raise FormPackError on any broken file."""
    dirs = [DEFAULT_FORMS_DIR] + ([Path(extra_dir)] if extra_dir else [])
    from .schedules import schedules_from_dict

    forms: dict[str, Form] = {}
    messages: dict[str, dict[str, str]] = {}
    schedules: dict = {}
    code_sets: dict[str, dict] = {}
    digest = hashlib.sha256()
    for folder in dirs:
        if not folder.is_dir():
            raise FormPackError(f"{folder}: forms folder not found")
        for path in sorted(folder.glob("*.yaml")):
            raw = path.read_bytes()
            digest.update(path.name.encode() + b"\0" + raw)
            data = _read_yaml(path, raw)
            if path.name == "_messages.yaml":
                messages.update(_texts(path, "messages", data))
            elif path.name == "_schedules.yaml":
                schedules.update(schedules_from_dict(path, data))
            elif path.name == "_codes.yaml":
                code_sets.update(data)
            elif path.name.startswith("_"):
                raise FormPackError(f"{path}: unknown shared file (expected _messages.yaml, _schedules.yaml or _codes.yaml)")
            else:
                form = _form_from_dict(path, data, code_sets)
                forms[form.code] = form
    for key in ("empty", "unknown_sender", "unknown_keyword", "not_allowed", "invalid_id", "opted_out",
                "opted_in", "failed"):
        if key not in messages:
            raise FormPackError(f"{DEFAULT_FORMS_DIR}/_messages.yaml: message '{key}' missing")
    for form in forms.values():
        optional = tuple((form.options.get("schedules") or {}).values())
        for name in form.starts + form.clears + form.ends + optional:
            if name not in schedules:
                raise FormPackError(f"{form.source}: schedule '{name}' is not in _schedules.yaml")
    pack = FormPack(forms.values(), messages, digest.hexdigest()[:12], schedules)
    _check_languages(pack, tuple(languages))
    return pack


def _read_yaml(path: Path, raw: bytes) -> dict:
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise FormPackError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise FormPackError(f"{path}: expected a mapping at the top")
    return data


def _texts(path: Path, where: str, data: Any) -> dict[str, dict[str, str]]:
    if not isinstance(data, dict):
        raise FormPackError(f"{path}: {where}: expected a mapping of name -> language -> text")
    out: dict[str, dict[str, str]] = {}
    for key, per_lang in data.items():
        if not isinstance(per_lang, dict) or not all(
            isinstance(v, str) for v in per_lang.values()
        ):
            raise FormPackError(f"{path}: {where}.{key}: expected language -> text")
        if "en" not in per_lang:
            raise FormPackError(f"{path}: {where}.{key}: an English ('en') text is required")
        out[str(key)] = {str(k): v for k, v in per_lang.items()}
    return out


def _words(path: Path, where: str, value: Any) -> dict[str, tuple[str, ...]]:
    """A language -> word(s) mapping; a bare string or list counts for every language."""
    if isinstance(value, (str, list)):
        value = {"*": value}
    if not isinstance(value, dict):
        raise FormPackError(f"{path}: {where}: expected language -> words")
    out = {}
    for lang, words in value.items():
        words = [words] if isinstance(words, str) else words
        if not words or not all(isinstance(w, str) and w.strip() for w in words):
            raise FormPackError(f"{path}: {where}.{lang}: expected one or more words")
        out[str(lang)] = tuple(w.strip() for w in words)
    return out


def _form_from_dict(path: Path, data: dict, code_sets: dict[str, dict] | None = None) -> Form:
    for key in ("code", "handler", "keywords"):
        if key not in data:
            raise FormPackError(f"{path}: '{key}' is required")
    unknown = set(data) - {
        "code", "handler", "keywords", "fields", "roles", "example", "replies", "options", "order",
        "starts", "clears", "ends", "title",
    }
    if unknown:
        raise FormPackError(f"{path}: unknown setting(s): {', '.join(sorted(unknown))}")
    code = str(data["code"]).upper()
    keywords = _words(path, "keywords", data["keywords"])
    if "en" not in keywords:
        raise FormPackError(f"{path}: keywords: an English ('en') keyword is required")
    for words in keywords.values():
        for word in words:
            if any(c.isspace() or c in "#*," for c in word):
                raise FormPackError(f"{path}: keyword '{word}' may not hold spaces, '#', '*' or ','")
    roles = frozenset(data.get("roles") or ["volunteer", "staff", "admin"])
    if not roles <= ROLES:
        raise FormPackError(f"{path}: roles: unknown role(s) {sorted(roles - ROLES)}")
    fields = tuple(
        _field_from_dict(path, i, f, code_sets or {}) for i, f in enumerate(data.get("fields") or [])
    )
    names = [f.name for f in fields]
    if len(set(names)) != len(names):
        raise FormPackError(f"{path}: fields: a field name is used twice")
    for f in fields[:-1]:
        if f.type == "text":
            raise FormPackError(f"{path}: field '{f.name}': a text field must be the last field")
    seen_optional = False
    for f in fields:
        if seen_optional and f.required:
            raise FormPackError(
                f"{path}: field '{f.name}': a required field cannot follow an optional one"
            )
        seen_optional = seen_optional or not f.required
    options = dict(data.get("options") or {})
    window = options.get("duplicate_window_days")
    if window is not None and (isinstance(window, bool) or not isinstance(window, (int, float)) or window < 0):
        raise FormPackError(f"{path}: options.duplicate_window_days: expected a number of days, 0 or more")
    title = data.get("title") or {}
    if isinstance(title, str):
        title = {"en": title}
    if not isinstance(title, dict) or not all(isinstance(v, str) and v.strip() for v in title.values()):
        raise FormPackError(f"{path}: title: expected a name, or language -> name")
    example = data.get("example") or {}
    if isinstance(example, str):
        example = {"en": example}
    return Form(
        code=code,
        handler=str(data["handler"]),
        keywords=keywords,
        fields=fields,
        roles=roles,
        examples={str(k): str(v) for k, v in example.items()},
        replies=_texts(path, "replies", data.get("replies") or {}),
        options=options,
        source=str(path),
        order=int(data.get("order", 100)),
        starts=_names(path, "starts", data.get("starts")),
        clears=_names(path, "clears", data.get("clears")),
        ends=_names(path, "ends", data.get("ends")),
        titles={str(k): v.strip() for k, v in title.items()},
    )


def _names(path: Path, where: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise FormPackError(f"{path}: {where}: expected a schedule name or a list of them")
    return tuple(value)


def _field_from_dict(path: Path, index: int, data: Any, code_sets: dict[str, dict]) -> Field:
    if not isinstance(data, dict) or "name" not in data or "type" not in data:
        raise FormPackError(f"{path}: fields[{index}]: 'name' and 'type' are required")
    name = str(data["name"])
    where = f"field '{name}'"
    ftype = data["type"]
    if ftype not in FIELD_TYPES:
        raise FormPackError(
            f"{path}: {where}: unknown type '{ftype}' (one of {', '.join(sorted(FIELD_TYPES))})"
        )
    unknown = set(data) - {
        "name", "type", "required", "min", "max", "label", "key", "kind", "choices", "codes",
        "max_length", "accept_date",
    }
    if unknown:
        raise FormPackError(f"{path}: {where}: unknown setting(s): {', '.join(sorted(unknown))}")
    label = data.get("label", name)
    labels = {"en": label} if isinstance(label, str) else dict(label)
    keys = _words(path, f"{where}.key", data.get("key", name))
    choices: dict[str, dict[str, tuple[str, ...]]] = {}
    codes: dict[str, dict[str, str]] = {}
    kind = data.get("kind")
    if ftype == "id":
        kind = kind or "any"
        if kind not in ID_KINDS:
            raise FormPackError(f"{path}: {where}: kind must be one of {sorted(ID_KINDS)}")
    if ftype == "choice":
        raw = data.get("choices")
        if not isinstance(raw, dict) or not raw:
            raise FormPackError(f"{path}: {where}: a choice field needs 'choices'")
        choices = {str(c).upper(): _words(path, f"{where}.choices.{c}", w) for c, w in raw.items()}
    if ftype == "codes":
        raw = data.get("codes")
        if isinstance(raw, str):
            if raw not in code_sets:
                raise FormPackError(f"{path}: {where}: code set '{raw}' is not in _codes.yaml")
            raw = code_sets[raw]
        if not isinstance(raw, dict) or not raw:
            raise FormPackError(f"{path}: {where}: a codes field needs 'codes'")
        for c, meaning in raw.items():
            if not (isinstance(c, str) and len(c) == 1 and c.isalpha()):
                raise FormPackError(f"{path}: {where}: code '{c}' must be a single letter")
            if not isinstance(meaning, dict):
                raise FormPackError(f"{path}: {where}: code '{c}' needs language -> meaning")
        codes = {c.upper(): {str(k): str(v) for k, v in m.items()} for c, m in raw.items()}
    for bound in ("min", "max"):
        if bound in data and not isinstance(data[bound], (int, float)):
            raise FormPackError(f"{path}: {where}: '{bound}' must be a number")
    return Field(
        name=name,
        type=ftype,
        required=bool(data.get("required", True)),
        min=data.get("min"),
        max=data.get("max"),
        labels={str(k): str(v) for k, v in labels.items()},
        keys=keys,
        kind=kind,
        choices=choices,
        codes=codes,
        max_length=data.get("max_length"),
        accept_date=bool(data.get("accept_date", False)),
    )


def _check_languages(pack: FormPack, languages: tuple[str, ...]) -> None:
    """Every language the deployment offers needs a keyword for each form."""
    for form in pack.forms.values():
        for lang in languages:
            if lang not in form.keywords and "*" not in form.keywords:
                raise FormPackError(f"{form.source}: keywords: no keyword for language '{lang}'")
