"""The crawler against a real SFTP server (paramiko, password auth, RSA host key) and host-key checking."""

from __future__ import annotations

import hashlib

import paramiko
import pytest

from tests.crawler.support import SFTPServer, crawl, logger_toml, spool_dir, write_config


def sftp_config(tmp_path, port, url, extra=""):
    return write_config(tmp_path / "crawler.toml", url, logger_toml("S-01", port, protocol="sftp", extra=extra))


@pytest.mark.parametrize("pin", ["fingerprint", "known_hosts line"])
def test_sftp_fetches_and_posts_every_split_part_and_nothing_else(tmp_path, tree, sftp_server, upload_server, host_key, pin):
    value = host_key.fingerprint if pin == "fingerprint" else f"{host_key.get_name()} {host_key.get_base64()}"
    config = sftp_config(tmp_path, sftp_server.port, upload_server.url, f'host_key = "{value}"')
    assert crawl(config) == 0
    assert upload_server.paths() == tree.old_day_files + tree.day_files
    for record in upload_server.accepted:
        raw = tree.path(record.remote_path).read_bytes()
        assert record.data == raw and record.sha256 == hashlib.sha256(raw).hexdigest() and record.logger == "S-01"
    assert crawl(config) == 0  # idempotent over SFTP too
    assert len(upload_server.accepted) == 4


def test_sftp_refuses_an_unknown_host_key_by_default(tmp_path, sftp_server, upload_server, host_key, capsys, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ssh/known_hosts to fall back on
    config = sftp_config(tmp_path, sftp_server.port, upload_server.url)
    assert crawl(config) == 2
    assert upload_server.accepted == []
    err = capsys.readouterr().err
    assert f"unknown host key {host_key.fingerprint}" in err and f'set host_key = "{host_key.fingerprint}"' in err


def test_sftp_refuses_a_host_key_that_does_not_match_the_pin(tmp_path, sftp_server, upload_server, capsys):
    other = paramiko.RSAKey.generate(1024)
    config = sftp_config(tmp_path, sftp_server.port, upload_server.url, f'host_key = "{other.fingerprint}"')
    assert crawl(config) == 2
    assert "not the configured host_key: refusing to connect" in capsys.readouterr().err
    assert upload_server.accepted == []


def test_sftp_accept_new_records_the_key_and_later_refuses_a_changed_one(tmp_path, tree, upload_server, host_key, capsys, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    with SFTPServer(tree.root, host_key) as server:
        config = sftp_config(tmp_path, server.port, upload_server.url, 'host_key_policy = "accept-new"')
        assert crawl(config) == 0
        port = server.port
    known_hosts = spool_dir(config) / "known_hosts"
    assert f"[127.0.0.1]:{port} ssh-rsa {host_key.get_base64()}" in known_hosts.read_text()
    assert f"accepted new host key {host_key.fingerprint}" in capsys.readouterr().err
    impostor = paramiko.RSAKey.generate(1024)
    with SFTPServer(tree.root, impostor) as server:
        config = sftp_config(tmp_path, server.port, upload_server.url, 'host_key_policy = "accept-new"')
        known_hosts.write_text(known_hosts.read_text().replace(f":{port}]", f":{server.port}]").replace(f":{port} ", f":{server.port} "))
        assert crawl(config) == 2
    assert "changed" in capsys.readouterr().err


def test_sftp_wrong_password_counts_as_unreachable(tmp_path, sftp_server, upload_server, host_key, capsys):
    extra = f'host_key = "{host_key.fingerprint}"'
    config = sftp_config(tmp_path, sftp_server.port, upload_server.url, extra)
    config.write_text(config.read_text().replace('password = "secret"', 'password = "wrong"'))
    assert crawl(config) == 2
    assert "ERROR logger=S-01 unreachable: cannot open SFTP" in capsys.readouterr().err
