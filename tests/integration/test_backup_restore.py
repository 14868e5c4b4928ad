"""The restore drill: back up a realistic PostgreSQL database and media folder with scripts/backup.sh, restore
them into a new database and folder with scripts/restore.sh, and check that nothing a buyer or an auditor
relies on changed: the event chain, every certificate digest, every raw file and photo, every row.

It works in scratch databases beside the test database (named after it, ending in _drill_…) through the real
scripts and `manage.py` in subprocesses; tasks run in-process there, so neither Redis nor a worker is needed.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings

from moira.units import canonical_json, sha256_hex

ROOT = Path(__file__).resolve().parents[2]
BACKUP = ROOT / "scripts" / "backup.sh"
RESTORE = ROOT / "scripts" / "restore.sh"
# Tables a realistic plant always fills; each must be non-empty in the drill's data set, or the drill proves little.
MAIN_TABLES = ["audit_event", "lots_product", "lots_lot", "lots_run", "lots_shipment", "lots_certificate", "lots_photo",
               "power_upload", "power_reading"]


def drill_skip_reason() -> str | None:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        return "the restore drill needs PostgreSQL: set DATABASE_URL=postgres://... (make test does when it is up)"
    missing = [tool for tool in ("pg_dump", "pg_restore", "psql") if shutil.which(tool) is None]
    if missing:
        return f"the restore drill needs {', '.join(missing)} (apt-get install postgresql-client)"
    return None


def server_url(database: str) -> str:
    db = settings.DATABASES["default"]
    credentials = quote(db["USER"] or "postgres") + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{database}"


def scratch_name(role: str) -> str:
    # Named after the configured database, so that two checkouts testing on one server do not meet.
    return f"{settings.DATABASES['default']['NAME'].removeprefix('test_')}_drill_{role}"


def rows(database: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(server_url(database), autocommit=True) as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def drop_database(name: str) -> None:
    with psycopg.connect(server_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def create_database(name: str, template: str | None = None) -> None:
    drop_database(name)
    with psycopg.connect(server_url("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))


def run(args: list, *, database: str, media_root: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(DATABASE_URL=server_url(database), MOIRA_MEDIA_ROOT=str(media_root), MOIRA_PYTHON=sys.executable)
    return subprocess.run([str(a) for a in args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def manage(*args, database: str, media_root: Path) -> subprocess.CompletedProcess:
    result = run([sys.executable, "manage.py", *args], database=database, media_root=media_root)
    assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def public_tables(database: str) -> list[str]:
    return [name for (name,) in rows(database, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")]


def row_counts(database: str) -> dict[str, int]:
    return {table: rows(database, f'SELECT count(*) FROM "{table}"')[0][0] for table in public_tables(database)}


def certificates(database: str) -> list[tuple]:
    return rows(database, "SELECT id, lot_id, shipment_id, revision, digest, superseded_by_id, payload FROM lots_certificate ORDER BY id")


def stored_files(database: str) -> list[tuple[str, str]]:
    """(path under the media root, SHA-256 the database recorded) of every raw upload and photo."""
    return rows(database, "SELECT raw_file, sha256 FROM power_upload UNION ALL SELECT image, sha256 FROM lots_photo")


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Drill:
    source: str
    source_media: Path
    backups: Path
    backup: Path
    backup_result: subprocess.CompletedProcess
    target: str
    target_media: Path
    restore_result: subprocess.CompletedProcess


@pytest.fixture(scope="module")
def drill(tmp_path_factory):
    reason = drill_skip_reason()
    if reason:
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("drill")
    source, target = scratch_name("src"), scratch_name("dst")
    source_media, target_media, backups = base / "source-media", base / "restored-media", base / "backups"
    backups.mkdir()
    try:
        create_database(source)
        create_database(target)
        manage("migrate", "--no-input", "-v0", database=source, media_root=source_media)
        manage("load_demo", database=source, media_root=source_media)
        manage("shell", "-c", "from tests.integration.backup_drill_data import enrich; enrich()", database=source, media_root=source_media)
        backup_result = run([BACKUP, backups], database=source, media_root=source_media)
        assert backup_result.returncode == 0, backup_result.stderr
        backup = Path(backup_result.stdout.strip().splitlines()[-1])
        restore_result = run([RESTORE, backup], database=target, media_root=target_media)
        yield Drill(source, source_media, backups, backup, backup_result, target, target_media, restore_result)
    finally:
        drop_database(source)
        drop_database(target)


@pytest.fixture
def scratch_target(request):
    """A database holding one unrelated table with one row, so that any change to it shows."""
    name = scratch_name("t" + hashlib.sha256(request.node.name.encode()).hexdigest()[:10])
    create_database(name)
    rows(name, "CREATE TABLE sentinel (note text); INSERT INTO sentinel VALUES ('kept')")
    yield name
    drop_database(name)


def test_backup_is_one_dated_folder_whose_manifest_matches_its_parts(drill):
    assert [p.name for p in drill.backups.iterdir()] == [drill.backup.name]  # no partial folder left beside it
    assert re.fullmatch(r"moira-\d{8}T\d{6}Z", drill.backup.name)
    manifest = dict(reversed(line.split("  ", 1)) for line in (drill.backup / "SHA256SUMS").read_text().splitlines())
    assert set(manifest) == {"database.dump", "media.tar.gz", "migrations.txt", "info.txt"}
    for part, digest in manifest.items():
        assert file_sha256(drill.backup / part) == digest, part
    assert (drill.backup / "database.dump").read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    applied = rows(drill.source, "SELECT app || '.' || name FROM django_migrations ORDER BY app, name")
    assert (drill.backup / "migrations.txt").read_text().splitlines() == [name for (name,) in applied]
    info = (drill.backup / "info.txt").read_text()
    assert re.search(r"^moira_commit: ([0-9a-f]{40}|unknown)", info, re.M)
    assert "password" not in info.lower() and drill.source in info


def test_restore_succeeds_and_verify_log_reads_the_whole_chain(drill):
    assert drill.restore_result.returncode == 0, drill.restore_result.stderr
    events = rows(drill.source, "SELECT count(*) FROM audit_event")[0][0]
    assert f"event log intact: {events} entries" in drill.restore_result.stdout
    # Checked again on its own, against the restored database only.
    result = manage("verify_log", database=drill.target, media_root=drill.target_media)
    assert f"event log intact: {events} entries" in result.stdout


def test_every_certificate_revision_keeps_its_digest_and_still_hashes_to_it(drill):
    source, restored = certificates(drill.source), certificates(drill.target)
    assert [c[:6] for c in restored] == [c[:6] for c in source]
    assert {c[3] for c in source if c[1]} >= {1, 2} and {c[3] for c in source if c[2]} >= {1, 2}, "lots and shipments with two revisions"
    for _id, _lot, _shipment, _revision, digest, _superseded_by, payload in restored:
        assert sha256_hex(canonical_json(payload)) == digest


def test_every_raw_file_and_photo_is_restored_byte_for_byte(drill):
    files = stored_files(drill.target)
    assert sorted(files) == sorted(stored_files(drill.source))
    assert sum(1 for name, _ in files if name.startswith("photos/")) == 4
    assert sum(1 for name, _ in files if name.startswith("pw3360/")) > 10
    for name, recorded_sha256 in files:
        assert file_sha256(drill.target_media / name) == recorded_sha256, name


def test_every_table_has_as_many_rows_as_the_source(drill):
    source = row_counts(drill.source)
    assert row_counts(drill.target) == source
    assert all(source[table] > 0 for table in MAIN_TABLES), {table: source[table] for table in MAIN_TABLES}


@pytest.mark.parametrize("damage", ["flip a byte of the dump", "truncate the media archive"])
def test_a_damaged_backup_is_refused_and_the_target_is_untouched(drill, scratch_target, tmp_path, damage):
    backup = tmp_path / drill.backup.name
    shutil.copytree(drill.backup, backup)
    if damage == "flip a byte of the dump":
        data = bytearray((backup / "database.dump").read_bytes())
        data[len(data) // 2] ^= 0x01
        (backup / "database.dump").write_bytes(bytes(data))
    else:
        data = (backup / "media.tar.gz").read_bytes()
        (backup / "media.tar.gz").write_bytes(data[: len(data) // 2])
    media = tmp_path / "media"
    media.mkdir()
    (media / "sentinel.txt").write_text("kept")

    result = run([RESTORE, "--force", backup], database=scratch_target, media_root=media)

    assert result.returncode != 0
    assert "does not match its SHA256SUMS manifest" in result.stderr
    assert public_tables(scratch_target) == ["sentinel"]
    assert rows(scratch_target, "SELECT note FROM sentinel") == [("kept",)]
    assert sorted(p.name for p in media.iterdir()) == ["sentinel.txt"]


def test_a_non_empty_database_is_refused_without_force_and_replaced_with_it(drill, scratch_target, tmp_path):
    media = tmp_path / "media"
    refused = run([RESTORE, drill.backup], database=scratch_target, media_root=media)
    assert refused.returncode != 0
    assert "the target database is not empty" in refused.stderr and "--force" in refused.stderr
    assert public_tables(scratch_target) == ["sentinel"]
    assert not media.exists()

    forced = run([RESTORE, "--force", drill.backup], database=scratch_target, media_root=media)
    assert forced.returncode == 0, forced.stderr
    assert "event log intact" in forced.stdout
    assert [c[:6] for c in certificates(scratch_target)] == [c[:6] for c in certificates(drill.source)]
    assert rows(scratch_target, "SELECT note FROM sentinel") == [("kept",)]  # --force replaces what the backup holds, no more


def test_a_non_empty_media_folder_is_refused_without_force(drill, tmp_path):
    target = scratch_name("media_refused")
    media = tmp_path / "media"
    media.mkdir()
    (media / "sentinel.txt").write_text("kept")
    try:
        create_database(target)
        result = run([RESTORE, drill.backup], database=target, media_root=media)
        assert result.returncode != 0
        assert f"the media folder {media} is not empty" in result.stderr and "--force" in result.stderr
        assert public_tables(target) == []
        assert sorted(p.name for p in media.iterdir()) == ["sentinel.txt"]
    finally:
        drop_database(target)


def test_restore_fails_when_the_restored_event_chain_is_broken(drill, tmp_path):
    tampered, target = scratch_name("tampered"), scratch_name("tampered_dst")
    try:
        create_database(tampered, template=drill.source)
        rewritten = rows(tampered, "UPDATE audit_event SET payload = '{\"rewritten\": true}' WHERE id = (SELECT min(id) + 3 FROM audit_event) RETURNING id")
        assert len(rewritten) == 1
        create_database(target)
        backups = tmp_path / "backups"
        backups.mkdir()
        backed_up = run([BACKUP, backups], database=tampered, media_root=drill.source_media)
        assert backed_up.returncode == 0, backed_up.stderr

        result = run([RESTORE, backed_up.stdout.strip()], database=target, media_root=tmp_path / "media")

        assert result.returncode != 0
        assert "verify_log failed on the restored database" in result.stderr
        assert "event log broken at entry" in result.stderr
    finally:
        drop_database(tampered)
        drop_database(target)


def test_a_failed_backup_leaves_nothing_that_looks_whole(drill, scratch_target, tmp_path):
    backups = tmp_path / "backups"
    backups.mkdir()
    # pg_dump succeeds here; the next step (the migration state) fails, after parts were written.
    not_moira = run([BACKUP, backups], database=scratch_target, media_root=drill.source_media)
    assert not_moira.returncode != 0
    assert "is DATABASE_URL a Moira database?" in not_moira.stderr
    no_database = run([BACKUP, backups], database=scratch_name("missing"), media_root=drill.source_media)
    assert no_database.returncode != 0
    assert "pg_dump failed" in no_database.stderr
    no_media = run([BACKUP, backups], database=drill.source, media_root=tmp_path / "no-such-media")
    assert no_media.returncode != 0
    assert "media folder" in no_media.stderr and "does not exist" in no_media.stderr
    assert list(backups.iterdir()) == []
