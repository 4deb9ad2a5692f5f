#!/usr/bin/env bash
# Re-vendors the node editor's JavaScript (Vue Flow and its add-ons, dagre for auto-layout) from npm into
# app/ui/canvas/vendor/, exactly at the versions pinned in package.json / package-lock.json.
# The app serves these files itself: no CDN at run time. Needs node and npm; run from anywhere.
# To update: change a version in package.json, run `npm install --package-lock-only --ignore-scripts`,
# then this script, then the browser tests (tests/browser).
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp package.json package-lock.json "$work/"
# --ignore-scripts: vue-demi's install script only prints a warning; nothing here needs it.
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --silent)

vendor=app/ui/canvas/vendor
rm -rf "$vendor"
mkdir -p "$vendor/css"
for package in core background controls minimap; do
    source="$work/node_modules/@vue-flow/$package"
    target="$vendor/vue-flow-$package"
    mkdir -p "$target"
    # NiceGUI's import map wants an index.js per ES module folder.
    cp "$source/dist/vue-flow-$package.mjs" "$target/index.js"
    cp "$source/LICENSE" "$target/LICENSE"
    version="$(node -p "require('$source/package.json').version")"
    echo "@vue-flow/$package $version (MIT), from npm; see scripts/vendor_js.sh" > "$target/VERSION"
    for css in "$source"/dist/*.css; do
        [ -e "$css" ] && cp "$css" "$vendor/css/$package-$(basename "$css")"
    done
done
# dagre lays a flow out (the editor's "Tidy up"); its ES build bundles graphlib, so one file.
source="$work/node_modules/@dagrejs/dagre"
mkdir -p "$vendor/dagre"
cp "$source/dist/dagre.esm.js" "$vendor/dagre/index.js"
cp "$source/LICENSE" "$vendor/dagre/LICENSE"
version="$(node -p "require('$source/package.json').version")"
echo "@dagrejs/dagre $version (MIT), from npm; see scripts/vendor_js.sh" > "$vendor/dagre/VERSION"
# The unbundled core reads process.env.NODE_ENV, which does not exist in a browser.
sed -i 's/process\.env\.NODE_ENV/"production"/g' "$vendor/vue-flow-core/index.js"
if grep -rq 'process\.env' "$vendor"; then
    echo "vendor_js.sh: a vendored file still reads process.env; patch it here" >&2
    exit 1
fi
echo "vendored into $vendor:"
ls -R "$vendor"
