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


def test_question_mark_opens_the_shortcut_sheet_and_slash_adds_by_search(page: Page, served: dict[str, Any]) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    page.open("/flows/new?name=Keys&id=keys")
    page.wait(lambda: len(_shown(page)) > 10, "the palette")
    page.clear_selection()  # the focus on the canvas, not in a field
    ActionChains(page.d).send_keys("?").perform()
    page.wait(lambda: "Ctrl+Shift+Z" in page.text(".fb-shortcuts"), "the shortcut sheet")
    page.shot("sheet")
    ActionChains(page.d).send_keys(Keys.ESCAPE).perform()
    page.wait(lambda: not page.all(".fb-shortcuts"), "the sheet closed")

    ActionChains(page.d).send_keys("/").perform()
    page.wait(
        lambda: (
            "fb-palette-search"
            in page.d.execute_script("return document.activeElement.closest('.q-field')?.className || ''")
        ),
        "the focus in the palette search",
    )
    ActionChains(page.d).send_keys("schedule", Keys.ENTER).perform()
    page.wait(lambda: page.node_count() == 1, "the schedule added from the keyboard")
