"""The announcement form: fields ↔ YAML, checked by the same loader as ``broadcaster check``.

The page edits an announcement as fields (title, language, priority, text,
validity, repeat, chime); they are written as YAML, read back by
:func:`broadcaster.content.load.load_announcement`, and each problem found is
put beside the field whose line it points at.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from broadcaster.content.load import load_announcement
from broadcaster.content.models import ANNOUNCEMENTS_DIR, PRIORITY_NAMES, Announcement
from broadcaster.errors import MessageError
from broadcaster.i18n import Msg
from broadcaster.language import LANGUAGE_NAMES
from broadcaster.schema.problems import Problem, Problems
from broadcaster.schema.yamlfile import Map, Scalar, read

FIELDS = ("title", "language", "priority", "text", "valid_from", "valid_until", "repeat", "gap", "chime",
          "notes")  # fmt: skip
ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
"""An announcement id the page accepts: a file name anywhere (no '/', no '..')."""


class FormError(MessageError):
    """A request the page refuses: a bad id, a file changed meanwhile."""


@dataclass(frozen=True)
class Checked:
    """What the loader made of a form: the announcement (None with errors) and problems per field."""

    yaml_text: str
    announcement: Announcement | None
    by_field: dict[str, list[Problem]] = field(default_factory=dict)
    general: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.announcement is not None


def to_yaml(values: dict[str, str]) -> str:
    """The form as an announcement file; empty fields are left out."""
    data: dict[str, object] = {}
    for key in FIELDS:
        value = (values.get(key) or "").strip()
        if key == "chime":
            data[key] = "yes" if value.lower() in ("yes", "on", "true", "是") else "no"
        elif value:
            data[key] = value
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, default_flow_style=False, width=1000)


@dataclass(frozen=True)
class Opened:
    """A file as the form shows it: its fields as written, whether the form can write it back, and
    the problems of the file itself (shown on the page: a phone has no ``broadcaster check``)."""

    values: dict[str, str]
    editable: bool
    """False for files the form would change by saving: segments (parts, pauses, clips)."""
    problems: list[Problem]


def from_file(path: Path) -> Opened:
    """An announcement file's fields for the form, each exactly as written (nothing is typed here)."""
    problems = Problems()
    node = read(path, problems)
    values = dict.fromkeys(FIELDS, "")
    values["chime"] = "yes"
    editable = True
    if isinstance(node, Map):
        for key, value in node.items:
            if key.value == "segments":
                editable = False
                texts = [v.value for item in getattr(value, "items", ()) if isinstance(item, Map)
                         for k, v in item.items if k.value == "text" and isinstance(v, Scalar)]  # fmt: skip
                values["text"] = "\n".join(texts)
            elif key.value in FIELDS and isinstance(value, Scalar) and not value.is_null:
                values[key.value] = value.value
    # the form's choices are codes: 普通话 or 紧急 as written are shown (and kept) as what they mean
    values["language"] = str(LANGUAGE_NAMES.get(values["language"].strip().lower(), values["language"]))
    values["priority"] = str(PRIORITY_NAMES.get(values["priority"].strip().lower(), values["priority"]))
    return Opened(values, editable, [p for p in problems if p.is_error])


def check(values: dict[str, str], root: Path, name: str = "preview") -> Checked:
    """Write the form as YAML in a temporary file and load it as the station would."""
    text = to_yaml(values)
    problems = Problems()
    with tempfile.TemporaryDirectory(prefix="broadcaster-form-") as folder:
        path = Path(folder) / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        announcement = load_announcement(path, root, problems)
    starts = sorted(_key_lines(text).items(), key=lambda kv: kv[1])
    by_field: dict[str, list[Problem]] = {}
    general: list[Problem] = []
    for problem in problems:
        key = problem.message.args.get("key")  # "'language' is missing" names its field
        if key not in FIELDS:  # else the field whose lines hold the problem
            key = next((k for k, line in reversed(starts) if line <= problem.line), None)
        (by_field.setdefault(key, []) if key in FIELDS else general).append(problem)
    usable = announcement if not problems.has_errors else None
    return Checked(text, usable, by_field, general)


def check_file(path: Path, root: Path) -> Checked:
    """An announcement file loaded as the station loads it (for one the form cannot show)."""
    problems = Problems()
    announcement = load_announcement(path, root, problems)
    usable = announcement if not problems.has_errors else None
    return Checked(path.read_text(encoding="utf-8-sig", errors="replace"), usable, {}, [p for p in problems])


def _key_lines(text: str) -> dict[str, int]:
    return {m[1]: text.count("\n", 0, m.start()) + 1 for m in re.finditer(r"^([a-z_]+):", text, re.MULTILINE)}


def version(path: Path) -> str:
    """What the page remembers of a file it shows, to notice a change made meanwhile."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except FileNotFoundError:
        return ""


def announcement_path(root: Path, name: str) -> Path:
    if not ID.fullmatch(name):
        raise FormError(Msg.of("'{name}' is not a file name: use a-z, 0-9 and '-'", name=name))
    return root / ANNOUNCEMENTS_DIR / f"{name}.yaml"


def save(path: Path, text: str, expected_version: str) -> None:
    """Write ``text`` at ``path`` atomically, unless the file changed since it was read."""
    if version(path) != expected_version:
        raise FormError(Msg.of("the file was changed by someone else since you opened it; open it again"))
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, staged = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(staged, path)
    except BaseException:
        Path(staged).unlink(missing_ok=True)
        raise
