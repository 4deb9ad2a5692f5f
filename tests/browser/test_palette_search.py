"""The palette search in a real browser: typing keeps the node types that match, Enter adds the
first to the canvas. Nothing is saved: the other browser tests see the demo as shipped."""

from __future__ import annotations

from typing import Any

from tests.browser.support import Page

SHOTS = "palette-search"


def _shown(page: Page) -> list[str]:
    return [e.text for e in page.all(".fb-palette-item") if e.is_displayed()]


def test_typing_in_the_palette_search_keeps_the_matches_and_enter_adds_one(page: Page, served: dict[str, Any]) -> None:
    page.open("/flows/new?name=Searched&id=searched")
    page.wait(lambda: len(_shown(page)) > 10, "the palette")
    page.type_into(".fb-palette-search input", "odata")
    page.wait(lambda: _shown(page) and all("OData" in title for title in _shown(page)), "only the OData node types")
    page.shot("odata")
    page.type_into(".fb-palette-search input", "from an odata", enter=True)
    page.wait(lambda: page.node_count() == 1, "the node added by Enter")
    page.wait(lambda: len(_shown(page)) > 10, "the search cleared")
    page.shot("added")
