"""Self-service subscriptions from the public page: email with a confirmation link (double
opt-in), SMS with a code. Confirmed, the person is a Customer subscribed to the chosen
components' services, so broadcasts reach them. Rate-limited per address and per client, and SMS
per number range and per day, against SMS pumping (sign-ups to premium numbers that earn the
fraudster a share of each text Tocsin pays for)."""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select

from .. import locales
from ..clock import utcnow
from ..customers.models import Customer
from ..customers.service import record_opt_out_changes
from ..errors import AppError, ValidationFailed
from ..extensions import db
from ..outbox.models import Delivery
from ..uow import unit_of_work, use_case
from ..validation import mask_phone, normalize_email, normalize_phone
from . import i18n
from .models import StatusComponent, StatusSubscription

logger = logging.getLogger(__name__)
EMAIL_TTL = timedelta(hours=24)
CODE_TTL = timedelta(minutes=15)
MAX_CODE_ATTEMPTS = 5
WINDOW = timedelta(hours=1)
SMS_WINDOW = timedelta(days=1)
PREFIX_DIGITS = 6   # country code and the first digits after it: one operator's range, roughly


class TooManyRequests(AppError):
    status, code = 429, "rate_limited"


class InvalidConfirmation(AppError):
    status, code = 404, "invalid_confirmation"


def _hash(value: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def _check_rate(address: str, ip_hash: str) -> None:
    since = utcnow() - WINDOW
    per_address = current_app.config["STATUS_SIGNUPS_PER_ADDRESS_PER_HOUR"]
    per_client = current_app.config["STATUS_SIGNUPS_PER_CLIENT_PER_HOUR"]
    count = select(func.count()).select_from(StatusSubscription).where(StatusSubscription.created_at >= since)
    if (db.session.scalar(count.where(StatusSubscription.address == address)) or 0) >= per_address:
        raise TooManyRequests("Too many signups for this address; try again later.")
    if (db.session.scalar(count.where(StatusSubscription.ip_hash == ip_hash)) or 0) >= per_client:
        raise TooManyRequests("Too many signups from here; try again later.")


def sms_prefix(number: str) -> str:
    """The range an E.164 number belongs to, for the per-prefix limit: '+' and its first six digits."""
    return number[:1 + PREFIX_DIGITS]


def _check_sms_rate(number: str, locale: str) -> None:
    """At most so many SMS sign-ups a day to numbers of one range, and altogether."""
    per_prefix = current_app.config["STATUS_SMS_SIGNUPS_PER_PREFIX_PER_DAY"]
    per_day = current_app.config["STATUS_SMS_SIGNUPS_PER_DAY"]
    count = (select(func.count()).select_from(StatusSubscription)
             .where(StatusSubscription.channel == "sms", StatusSubscription.created_at >= utcnow() - SMS_WINDOW))
    if db.session.scalar(count) >= per_day:
        logger.warning("status signup refused: %s SMS sign-ups in the last day", per_day)
        raise TooManyRequests(i18n.t(locale, "sub.sms_day_limit"), details={"limit": "sms_per_day"})
    prefix = sms_prefix(number)
    if db.session.scalar(count.where(StatusSubscription.address.startswith(prefix, autoescape=True))) >= per_prefix:
        logger.warning("status signup refused: %s SMS sign-ups to %s… in the last day", per_prefix, prefix)
        raise TooManyRequests(i18n.t(locale, "sub.sms_prefix_limit"), details={"limit": "sms_per_prefix"})


def _components(ids: list) -> list[int]:
    try:
        wanted = sorted({int(i) for i in ids})
    except (TypeError, ValueError):
        raise ValidationFailed("Unknown component.", details={"components": "unknown"}) from None
    found = set(db.session.scalars(select(StatusComponent.id).where(StatusComponent.id.in_(wanted))))
    if found != set(wanted):
        raise ValidationFailed("Unknown component.", details={"components": "unknown"})
    return wanted


def _outbox(sub: StatusSubscription, *, subject: str, text: str) -> None:
    now = utcnow()
    headers = {"Content-Language": sub.locale} if sub.channel == "email" else None
    db.session.add(Delivery(purpose="status_confirm", dedupe_key=f"status-confirm:{sub.id}", channel=sub.channel,
                            recipient=sub.address, subject=subject, text=text, headers=headers, status="queued",
                            next_attempt_at=now, created_at=now, updated_at=now))


@use_case
def start_subscription(*, channel: str, address: str, components: list, locale: str, client: str) -> dict:
    """Record a pending signup and queue its confirmation (link by email, code by SMS)."""
    if channel not in ("email", "sms"):
        raise ValidationFailed(i18n.t(locale, "sub.bad_channel"), details={"channel": "email or sms"})
    try:
        address = normalize_email(address) if channel == "email" else normalize_phone(address)
    except ValueError:
        key = "sub.bad_email" if channel == "email" else "sub.bad_phone"
        raise ValidationFailed(i18n.t(locale, key), details={"address": "invalid"}) from None
    ip_hash = _hash("ip:" + client)
    _check_rate(address, ip_hash)
    if channel == "sms":
        _check_sms_rate(address, locale)
    now = utcnow()
    page = current_app.config["STATUS_PAGE_NAME"]
    sub = StatusSubscription(channel=channel, address=address, components=_components(components),
                             locale=locale, ip_hash=ip_hash, created_at=now,
                             expires_at=now + (EMAIL_TTL if channel == "email" else CODE_TTL))
    secret = secrets.token_urlsafe(32)
    if channel == "email":
        sub.token_hash = _hash(secret)
    else:
        code = f"{secrets.randbelow(1_000_000):06d}"
        sub.handle, sub.code_hash = secrets.token_urlsafe(24), _hash("code:" + code)
    db.session.add(sub)
    db.session.flush()
    if channel == "email":
        link = f"{current_app.config.get('PUBLIC_BASE_URL', '').rstrip('/')}/status/subscribe/confirm/{secret}"
        _outbox(sub, subject=i18n.t(locale, "confirm.subject"), text=i18n.t(locale, "confirm.email", page=page, link=link))
        logger.info("status signup %s: confirmation link queued to %s", sub.id, "@" + address.rpartition("@")[2])
    else:
        _outbox(sub, subject="", text=i18n.t(locale, "confirm.sms", page=page, code=code))
        logger.info("status signup %s: code queued to %s", sub.id, mask_phone(address))
    return {"id": sub.id, "channel": channel, "address": address, "handle": sub.handle}


def _pending(where) -> StatusSubscription:
    sub = db.session.scalar(select(StatusSubscription).where(where).with_for_update())
    if sub is None or sub.confirmed_at is not None or sub.expires_at <= utcnow():
        raise InvalidConfirmation("This link or code is not valid any more.")
    return sub


def check_link(token: str) -> StatusSubscription:
    """The pending email signup this link confirms (it is single-use and expires)."""
    return _pending(StatusSubscription.token_hash == _hash(token))


def confirm_link(token: str) -> StatusSubscription:
    """Confirm an email signup: the address becomes a subscriber."""
    sub = _pending(StatusSubscription.token_hash == _hash(token))
    return _activate(sub)


def check_handle(handle: str) -> StatusSubscription:
    return _pending(StatusSubscription.handle == handle)


def confirm_code(handle: str, code: str) -> StatusSubscription:
    """Confirm an SMS signup with its code; a few wrong codes and it is dead."""
    sub = _pending(StatusSubscription.handle == handle)
    if sub.attempts >= MAX_CODE_ATTEMPTS:
        raise TooManyRequests("Too many wrong codes.")
    if not hmac.compare_digest(sub.code_hash or "", _hash("code:" + code.strip())):
        with unit_of_work():   # the wrong try counts, though the request is refused
            sub.attempts += 1
        raise ValidationFailed("That code is not right.", details={"code": "wrong"}, code="wrong_code")
    return _activate(sub)


@use_case
def _activate(sub: StatusSubscription) -> StatusSubscription:
    components = db.session.scalars(select(StatusComponent).where(
        StatusComponent.id.in_(sub.components) if sub.components else StatusComponent.is_group.is_(False))).all()
    services = {c.service.id: c.service for c in components if c.service is not None}
    column = Customer.email if sub.channel == "email" else Customer.phone
    customer = db.session.scalar(select(Customer).where(column == sub.address).order_by(Customer.id).limit(1))
    now = utcnow()
    if customer is None:
        customer = Customer(name="", locale=sub.locale, channels=[], opted_out=[], created_at=now,
                            **{"email" if sub.channel == "email" else "phone": sub.address})
        db.session.add(customer)
    if locales.language_for(customer.locale) != sub.locale:   # a CRM's "de-CH" stays when they signed up in German
        customer.locale = sub.locale
    customer.channels = [sub.channel] + [c for c in (customer.channels or []) if c != sub.channel]
    if sub.channel in (customer.opted_out or []):   # signing up again on a channel lifts its opt-out
        db.session.flush()
        record_opt_out_changes([(customer.id, sub.channel, False)], "status_signup")
    customer.opted_out = [c for c in (customer.opted_out or []) if c != sub.channel]
    customer.services = sorted({**{s.id: s for s in customer.services}, **services}.values(), key=lambda s: s.name)
    customer.updated_at = now
    db.session.flush()
    sub.confirmed_at, sub.customer_id = now, customer.id
    sub.token_hash = sub.code_hash = sub.handle = None   # single use
    logger.info("status signup %s confirmed: customer %s", sub.id, customer.id)
    return sub
