"""Templates: every event x kind renders; the sandbox refuses what it must; SMS segments."""

from __future__ import annotations

from pathlib import Path

import pytest

from notifiers.context import sample
from notifiers.render import Renderer, TemplateProblem
from notifiers.settings import EVENTS, KINDS
from notifiers.sms import measure


@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("kind", KINDS)
def test_every_shipped_template_renders(event: str, kind: str) -> None:
    out = Renderer(None).render(kind, event, sample(event))
    assert out.body.strip()
    if kind == "email":
        assert out.subject and "\n" not in out.subject
        assert out.body_html and out.body_html.lstrip().startswith("<!DOCTYPE html>")
        text = Renderer(None).render(kind, event, sample(event), email_html=False)
        assert text.body_html is None and "#1001" in text.body
    if kind == "sms":
        assert out.sms is not None and out.sms.segments <= 2, out.body


def test_html_is_autoescaped_and_markdown_escaped() -> None:
    ctx = sample("shipped")
    ctx["customer"] = {
        **ctx["customer"],
        "first_name": "<script>x</script>",
        "name": "*bold* [link](http://evil)",
    }
    email = Renderer(None).render("email", "shipped", ctx)
    assert "<script>" not in (email.body_html or "")
    assert "&lt;script&gt;" in (email.body_html or "")
    chat = Renderer(None).render("chat", "shipped", ctx)
    assert r"\*bold\* \[link\]\(http://evil\)" in chat.body


@pytest.mark.parametrize(
    "source, message",
    [
        ("{{ ''.__class__.__mro__ }}", "refused by the sandbox"),
        ("{{ order.line_items.append(1) }}", "refused by the sandbox"),
        ("{{ 'x' * 100000000 }}", "refused by the sandbox"),
        ("{{ 'x'.ljust(1000000000) }}", "refused by the sandbox"),
        ("{% for i in range(100000) %}{% endfor %}x", "refused by the sandbox"),
        ("{% for i in range(1000) %}{{ 'abcdefghij' * 10 }}{% endfor %}", "renders more than"),
        ("{{ no_such_variable }}", "'no_such_variable' is undefined"),
        ("{% if %}", "line 1"),
    ],
)
def test_sandbox_refuses(tmp_path: Path, source: str, message: str) -> None:
    (tmp_path / "chat").mkdir()
    (tmp_path / "chat" / "shipped.md.j2").write_text(source)
    with pytest.raises(TemplateProblem) as err:
        Renderer(tmp_path).render("chat", "shipped", sample("shipped"))
    assert message in str(err.value)
    assert "chat/shipped.md.j2" in str(err.value)


def test_oversized_template_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "sms").mkdir()
    (tmp_path / "sms" / "shipped.j2").write_text("x" * 70_000)
    with pytest.raises(TemplateProblem, match="larger than 64 KiB"):
        Renderer(tmp_path).render("sms", "shipped", sample("shipped"))


def test_sms_segments_and_warning(tmp_path: Path) -> None:
    assert measure("a" * 160).segments == 1
    assert measure("a" * 161).segments == 2
    assert measure("€" * 80).units == 160  # extension table: two septets each
    assert measure("é" * 10).encoding == "GSM-7"
    uni = measure("ś" * 71)
    assert (uni.encoding, uni.segments) == ("UCS-2", 2)
    assert measure("👋" * 35).units == 70
    (tmp_path / "sms").mkdir()
    (tmp_path / "sms" / "shipped.j2").write_text("{{ 'Zażółć gęślą jaźń. ' * 12 }}")
    out = Renderer(tmp_path).render("sms", "shipped", sample("shipped"))
    assert out.sms is not None and out.sms.segments > 2
    assert out.warnings and "UCS-2" in out.warnings[0]
