#!/usr/bin/env python3
"""Extract messages, merge them into the Chinese catalog, and compile it.

Run after changing any user-facing message:  .venv/bin/python scripts/update-catalog.py
New messages appear in broadcaster/locale/zh_CN/LC_MESSAGES/broadcaster.po
with an empty msgstr; translate them, then run this again to compile.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "broadcaster/locale/zh_CN/LC_MESSAGES/broadcaster.po"
POT = ROOT / "build/broadcaster.pot"


def pybabel(*args: str) -> None:
    babel = "from babel.messages.frontend import main; main()"
    subprocess.run([sys.executable, "-c", babel, *args], check=True, cwd=ROOT)


POT.parent.mkdir(exist_ok=True)
pybabel("extract", "-F", "scripts/babel.cfg", "-k", "of", "-k", "N_", "--no-location", "--sort-output",
        "--project", "broadcaster", "-o", str(POT), "broadcaster")
if PO.exists():
    pybabel("update", "-i", str(POT), "-o", str(PO), "-l", "zh_CN", "--no-fuzzy-matching",
            "--ignore-obsolete", )
else:
    pybabel("init", "-i", str(POT), "-o", str(PO), "-l", "zh_CN")
pybabel("compile", "-i", str(PO), "-o", str(PO.with_suffix(".mo")), "--statistics")
