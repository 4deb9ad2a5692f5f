"""An analyst connects a node back to one on its left (a loop, which the checks then name): the
edge goes round under the cards between its ends, dashed, drawn over everything else, so it can be
seen and picked; it neither hides behind the cards nor runs through them."""

from __future__ import annotations

from typing import Any

from tests.browser.support import Page

SHOTS = "back-edge"
FLOW = "erp_invoices_to_crm"

# Points along the back edge's path (its ends left out): which lie on a card, and whether the edge
# is the topmost thing there.
_ALONG = """
const edge = document.querySelector('.vue-flow__edge.fb-edge-back');
if (!edge) return null;
const path = edge.querySelector('.vue-flow__edge-path');
const total = path.getTotalLength();
const cards = [...document.querySelectorAll('.vue-flow__node-flowbridge')].map(n => n.getBoundingClientRect());
let onCards = 0, onTop = 0, points = 0;
for (let share = 0.08; share <= 0.92; share += 0.02) {
  const point = path.getPointAtLength(total * share);
  const screen = new DOMPoint(point.x, point.y).matrixTransform(path.getScreenCTM());
  points++;
  if (cards.some(r => screen.x > r.left && screen.x < r.right && screen.y > r.top && screen.y < r.bottom)) onCards++;
  const top = document.elementFromPoint(screen.x, screen.y);
  if (top && top.closest('.vue-flow__edge') === edge) onTop++;
}
return {points, onCards, onTop, dashed: getComputedStyle(path).strokeDasharray};
"""


def test_a_back_edge_is_drawn_over_the_cards_and_dashed(page: Page, served: dict[str, Any]) -> None:
    page.open(f"/flows/{FLOW}")
    page.wait(lambda: page.node_count() == 5, "the flow drawn")
    page.show_node("to_crm_invoice")
    page.connect("to_crm_invoice", "out", "invoices")
    seen = page.wait(lambda: page.d.execute_script(_ALONG), "the back edge")
    page.shot("drawn")
    assert seen["dashed"] not in ("", "none")
    assert seen["onCards"] == 0, f"the back edge runs through the cards between its ends: {seen}"
    assert seen["onTop"] >= seen["points"] * 0.8, f"the back edge is hidden along its way: {seen}"
