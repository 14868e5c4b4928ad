#!/usr/bin/env bash
# Restore a backup written by scripts/backup.sh into the database named by DATABASE_URL (which must exist) and
# the media folder MOIRA_MEDIA_ROOT, then check it: `manage.py migrate --check` and `manage.py verify_log`.
#
#   DATABASE_URL=postgres://user@host:5432/moira MOIRA_MEDIA_ROOT=/srv/moira/media scripts/restore.sh [--force] BACKUP_DIR
#
# Nothing is touched unless every part matches the manifest's SHA-256. A database with tables or a media folder
# with files is refused unless --force is given; with --force, pg_restore --clean replaces every object the
# backup holds and the media files are written over the folder's. The database is restored in one transaction:
# a failure leaves it as it was. MOIRA_PYTHON names the Python that runs manage.py (default: .venv/bin/python).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

fail() {
  echo "restore: $*" >&2
  exit 1
}

usage() {
  echo "usage: DATABASE_URL=postgres://… [MOIRA_MEDIA_ROOT=…] $0 [--force] BACKUP_DIR" >&2
  exit 2
}

force=""
backup=""
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h | --help) usage ;;
    -*) echo "restore: unknown option $arg" >&2; usage ;;
    *) [ -z "$backup" ] || usage; backup="$arg" ;;
  esac
done
[ -n "$backup" ] || usage

database_url="${DATABASE_URL:-}"
case "$database_url" in
  postgres://* | postgresql://*) ;;
  "") fail "DATABASE_URL is not set: it must name the PostgreSQL database to restore into (postgres://…)" ;;
  *) fail "DATABASE_URL must be a postgres:// URL; backups restore into PostgreSQL only" ;;
esac
media_root="${MOIRA_MEDIA_ROOT:-$ROOT/media}"
python="${MOIRA_PYTHON:-}"
if [ -z "$python" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then python="$ROOT/.venv/bin/python"; else python="python3"; fi
fi
for tool in pg_restore psql tar sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed (apt-get install postgresql-client coreutils tar)"
done

# 1. The backup must be whole and unchanged.
[ -d "$backup" ] || fail "backup folder $backup does not exist"
[ -f "$backup/SHA256SUMS" ] || fail "$backup has no SHA256SUMS manifest: not a complete backup"
for part in database.dump media.tar.gz; do
  grep -Eq "^[0-9a-f]{64}  $part\$" "$backup/SHA256SUMS" || fail "the manifest of $backup does not list $part"
done
(cd "$backup" && sha256sum --check --strict --quiet SHA256SUMS) \
  || fail "$backup does not match its SHA256SUMS manifest (damaged or altered part above); nothing was restored"
echo "restore: $backup matches its manifest"
sed 's/^/  /' "$backup/info.txt" 2>/dev/null || true

# 2. The target must be empty, or the operator must say it may be replaced.
psql_target() {
  psql --no-psqlrc --quiet --tuples-only --no-align --set=ON_ERROR_STOP=1 --dbname="$database_url" "$@"
}
relations="$(psql_target --command="SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'")" \
  || fail "cannot connect to the target database in DATABASE_URL (create it first with createdb)"
if [ "$relations" -ne 0 ] && [ -z "$force" ]; then
  fail "the target database is not empty ($relations tables, views or sequences); restore into a new database, or pass --force to replace the objects the backup holds"
fi
if [ -d "$media_root" ] && [ -n "$(ls -A "$media_root")" ] && [ -z "$force" ]; then
  fail "the media folder $media_root is not empty; restore into a new folder, or pass --force to write the backup's files over it"
fi

# 3. Unpack the media inside its destination (the one folder the app's user surely may write), hidden, so that a
# damaged archive stops the restore before the database is touched.
created_media_root=""
if [ ! -d "$media_root" ]; then
  mkdir -p "$media_root" || fail "cannot create the media folder $media_root"
  created_media_root=1
fi
staging="$(mktemp -d "$media_root/.moira-restore.XXXXXX")" || fail "cannot create a folder in $media_root"
undo_media() {
  rm -rf "$staging"
  if [ -n "$created_media_root" ]; then rmdir "$media_root" 2>/dev/null || true; fi
}
trap undo_media EXIT
# An interrupted run removes its unpacked media too (an unfinished pg_restore transaction rolls back by itself).
trap 'exit 130' INT TERM HUP
tar --extract --gzip --file="$backup/media.tar.gz" --directory="$staging" --no-same-owner \
  || fail "unpacking media.tar.gz failed; nothing was restored"

# 4. The database, in one transaction.
clean=()
[ -z "$force" ] || clean=(--clean --if-exists)
pg_restore --exit-on-error --single-transaction --no-owner --no-acl "${clean[@]}" --dbname="$database_url" "$backup/database.dump" \
  || fail "pg_restore failed (message above); the database was left as it was and no media was written"
echo "restore: database restored"

# 5. The media.
if [ -z "$force" ]; then
  # The folder held nothing else: renaming the top entries moves every file at once, without copying.
  find "$staging" -mindepth 1 -maxdepth 1 -exec mv -t "$media_root" {} + \
    || fail "the database is restored but moving the media into $media_root failed"
else
  cp -a "$staging/." "$media_root/" || fail "the database is restored but copying the media into $media_root failed"
fi
rm -rf "$staging"
created_media_root=""
echo "restore: media restored into $media_root"

# 6. The restored system must match this code and its event chain must hold.
export DATABASE_URL MOIRA_MEDIA_ROOT="$media_root"
"$python" "$ROOT/manage.py" migrate --check --no-input \
  || fail "the restored database lacks migrations of this code: run 'python manage.py migrate', then 'python manage.py verify_log'"
"$python" "$ROOT/manage.py" verify_log || fail "verify_log failed on the restored database: the event chain is broken"
echo "restore: done"
