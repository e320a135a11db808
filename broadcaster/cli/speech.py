"""``voices``, ``say`` and ``render``: speech engines, and announcements turned into audio."""

from __future__ import annotations

import argparse
import sys

from broadcaster.cli.common import (
    announcement_arg,
    describe,
    load_station,
    make_renderer,
    print_problems,
    print_table,
    station_config,
    write_audio,
)
from broadcaster.errors import BroadcasterError, ContentError
from broadcaster.i18n import _


def cmd_voices(args: argparse.Namespace) -> int:
    from broadcaster.cli.files import LANGUAGE_WORDS
    from broadcaster.tts import all_engines

    config = station_config(args)
    rows = [(_("engine"), _("voice"), _("language"), _("usable"))]
    for engine in all_engines().values():
        if engine.name == "tone":
            continue
        for voice in engine.voices(config.speech):
            usable = _("yes") if voice.usable else _("no") + (_(" ({reason})").format(reason=voice.reason)
                                                              if voice.reason else "")  # fmt: skip
            language = _(LANGUAGE_WORDS[voice.language.value]) if voice.language else "-"
            rows.append((engine.name, voice.voice, language, usable))
    print_table(rows)
    return 0


def cmd_say(args: argparse.Namespace) -> int:
    from broadcaster.textnorm import sentences

    config = station_config(args)
    language = args.language
    if args.text_only:
        # The words as they will be said, then every word with its reading: a wrong reading
        # shows here and is fixed with one lexicon line (word: reading) in config.yaml.
        said = sentences(args.text, language, config.lexicon.get(language))
        print("".join(sentence.text for sentence in said))
        for sentence in said:
            print("  " + sentence.shown())
        return 0
    renderer = make_renderer(config)
    pcm = renderer.say(args.text, language, with_chime=args.chime)
    if args.output:
        write_audio(pcm, args.output)
        print(_("wrote {path} ({seconds:.1f} s)").format(path=args.output, seconds=pcm.duration_s))
    else:
        from broadcaster.audio.card import play_blocking

        play_blocking(pcm.samples, pcm.rate_hz, args.device)
    return 0


def _progress(count: int, total: int, announcement, result) -> None:
    from broadcaster.errors import BroadcasterError as Failure

    if isinstance(result, Failure):
        status = _("failed: {reason}").format(reason=describe(result))
    else:
        status = f"{result.duration_s:5.1f} s  {result.loudness_lufs:6.1f} LUFS"
    width = 24
    filled = round(width * count / total)
    bar = "#" * filled + "." * (width - filled)
    print(f"[{bar}] {count}/{total}  {announcement.id}  {status}", file=sys.stderr)


def cmd_render(args: argparse.Namespace) -> int:
    from broadcaster.render.renderer import render_all

    if args.all:  # every good file is rendered; the broken ones are named, and the exit is 1
        content, problems = load_station(args, warnings=False)
        errors = [p for p in problems if p.is_error]
        if content.config.path is not None and any(p.path == content.config.path for p in errors):
            raise ContentError(errors)
        renderer = make_renderer(content.config)
        done, failed = render_all(renderer, content.announcements.values(), args.jobs, _progress)
        print_problems(errors, out=sys.stderr)
        print(_("{done} rendered, {failed} failed").format(done=len(done), failed=len(failed)),
              file=sys.stderr)  # fmt: skip
        return 1 if failed or errors else 0
    if not args.announcement:
        raise BroadcasterError(_("name an announcement, or use --all"))
    config, announcement = announcement_arg(args, args.announcement)
    rendered = make_renderer(config).render(announcement)
    if args.output and args.output.suffix.lower() == ".wav":
        import shutil

        shutil.copyfile(rendered.path, args.output)  # the rendered file is already what is wanted
    elif args.output:
        from broadcaster.pcm import read_wav

        write_audio(read_wav(rendered.path), args.output)
    print(_("{id}: {seconds:.1f} s, {lufs:.1f} LUFS, true peak {peak:.1f} dBFS, {path}").format(
        id=announcement.id, seconds=rendered.duration_s, lufs=rendered.loudness_lufs,
        peak=rendered.true_peak_dbfs, path=args.output or rendered.path))  # fmt: skip
    return 0

