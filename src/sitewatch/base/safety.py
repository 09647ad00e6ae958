"""Untrusted text and names made safe: site ids, output paths, free text, URLs.

Site files, watchlists and web requests come from other people. A site id becomes a file
name and a URL part, so it must follow one pattern everywhere (`check_site_id`); every path
built from such a name must stay inside its output folder (`inside`); free text is printed
to terminals and written into KML and HTML, so control characters are removed at the door
(`clean_text`); URLs are printed with their credentials masked (`mask_url`).
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sitewatch.base.errors import InputError

#: A site id: letters, digits, '.', '_' and '-', starting with a letter or digit, at most 100.
SITE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
SITE_ID_RULE = "letters, digits, '.', '_' and '-', starting with a letter or digit, at most 100 characters"


def check_site_id(value: object, where: str) -> str:
    """`value` as a site id, or one error line naming `where` and the rule."""
    text = str(value)
    if not SITE_ID.fullmatch(text) or ".." in text:
        shown = clean_text(text)[:60]
        raise InputError(f"{where}: site id '{shown}' is not allowed; use {SITE_ID_RULE}")
    return text


def inside(folder: str | os.PathLike[str], *parts: str) -> Path:
    """`folder/parts...`, refused unless it resolves inside `folder` (no '..', no absolute part, no link out)."""
    base = Path(folder).resolve()
    target = base.joinpath(*parts).resolve()
    if target != base and base not in target.parents:
        raise InputError(f"{Path(folder, *parts)}: would be written outside {folder}; check the name")
    return target


def clean_text(value: str, *, keep_newlines: bool = False) -> str:
    """`value` without control or format characters (terminal escapes, NUL, bidi overrides).

    Tabs become spaces, and so do line breaks unless `keep_newlines` (notes keep them).
    """
    out = []
    for char in value:
        if char == "\n" and keep_newlines:
            out.append(char)
        elif char in "\t\n\r":
            out.append(" ")
        elif unicodedata.category(char) in ("Cc", "Cf") and char not in "\u200d":
            continue
        else:
            out.append(char)
    return "".join(out)


def mask_url(url: str) -> str:
    """`url` with any password and query values replaced by '***', for printing."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    user, at, host = parts.netloc.rpartition("@")
    if not (at and ":" in user) and not parts.query:
        return url  # nothing secret to hide
    netloc = f"{user.split(':')[0]}:***@{host}" if at and ":" in user else parts.netloc
    query = urlencode([(k, "***") for k, _ in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
