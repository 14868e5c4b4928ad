#!/usr/bin/env bash
# Install the Debian packages Moira needs (zbar, Tesseract with Japanese and English, Chromium for the browser
# tests, the PostgreSQL client tools for backups, a Japanese font), only if missing.
set -euo pipefail

packages=()
command -v tesseract >/dev/null 2>&1 || packages+=(tesseract-ocr)
for lang in jpn eng; do
  if ! { command -v tesseract >/dev/null 2>&1 && tesseract --list-langs 2>/dev/null | grep -qx "$lang"; }; then
    packages+=("tesseract-ocr-$lang")
  fi
done
ldconfig -p 2>/dev/null | grep -q 'libzbar\.so\.0' || packages+=(libzbar0)
# Debian's Chromium drives the browser tests of the workers' app (Playwright never downloads a browser here).
[ -x /usr/bin/chromium ] || packages+=(chromium)
# pg_dump, pg_restore and psql for scripts/backup.sh, scripts/restore.sh and their drill; they must be at least
# the server's major version (Debian 12's postgresql-client is 15, like the server Moira is tested on).
command -v pg_dump >/dev/null 2>&1 && command -v pg_restore >/dev/null 2>&1 && command -v psql >/dev/null 2>&1 \
  || packages+=(postgresql-client)
# The Celery fault tests start and stop a redis-server of their own (never the shared one).
[ -x /usr/bin/redis-server ] || packages+=(redis-server)
# A Japanese font, so that screenshots and PDFs in Japanese render real glyphs.
dpkg -s fonts-ipafont-gothic >/dev/null 2>&1 || packages+=(fonts-ipafont-gothic)
for extra in "$@"; do
  dpkg -s "$extra" >/dev/null 2>&1 || packages+=("$extra")
done

if [ ${#packages[@]} -eq 0 ]; then
  exit 0
fi
echo "Installing system packages: ${packages[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "Need root or sudo to install: ${packages[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
