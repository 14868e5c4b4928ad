"""Fixtures for the crawler tests: a PW3360 tree served by real FTP/SFTP servers and a stand-in upload server.

No database: the crawler never touches Django.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.crawler.support import FTPServer, SFTPServer, Tree, UploadServer, build_pw3360_tree, logger_toml, write_config


@pytest.fixture
def tree(tmp_path) -> Tree:
    root = tmp_path / "logger"
    root.mkdir()
    return build_pw3360_tree(root)


@pytest.fixture
def upload_server():
    with UploadServer() as server:
        yield server


@pytest.fixture
def ftp_server(tree):
    with FTPServer(tree.root) as server:
        yield server


@pytest.fixture(scope="session")
def host_key():
    import paramiko

    return paramiko.RSAKey.generate(2048)


@pytest.fixture
def sftp_server(tree, host_key):
    with SFTPServer(tree.root, host_key) as server:
        yield server


@pytest.fixture
def ftp_config(tmp_path, ftp_server, upload_server) -> Path:
    return write_config(tmp_path / "crawler.toml", upload_server.url, logger_toml("A-11", ftp_server.port))
