"""``broadcaster web``: the secretary's page, a face of the station beside the command line.

Its own process. It reads the station's files and its play log (read-only), writes
announcement files atomically (the running station reloads them as it does hand
edits), and asks the running station through its control socket to send, stop or
skip. The station never depends on it.

Every page needs a login; a session is a signed, HttpOnly, SameSite=Strict cookie
that expires; every state-changing request carries the session's CSRF token.
Pages are in Chinese first, with a switch to English kept in the session.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from broadcaster.content.listing import listing
from broadcaster.content.load import load_content
from broadcaster.content.models import Content, Priority
from broadcaster.daemon.control import call, socket_path
from broadcaster.daemon.reload import content_signature
from broadcaster.errors import BroadcasterError
from broadcaster.i18n import N_, Msg, translations
from broadcaster.playlog import EXPORT_COLUMNS, PlayLog
from broadcaster.playwords import WORDS, reason_message
from broadcaster.schema.problems import Problems
from broadcaster.web import forms, schedule, voice
from broadcaster.web.chart import plays_per_day_svg
from broadcaster.web.users import ACTIONS, ROLE_NAMES, AuditRow, User, UserError, UserStore

SESSION_S = 8 * 3600
"""A session ends 8 hours after login."""
WRONG_PASSWORD_DELAY_S = 1.0
LANGUAGES = ("zh_CN", "en")
LOG_ROWS = 200
"""The newest plays shown on the log page (the CSV download has them all)."""

Handler = Callable[[Request], Awaitable[Response]]
STALE_FORM = N_("the form was too old or not from this page; reload it and try again")
NOT_RUNNING = N_("The station is not running: nothing plays, nothing can be sent.")


@dataclass
class Web:
    """What the handlers share: where the station is, its users, the templates, previews."""

    config_path: Path | None
    root: Path
    users: UserStore
    templates: Environment = field(init=False)
    previews: dict[str, Path] = field(default_factory=dict)
    render_lock: threading.Lock = field(default_factory=threading.Lock)
    fleet_lock: threading.Lock = field(default_factory=threading.Lock)
    content_lock: threading.Lock = field(default_factory=threading.Lock)
    loaded: tuple[dict[str, tuple[int, int]], Content, Problems] | None = None

    def __post_init__(self) -> None:
        self.templates = Environment(loader=PackageLoader("broadcaster.web", "templates"),
                                     autoescape=select_autoescape(("html", "svg")))  # fmt: skip

    def has_fleet(self) -> bool:
        """Whether the station's config, as last read, has a ``fleet:`` section (the page's menu)."""
        return self.loaded is not None and self.loaded[1].config.fleet is not None

    def content(self) -> tuple[Content, Problems]:
        """The station's files as they are now; read again only when one has changed."""
        signature = content_signature(self.root)
        with self.content_lock:
            if self.loaded is None or self.loaded[0] != signature:
                problems = Problems(warnings=False)
                self.loaded = (signature, load_content(self.config_path, problems), problems)
            return self.loaded[1], self.loaded[2]


def make_app(config_path: Path | None, users: UserStore, secret: str, https_only: bool = False) -> Starlette:
    root = (config_path.parent if config_path else Path.cwd()).resolve()
    web = Web(config_path, root, users)

    def page(handler: Callable[[Web, Request, User], Awaitable[Response]],
             role: str = "secretary") -> Handler:  # fmt: skip
        async def wrapped(request: Request) -> Response:
            user = _user(web, request)
            if user is None:
                if request.headers.get("hx-request"):  # not a login page inside the page: go to it
                    return Response(status_code=200, headers={"HX-Redirect": "/login"})
                return RedirectResponse("/login", status_code=303)
            if request.method == "POST":
                await _form(request)
                if not _csrf_ok(request):
                    return _refuse(web, request, 403, STALE_FORM)
            if not user.may(role):
                return _refuse(web, request, 403, N_("your role may not do this"))
            try:
                return await handler(web, request, user)
            finally:
                await _close_form(request)

        return wrapped

    routes = [
        Route("/login", partial(login, web), methods=["GET", "POST"]),
        Route("/logout", partial(logout, web), methods=["POST"]),
        Route("/language/{language}", partial(language, web), methods=["POST"]),
        Route("/", page(status)),
        Route("/status/part", page(status_part)),
        Route("/announcements", page(announcements)),
        Route("/announcements/new", page(edit)),
        Route("/announcements/{name}/edit", page(edit)),
        Route("/announcements/check", page(check), methods=["POST"]),
        Route("/announcements/preview", page(preview), methods=["POST"]),
        Route("/announcements/save", page(save), methods=["POST"]),
        Route("/preview/{token}.wav", page(preview_audio)),
        Route("/send", page(send), methods=["POST"]),
        Route("/stop", page(stop, "operator"), methods=["POST"]),
        Route("/skip", page(skip, "operator"), methods=["POST"]),
        Route("/schedule", page(schedule_page)),
        Route("/schedule/add", page(schedule_add), methods=["POST"]),
        Route("/schedule/remove", page(schedule_remove), methods=["POST"]),
        Route("/record", page(record_page)),
        Route("/record/save", page(record_save), methods=["POST"]),
        Route("/log", page(log)),
        Route("/log.csv", page(log_csv)),
        Route("/audit", page(audit, "operator")),
        Route("/fleet", page(fleet_page, "operator")),
        Route("/fleet/{message}", page(fleet_report, "operator")),
        Route("/users", page(users_page, "admin")),
        Route("/users/change", page(users_change, "admin"), methods=["POST"]),
        Mount("/static", StaticFiles(packages=[("broadcaster.web", "static")]), name="static"),
    ]
    middleware = [Middleware(SessionMiddleware, secret_key=secret, session_cookie="broadcaster_session",
                             max_age=SESSION_S, same_site="strict", https_only=https_only)]  # fmt: skip
    return Starlette(routes=routes, middleware=middleware)


# --- sessions, languages, CSRF -------------------------------------------------------------------


def _user(web: Web, request: Request) -> User | None:
    """The session's user: its id must still be open (a logout, a new password or a removal ends it)."""
    session = request.session.get("sid")
    return web.users.session_user(session, SESSION_S) if session else None


def _token(request: Request) -> str:
    if "csrf" not in request.session:
        request.session["csrf"] = secrets.token_urlsafe(24)
    return str(request.session["csrf"])


def _csrf_ok(request: Request) -> bool:
    expected = request.session.get("csrf")
    form = getattr(request.state, "form", {})
    given = request.headers.get("x-csrf-token") or form.get("csrf") or ""
    return bool(expected) and secrets.compare_digest(str(given), str(expected))


async def _form(request: Request) -> dict[str, str]:
    """The posted fields (read once per request; lists such as zones are in ``request.state.lists``)."""
    if not hasattr(request.state, "form"):
        if int(request.headers.get("content-length") or 0) > voice.MAX_BYTES + 2**20:
            request.state.form, request.state.lists, request.state.files = {}, {}, {}
            return {}
        form = await request.form(max_files=1, max_fields=50)
        request.state.form = {k: v for k, v in form.items() if isinstance(v, str)}
        request.state.lists = {k: [v for v in form.getlist(k) if isinstance(v, str)] for k in form}
        request.state.files = {k: v for k, v in form.items() if isinstance(v, UploadFile)}
        request.state.formdata = form
    return dict(request.state.form)


async def _close_form(request: Request) -> None:
    """Uploads are spooled to temporary files: close them when the request is done."""
    form = getattr(request.state, "formdata", None)
    if form is not None:
        await form.close()


def _lang(request: Request) -> str:
    chosen = request.session.get("lang")
    return chosen if chosen in LANGUAGES else "zh_CN"


def _render(web: Web, request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    catalog = translations(_lang(request))
    html = web.templates.get_template(template).render(
        _=catalog.gettext, say=lambda m: m.in_language(catalog), lang=_lang(request), csrf=_token(request),
        user=_user(web, request), path=request.url.path, fleet_on=web.has_fleet(), **values)  # fmt: skip
    return HTMLResponse(html, status_code=status_code)


def _refuse(web: Web, request: Request, status_code: int, message: str | Msg) -> HTMLResponse:
    """A page that says no: ``message`` is a msgid or a :class:`Msg`. Asked from within a page
    (htmx), the answer is a line in the page's result box: htmx shows only a 2xx answer."""
    if request.headers.get("hx-request"):
        text = message if isinstance(message, Msg) else Msg(message)
        return _render(web, request, "result_part.html", ok=False, message=text)
    return _render(web, request, "refused.html", status_code, message=message)


# --- login -------------------------------------------------------------------------------------


async def login(web: Web, request: Request) -> Response:
    if request.method == "GET":
        return _render(web, request, "login.html", error=None)
    values = await _form(request)
    await _close_form(request)  # a login takes no file
    if not _csrf_ok(request):
        return _render(web, request, "login.html", 403, error=Msg.of(STALE_FORM))
    try:
        user = await asyncio.to_thread(web.users.login, values.get("name", ""), values.get("password", ""))
    except UserError as exc:
        await asyncio.sleep(WRONG_PASSWORD_DELAY_S)  # guessing is slow
        web.users.audit(values.get("name", ""), "login refused", detail=str(exc))
        return _render(web, request, "login.html", 401, error=exc.message)
    lang = _lang(request)
    request.session.clear()  # a new session at login: no fixation
    request.session.update(sid=web.users.open_session(user.name), lang=lang, csrf=secrets.token_urlsafe(24))
    web.users.audit(user.name, "login")
    return RedirectResponse("/", status_code=303)


async def logout(web: Web, request: Request) -> Response:
    await _form(request)
    await _close_form(request)
    if _csrf_ok(request):
        if request.session.get("sid"):
            web.users.close_session(str(request.session["sid"]))
        request.session.clear()
    return RedirectResponse("/login", status_code=303)


async def language(web: Web, request: Request) -> Response:
    await _form(request)
    await _close_form(request)
    chosen = request.path_params["language"]
    if chosen in LANGUAGES and _csrf_ok(request):
        request.session["lang"] = chosen
    back = request.headers.get("referer", "/")
    return RedirectResponse(back if back.startswith(str(request.base_url)) else "/", status_code=303)


# --- status ------------------------------------------------------------------------------------


def _station_status(web: Web) -> dict[str, Any] | None:
    try:
        return call(socket_path(web.root), {"command": "status"}, timeout=5.0)
    except BroadcasterError:
        return None


async def status(web: Web, request: Request, user: User) -> Response:
    content, _problems = await asyncio.to_thread(web.content)
    answer = await asyncio.to_thread(_station_status, web)
    return _render(web, request, "status.html", status=answer, content=content)


async def status_part(web: Web, request: Request, user: User) -> Response:
    answer = await asyncio.to_thread(_station_status, web)
    return _render(web, request, "status_part.html", status=answer)


# --- announcements -----------------------------------------------------------------------------


async def announcements(web: Web, request: Request, user: User) -> Response:
    def rows() -> tuple[Content, list[Any]]:
        content, problems = web.content()
        return content, listing(content, problems, dt.datetime.now(content.config.tz).date(), read_only=True)

    content, listed = await asyncio.to_thread(rows)
    return _render(web, request, "announcements.html", rows=listed, content=content)


async def edit(web: Web, request: Request, user: User) -> Response:
    name = request.path_params.get("name")
    if name is None:
        values = dict.fromkeys(forms.FIELDS, "") | {"language": "mandarin", "priority": "normal"}
        values["chime"] = "yes"
        return _render(web, request, "edit.html", name="", values=values, version="", checked=None, new=True,
                       editable=True, file_problems=[])  # fmt: skip
    path = _announcement_file(web, request, name)
    if isinstance(path, Response):
        return path
    opened = forms.from_file(path)
    checked = await asyncio.to_thread(forms.check, opened.values, web.root, name) if opened.editable else None
    return _render(web, request, "edit.html", name=name, values=opened.values, version=forms.version(path),
                   checked=checked, new=False, editable=opened.editable,
                   file_problems=opened.problems)  # fmt: skip


def _announcement_file(web: Web, request: Request, name: str) -> Path | Response:
    """An existing announcement's file by its id, or the page that says why not."""
    try:
        path = forms.announcement_path(web.root, name)
    except forms.FormError as exc:
        return _refuse(web, request, 400, exc.message)
    if not path.is_file():
        return _refuse(web, request, 404, N_("there is no such announcement"))
    return path


def _readings(web: Web, values: dict[str, str]) -> list[str]:
    from broadcaster.config import parse_language
    from broadcaster.schema.fields import FieldError
    from broadcaster.textnorm import sentences

    content, _problems = web.content()
    try:
        language = parse_language(values.get("language", "mandarin"))
    except FieldError:
        return []
    text = values.get("text", "").strip()
    if not text:
        return []
    return [s.shown() for s in sentences(text, language, content.config.lexicon.get(language))][:50]


async def check(web: Web, request: Request, user: User) -> Response:
    values = await _form(request)
    checked = await asyncio.to_thread(forms.check, values, web.root)
    readings = await asyncio.to_thread(_readings, web, values) if checked.ok else []
    return _render(web, request, "check_part.html", checked=checked, readings=readings)


async def preview(web: Web, request: Request, user: User) -> Response:
    values = await _form(request)
    if values.get("file") == "yes":  # an announcement the form cannot show: heard as its file is
        try:
            path = forms.announcement_path(web.root, values.get("name", ""))
        except forms.FormError as exc:
            return _render(web, request, "preview_part.html", token=None, error=exc.message)
        checked = await asyncio.to_thread(forms.check_file, path, web.root)
    else:
        checked = await asyncio.to_thread(forms.check, values, web.root)
    announcement = checked.announcement
    if announcement is None:
        return _render(web, request, "check_part.html", checked=checked, readings=[])

    def render() -> Path:
        from broadcaster.render.renderer import make_renderer

        content, _problems = web.content()
        with web.render_lock:  # one render at a time: the station's own renders come first
            return make_renderer(content.config).render(announcement).path

    try:
        path = await asyncio.to_thread(render)
    except BroadcasterError as exc:
        return _render(web, request, "preview_part.html", token=None, error=str(exc))
    token = secrets.token_urlsafe(12)
    web.previews[token] = path
    while len(web.previews) > 50:
        web.previews.pop(next(iter(web.previews)))
    return _render(web, request, "preview_part.html", token=token, error=None)


async def preview_audio(web: Web, request: Request, user: User) -> Response:
    path = web.previews.get(request.path_params["token"])
    if path is None or not path.is_file():
        return Response(status_code=404)
    return FileResponse(path, media_type="audio/wav")


async def save(web: Web, request: Request, user: User) -> Response:
    values = await _form(request)
    name = values.get("name", "").strip()
    try:
        path = forms.announcement_path(web.root, name)
    except forms.FormError as exc:
        return _render(web, request, "edit.html", name=name, values=values, version=values.get("version", ""),
                       checked=None, new=values.get("new") == "yes", error=exc.message, editable=True,
                       file_problems=[])  # fmt: skip
    error: Msg | None = None
    if values.get("priority") == "emergency" and not user.may("operator"):
        error = Msg.of("only an operator may make an emergency announcement")
    elif values.get("new") == "yes" and path.exists():
        error = Msg.of("an announcement named '{name}' exists already: choose another name", name=name)
    elif values.get("new") != "yes" and path.is_file() and not forms.from_file(path).editable:
        error = Msg.of("this announcement is made of parts; change it as a file")
    checked = await asyncio.to_thread(forms.check, values, web.root, name)
    if checked.ok and error is None:
        try:
            forms.save(path, checked.yaml_text, values.get("version", ""))
        except forms.FormError as exc:
            error = exc.message
        else:
            web.users.audit(user.name, "save", name, values.get("title", ""))
            return RedirectResponse(f"/announcements?saved={name}", status_code=303)
    return _render(web, request, "edit.html", 409 if error else 422, name=name, values=values,
                   version=values.get("version", ""), checked=checked, new=values.get("new") == "yes",
                   error=error, editable=True, file_problems=[])  # fmt: skip


# --- send, stop, skip --------------------------------------------------------------------------


async def send(web: Web, request: Request, user: User) -> Response:
    values = await _form(request)
    zones = [z for z in request.state.lists.get("zones", []) if z]
    priority = values.get("priority", "now")
    name = values.get("announcement", "")
    if priority not in ("now", "emergency"):
        return _refuse(web, request, 400, N_("unknown priority"))
    if priority == "emergency" and not user.may("operator"):
        return _refuse(web, request, 403, N_("only an operator may send an emergency"))
    if user.zones and (not zones or not set(zones) <= set(user.zones)):
        return _refuse(web, request, 403, N_("you may send only to your zones"))
    path = _announcement_file(web, request, name)
    if isinstance(path, Response):
        return path
    if priority == "emergency" and values.get("confirm") != "yes":
        content, _problems = await asyncio.to_thread(web.content)
        known = content.announcements.get(name)
        title = known.title if known else name
        return _render(web, request, "confirm.html", name=name, zones=zones, title=title)
    # By its file: what airs is what the page shows, even before the station has reloaded it.
    request_body: dict[str, object] = {"command": "send", "announcement": str(path), "priority": priority,
                                       "zones": zones or None}  # fmt: skip
    if not socket_path(web.root).exists():
        return _refuse(web, request, 503, NOT_RUNNING)
    try:
        answer = await asyncio.to_thread(call, socket_path(web.root), request_body, 120.0)
    except BroadcasterError as exc:
        web.users.audit(user.name, f"send {priority} failed", name, str(exc))
        return _render(web, request, "result_part.html", ok=False, message=str(exc))
    web.users.audit(user.name, f"send {priority}", name, ", ".join(answer.get("zones", [])))
    return _render(web, request, "result_part.html", ok=True, answer=answer)


async def _control(web: Web, request: Request, user: User, command: str) -> Response:
    values = await _form(request)
    zone = values.get("zone") or None
    body: dict[str, object] = {"command": command, "zones": [zone] if zone else None}
    if not socket_path(web.root).exists():
        return _refuse(web, request, 503, NOT_RUNNING)
    try:
        answer = await asyncio.to_thread(call, socket_path(web.root), body, 10.0)
    except BroadcasterError as exc:
        return _render(web, request, "result_part.html", ok=False, message=str(exc))
    web.users.audit(user.name, command, zone or "")
    return _render(web, request, "result_part.html", ok=True, answer=answer)


async def stop(web: Web, request: Request, user: User) -> Response:
    return await _control(web, request, user, "stop")


async def skip(web: Web, request: Request, user: User) -> Response:
    return await _control(web, request, user, "skip")


# --- the schedule ------------------------------------------------------------------------------


async def schedule_page(web: Web, request: Request, user: User, error: Msg | None = None,
                        status_code: int = 200) -> Response:  # fmt: skip
    from broadcaster.scheduler.plan import plan

    def read() -> tuple[Content, list[Any], list[schedule.PageSlot], str]:
        content, _problems = web.content()
        now = dt.datetime.now(content.config.tz)
        slots, file_version = schedule.read(web.root)
        return content, plan(content, now, 2), slots, file_version

    content, entries, slots, file_version = await asyncio.to_thread(read)
    titles = {a.id: a.title for a in content.announcements.values()}
    return _render(web, request, "schedule.html", status_code, content=content, entries=entries, slots=slots,
                   version=file_version, error=error, day_names=schedule.DAY_NAMES,
                   titles=titles)  # fmt: skip


async def schedule_add(web: Web, request: Request, user: User) -> Response:
    values = await _form(request)
    zones = [z for z in request.state.lists.get("zones", []) if z]
    if user.zones and (not zones or not set(zones) <= set(user.zones)):
        return _refuse(web, request, 403, N_("you may send only to your zones"))
    content, _problems = await asyncio.to_thread(web.content)
    chosen = content.announcements.get(values.get("announcement", ""))
    if chosen is not None and chosen.priority is Priority.EMERGENCY and not user.may("operator"):
        return await schedule_page(web, request, user, Msg.of("only an operator may send an emergency"), 403)
    try:
        days = request.state.lists.get("days", [])
        slot = schedule.new_slot(content, values, zones, days, dt.datetime.now(content.config.tz).date())
        slots, _version = schedule.read(web.root)
        schedule.write(web.root, [*slots, slot], values.get("version", ""))
    except forms.FormError as exc:
        return await schedule_page(web, request, user, exc.message, 422)
    when = f"{slot.date or ','.join(slot.days) or '*'} {slot.when} {','.join(slot.zones)}"
    web.users.audit(user.name, "schedule", slot.play, when)
    return RedirectResponse("/schedule", status_code=303)


async def schedule_remove(web: Web, request: Request, user: User) -> Response:
    values = await _form(request)
    slots, _version = schedule.read(web.root)
    try:
        index = int(values.get("index", ""))
        removed = slots.pop(index)
        schedule.write(web.root, slots, values.get("version", ""))
    except (ValueError, IndexError):
        return _refuse(web, request, 400, N_("there is no such slot"))
    except forms.FormError as exc:
        return await schedule_page(web, request, user, exc.message, 409)
    web.users.audit(user.name, "unschedule", removed.play, f"{removed.date or '*'} {removed.when}")
    return RedirectResponse("/schedule", status_code=303)


# --- a voice message ---------------------------------------------------------------------------


async def record_page(web: Web, request: Request, user: User) -> Response:
    return _render(web, request, "record.html")


async def record_save(web: Web, request: Request, user: User) -> Response:
    values = await _form(request)
    upload = request.state.files.get("audio")
    if upload is None:
        return _refuse(web, request, 400, N_("no recording was sent"))
    data = await upload.read(voice.MAX_BYTES + 1)
    name = values.get("name", "").strip()

    def keep() -> Path:
        pcm = voice.decode(data)
        end = float(values["end"]) if values.get("end") else None
        pcm = voice.trimmed(pcm, float(values.get("start") or 0), end)
        content, _problems = web.content()
        title = values.get("title") or name
        return voice.keep(web.root, name, pcm, content.config.loudness_lufs, title)

    try:
        await asyncio.to_thread(keep)
    except forms.FormError as exc:
        return _render(web, request, "record_part.html", 422, error=exc.message, name=name)
    except ValueError:
        message = Msg.of("the trim times are not numbers")
        return _render(web, request, "record_part.html", 422, error=message, name=name)
    web.users.audit(user.name, "record", name, values.get("title", ""))
    return _render(web, request, "record_part.html", error=None, name=name)


# --- the play log ------------------------------------------------------------------------------


def _filters(request: Request) -> dict[str, Any]:
    def day(key: str) -> dt.date | None:
        try:
            return dt.date.fromisoformat(request.query_params.get(key, ""))
        except ValueError:
            return None

    return {"since": day("since"), "until": day("until"),
            "announcement": request.query_params.get("announcement") or None,
            "zone": request.query_params.get("zone") or None}  # fmt: skip


def _open_log(web: Web) -> tuple[Content, PlayLog | None]:
    content, _problems = web.content()
    path = content.config.resolve(content.config.play_log)
    return content, PlayLog(path, content.config.timezone, read_only=True) if path.is_file() else None


async def log(web: Web, request: Request, user: User) -> Response:
    filters = _filters(request)

    def read() -> tuple[list[dict[str, Any]], str]:
        content, playlog = _open_log(web)
        if playlog is None:
            return [], ""
        try:
            titles = {a.id: a.title for a in content.announcements.values()}
            rows = [dict(zip(EXPORT_COLUMNS, r, strict=True))
                    for r in playlog.export(**filters, titles=titles, newest=LOG_ROWS)]  # fmt: skip
            for row in rows:
                row["reason"] = reason_message(str(row["reason"]))
            last = dt.datetime.now(content.config.tz).date()
            report = playlog.report(last - dt.timedelta(days=13), last)
        finally:
            playlog.close()
        return rows, plays_per_day_svg(report, last, translations(_lang(request)))

    rows, chart = await asyncio.to_thread(read)
    return _render(web, request, "log.html", rows=rows, chart=chart, filters=filters, words=WORDS,
                   query=str(request.url.query))  # fmt: skip


async def log_csv(web: Web, request: Request, user: User) -> Response:
    filters = _filters(request)
    content, playlog = await asyncio.to_thread(_open_log, web)
    titles = {a.id: a.title for a in content.announcements.values()}

    def lines() -> Iterator[str]:
        yield "\ufeff" + ",".join(EXPORT_COLUMNS) + "\r\n"
        if playlog is None:
            return
        try:
            yield from playlog.export_csv(**filters, titles=titles)
        finally:
            playlog.close()

    download = {"content-disposition": 'attachment; filename="playlog.csv"'}
    return StreamingResponse(lines(), media_type="text/csv; charset=utf-8", headers=download)


async def users_page(web: Web, request: Request, user: User, error: Msg | None = None,
                     status_code: int = 200) -> Response:  # fmt: skip
    return _render(web, request, "users.html", status_code, users=web.users.users(), error=error,
                   roles=ROLE_NAMES)  # fmt: skip


async def users_change(web: Web, request: Request, user: User) -> Response:
    values = await _form(request)
    action, name = values.get("action", ""), values.get("name", "").strip()
    try:
        if action == "add":
            zones = tuple(z.strip() for z in values.get("zones", "").split(",") if z.strip())
            content, _problems = await asyncio.to_thread(web.content)
            unknown = [z for z in zones if z not in content.config.zones]
            if unknown:
                raise UserError(Msg.of("unknown zone '{name}'", name=unknown[0]))
            role = values.get("role", "")
            await asyncio.to_thread(web.users.add, name, values.get("password", ""), role, zones)
        elif action == "passwd":
            await asyncio.to_thread(web.users.set_password, name, values.get("password", ""))
        elif action == "remove":
            if name == user.name:
                raise UserError(Msg.of("you cannot remove yourself"))
            web.users.remove(name)
        else:
            return _refuse(web, request, 400, N_("unknown action"))
    except UserError as exc:
        return await users_page(web, request, user, exc.message, 422)
    web.users.audit(user.name, f"user {action}", name, values.get("role", "") if action == "add" else "")
    return RedirectResponse("/users", status_code=303)


FLEET_INBOX = Path("data") / "fleet.sqlite"


async def audit(web: Web, request: Request, user: User) -> Response:
    content, _problems = await asyncio.to_thread(web.content)

    def local(at: str) -> str:
        return dt.datetime.fromisoformat(at).astimezone(content.config.tz).strftime("%Y-%m-%d %H:%M:%S")

    from broadcaster.fleet.store import inbox_rows

    # What the town sent this station (its sender as the user) is part of the trail.
    inbox = inbox_rows(content.config.resolve(FLEET_INBOX))
    fleet = [AuditRow(at, sender, f"fleet {kind}", what, detail) for at, sender, kind, what, detail in inbox]
    rows = sorted(web.users.audit_rows() + fleet, key=lambda row: dt.datetime.fromisoformat(row.at),
                  reverse=True)  # fmt: skip
    return _render(web, request, "audit.html", rows=rows, actions=ACTIONS, local=local)




# --- the town's console ------------------------------------------------------------------------


def _fleet(web: Web, read: Callable[[Any], Any]) -> tuple[Content, Any, Msg | None] | None:
    """What ``read`` finds in the console's store, once what the stations sent is collected into it;
    with the error when the broker cannot be reached (the page then shows what was known before).
    None without ``fleet:``."""
    from broadcaster.fleet import console
    from broadcaster.fleet.store import ConsoleStore

    content, _problems = web.content()
    settings = content.config.fleet
    if settings is None:
        return None
    store = ConsoleStore(content.config.resolve(console.CONSOLE_DB))
    error = None
    try:
        with web.fleet_lock:  # one session per console id: two pages at once would push each other off
            try:
                console.collect(settings, store, quiet_s=0.5, limit_s=5.0)
            except BroadcasterError as exc:
                error = Msg.of("the broker could not be reached ({reason}); below is what was known before",
                               reason=str(exc))
        return content, read(store), error
    finally:
        store.close()


NO_FLEET = N_("this station has no 'fleet:' section in config.yaml")


async def fleet_page(web: Web, request: Request, user: User) -> Response:
    """The stations (``fleet status``) and the messages sent from here with what became of each."""
    from broadcaster.fleet import console
    from broadcaster.fleet.words import KINDS, STATES, local_time

    found = await asyncio.to_thread(_fleet, web, lambda store: (console.status(store),
                                                                console.sent_messages(store)))
    if found is None:
        return _refuse(web, request, 404, NO_FLEET)
    content, (stations, sent), error = found
    return _render(web, request, "fleet.html", stations=stations, sent=sent, error=error, states=STATES,
                   kinds=KINDS, local=lambda at: local_time(at, content.config.tz))  # fmt: skip


async def fleet_report(web: Web, request: Request, user: User) -> Response:
    """One message: every station it was for, and what became of it there (``fleet report``)."""
    from broadcaster.fleet import console
    from broadcaster.fleet.words import KINDS, STATES, local_time, outcomes

    ident = request.path_params["message"]
    try:
        found = await asyncio.to_thread(_fleet, web, lambda store: console.report(store, ident))
    except BroadcasterError:
        return _refuse(web, request, 404, Msg.of("no message {id} was sent from this console", id=ident))
    if found is None:
        return _refuse(web, request, 404, NO_FLEET)
    content, (title, lines), error = found
    kind, _sep, rest = title.partition(" ")
    gettext = translations(_lang(request)).gettext
    return _render(web, request, "fleet_report.html", kind=KINDS.get(kind, kind), rest=rest, lines=lines,
                   tally=console.tally(lines), error=error, states=STATES,
                   detail=lambda text: outcomes(text, gettext),
                   local=lambda at: local_time(at, content.config.tz))  # fmt: skip
