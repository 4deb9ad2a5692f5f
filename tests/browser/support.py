"""What a person does in the browser and what they see: the Page helper the browser tests share."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "browser"
FEEDBACK_SECONDS = 0.2  # every action shows something (a spinner, a notification, the result) this fast


# Times the user's gesture and the first DOM change that satisfies SHOWN (see Page.feedback).
_PROBE = """
window.__fbFeedback = {start: null, seen: null};
document.addEventListener(arguments[0], () => {
  if (window.__fbFeedback.start === null) window.__fbFeedback.start = performance.now();
}, {capture: true, once: true});
const fbObserver = new MutationObserver(() => {
  const probe = window.__fbFeedback;
  if (probe.start !== null && probe.seen === null && (SHOWN)) { probe.seen = performance.now(); fbObserver.disconnect(); }
});
fbObserver.observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
"""


class Page:
    """What a person does on the page, and what they see; every step can leave a screenshot."""

    def __init__(self, driver: Any, base: str, name: str) -> None:
        from selenium.webdriver.common.by import By

        self.d, self.base, self.By = driver, base, By
        self.prefix = name
        self.step = 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    # --- looking ----------------------------------------------------------------------------------

    def shot(self, what: str) -> Path:
        self.step += 1
        path = ARTIFACTS / f"{self.prefix}-{self.step:02d}-{what}.png"
        self.d.save_screenshot(str(path))
        return path

    def find(self, css: str) -> Any:
        return self.d.find_element(self.By.CSS_SELECTOR, css)

    def all(self, css: str) -> list[Any]:
        return self.d.find_elements(self.By.CSS_SELECTOR, css)

    def wait(self, condition: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            try:
                value = condition()
                if value:
                    return value
            except Exception as error:  # the element is not there yet
                last_error = error
            time.sleep(0.02)
        self.shot(f"timeout-{what.replace(' ', '-')[:40]}")
        raise AssertionError(f"waited {timeout}s for {what}" + (f" (last error: {last_error})" if last_error else ""))

    def feedback(self, action: Callable[[], Any], shown: str, what: str, *, event: str = "click") -> float:
        """Do `action`; the page must show something (`shown`, a JS condition); how long it took is logged.

        Measured in the browser, from the user's `event` (click, pointerup) to the first DOM change that
        makes `shown` true, so Selenium's own round trips do not count.
        """
        self.d.execute_script(_PROBE.replace("SHOWN", shown), event)
        action()
        # The probe is gone when the action already led to its result on a new page (a fast replay
        # opens its comparison): that page is the feedback, too quick to time from here.
        state = self.wait(
            lambda: self.d.execute_script(
                "const p = window.__fbFeedback; return p === undefined ? 'new page' : (p.seen !== null && 'seen')"
            ),
            what,
            timeout=10,
        )
        if state == "new page":
            with (ARTIFACTS / "feedback-times.txt").open("a") as log:
                log.write(f"{self.prefix}: {what}: the result page opened before the probe could look\n")
            return 0.0
        took = self.d.execute_script("return window.__fbFeedback.seen - window.__fbFeedback.start") / 1000
        with (ARTIFACTS / "feedback-times.txt").open("a") as log:
            log.write(f"{self.prefix}: {what}: {took * 1000:.0f} ms\n")
        # Timed assertions are flaky on a shared 2-core machine: the times are recorded (and read in
        # the issue notes); FLOWBRIDGE_ASSERT_FEEDBACK=1 makes the 200 ms bar a failure when wanted.
        if os.environ.get("FLOWBRIDGE_ASSERT_FEEDBACK") == "1":
            assert took < FEEDBACK_SECONDS, (
                f"{what} took {took * 1000:.0f} ms to show; the bar is {FEEDBACK_SECONDS * 1000:.0f} ms"
            )
        return took

    def text(self, css: str) -> str:
        """The element's visible text, once it is shown (dialogs fade in: until then it reads as '')."""
        return self.wait(lambda: self.find(css).is_displayed() and self.find(css).text, f"the text of {css}", timeout=5)

    def notifications(self) -> list[str]:
        return [n.text for n in self.all(".q-notification")]

    def wait_notification(self, contains: str, timeout: float = 15) -> str:
        return self.wait(
            lambda: next((n for n in self.notifications() if contains in n), None),
            f"a notification saying '{contains}'",
            timeout,
        )

    def console_errors(self) -> list[str]:
        return [
            entry["message"]
            for entry in self.d.get_log("browser")
            if entry["level"] == "SEVERE" and "favicon" not in entry["message"]
        ]

    # --- doing ------------------------------------------------------------------------------------

    def open(self, path: str) -> None:
        self.d.get(self.base + path)
        self.wait(lambda: self.d.execute_script("return document.readyState") == "complete", "the page to load")

    def click(self, css: str, *, retry: bool = True) -> None:
        # Dialogs and menus re-render while they open: retry a click that hit a replaced element
        # (not for a click that leaves the page: that one is done once).
        if retry:
            self.wait(lambda: self.find(css).click() or True, f"clicking {css}", timeout=5)
        else:
            self.wait(lambda: self.find(css).is_displayed(), f"{css} to show", timeout=5)
            self.find(css).click()

    def type_into(self, css: str, text: str, *, clear: bool = True, enter: bool = False) -> None:
        from selenium.webdriver.common.keys import Keys

        element = self.wait(lambda: self.find(css), f"the field {css}", timeout=5)
        if element.is_displayed():
            element.click()
        else:  # a drop-down with typing (pickers): click the field, then type where the focus went
            self.d.execute_script("arguments[0].closest('.q-field').click()", element)
            element = self.d.switch_to.active_element
        if clear:
            element.send_keys(Keys.CONTROL, "a")
            element.send_keys(Keys.DELETE)
        element.send_keys(text)
        if enter:
            element.send_keys(Keys.ENTER)

    def field(self, name: str) -> str:
        """The input of a form field by its config path, e.g. 'cron' or 'fields.name'."""
        return f'.fb-side input[data-field="{name}"], .fb-side textarea[data-field="{name}"]'

    def canvas_box(self) -> dict[str, float]:
        return self.find(".fb-canvas").rect

    def drag_node(self, type_name: str, x: float, y: float) -> None:
        """Drag a node type from the palette to (x, y) pixels from the canvas' top-left corner."""
        from selenium.webdriver.common.action_chains import ActionChains

        item = self.find(f'[data-fb-type="{type_name}"]')
        box = self.canvas_box()
        ActionChains(self.d).move_to_element(item).click_and_hold().move_by_offset(12, 6).move_to_element_with_offset(
            self.find(".fb-canvas"), x - box["width"] / 2, y - box["height"] / 2
        ).pause(0.05).release().perform()

    def connect(self, source: str, port: str, target: str) -> None:
        from selenium.webdriver.common.action_chains import ActionChains

        start = self.find(f'.vue-flow__node[data-id="{source}"] .vue-flow__handle.source[data-handleid="{port}"]')
        end = self.find(f'.vue-flow__node[data-id="{target}"] .vue-flow__handle.target')
        ActionChains(self.d).move_to_element(start).click_and_hold().move_by_offset(25, 10).move_to_element(end).pause(
            0.05
        ).release().perform()

    def clear_selection(self) -> None:
        """Click an empty corner of the canvas."""
        from selenium.webdriver.common.action_chains import ActionChains

        pane = self.find(".vue-flow__pane")
        ActionChains(self.d).move_to_element_with_offset(
            pane, -pane.rect["width"] / 2 + 30, -pane.rect["height"] / 2 + 30
        ).click().perform()

    def show_node(self, node_id: str) -> None:
        """Pan the canvas, as a person drags its empty pane, until the node is in view (a flow wider
        than the canvas at a readable zoom has some off to the side)."""
        from selenium.webdriver.common.action_chains import ActionChains

        box, node = self.canvas_box(), self.find(f'.vue-flow__node[data-id="{node_id}"]').rect
        dx = (box["x"] + box["width"] / 2) - (node["x"] + node["width"] / 2)
        dy = (box["y"] + box["height"] / 2) - (node["y"] + node["height"] / 2)
        inside = box["x"] <= node["x"] and node["x"] + node["width"] <= box["x"] + box["width"]
        if inside and box["y"] <= node["y"] and node["y"] + node["height"] <= box["y"] + box["height"]:
            return
        pane = self.find(".vue-flow__pane")
        corner = (-pane.rect["width"] / 2 + 30, -pane.rect["height"] / 2 + 30)
        if dx < 0:  # drag leftwards from the right-hand corner, so the drag stays on the pane
            corner = (pane.rect["width"] / 2 - 30, corner[1])
        ActionChains(self.d).move_to_element_with_offset(pane, *corner).click_and_hold().move_by_offset(
            dx / 2, dy / 2
        ).move_by_offset(dx / 2, dy / 2).release().perform()

    def select_node(self, node_id: str) -> None:
        if self.all(".vue-flow__nodesselection-rect"):  # a multi-selection covers its nodes
            self.clear_selection()
        self.show_node(node_id)
        self.find(f'.vue-flow__node[data-id="{node_id}"] .fb-node-name').click()
        self.wait(
            lambda: self.find(".fb-node-id-input input").get_attribute("value") == node_id,
            f"the side panel of '{node_id}'",
        )

    def node_count(self) -> int:
        return len(self.all(".vue-flow__node"))

    def edge_count(self) -> int:
        return len(self.all(".vue-flow__edge"))

    def node_problems(self, node_id: str) -> str:
        badges = self.all(f'.vue-flow__node[data-id="{node_id}"] .fb-node-badge')
        return badges[0].text if badges else ""
