"""Every page at the two screens people use most (a 1366×768 laptop and a 1920×1080 monitor): it
draws its content, nothing makes the page scroll sideways, the header keeps one line and no control
sticks out past the window. Each page is shot at both sizes (artifacts/browser/pages-*.png)."""

from __future__ import annotations

from typing import Any

import pytest

from app.services.runs import run_flow
from app.store import flows as flow_store
from tests.browser.support import Page

SHOTS = "pages"
FLOW = "erp_invoices_to_crm"
SCREENS = ((1366, 768), (1920, 1080))

# Anything wider than the window, or the page's own sideways scroll; the header's height.
_MEASURE = r"""
const width = window.innerWidth;
const sticking = [...document.querySelectorAll('.q-btn, .q-field, .q-table__container, .q-card, .q-toolbar')]
  .filter(e => e.offsetParent !== null && !e.closest('.q-menu, .q-dialog, .vue-flow, .q-table__middle'))
  .map(e => ({e, r: e.getBoundingClientRect()}))
  .filter(({r}) => r.width > 0 && r.right > width + 1)
  .map(({e, r}) => `${e.className.split(' ').slice(0, 3).join('.')} reaches ${Math.round(r.right)} px`);
const squeezed = [...document.querySelectorAll('.q-btn')]
  .filter(e => e.offsetParent !== null && !e.closest('.q-menu, .q-dialog, .vue-flow') && e.innerText.trim())
  .filter(e => e.getBoundingClientRect().height > 48)
  .map(e => `button '${e.innerText.trim().replace(/\s+/g, ' ')}' squeezed to ${Math.round(e.getBoundingClientRect().height)} px high`);
const header = document.querySelector('.q-header');
return {
  sideways: document.documentElement.scrollWidth - width,
  sticking: sticking.slice(0, 5).concat(squeezed.slice(0, 5)),
  header: header ? header.getBoundingClientRect().height : 0,
  text: (document.querySelector('.q-page') || document.body).innerText.trim().length,
  fonts: document.fonts.status,
};
"""


@pytest.fixture(scope="module")
def run_id(served: dict[str, Any]) -> str:
    """One finished run in the sandbox, so its page has a ledger and a graph to draw."""
    document, version = flow_store.get_document(served["store"], FLOW)
    return run_flow(served["store"], document, version=version, env="sandbox", started_by="setup").run_id


def _pages(run_id: str) -> list[tuple[str, str]]:
    return [
        ("flows", "/"),
        ("runs", "/runs"),
        ("run", f"/runs/{run_id}"),
        ("editor", f"/flows/{FLOW}"),
        ("new-flow", "/flows/new"),
        ("test-cases", f"/flows/{FLOW}/tests"),
        ("dead-letters", "/dead-letters"),
        ("health", "/health"),
        ("sandbox", "/sandbox"),
        ("connections", "/connections"),
        ("not-found", "/no-such-page"),
    ]


def _measured(page: Page) -> dict[str, Any] | None:
    measured: dict[str, Any] = page.d.execute_script(_MEASURE)
    return measured if measured["header"] > 0 and measured["fonts"] == "loaded" else None


def _viewport(page: Page, width: int, height: int) -> None:
    """The page itself at width × height (the window's frame around it taken into account)."""
    page.d.set_window_size(width, height)
    inner = page.d.execute_script("return [window.innerWidth, window.innerHeight]")
    page.d.set_window_size(2 * width - inner[0], 2 * height - inner[1])


@pytest.mark.parametrize("screen", SCREENS, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_page_fits_the_screen(page: Page, run_id: str, screen: tuple[int, int]) -> None:
    _viewport(page, *screen)
    misfits = []
    try:
        for name, path in _pages(run_id):
            if name == "not-found":  # its own 404 answer is in the console: the pages before must have none
                errors = page.console_errors()
                assert not errors, f"the browser console has errors: {errors}"
            page.open(path)
            page.wait(lambda: page.d.execute_script(_MEASURE)["text"] > 20, f"the {name} page's content")
            if name == "editor":
                page.wait(lambda: page.node_count() > 0, "the flow drawn")
            measured = page.wait(lambda: _measured(page), f"the {name} page's header")
            page.shot(f"{name}-{screen[0]}")
            if measured["sideways"] > 1 or measured["sticking"]:
                misfits.append(f"{path}: scrolls {measured['sideways']} px sideways; {measured['sticking']}")
            if measured["header"] > 72:
                misfits.append(f"{path}: header takes {measured['header']:.0f} px (wrapped)")
        page.d.get_log("browser")  # the not-found page's own 404
    finally:
        page.d.set_window_size(1440, 900)
    assert not misfits, f"at {screen[0]}×{screen[1]}: " + "; ".join(misfits)
