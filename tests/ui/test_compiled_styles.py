"""Every class the pages name is styled: ours (fb-…) by theme.css, Quasar's by Quasar, and the
Tailwind utilities by app/ui/tailwind.css, which scripts/build_tailwind.sh compiles ahead of time.
A Tailwind class added to a page without re-running that script would silently do nothing."""

from __future__ import annotations

import re
from pathlib import Path

import nicegui

UI = Path(__file__).resolve().parents[2] / "app" / "ui"
STATIC = Path(nicegui.__file__).parent / "static"
CLASSES_CALL = re.compile(r"\.classes\(\s*f?\"([^\"]*)\"")
PLACEHOLDER = re.compile(r"\{[^}]*\}")  # an f-string's {part}: what it becomes is named elsewhere


def _selectors(css: str) -> set[str]:
    """Class names a stylesheet defines (CSS escapes undone: w-\\[30rem\\] -> w-[30rem])."""
    names = re.findall(r"\.((?:\\.|[A-Za-z0-9_-])+)", css)
    return {re.sub(r"\\(.)", r"\1", name) for name in names}


def test_every_class_named_in_a_page_is_defined_by_a_stylesheet() -> None:
    defined = _selectors((UI / "tailwind.css").read_text()) | _selectors((UI / "theme.css").read_text())
    for quasar in ("quasar.unimportant.prod.css", "quasar.important.prod.css", "nicegui.css"):
        defined |= _selectors((STATIC / quasar).read_text())
    used: dict[str, str] = {}
    for source in UI.rglob("*.py"):
        for match in CLASSES_CALL.finditer(source.read_text()):
            for name in PLACEHOLDER.sub("\0", match.group(1)).split():
                if "\0" not in name:  # a class made up around a {part} is checked where its parts are named
                    used.setdefault(name, source.name)
    assert len(used) > 100  # the pattern still finds the pages' classes
    # fb-… classes also mark elements for tests and JS without styling them
    missing = {name: where for name, where in used.items() if name not in defined and not name.startswith("fb-")}
    assert not missing, f"classes no stylesheet defines (run scripts/build_tailwind.sh?): {missing}"
