#!/usr/bin/env bash
# Write one dated backup of Moira: the PostgreSQL database (pg_dump custom format), the media folder (raw logger
# files, photos) and a manifest of SHA-256 sums, into TARGET_DIR/moira-YYYYMMDDTHHMMSSZ/.
#
#   DATABASE_URL=postgres://user@host:5432/moira MOIRA_MEDIA_ROOT=/srv/moira/media scripts/backup.sh /backups
#
# The backup is assembled under a hidden ".partial" name and renamed only once complete, so a folder named
# moira-… is always whole; a failure removes the partial folder and exits non-zero with the reason.
# Restore with scripts/restore.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

fail() {
  echo "backup: $*" >&2
  exit 1
}

usage() {
  echo "usage: DATABASE_URL=postgres://… [MOIRA_MEDIA_ROOT=…] $0 TARGET_DIR" >&2
  exit 2
}

[ $# -eq 1 ] || usage
case "$1" in -h | --help) usage ;; esac
target="$1"

database_url="${DATABASE_URL:-}"
case "$database_url" in
  postgres://* | postgresql://*) ;;
  "") fail "DATABASE_URL is not set: it must name the PostgreSQL database to back up (postgres://…)" ;;
  *) fail "DATABASE_URL must be a postgres:// URL; only PostgreSQL databases are backed up (the SQLite default is for the demo)" ;;
esac
media_root="${MOIRA_MEDIA_ROOT:-$ROOT/media}"
# A missing media folder more often means a wrong MOIRA_MEDIA_ROOT than an empty one; a backup without the
# raw files and photos would look whole and be useless as evidence.
[ -d "$media_root" ] || fail "media folder $media_root does not exist (set MOIRA_MEDIA_ROOT; create it empty if nothing was uploaded yet)"
for tool in pg_dump psql tar sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed (apt-get install postgresql-client coreutils tar)"
done
[ -d "$target" ] || fail "target folder $target does not exist"

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
name="moira-$stamp"
final="$target/$name"
[ ! -e "$final" ] || fail "$final exists already; refusing to overwrite a backup"

work="$(mktemp -d "$target/.$name.partial.XXXXXX")" || fail "cannot create a folder in $target"
finished=""
cleanup() {
  if [ -z "$finished" ]; then
    rm -rf "$work"
  fi
}
trap cleanup EXIT
# An interrupted run exits through the EXIT trap too, and so leaves nothing half-written behind.
trap 'exit 130' INT TERM HUP

# The database first, then the media: a file is written before the row that names it commits and files are
# never deleted, so every file the dump refers to is already on disk when the archive is made.
pg_dump --format=custom --compress=6 --file="$work/database.dump" --dbname="$database_url" \
  || fail "pg_dump failed for the database in DATABASE_URL (see the message above)"
psql --no-psqlrc --quiet --tuples-only --no-align --set=ON_ERROR_STOP=1 --dbname="$database_url" \
  --command="SELECT app || '.' || name FROM django_migrations ORDER BY app, name" >"$work/migrations.txt" \
  || fail "cannot read django_migrations: is DATABASE_URL a Moira database?"
# tar exits 1 when a file changed while it was read: an upload arriving now, which the dump cannot name yet.
tar_status=0
tar --create --gzip --file="$work/media.tar.gz" --directory="$media_root" . || tar_status=$?
case "$tar_status" in
  0) ;;
  1) echo "backup: note: files were being written to $media_root meanwhile; those the dump names were complete" >&2 ;;
  *) fail "archiving the media folder $media_root failed" ;;
esac

{
  echo "created_at: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  # The URL without its password: this file is read by people.
  echo "database: $(psql --no-psqlrc --tuples-only --no-align --dbname="$database_url" \
    --command="SELECT current_database() || ' on ' || coalesce(host(inet_server_addr()), 'local socket') || ':' || current_setting('port') || ', ' || version()")"
  echo "pg_dump: $(pg_dump --version)"
  echo "media_root: $media_root"
  if commit="$(git -C "$ROOT" rev-parse HEAD 2>/dev/null)"; then
    echo "moira_commit: $commit$([ -z "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ] || echo ' (with local changes)')"
  else
    echo "moira_commit: unknown (no git checkout)"
  fi
  echo "migrations: $(wc -l <"$work/migrations.txt") applied, listed in migrations.txt"
} >"$work/info.txt" || fail "cannot write info.txt"

(cd "$work" && sha256sum database.dump media.tar.gz migrations.txt info.txt >SHA256SUMS) || fail "cannot write SHA256SUMS"
sync "$work"/* "$work" 2>/dev/null || sync
mv -T "$work" "$final" || fail "cannot rename $work to $final"
finished=1
sync "$target" 2>/dev/null || true
echo "$final"
