"""Sound cards as PortAudio lists them, found by name, index or part of a name."""

from __future__ import annotations

from dataclasses import dataclass

from broadcaster.errors import AudioError
from broadcaster.i18n import _


def _sounddevice():
    try:
        import sounddevice
    except OSError as exc:  # the PortAudio library is missing
        raise AudioError(_("sound output is not available: {reason}").format(reason=exc)) from exc
    return sounddevice


@dataclass(frozen=True)
class Device:
    """An output device as PortAudio sees it."""

    index: int
    name: str
    channels: int
    default_rate_hz: int


def list_devices() -> list[Device]:
    sd = _sounddevice()
    return [
        Device(i, d["name"], int(d["max_output_channels"]), int(d["default_samplerate"]))
        for i, d in enumerate(sd.query_devices())
        if d["max_output_channels"] > 0
    ]


def find_device(spec: str, devices: list[Device]) -> Device:
    """A device by exact name, by index, by ``default``, or by a unique part of its name."""
    if spec == "default":
        index = _sounddevice().default.device[1]
        if index is None or index < 0:
            raise AudioError(_("there is no default sound output"))
        spec = str(index)
    if spec.isdigit():
        found = [d for d in devices if d.index == int(spec)]
    else:
        found = [d for d in devices if d.name == spec]
        found = found or [d for d in devices if spec.lower() in d.name.lower()]
    if len(found) == 1:
        return found[0]
    names = ", ".join(f"'{d.name}'" for d in devices) or _("none")
    if not found:
        message = _("sound card '{name}' not found; available: {names}")
        raise AudioError(message.format(name=spec, names=names))
    several = ", ".join(d.name for d in found)
    raise AudioError(_("'{name}' matches several sound cards: {names}").format(name=spec, names=several))

