"""Template filters and the response headers every staff page carries."""
from __future__ import annotations

from ..clock import utcnow


def age(value) -> str:
    seconds = int((utcnow() - value).total_seconds()) if value else 0
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if days:
        return f"{days} d {hours % 24} h"
    if hours:
        return f"{hours} h {minutes % 60} min"
    return f"{max(minutes, 0)} min"


def when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


def security_headers(response):
    response.headers.setdefault("Content-Security-Policy",
                                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
