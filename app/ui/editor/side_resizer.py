"""The handle between the canvas and the side panel: drag it to give the panel more room (templates,
field lists) or the canvas more; double-click puts the default back. The width is kept in the
browser (localStorage), so it is the same on the next page."""

from __future__ import annotations

from nicegui import ui

DEFAULT_WIDTH, NARROWEST = 440, 320  # px; the widest is 60% of the window

# Pointer events on the handle; the panel's width is a style on .fb-side.
SCRIPT = f"""
<script>
(() => {{
  const KEY = "fb-side-width", DEFAULT = {DEFAULT_WIDTH}, NARROWEST = {NARROWEST};
  const clamp = (w) => Math.round(Math.max(NARROWEST, Math.min(w, window.innerWidth * 0.6)));
  const apply = (side, width) => {{ side.style.width = `${{width}}px`; side.style.flexBasis = `${{width}}px`; }};
  const panel = () => document.querySelector(".fb-side");
  const restore = () => {{
    const side = panel(), kept = Number(localStorage.getItem(KEY));
    if (side && kept) apply(side, clamp(kept));
  }};
  new MutationObserver(() => {{ if (panel() && !panel().dataset.sized) {{ panel().dataset.sized = "1"; restore(); }} }})
    .observe(document.documentElement, {{ childList: true, subtree: true }});
  document.addEventListener("pointerdown", (down) => {{
    const handle = down.target.closest && down.target.closest(".fb-side-resizer");
    const side = panel();
    if (!handle || !side || down.button !== 0) return;
    down.preventDefault();
    const start = down.clientX, from = side.getBoundingClientRect().width;
    document.body.classList.add("fb-resizing");
    const move = (e) => apply(side, clamp(from + start - e.clientX));
    const up = () => {{
      document.removeEventListener("pointermove", move);
      document.removeEventListener("pointerup", up);
      document.body.classList.remove("fb-resizing");
      localStorage.setItem(KEY, String(Math.round(side.getBoundingClientRect().width)));
    }};
    document.addEventListener("pointermove", move);
    document.addEventListener("pointerup", up);
  }});
  document.addEventListener("dblclick", (e) => {{
    const side = panel();
    if (side && e.target.closest && e.target.closest(".fb-side-resizer")) {{ apply(side, DEFAULT); localStorage.removeItem(KEY); }}
  }});
}})();
</script>"""


def side_resizer() -> None:
    """The handle itself, placed between the canvas and the panel."""
    ui.element("div").classes("fb-side-resizer").props(
        'title="Drag to resize the panel; double-click for its default width" role="separator" aria-orientation="vertical"'
    )
