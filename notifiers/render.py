"""Rendering notification templates in Jinja2's immutable sandbox.

Templates live in ``notifiers/templates/<kind>/``; a file of the same relative
path in the user's templates folder (``[notify] templates_dir``) wins. Email has
a subject, a plain-text and an HTML template (HTML autoescaped), SMS one text
template, chat one Markdown template, for every event.

The sandbox refuses access to Python internals and mutation of the context;
``StrictUndefined`` turns a misspelt variable into an error naming the file and
line instead of a blank in a customer's message; sizes are capped on the way in
(template source) and out (rendered text), and the few operations that can build
huge strings from a short template (``*``, ``**``, padding, ``range``) are bounded.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
)
from jinja2 import Environment as _Environment
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from notifiers import sms
from notifiers.settings import KINDS
from store.errors import OrderdeckError

SHIPPED_DIR = Path(__file__).parent / "templates"

#: Largest template file read, in bytes.
SOURCE_MAX = 64 * 1024
#: Largest rendered text per part, in characters.
OUTPUT_MAX = {"subject": 250, "text": 64 * 1024, "html": 256 * 1024, "sms": 1600, "chat": 16 * 1024}
#: Largest string or list one expression may build, and items one range() may yield.
BUILD_MAX = 64 * 1024
RANGE_MAX = 1000


class TemplateProblem(OrderdeckError):
    """A template that cannot be rendered: names the file, line and reason."""


@dataclass(frozen=True)
class Rendered:
    """What one message carries, exactly as it will be sent."""

    kind: str
    #: Email only.
    subject: str | None
    #: The text: an email's plain-text part, the SMS, the chat message.
    body: str
    #: Email sent as HTML only.
    body_html: str | None
    #: What Apprise is told the body is: "text", "html" or "markdown".
    body_format: str
    templates: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    sms: sms.SmsInfo | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def template_names(kind: str, event: str, *, email_html: bool = True) -> dict[str, str]:
    """part -> template name for one event on one kind of channel."""
    if kind == "email":
        names = {"subject": f"email/{event}.subject.j2", "text": f"email/{event}.text.j2"}
        if email_html:
            names["html"] = f"email/{event}.html.j2"
        return names
    if kind == "sms":
        return {"sms": f"sms/{event}.j2"}
    if kind == "chat":
        return {"chat": f"chat/{event}.md.j2"}
    raise ValueError(f"unknown channel kind {kind!r}")


class _CappedLoader(FileSystemLoader):
    """A folder of templates whose files may not exceed :data:`SOURCE_MAX`."""

    def __init__(self, folder: Path, label: str) -> None:
        super().__init__(str(folder), encoding="utf-8", followlinks=False)
        self.folder = folder
        self.label = label

    def get_source(
        self, environment: _Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        source, filename, uptodate = super().get_source(environment, template)
        if len(source.encode("utf-8")) > SOURCE_MAX:
            raise TemplateProblem(
                f"template {filename}: larger than {SOURCE_MAX // 1024} KiB; refusing to load it"
            )
        return source, filename, uptodate


def _bounded_range(*args: int) -> range:
    r = range(*args)
    if len(r) > RANGE_MAX:
        raise SecurityError(f"range() of {len(r)} items; templates may loop at most {RANGE_MAX}")
    return r


def _too_big(value: Any) -> bool:
    return isinstance(value, str | bytes | list | tuple) and len(value) > BUILD_MAX


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+"})

    def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
        if op == "**" and isinstance(right, int | float) and abs(right) > 64:
            raise SecurityError("exponent too large in a template")
        if op == "*":
            for seq, n in ((left, right), (right, left)):
                sized = isinstance(seq, str | list | tuple) and isinstance(n, int)
                if sized and len(seq) * n > BUILD_MAX:
                    raise SecurityError("a template tried to build a huge string")
        result = super().call_binop(context, op, left, right)
        if _too_big(result):
            raise SecurityError("a template tried to build a huge string")
        return result

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        # Padding methods take a width: "x".ljust(10**9) is a gigabyte.
        name = getattr(__obj, "__name__", "")
        if isinstance(getattr(__obj, "__self__", None), str) and name in _WIDTH_METHODS:
            for value in (*args, *kwargs.values()):
                if isinstance(value, int) and value > BUILD_MAX:
                    raise SecurityError(f"str.{name}() width too large in a template")
        result = super().call(__context, __obj, *args, **kwargs)
        if _too_big(result):
            raise SecurityError("a template tried to build a huge string")
        return result


_WIDTH_METHODS = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs", "format"})

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def markdown_escape(value: Any) -> str:
    """Customer text inside Markdown: shown as typed, never as formatting or links."""
    if value is None:
        return ""
    return _MD_SPECIAL.sub(r"\\\1", str(value))


def _capped_filter(fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        for value in (*args[1:], *kwargs.values()):
            if isinstance(value, int) and value > BUILD_MAX:
                raise SecurityError("filter width too large in a template")
        return fn(*args, **kwargs)

    return wrapper


def _autoescape(name: str | None) -> bool:
    return bool(name) and str(name).endswith(".html.j2")


def _make_environment(loader: BaseLoader) -> _Sandbox:
    env = _Sandbox(
        loader=loader,
        undefined=StrictUndefined,
        autoescape=_autoescape,
        auto_reload=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.globals["range"] = _bounded_range
    env.filters["md"] = markdown_escape
    for name in ("center", "indent", "wordwrap", "truncate"):
        env.filters[name] = _capped_filter(env.filters[name])
    return env


class Renderer:
    """Renders messages from the shipped templates and the user's overrides."""

    def __init__(self, templates_dir: Path | None = None) -> None:
        self.templates_dir = templates_dir
        loaders: list[BaseLoader] = []
        self._user: _CappedLoader | None = None
        if templates_dir is not None:
            # A folder created later is picked up: a missing one just finds nothing.
            self._user = _CappedLoader(templates_dir, "yours")
            loaders.append(self._user)
        loaders.append(_CappedLoader(SHIPPED_DIR, "shipped"))
        self.env = _make_environment(ChoiceLoader(loaders))

    def origin(self, name: str) -> str:
        """Where a template comes from: the user's file path, or "shipped"."""
        if self._user is not None and (self._user.folder / name).is_file():
            return str(self._user.folder / name)
        return "shipped"

    def _render_one(self, name: str, context: Mapping[str, Any], cap: int, label: str) -> str:
        try:
            template = self.env.get_template(name)
            out: list[str] = []
            size = 0
            for chunk in template.generate(dict(context)):
                size += len(chunk)
                if size > cap:
                    raise TemplateProblem(
                        f"template {self._where(name)}: renders more than {cap} characters "
                        f"(the {label} limit)"
                    )
                out.append(chunk)
            return "".join(out)
        except TemplateProblem:
            raise
        except TemplateNotFound as exc:
            missing = exc.name or name
            raise TemplateProblem(
                f"template {missing} not found (neither in {self.templates_dir} nor shipped)"
            ) from None
        except TemplateSyntaxError as exc:
            where = exc.filename or self._where(exc.name or name)
            raise TemplateProblem(f"template {where} line {exc.lineno}: {exc.message}") from None
        except SecurityError as exc:
            raise TemplateProblem(
                f"template {self._where(name)}: refused by the sandbox: {exc}"
            ) from None
        except UndefinedError as exc:
            raise TemplateProblem(
                f"template {self._where(name)}{_line_of(exc)}: {exc.message}"
            ) from None
        except TemplateError as exc:
            raise TemplateProblem(
                f"template {self._where(name)}{_line_of(exc)}: {exc.message or exc}"
            ) from None
        except RecursionError:
            raise TemplateProblem(
                f"template {self._where(name)}: recursion too deep (a macro calling itself?)"
            ) from None
        except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
            raise TemplateProblem(
                f"template {self._where(name)}{_line_of(exc)}: {type(exc).__name__}: {exc}"
            ) from None

    def _where(self, name: str) -> str:
        origin = self.origin(name)
        return origin if origin != "shipped" else f"{name} (shipped)"

    def render(
        self,
        kind: str,
        event: str,
        context: Mapping[str, Any],
        *,
        email_html: bool = True,
    ) -> Rendered:
        if kind not in KINDS:
            raise ValueError(f"unknown channel kind {kind!r}")
        names = template_names(kind, event, email_html=email_html)
        warnings: list[str] = []
        if kind == "email":
            subject = " ".join(
                self._render_one(
                    names["subject"], context, OUTPUT_MAX["subject"], "subject"
                ).split()
            )
            if not subject:
                raise TemplateProblem(f"template {self._where(names['subject'])}: renders empty")
            if "html" in names:
                html = self._render_one(names["html"], context, OUTPUT_MAX["html"], "HTML")
                # Apprise builds the plain-text part of an HTML email from the HTML;
                # the log keeps exactly that text.
                text = html_to_text(html)
                return Rendered(
                    kind, subject, text, html, "html", tuple(names.values()), tuple(warnings)
                )
            text = _tidy(self._render_one(names["text"], context, OUTPUT_MAX["text"], "text"))
            return Rendered(kind, subject, text, None, "text", (names["subject"], names["text"]))
        if kind == "sms":
            text = _tidy(self._render_one(names["sms"], context, OUTPUT_MAX["sms"], "SMS"))
            info = sms.measure(text)
            if info.warning:
                warnings.append(info.warning)
            if not text:
                raise TemplateProblem(f"template {self._where(names['sms'])}: renders empty")
            return Rendered(
                kind, None, text, None, "text", (names["sms"],), tuple(warnings), sms=info
            )
        text = _tidy(self._render_one(names["chat"], context, OUTPUT_MAX["chat"], "chat"))
        if not text:
            raise TemplateProblem(f"template {self._where(names['chat'])}: renders empty")
        return Rendered(kind, None, text, None, "markdown", (names["chat"],))

    def shipped_names(self) -> Iterator[str]:
        for path in sorted(SHIPPED_DIR.rglob("*.j2")):
            yield path.relative_to(SHIPPED_DIR).as_posix()


def _line_of(exc: BaseException) -> str:
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(".j2"):
            line = tb.tb_frame.f_lineno
        tb = tb.tb_next
    # Jinja maps template lines into its generated code's frames.
    return f" line {line}" if line else ""


def _tidy(text: str) -> str:
    """No trailing spaces, at most one blank line in a row, no blank ends."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def html_to_text(html: str) -> str:
    """The plain-text alternative Apprise builds from an HTML email body."""
    from apprise.common import NotifyFormat
    from apprise.conversion import convert_between

    return str(convert_between(NotifyFormat.HTML, NotifyFormat.TEXT, html))


@lru_cache(maxsize=8)
def renderer_for(templates_dir: Path | None) -> Renderer:
    """One renderer (and its template cache) per templates folder."""
    return Renderer(templates_dir)


__all__ = [
    "OUTPUT_MAX",
    "SOURCE_MAX",
    "Rendered",
    "Renderer",
    "TemplateProblem",
    "html_to_text",
    "markdown_escape",
    "renderer_for",
    "template_names",
]
