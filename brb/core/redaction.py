"""Credentials in a URL, hidden before the URL is shown anywhere.

Owns turning ``http://user:secret@host`` into ``http://user:***@host`` (and a
bare ``token@host`` into ``***@host``) for errors, logs, status and the
doctor's report; the real URL is only ever given to the HTTP client. Must not
do I/O.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

MASK = "***"


def redact_url(url: str) -> str:
    """``url`` with any password (or lone user token) in its userinfo masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, sep, _password = userinfo.partition(":")
    shown = f"{user}:{MASK}" if sep else MASK
    return urlunsplit(parts._replace(netloc=f"{shown}@{hostport}"))


def redact_in(text: str, url: str) -> str:
    """``text`` with every occurrence of ``url`` (and of its password) masked."""
    shown = redact_url(url)
    if shown == url:
        return text
    text = text.replace(url, shown)
    userinfo = urlsplit(url).netloc.rpartition("@")[0]
    secret = userinfo.partition(":")[2] or userinfo
    return text.replace(secret, MASK) if secret else text
