"""A neural voice through sherpa-onnx, when config.yaml points at a downloaded model.

A model folder holds ``*.onnx`` (a VITS model), ``tokens.txt`` and, for
Chinese models, ``lexicon.txt`` (and optionally ``espeak-ng-data/``).
Nothing is downloaded: ``speech: {mandarin: {model_dir: models/vits-zh}}``
names a folder the station's operator installed. Models are loaded once
and kept; calls are serialised because one model is not re-entrant.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from broadcaster.config import SpeechSettings
from broadcaster.errors import EngineError
from broadcaster.i18n import _
from broadcaster.language import Language
from broadcaster.tts.base import Engine, VoiceInfo

if TYPE_CHECKING:
    from broadcaster.pcm import Pcm


class SherpaOnnxEngine(Engine):
    name = "sherpa-onnx"

    def __init__(self) -> None:
        self._models: dict[Path, object] = {}
        self._lock = threading.Lock()

    @functools.cached_property
    def version(self) -> str:
        import importlib.metadata  # slow to import: only when asked

        try:
            return importlib.metadata.version("sherpa-onnx")
        except importlib.metadata.PackageNotFoundError:
            return "missing"

    def voice_for(self, language: Language, settings: SpeechSettings) -> str:
        folder = settings.model_dir
        if folder is None:
            message = _("no model_dir is configured for {language}")
            raise EngineError(self.name, message.format(language=language.value))
        self._files(folder)
        return folder.name

    def _files(self, folder: Path) -> dict[str, str]:
        models = sorted(folder.glob("*.onnx")) if folder.is_dir() else []
        tokens = folder / "tokens.txt"
        if not models or not tokens.is_file():
            message = _("{folder} does not hold a model (*.onnx and tokens.txt)")
            raise EngineError(self.name, message.format(folder=folder))
        files = {"model": str(models[0]), "tokens": str(tokens)}
        if (folder / "lexicon.txt").is_file():
            files["lexicon"] = str(folder / "lexicon.txt")
        if (folder / "espeak-ng-data").is_dir():
            files["data_dir"] = str(folder / "espeak-ng-data")
        return files

    def _load(self, folder: Path):
        if folder in self._models:
            return self._models[folder]
        try:
            import sherpa_onnx
        except ImportError as exc:
            raise EngineError(self.name, _("the sherpa-onnx package is not installed")) from exc
        config = sherpa_onnx.OfflineTtsConfig(
            model=sherpa_onnx.OfflineTtsModelConfig(
                vits=sherpa_onnx.OfflineTtsVitsModelConfig(**self._files(folder)), num_threads=1
            ),
            max_num_sentences=1,
        )
        if not config.validate():
            raise EngineError(self.name, _("the model in {folder} is incomplete").format(folder=folder))
        try:
            model = sherpa_onnx.OfflineTts(config)
        except Exception as exc:  # a native library: any failure means "cannot use"
            message = _("cannot load the model in {folder}: {reason}")
            raise EngineError(self.name, message.format(folder=folder, reason=exc)) from exc
        self._models[folder] = model
        return model

    def synthesize(self, text: str, language: Language, settings: SpeechSettings,
                   timeout_s: float) -> Pcm:  # fmt: skip
        self.voice_for(language, settings)
        assert settings.model_dir is not None
        with self._lock:
            model = self._load(settings.model_dir)
            try:
                audio = model.generate(text, sid=0, speed=settings.speed)
            except Exception as exc:
                raise EngineError(self.name, _("failed: {reason}").format(reason=exc)) from exc
        import numpy as np

        from broadcaster.pcm import Pcm

        return Pcm(np.asarray(audio.samples, dtype=np.float32), int(audio.sample_rate))

    def voices(self, speech: Mapping[Language, SpeechSettings]) -> list[VoiceInfo]:
        out = []
        for language in Language:
            try:
                voice = self.voice_for(language, speech[language])
                self._load(speech[language].model_dir)  # type: ignore[arg-type]  # voice_for raised if None
                out.append(VoiceInfo(self.name, voice, language, True))
            except EngineError as exc:
                out.append(VoiceInfo(self.name, "-", language, False, exc.reason))
        return out
