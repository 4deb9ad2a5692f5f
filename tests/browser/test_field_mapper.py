"""The field mapper and the input fields in a real browser: a source field dragged (HTML5 drag and
drop, as the mouse makes it) onto a target line maps it, and onto the filter's condition writes
`record.x` at the caret. Nothing is saved: the other browser tests see the demo flow as shipped."""

from __future__ import annotations

from typing import Any

from selenium.webdriver.common.keys import Keys

from tests.browser.support import Page

SHOTS = "field-mapper"
FLOW = "crm_accounts_to_erp_customers"

# Chromium's own DragEvent and DataTransfer, dispatched as a drag from one element to another.
DRAG = """
const [from, to] = arguments;
const carried = new DataTransfer();
from.dispatchEvent(new DragEvent('dragstart', {dataTransfer: carried, bubbles: true}));
to.dispatchEvent(new DragEvent('dragover', {dataTransfer: carried, bubbles: true, cancelable: true}));
to.dispatchEvent(new DragEvent('drop', {dataTransfer: carried, bubbles: true, cancelable: true}));
from.dispatchEvent(new DragEvent('dragend', {dataTransfer: carried, bubbles: true}));
"""


def _drag(page: Page, source: Any, target: Any) -> None:
    page.d.execute_script(DRAG, source, target)


def _source(page: Page, css: str, name: str) -> Any:
    """The source field's chip, once the samples it comes from have arrived."""

    def chip() -> Any:
        chips = page.all(f"{css} .fb-source-field")
        return next((e for e in chips if e.find_element(page.By.CSS_SELECTOR, ".font-mono").text == name), None)

    return page.wait(chip, f"the source field {name} in {css}")


def test_a_source_field_dragged_onto_a_target_or_an_expression_field_lands_there(
    page: Page, served: dict[str, Any]
) -> None:
    page.open(f"/flows/{FLOW}")
    page.wait(lambda: page.node_count() > 0, "the editor")
    page.select_node("to_customer")
    page.click(".fb-open-mapper")
    page.wait(lambda: "of 14 target fields mapped" in page.text(".fb-mapper-coverage"), "the mapper's coverage")
    page.wait(lambda: any(e.text for e in page.all(".fb-mapper-preview")), "the previews")
    page.shot("mapper")

    line = page.find('.fb-mapper-line[data-target="payment_terms"]')
    _drag(page, _source(page, ".fb-mapper-sources", "country"), line)
    page.wait(
        lambda: (
            page.find('.fb-mapper-line[data-target="payment_terms"] input').get_attribute("value")
            == "{{ record.country }}"
        ),
        "the dropped field on its line",
    )
    page.wait(lambda: page.text(".fb-mapper-coverage").startswith("11 of 14"), "the coverage counting it")
    page.shot("dropped")
    page.click(".fb-mapper-close")

    page.select_node("approved")
    page.click(".fb-io-view .q-expansion-item__container > .q-item")
    page.wait(lambda: page.all(".fb-io-received .fb-source-field"), "the filter's input fields")
    condition = page.find(".fb-drop-expression input")
    page.wait(lambda: condition.click() or True, "the condition to settle under the opened fields", timeout=5)
    condition.send_keys(Keys.CONTROL, "a")  # a dropped field takes the place of the selected text
    _drag(page, _source(page, ".fb-io-received", "state"), page.find(".fb-drop-expression"))
    page.wait(lambda: condition.get_attribute("value") == "record.state", "the field written in the condition")
    page.wait(lambda: "unsaved changes" in page.text(".fb-version"), "the flow holding the new condition")
    page.shot("dropped-into-condition")
