#!/usr/bin/env bash
# Builds app/ui/tailwind.css: the Tailwind utilities the pages use, compiled ahead of time, so the
# browser does not run Tailwind's in-page compiler (NiceGUI's default) on every page load — on a
# 200-node flow that compiler cost about half a second. Run it after adding a Tailwind class that no
# page used before (the browser tests' screenshots show a class that is missing), and commit the
# result. Needs node and npm; the Tailwind version is pinned in package.json / package-lock.json
# (the same 4.1 line as NiceGUI's in-page compiler). Classes are found in the app's Python and JS
# files and in NiceGUI's own.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
nicegui="$(.venv/bin/python -c 'import nicegui, os; print(os.path.dirname(nicegui.__file__))')"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp package.json package-lock.json "$work/"
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --silent)
cat > "$work/input.css" <<CSS
@import "tailwindcss" source(none);
@source "$root/app/**/*.py";
@source "$root/app/ui/canvas/flow_canvas.js";
@source "$nicegui/**/*.py";
@source "$nicegui/elements/*.js";
@source "$nicegui/static/nicegui.js";
@custom-variant dark (&:where(body.body--dark, body.body--dark *));
CSS
"$work/node_modules/.bin/tailwindcss" -i "$work/input.css" -o app/ui/tailwind.css --minify
echo "app/ui/tailwind.css: $(wc -c < app/ui/tailwind.css) bytes"
