"""Runs pyttsx3 in a process of its own (``python -m broadcaster.tts.pyttsx3_worker``).

pyttsx3 can hang, must be created and run in one thread, and its espeak driver
returns from ``runAndWait()`` at once and writes the file later from its own
thread. So the parent talks to this worker through JSON on stdin/stdout, kills
it at a timeout, and the worker itself waits until the WAV file is complete
before it answers (and exits, which would cut a file still being written).
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
import wave
from pathlib import Path

# Voice ids or names to look for, best first. Plain espeak "cmn" is left out:
# on espeak-ng 1.51 it reads many characters as English letters.
PREFERRED = {
    "mandarin": ["cmn-latn-pinyin", "huihui", "tingting", "zh-cn", "zh_cn"],
    "cantonese": ["sit/yue", "tracy", "sinji", "zh-hk", "zh_hk", "yue"],
}


def _describe(voice) -> dict:
    languages = [lang.decode() if isinstance(lang, bytes) else str(lang)
                 for lang in (getattr(voice, "languages", None) or [])]  # fmt: skip
    return {"id": str(voice.id), "name": str(voice.name or ""), "languages": languages}


def choose(voices: list[dict], language: str, wanted: str | None) -> dict | None:
    keys = [wanted.lower()] if wanted else PREFERRED[language]
    for key in keys:
        for voice in voices:
            text = " ".join([voice["id"], voice["name"], *voice["languages"]]).lower()
            if key in text and not text.startswith("sit/cmn "):
                return voice
    return None


def _complete_wav(path: Path, timeout_s: float) -> None:
    """Wait until ``path`` holds a whole WAV file: every frame its header declares is there.

    espeak's driver writes the file from its own thread after ``runAndWait()`` has
    returned, header first: a file can look finished while its data is half written.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, wave.Error, EOFError):
            with wave.open(str(path)) as w:
                declared = w.getnframes()
                present = len(w.readframes(declared)) // (w.getsampwidth() * w.getnchannels())
                if declared > 0 and present == declared:
                    return
        time.sleep(0.1)
    raise TimeoutError("the audio file was not completed")


def main() -> int:
    request = json.load(sys.stdin)
    # pyttsx3 prints to stdout ("Audio saved to …"): keep our answer apart.
    noise = io.StringIO()
    with contextlib.redirect_stdout(noise):
        import pyttsx3

        engine = pyttsx3.init()
        voices = [_describe(v) for v in engine.getProperty("voices")]
        if request["action"] == "voices":
            answer: dict = {"voices": voices}
        else:
            voice = choose(voices, request["language"], request.get("voice"))
            if voice is None:
                answer = {"error": f"no {request['language']} voice installed"}
            else:
                engine.setProperty("voice", voice["id"])
                engine.setProperty("rate", int(engine.getProperty("rate") * request["speed"]))
                out = Path(request["out"])
                engine.save_to_file(request["text"], str(out))
                engine.runAndWait()
                _complete_wav(out, request["timeout_s"])
                answer = {"voice": voice["id"]}
    json.dump(answer, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
