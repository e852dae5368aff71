"""Twilio's list envelope: ``{"meta": {...}, "<key>": [...]}`` with absolute page URLs.

The official clients follow ``next_page_url`` verbatim, so it must be absolute and carry every
filter of the request. ``PageToken`` is the store's opaque cursor; ``Page`` only numbers pages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from hubbub.chat.errors import PAGE_SIZE_TOO_LARGE, invalid
from hubbub.web.params import Params

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class PageRequest:
    """What a list request asks for: how many, which page, from where."""

    size: int
    number: int
    token: str | None
    filters: dict[str, list[str]]


def page_request(query: Params, filter_names: tuple[str, ...] = ()) -> PageRequest:
    size = query.integer("PageSize", minimum=1) or DEFAULT_PAGE_SIZE
    if size > MAX_PAGE_SIZE:
        raise invalid(
            f"PageSize is {size}; the maximum page size is {MAX_PAGE_SIZE}", PAGE_SIZE_TOO_LARGE
        )
    number = query.integer("Page", minimum=0, maximum=10**9) or 0
    token = query.text("PageToken", max_length=512)
    if number > 0 and token is None:
        raise invalid(
            "Page beyond the first needs the PageToken from the previous page's next_page_url"
        )
    filters = {
        name: values for name in filter_names if (values := query.repeated(name, max_length=1024))
    }
    return PageRequest(size, number, token, filters)


def envelope(
    key: str,
    items: list[dict[str, Any]],
    request: PageRequest,
    path_url: str,
    next_token: str | None,
) -> dict[str, Any]:
    """The list response for one page; ``path_url`` is the absolute URL without a query."""

    def page_url(number: int, token: str | None) -> str:
        query: dict[str, Any] = dict(request.filters)
        query["PageSize"] = request.size
        query["Page"] = number
        if token is not None:
            query["PageToken"] = token
        return f"{path_url}?{urlencode(query, doseq=True)}"

    meta: Mapping[str, Any] = {
        "page": request.number,
        "page_size": request.size,
        "first_page_url": page_url(0, None),
        "previous_page_url": None,
        "url": page_url(request.number, request.token),
        "next_page_url": page_url(request.number + 1, next_token) if next_token else None,
        "key": key,
    }
    return {"meta": dict(meta), key: items}
