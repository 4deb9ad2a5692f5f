"""Align and distribute: the selected cards lined up on one edge, or spread evenly (pure, no NiceGUI).

Every node card is the same width (theme.css), so lining up left edges lines up centres too; cards
spread by their top-left corners, never closer than a card and a gap, so spreading also un-stacks
cards dropped on top of each other. The whole flow's layout (dagre) is the canvas's job: it knows
each card's measured height.
"""

from __future__ import annotations

from typing import Any

CARD_WIDTH, CARD_HEIGHT = 180, 60  # .fb-node's width; a node card's usual height
MIN_GAP_X, MIN_GAP_Y = 80, 30

ARRANGEMENTS = {
    "left": "Align left edges",
    "top": "Align top edges",
    "horizontal": "Distribute horizontally",
    "vertical": "Distribute vertically",
}
FEWEST = {"left": 2, "top": 2, "horizontal": 3, "vertical": 3}


def arranged(positions: dict[str, dict[str, Any]], how: str) -> list[dict[str, Any]]:
    """New positions ({id, x, y}) for the cards `positions` names (id -> {x, y}), arranged `how`."""
    if how not in ARRANGEMENTS:
        raise ValueError(f"unknown arrangement {how!r}; one of {', '.join(ARRANGEMENTS)}")
    cards = [(card_id, float(p["x"]), float(p["y"])) for card_id, p in positions.items()]
    if how == "left":
        left = min(x for _, x, _ in cards)
        return [{"id": i, "x": round(left), "y": round(y)} for i, _, y in cards]
    if how == "top":
        top = min(y for _, _, y in cards)
        return [{"id": i, "x": round(x), "y": round(top)} for i, x, _ in cards]
    horizontal = how == "horizontal"
    least = CARD_WIDTH + MIN_GAP_X if horizontal else CARD_HEIGHT + MIN_GAP_Y
    ordered = sorted(cards, key=lambda c: (c[1] if horizontal else c[2], c[0]))
    first = ordered[0][1] if horizontal else ordered[0][2]
    last = ordered[-1][1] if horizontal else ordered[-1][2]
    step = max((last - first) / (len(ordered) - 1), least)
    spread = []
    for index, (card_id, x, y) in enumerate(ordered):
        along = round(first + index * step)
        spread.append(
            {"id": card_id, "x": along, "y": round(y)} if horizontal else {"id": card_id, "x": round(x), "y": along}
        )
    return spread


def why_not(how: str, count: int) -> str | None:
    """Why `how` cannot arrange `count` selected cards, in a sentence; None when it can."""
    fewest = FEWEST[how]
    if count >= fewest:
        return None
    return (
        f"Select at least {fewest} nodes or notes to {ARRANGEMENTS[how].lower()} (Ctrl+click them, or Shift+drag a box)"
    )
