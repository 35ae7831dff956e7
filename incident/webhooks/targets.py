"""Where a webhook may be sent: http or https, to public addresses only (no server-side request
forgery against the machine, its network or the cloud's metadata service) unless
WEBHOOKS_ALLOW_PRIVATE_TARGETS says otherwise. Checked when an endpoint is registered and again
before every attempt, on every address the host name resolves to."""
from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

MAX_URL = 2000
Resolver = Callable[[str, int], list[str]]


class TargetRefused(ValueError):
    """The URL is malformed, or leads somewhere webhooks may not go; `retryable` when only the name
    did not resolve just now."""

    def __init__(self, reason: str, *, retryable: bool = False):
        super().__init__(reason)
        self.reason, self.retryable = reason, retryable


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the host name resolves to (IPv4 and IPv6)."""
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})


_resolve: Resolver = system_resolver   # tests replace it to play a DNS that answers what they say


def parse(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a well-formed http(s) URL, else TargetRefused saying why."""
    if not isinstance(url, str) or not url.strip():
        raise TargetRefused("a URL is required")
    if len(url) > MAX_URL:
        raise TargetRefused(f"at most {MAX_URL} characters")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise TargetRefused("no spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise TargetRefused(f"not a valid URL ({error})") from None
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("only http:// and https:// URLs")
    if not parts.hostname:
        raise TargetRefused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("no credentials in the URL: each delivery is signed with the endpoint's secret")
    if parts.fragment:
        raise TargetRefused("no #fragment: it is never sent")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def forbidden(address: str) -> str | None:
    """Why webhooks may not go to this address (loopback, private, link-local, …), or None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for test, why in (("is_loopback", "loopback"), ("is_link_local", "link-local"), ("is_private", "private"),
                      ("is_multicast", "multicast"), ("is_unspecified", "unspecified"), ("is_reserved", "reserved")):
        if getattr(ip, test):
            return why
    if not ip.is_global:
        return "not a public address"
    return None


def check(url: str, *, allow_private: bool) -> str:
    """The URL, if webhooks may be sent there; TargetRefused otherwise. Resolves the host (unless
    private targets are allowed, when there is nothing to check it against)."""
    _, host, port = parse(url)
    if allow_private:
        return url
    try:
        addresses = [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        try:
            addresses = _resolve(host, port)
        except (OSError, UnicodeError):
            raise TargetRefused(f"the host {host[:100]!r} does not resolve", retryable=True) from None
    if not addresses:
        raise TargetRefused(f"the host {host[:100]!r} does not resolve", retryable=True)
    for address in addresses:
        why = forbidden(address)
        if why:
            raise TargetRefused(f"{host[:100]} resolves to a {why} address ({address}); "
                                "set WEBHOOKS_ALLOW_PRIVATE_TARGETS=1 to allow it")
    return url
