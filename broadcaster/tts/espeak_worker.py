"""The espeak-ng library in a child process: loaded once, speaking one request after another.

Run by :class:`broadcaster.tts.espeak.EspeakEngine` as ``python -m
broadcaster.tts.espeak_worker``. Starting the ``espeak-ng`` program costs about as
much as speaking a sentence (it loads its voice data each time); a worker loads
it once. It runs in its own process, so a hang or a crash in the library costs
that process, never the station, and the engine can kill it after a timeout.

The protocol, on standard input and output:

- at start the worker writes one JSON line: ``{"rate": 22050}``, or ``{"error": …}``
  and exits;
- each request is one JSON line: ``{"voice", "rate", "pitch", "ssml", "text"}``
  (words per minute, 0-99, whether the text is SSML);
- each answer is one JSON line ``{"samples": n}`` followed by n 16-bit mono
  samples, or ``{"error": …}``.

The options are those the program gets (``-v -s -p -b 1 [-m]``). The library
carries a little state from one text to the next (the pause before it, the phase
of its voice source), so a sentence may come out a few milliseconds longer than
from a fresh program; the words and the voice are the same.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import sys
from typing import BinaryIO

_SYNCHRONOUS = 2  # AUDIO_OUTPUT_SYNCHRONOUS: audio handed to the callback, nothing played
_RATE, _PITCH = 1, 3  # espeakRATE, espeakPITCH
_CHARACTER = 1  # POS_CHARACTER
# espeakCHARS_UTF8 | espeakPHONEMES | espeakENDPAUSE, as the program's defaults with -b 1; + espeakSSML.
_FLAGS, _SSML = 0x1 | 0x100 | 0x1000, 0x10
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class Library:
    """libespeak-ng, initialised for synchronous output into memory."""

    def __init__(self) -> None:
        name = ctypes.util.find_library("espeak-ng")
        if name is None:
            raise OSError("libespeak-ng is not installed")
        self._lib = lib = ctypes.CDLL(name)
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                     ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p,
                                     ctypes.c_void_p]  # fmt: skip
        self.rate = lib.espeak_Initialize(_SYNCHRONOUS, 0, None, 0)
        if self.rate <= 0:
            raise OSError("libespeak-ng found no voice data")
        self._chunks: list[bytes] = []
        self._callback = _CALLBACK(self._collect)  # kept: the library holds only a pointer
        lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav, count, events) -> int:
        if wav and count > 0:
            self._chunks.append(ctypes.string_at(wav, count * 2))
        return 0  # go on

    def speak(self, voice: str, rate: int, pitch: int, ssml: bool, text: str) -> bytes:
        if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"voice {voice} is not installed")
        self._lib.espeak_SetParameter(_RATE, rate, 0)
        self._lib.espeak_SetParameter(_PITCH, pitch, 0)
        self._chunks = []
        data = text.encode() + b"\0"
        status = self._lib.espeak_Synth(data, len(data), 0, _CHARACTER, 0, _FLAGS | (_SSML if ssml else 0),
                                        None, None)  # fmt: skip
        if status != 0:
            raise ValueError(f"espeak_Synth returned {status}")
        self._lib.espeak_Synchronize()
        return b"".join(self._chunks)


def _answer(out: BinaryIO, header: dict[str, object], data: bytes = b"") -> None:
    out.write(json.dumps(header).encode() + b"\n" + data)
    out.flush()


def main() -> None:
    out = sys.stdout.buffer
    try:
        library = Library()
    except OSError as exc:
        _answer(out, {"error": str(exc)})
        return
    _answer(out, {"rate": library.rate})
    for line in sys.stdin.buffer:  # until the engine closes the pipe
        try:
            request = json.loads(line)
            data = library.speak(request["voice"], int(request["rate"]), int(request["pitch"]),
                                 bool(request["ssml"]), str(request["text"]))  # fmt: skip
        except (ValueError, KeyError, TypeError) as exc:
            _answer(out, {"error": str(exc)})
            continue
        _answer(out, {"samples": len(data) // 2}, data)


if __name__ == "__main__":
    main()
