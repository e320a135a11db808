"""Common Alerting Protocol 1.2 alerts → what the station does with them.

An alert is first read safely (defusedxml: no DTD, no entities, no network), then
validated against the CAP 1.2 schema (``CAP-v1.2.xsd``, with libxml2 through
lxml), then decided on (:func:`decide`):

- ``status`` other than ``Actual`` (Exercise, Test, System, Draft) is not aired
  to the public; neither are ``Ack`` and ``Error``;
- ``Cancel`` stops the alerts it references and is not aired;
- ``Update`` stops the alerts it references and is aired in their place;
- an info block in the station's language is chosen (``zh-CN``/``zh``… for
  Mandarin, ``yue``/``zh-HK``… for Cantonese), else the other Chinese one, read
  in the station's language; without a Chinese block nothing is aired;
- an alert past its ``expires`` is not aired;
- an alert whose areas carry geocodes is aired only where one of them is the
  station's own (``fleet: geocodes``).

What is aired is the headline and the instruction, as an emergency announcement.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from broadcaster.errors import BroadcasterError
from broadcaster.i18n import N_, _
from broadcaster.language import Language

NS = "urn:oasis:names:tc:emergency:cap:1.2"
SCHEMA = Path(__file__).with_name("CAP-v1.2.xsd")
MAX_BYTES = 1_000_000

CANTONESE_CODES = {"yue", "zh-yue", "zh-hk", "yue-hk", "yue-hant", "yue-hant-hk", "zh-mo", "zh-hant-hk"}


class CapError(BroadcasterError):
    """An alert that is not valid CAP 1.2 (with the line, where the schema says one)."""


@dataclass(frozen=True)
class Info:
    language: str
    headline: str
    instruction: str
    description: str
    expires: dt.datetime | None
    geocodes: tuple[str, ...]
    """Every area's geocode values."""

    @property
    def spoken_language(self) -> Language | None:
        code = self.language.lower()
        if code in CANTONESE_CODES:
            return Language.CANTONESE
        if code == "zh" or code.startswith(("zh-", "cmn")):
            return Language.MANDARIN
        return None


@dataclass(frozen=True)
class Alert:
    identifier: str
    sender: str
    sent: dt.datetime
    status: str
    msg_type: str
    references: tuple[str, ...]
    """The identifiers of the earlier alerts an Update or Cancel refers to."""
    infos: tuple[Info, ...]


@dataclass(frozen=True)
class Decision:
    air: bool
    reason: str
    """Why it is not aired (empty when it is)."""
    stops: tuple[str, ...] = ()
    """Announcement ids of earlier alerts to stop (Update, Cancel)."""
    announcement: str = ""
    """The announcement's id (``cap-…``) when aired."""
    yaml: str = ""
    expires: dt.datetime | None = None


def announcement_id(identifier: str) -> str:
    """A file-safe id for an alert: its identifier's letters and digits, and a hash of the rest."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", identifier).strip("-")[:40]
    digest = hashlib.sha1(identifier.encode()).hexdigest()[:8]
    return f"cap-{slug}-{digest}" if slug else f"cap-{digest}"


def read_alert(data: bytes) -> Alert:
    """Read and validate an alert; :class:`CapError` says what is wrong and where."""
    import defusedxml.ElementTree as safe
    from defusedxml.common import DefusedXmlException
    from lxml import etree

    if len(data) > MAX_BYTES:
        raise CapError(_("the alert is larger than {size} bytes").format(size=MAX_BYTES))
    try:
        safe.fromstring(data)  # refuses DTDs, entities and external references before anything else
    except DefusedXmlException as exc:
        kinds = {"DTDForbidden": "DTD", "EntitiesForbidden": "ENTITY", "ExternalReferenceForbidden": "SYSTEM"}
        what = kinds.get(type(exc).__name__, type(exc).__name__)
        message = _("the alert uses XML features that are not allowed ({what})")
        raise CapError(message.format(what=what)) from exc
    except safe.ParseError as exc:
        raise CapError(_("the alert is not well-formed XML: {reason}").format(reason=exc)) from exc
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    document = etree.fromstring(data, parser)
    schema = _schema()
    if not schema.validate(document):
        error = schema.error_log.last_error
        message = _("line {line}: the alert is not valid CAP 1.2: {reason}")
        raise CapError(message.format(line=error.line, reason=schema_reason(error.message)))

    def text(parent, name: str) -> str:
        found = parent.find(f"{{{NS}}}{name}")
        return (found.text or "").strip() if found is not None else ""

    infos = []
    for block in document.findall(f"{{{NS}}}info"):
        values = block.iterfind(f"{{{NS}}}area/{{{NS}}}geocode/{{{NS}}}value")
        codes = tuple((value.text or "").strip() for value in values)
        expires = text(block, "expires")
        infos.append(Info(text(block, "language") or "en-US", text(block, "headline"),
                          text(block, "instruction"), text(block, "description"),
                          _when(expires) if expires else None, codes))  # fmt: skip
    # "sender,identifier,sent" triples, separated by spaces
    references = tuple(part.split(",")[1] for part in text(document, "references").split()
                       if part.count(",") == 2)  # fmt: skip
    return Alert(text(document, "identifier"), text(document, "sender"), _when(text(document, "sent")),
                 text(document, "status"), text(document, "msgType"), references, tuple(infos))  # fmt: skip


_SCHEMA_WORDS = (
    (re.compile(r"Element '(?P<name>[\w:]+)': \[facet 'enumeration'\] The value '(?P<value>.*)' is not an "
                r"element of the set \{(?P<allowed>.*)\}\."),
     N_("<{name}> is '{value}'; it must be one of {allowed}")),
    (re.compile(r"Element '(?P<name>[\w:]+)': This element is not expected\. Expected is (?:one of )?"
                r"\( (?P<allowed>.*) \)\."),
     N_("<{name}> is not expected here; expected here: {allowed}")),
    (re.compile(r"Element '(?P<name>[\w:]+)': Missing child element\(s\)\. Expected is (?:one of )?"
                r"\( (?P<allowed>.*) \)\."),
     N_("<{name}> is missing an element: {allowed}")),
    (re.compile(r"Element '(?P<name>[\w:]+)': '(?P<value>.*)' is not a valid value of the atomic type "
                r"'DateTime'\."),
     N_("<{name}> '{value}' is not a time as CAP writes it, like 2026-11-30T16:00:00+08:00")),
)
"""libxml2's schema complaints that come up, in words a town's operator can act on."""


def schema_reason(text: str) -> str:
    """libxml2's complaint without the namespace, in the reader's language where it is a known one."""
    text = text.replace(f"{{{NS}}}", "").replace("##other*", "").strip()
    for pattern, template in _SCHEMA_WORDS:
        found = pattern.fullmatch(text)
        if found:
            values = found.groupdict()
            if "allowed" in values:
                names = [name.strip(" '") for name in values["allowed"].split(",") if name.strip(" '")]
                quoted = "value" in values and "enumeration" in pattern.pattern
                values["allowed"] = ", ".join(names if quoted else [f"<{name}>" for name in names])
            return _(template).format(**values)
    return text


@functools.cache
def _schema():
    """The CAP 1.2 schema, read once per process."""
    from lxml import etree

    return etree.XMLSchema(etree.parse(str(SCHEMA)))


def _when(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def decide(alert: Alert, language: Language, geocodes: set[str], now: dt.datetime) -> Decision:
    """What the station does with ``alert`` (see the module's rules)."""
    stops = tuple(announcement_id(ref) for ref in alert.references)
    if alert.status != "Actual":
        return Decision(False, f"status {alert.status}: not aired to the public")
    if alert.msg_type == "Cancel":
        return Decision(False, "cancelled", stops)
    if alert.msg_type not in ("Alert", "Update"):
        return Decision(False, f"message type {alert.msg_type}: nothing to air")
    chinese = [info for info in alert.infos if info.spoken_language is not None]
    if not chinese:
        return Decision(False, "no Chinese info block", stops)
    chinese.sort(key=lambda info: info.spoken_language is not language)
    info = chinese[0]
    if info.expires is not None and now >= info.expires:
        return Decision(False, f"expired at {info.expires.isoformat()}", stops)
    every_code = {code for block in chinese for code in block.geocodes}
    if every_code and not every_code & geocodes:
        return Decision(False, "not for this station's area", stops)
    words = [part for part in (info.headline, info.instruction or info.description) if part]
    if not words:
        return Decision(False, "the alert has no headline or instruction to read", stops)
    text = "。".join(part.rstrip("。.！!") for part in words) + "。"
    ident = announcement_id(alert.identifier)
    title = info.headline or alert.identifier
    yaml = (f"title: {json.dumps(title, ensure_ascii=False)}\nlanguage: {language.value}\n"
            "priority: emergency\n"
            f"notes: {json.dumps(f'CAP {alert.identifier} from {alert.sender}', ensure_ascii=False)}\n"
            f"text: {json.dumps(text, ensure_ascii=False)}\n")  # fmt: skip
    return Decision(True, "", stops, ident, yaml, info.expires)
