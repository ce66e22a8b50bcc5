"""Template helpers of the booking pages: money and the ticket's QR code."""

from __future__ import annotations

from urllib.parse import urlencode

import segno
from django import template
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from apps.storefront.display import money as format_money

register = template.Library()


@register.filter
def money(cents: int | None, currency: str) -> str:
    """``{{ cents|money:currency }}`` -> ``£42.00``."""
    return format_money(cents, currency)


@register.simple_tag
def qr_svg(text: str, label: str) -> SafeString:
    """An inline SVG QR code of ``text``, announced to screen readers as ``label``."""
    svg = segno.make(text, error="m").svg_inline(
        scale=5, border=2, dark="#17152b", light="#ffffff", svgclass="qr", title=label, omitsize=True
    )
    # segno escapes the title; the label is escaped again for the attribute.
    return mark_safe(svg.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" ', 1))  # noqa: S308


@register.simple_tag(takes_context=True)
def auth_url(context: template.Context, name: str) -> str:
    """The log-in or sign-up URL, bringing the buyer back to this page afterwards."""
    url = reverse(f"storefront:{name}")
    request = context.get("request")
    if request is None or request.method != "GET" or request.path == "/":
        return url
    match = getattr(request, "resolver_match", None)
    if match is not None and match.url_name in ("login", "signup", "logout"):
        return url
    return f"{url}?{urlencode({'next': request.get_full_path()})}"
