"""The Chinese catalog: complete, compiled, and used."""

from __future__ import annotations

import gettext
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from broadcaster import i18n

PO = i18n.LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "broadcaster.po"


def _catalog():
    with PO.open("rb") as f:
        return read_po(f)


def test_every_message_in_the_code_has_a_chinese_translation():
    package = Path(i18n.__file__).parent
    methods = [("**.py", "python"), ("**/templates/**.html", "jinja2")]  # as scripts/babel.cfg
    keywords = {"_": None, "of": None, "N_": None}
    found = {msg for _, _, msg, _, _ in extract_from_dir(package, methods, keywords=keywords)}
    assert "Log in" in found  # the web page's templates are read too
    catalog = _catalog()
    missing = sorted(m for m in found if not (catalog.get(m) and catalog.get(m).string))
    assert missing == [], "run scripts/update-catalog.py and translate"


def test_the_compiled_catalog_matches_the_po_file():
    catalog = _catalog()
    compiled = gettext.translation(i18n.DOMAIN, i18n.LOCALE_DIR, languages=["zh_CN"])
    stale = [m.id for m in catalog if m.id and compiled.gettext(m.id) != m.string]
    assert stale == [], "run scripts/update-catalog.py to compile"


def test_language_follows_the_locale():
    assert i18n.language_from_environment({"LANG": "zh_CN.UTF-8"}) == "zh_CN"
    assert i18n.language_from_environment({"LANG": "zh_HK.UTF-8"}) == "zh_CN"
    assert i18n.language_from_environment({"LANG": "en_US.UTF-8"}) == "en"
    assert i18n.language_from_environment({"LANGUAGE": "zh_CN", "LANG": "C"}) == "zh_CN"
    assert i18n.language_from_environment({}) == "en"
