"""The signed links a customer acts with, no account needed: unsubscribe (one click, from every
message) and manage (choose the status page components they follow, or leave).

Each is `PUBLIC_BASE_URL` + a path + an itsdangerous token of [customer id, channel], signed with
SECRET_KEY under its own salt, so one kind of token is never accepted as the other. A forged or
mangled token is a NotFound.
"""
from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from ..errors import NotFound

UNSUBSCRIBE_SALT = "tocsin-unsubscribe"
MANAGE_SALT = "tocsin-status-manage"


def _serializer(salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _read(salt: str, token: str, message: str, code: str) -> tuple[int, str]:
    try:
        customer_id, channel = _serializer(salt).loads(token)
        return int(customer_id), str(channel)
    except (BadSignature, TypeError, ValueError):
        raise NotFound(message, code=code) from None


def unsubscribe_token(customer_id: int, channel: str) -> str:
    return _serializer(UNSUBSCRIBE_SALT).dumps([customer_id, channel])


def unsubscribe_url(customer_id: int, channel: str) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL']}/unsubscribe/{unsubscribe_token(customer_id, channel)}"


def read_unsubscribe_token(token: str) -> tuple[int, str]:
    """(customer id, channel) from an unsubscribe link's token; NotFound for a forged or mangled one."""
    return _read(UNSUBSCRIBE_SALT, token, "This unsubscribe link is not valid.", "bad_unsubscribe_link")


def manage_token(customer_id: int, channel: str) -> str:
    return _serializer(MANAGE_SALT).dumps([customer_id, channel])


def manage_url(customer_id: int, channel: str) -> str:
    """The subscriber's own page: which components they follow, or leave."""
    return f"{current_app.config['PUBLIC_BASE_URL']}/status/subscription/{manage_token(customer_id, channel)}"


def read_manage_token(token: str) -> tuple[int, str]:
    """(customer id, channel) from a manage link's token; NotFound for a forged or mangled one."""
    return _read(MANAGE_SALT, token, "This link is not valid.", "bad_manage_link")
