"""URL identity and safety: canonical forms, registrable domains, and refusing private addresses."""

from __future__ import annotations

import ipaddress
import re
import socket
from functools import cache, lru_cache
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit

from crawler.errors import FetchError

if TYPE_CHECKING:
    import tldextract

__all__ = ["canonicalize", "check_url", "choose_canonical", "is_http_url", "registrable_domain"]

_DEFAULT_PORTS = {"http": 80, "https": 443}

# Parameters that only say where a click came from; the page is the same without them.
_TRACKING_NAMES = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "ysclid",
        "twclid", "ttclid", "li_fat_id", "igshid", "igsh", "spm", "spm_id_from", "_openstat",
        "_hsenc", "_hsmi", "__hstc", "__hssc", "__hsfp", "hsctatracking", "mc_cid", "mc_eid",
        "mkt_tok", "ref_src", "ref_url", "__twitter_impression", "_ga", "_gl", "xtor", "ocid",
        "smid", "ns_mchannel", "ns_source", "ns_campaign", "ns_linkname", "ns_fee", "oly_anon_id",
        "oly_enc_id", "vero_id", "wickedid", "rb_clickid",
    }
)  # fmt: skip
# utm_* (Google Analytics) and AT Internet's documented at_* campaign parameters.
_TRACKING_PATTERN = re.compile(
    r"utm_\w+|at_(?:medium|campaign|term|content|platform|creation|send_date|link|link_id"
    r"|link_type|link_origin|format|ptr_name|recipient_id|recipient_list|custom\d+)"
)

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_SUB_DELIMS = "!$&'()*+,;="
_PATH_SAFE = frozenset(_UNRESERVED | set(_SUB_DELIMS) | set(":@/"))
_QUERY_SAFE = frozenset(_PATH_SAFE | set("?"))
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def is_http_url(url: str) -> bool:
    """True for absolute http(s) URLs with a host."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises on a port out of range or not a number
    except ValueError:
        return False
    return parts.scheme.lower() in _DEFAULT_PORTS and bool(parts.hostname)


@lru_cache(maxsize=1 << 13)  # a crawl canonicalizes each URL several times (listing, key, store, aliases)
def canonicalize(url: str) -> str:
    """One spelling per page: case, IDNA, default port, fragment, tracking parameters, escapes."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = _canonical_host(parts)
    netloc = host
    if parts.username is not None:
        userinfo = parts.username + (f":{parts.password}" if parts.password is not None else "")
        netloc = f"{userinfo}@{host}"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{netloc}:{port}"
    path = _normalize_escapes(_remove_dot_segments(parts.path), _PATH_SAFE) or "/"
    query = _clean_query(parts.query)
    return urlunsplit((scheme, netloc, path, query, ""))


def registrable_domain(host: str) -> str:
    """The domain a registrant controls ('news.bbc.co.uk' -> 'bbc.co.uk'); IPs and bare names as given."""
    host = host.strip().strip("[]").rstrip(".").lower()
    if _ip(host) is not None:
        return host
    extracted = _extractor()(host)
    return extracted.top_domain_under_public_suffix or host


def choose_canonical(page_url: str, declared: str | None) -> str:
    """The page's declared canonical URL if it is http(s) on the same site, else the page URL; canonicalized."""
    fallback = canonicalize(page_url)
    if not declared or not declared.strip():
        return fallback
    try:
        candidate = urljoin(page_url, declared.strip())
    except ValueError:
        return fallback
    if not is_http_url(candidate):
        return fallback
    page_host = urlsplit(page_url).hostname or ""
    declared_parts = urlsplit(candidate)
    if registrable_domain(declared_parts.hostname or "") != registrable_domain(page_host):
        return fallback
    # Templates that point every article's canonical at the home page would merge all articles.
    if declared_parts.path in ("", "/") and urlsplit(page_url).path not in ("", "/"):
        return fallback
    return canonicalize(candidate)


def check_url(url: str, allow_private: bool, *, resolve: bool = True) -> None:
    """Refuse non-http(s) URLs and, unless allowed, hosts that resolve to non-public addresses.

    ``resolve=False`` checks only what needs no network: the scheme, the host, and a literal IP
    address; a host name is left to the check made when it is fetched.
    """
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError as exc:
        raise FetchError(f"refusing {url}: not a valid URL ({exc})") from None
    if parts.scheme.lower() not in _DEFAULT_PORTS:
        raise FetchError(f"refusing {url}: only http and https URLs are fetched")
    if not host:
        raise FetchError(f"refusing {url}: the URL has no host")
    if allow_private:
        return
    literal = _ip(host)
    if literal is not None:
        addresses = [literal]
    elif not resolve:
        return
    else:
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except (UnicodeError, OSError):
            return  # not resolvable is not private: the fetch itself will fail and say so
        addresses = [ip for info in infos if (ip := _ip(str(info[4][0]).split("%")[0])) is not None]
    for address in addresses:
        kind = _non_public_kind(address)
        if kind:
            shown = f"{host} resolves to {address}," if literal is None else f"{host} is"
            raise FetchError(
                f"refusing {url}: {shown} a {kind} address; "
                "set `crawl.allow_private = true` in the config to fetch private addresses"
            )


# ---------------------------------------------------------------------------------------------


@cache
def _extractor() -> tldextract.TLDExtract:
    # Imported here: with requests it is a tenth of a second of every crawl process's start, and
    # only extraction workers (their forkserver's warm-up) compare registrable domains.
    import tldextract

    # The bundled Public Suffix List snapshot only: never download, never write a cache.
    return tldextract.TLDExtract(
        cache_dir=None,
        suffix_list_urls=(),
        fallback_to_snapshot=True,
        include_psl_private_domains=True,
    )


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _non_public_kind(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """What kind of non-public address this is, or None for a public one."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return _non_public_kind(embedded)
    checks = (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("CGNAT", isinstance(address, ipaddress.IPv4Address) and address in _CGNAT),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("non-public", not address.is_global),
    )
    return next((kind for kind, hit in checks if hit), None)


def _canonical_host(parts: SplitResult) -> str:
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return ""
    if _ip(host) is not None:
        literal = str(_ip(host))
        return f"[{literal}]" if ":" in literal else literal
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return host.lower()


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4: '/a/./b/../c' -> '/a/c'."""
    if "." not in path:
        return path
    output: list[str] = []
    segments = path.split("/")
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
        elif segment == "..":
            if len(output) > 1:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    result = "/".join(output)
    return result if not path.startswith("/") or result.startswith("/") else "/" + result


def _normalize_escapes(component: str, safe: frozenset[str]) -> str:
    """Decode escapes of unreserved characters, upper-case the rest, escape what must be."""
    out: list[str] = []
    i = 0
    while i < len(component):
        ch = component[i]
        if ch == "%":
            match = _PERCENT.match(component, i)
            if match:
                decoded = chr(int(match.group(1), 16))
                out.append(decoded if decoded in _UNRESERVED else "%" + match.group(1).upper())
                i += 3
                continue
            out.append("%25")
        elif ch in safe:
            out.append(ch)
        else:
            out.extend(f"%{byte:02X}" for byte in ch.encode("utf-8"))
        i += 1
    return "".join(out)


def _clean_query(query: str) -> str:
    kept = []
    for pair in query.split("&"):
        if not pair:
            continue
        name = pair.split("=", 1)[0]
        plain = _PERCENT.sub(lambda m: chr(int(m.group(1), 16)), name).lower()
        if plain in _TRACKING_NAMES or _TRACKING_PATTERN.fullmatch(plain):
            continue
        kept.append(_normalize_escapes(pair, _QUERY_SAFE))
    return "&".join(kept)
