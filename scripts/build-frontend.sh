#!/usr/bin/env bash
# Build the worker app's committed artefacts: the pinned QR decoder from the npm registry, the icons and the
# compiled translations. The results are committed, so the server runs without Node, npm or gettext.
#   bash scripts/build-frontend.sh           # everything
#   bash scripts/build-frontend.sh --check   # fail if a committed artefact differs from a fresh build
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
VENDOR=frontend/static/frontend/vendor
check=false
[ "${1:-}" = "--check" ] && check=true

# 1. The JavaScript QR decoder, exactly the version pinned in frontend/package-lock.json.
command -v npm >/dev/null 2>&1 || { echo "npm is needed (Node 18+): apt-get install nodejs npm" >&2; exit 1; }
(cd frontend && npm ci --no-audit --no-fund --silent)
mkdir -p "$VENDOR"
version=$(node -p 'require("./frontend/node_modules/jsqr/package.json").version')
{
  echo "/*! jsQR ${version} (Apache-2.0, https://github.com/cozmo/jsQR), copied by scripts/build-frontend.sh */"
  cat frontend/node_modules/jsqr/dist/jsQR.js
} > "$VENDOR/jsQR.js.new"
cp frontend/node_modules/jsqr/LICENSE "$VENDOR/jsQR.LICENSE.txt.new"

# 2. Icons, drawn with Pillow.
icons_before=$(cat frontend/static/frontend/icons/*.png 2>/dev/null | sha256sum)
"$PY" frontend/tools/make_icons.py

# 3. Translations: .po -> .mo with GNU msgfmt (Debian package gettext); the server only reads the .mo files.
command -v msgfmt >/dev/null 2>&1 || { echo "msgfmt is needed: apt-get install gettext" >&2; exit 1; }
for po in frontend/locale/*/LC_MESSAGES/*.po; do
  msgfmt --check-format -o "${po%.po}.mo.new" "$po"
done

changed=0
for new in "$VENDOR"/*.new frontend/locale/*/LC_MESSAGES/*.mo.new; do
  old="${new%.new}"
  if ! cmp -s "$new" "$old"; then
    changed=1
    echo "changed: $old"
  fi
  if $check; then rm -f "$new"; else mv "$new" "$old"; fi
done
[ "$icons_before" = "$(cat frontend/static/frontend/icons/*.png | sha256sum)" ] || { changed=1; echo "changed: icons"; }
if $check && [ $changed -ne 0 ]; then
  echo "The committed frontend artefacts are stale: run bash scripts/build-frontend.sh and commit." >&2
  exit 1
fi
echo "frontend built (jsQR ${version})"
