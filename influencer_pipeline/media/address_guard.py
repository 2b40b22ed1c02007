"""Connect only to public addresses: the SSRF guard of the fetcher, and a DNS cache of failures.

A host is refused ("private_address") when any address it resolves to is not public: loopback,
private, link-local, multicast, reserved, unspecified, shared (CGNAT), and the IPv4 addresses
embedded in IPv6 (``::ffff:a.b.c.d``, NAT64, 6to4). ``GuardedAdapter`` checks inside the
connection itself (the socket connects only to the addresses just checked), so DNS rebinding
between a check and the connection cannot slip through. Permanent DNS failures are cached per host
for ``NEGATIVE_DNS_TTL_S``.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError

from influencer_pipeline.media.errors import MediaError

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
NEGATIVE_DNS_TTL_S = 60.0
_NEGATIVE_DNS: dict[str, tuple[float, str]] = {}  # host -> (expiry on the monotonic clock, message)
_NEGATIVE_DNS_LOCK = threading.Lock()

_getaddrinfo = socket.getaddrinfo  # an indirection that tests replace (scripted DNS answers)


def is_public_address(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True when ``address`` is a globally routable unicast address (embedded IPv4 included)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:  # judged by the IPv4 address it carries
            return is_public_address(embedded)
    return not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def clear_dns_cache() -> None:
    """Forget the cached permanent DNS failures."""
    with _NEGATIVE_DNS_LOCK:
        _NEGATIVE_DNS.clear()


def resolve_host(host: str, port: int) -> list[str]:
    """All addresses ``host`` resolves to; MediaError "dns" (retryable only when temporary).

    Permanent failures ("name not known") are remembered for ``NEGATIVE_DNS_TTL_S`` seconds, so a
    batch of URLs on one dead host costs one look-up, not one (sometimes 5 s) look-up per URL.
    """
    key = host.lower().rstrip(".")
    with _NEGATIVE_DNS_LOCK:
        cached = _NEGATIVE_DNS.get(key)
    if cached is not None and cached[0] > time.monotonic():
        raise MediaError("dns", cached[1])
    try:
        infos = _getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        temporary = exc.errno == socket.EAI_AGAIN
        kind = "temporary" if temporary else "permanent"
        message = f"cannot resolve host {host!r}: {exc.strerror or exc} ({kind} DNS failure)"
        if not temporary:
            with _NEGATIVE_DNS_LOCK:
                _NEGATIVE_DNS[key] = (time.monotonic() + NEGATIVE_DNS_TTL_S, message)
        raise MediaError("dns", message, retryable=temporary) from None
    except (UnicodeError, ValueError) as exc:
        raise MediaError("dns", f"invalid host name {host!r}: {exc}") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise MediaError("dns", f"host {host!r} has no addresses")
    return addresses


def check_addresses(host: str, addresses: list[str]) -> None:
    """Raise MediaError "private_address" if any of ``host``'s addresses is not public."""
    for address in addresses:
        if not is_public_address(address):
            raise MediaError(
                "private_address",
                f"host {host!r} resolves to {address}, a non-public address; refused "
                "(set allow_private_networks to fetch from local or private networks)",
            )


class _GuardedConnectionMixin:
    """urllib3 connection that connects only to addresses that passed ``check_addresses``."""

    _dns_host: str

    def _new_conn(self):
        host = self._dns_host.rstrip(".").strip("[]")
        addresses = resolve_host(host, self.port)
        check_addresses(host, addresses)
        original = self._dns_host
        failure: Exception | None = None
        try:
            for address in addresses:
                self._dns_host = address  # connect to exactly this, already checked, address
                try:
                    return super()._new_conn()
                except NewConnectionError as exc:
                    failure = exc
            raise failure  # type: ignore[misc]
        finally:
            self._dns_host = original


class _GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """Transport adapter whose pools use the guarded connections."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        """Build the pool manager, then swap in the guarded pool classes."""
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPPool,
            "https": _GuardedHTTPSPool,
        }
