"""The real crawler against the real server through a faulty network: each file still arrives exactly once.

A small TCP proxy sits between the crawler and the live server. It can cut an upload after some bytes (the link
drops mid-request), swallow the server's answer after the server stored the file (the answer is lost on the way
back), or stop listening (the server is down or restarting). The next crawler run delivers what its spool kept.
"""

from __future__ import annotations

import socket
import threading
from collections import deque
from decimal import Decimal

import pytest

from crawler.pw3360 import parse_pw3360
from power.models import Logger, Reading, Upload
from power.services import crawler_token_create
from tests.crawler.support import TOKEN, FTPServer, build_pw3360_tree, crawl, logger_toml, pending, write_config

UPLOAD_REQUEST = b"POST /api/v1/power/uploads/"
EXIT_OK, EXIT_PENDING = 0, 3


class FaultyProxy:
    """Forwards 127.0.0.1:<port> to the server; upload requests take the next fault from `faults` (None: pass).

    Faults: ("cut", n) forwards n bytes of the upload request, then closes both sides; ("drop",) forwards the whole
    request and closes the crawler's side as soon as the server answers; ("crash",) closes the connection before any
    byte of the upload reaches the server and stops listening, like a server going down mid-delivery.
    """

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.faults: deque = deque()
        self.lock = threading.Lock()
        self.upload_requests = 0
        self.listener: socket.socket | None = None
        self.port = 0
        self.up()

    def up(self) -> None:
        if self.listener is not None:
            return
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True, name="proxy").start()

    def down(self) -> None:
        """Refuse connections from now on (connections already open stay up, as a stopped server's would drain)."""
        if self.listener is not None:
            try:
                self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone keeps the port listening
            except OSError:
                pass
            self.listener.close()
            self.listener = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by down()
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            _Connection(self, client, upstream).start()

    def next_fault(self):
        with self.lock:
            self.upload_requests += 1
            return self.faults.popleft() if self.faults else None


class _Connection:
    def __init__(self, proxy: FaultyProxy, client: socket.socket, upstream: socket.socket):
        self.proxy, self.client, self.upstream = proxy, client, upstream
        self.fault = None

    def start(self) -> None:
        threading.Thread(target=self._requests, daemon=True).start()
        threading.Thread(target=self._answers, daemon=True).start()

    def _close(self) -> None:
        for sock in (self.client, self.upstream):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _requests(self) -> None:
        budget = None  # bytes of the current upload still to forward under a "cut"
        try:
            while data := self.client.recv(65536):
                at = data.find(UPLOAD_REQUEST)
                if at >= 0:  # requests sends the head in one piece, so the request line is never split
                    self.fault = self.proxy.next_fault()
                    kind = self.fault[0] if self.fault else None
                    if kind == "crash":
                        self.upstream.sendall(data[:at])
                        self.proxy.down()
                        return self._close()
                    budget = self.fault[1] + at if kind == "cut" else None
                if budget is not None:
                    self.upstream.sendall(data[:budget])
                    budget -= min(budget, len(data))
                    if budget == 0:
                        return self._close()
                    continue
                self.upstream.sendall(data)
            self.upstream.shutdown(socket.SHUT_WR)
        except OSError:
            self._close()

    def _answers(self) -> None:
        try:
            while data := self.upstream.recv(65536):
                if self.fault and self.fault[0] == "drop":
                    return self._close()  # the server has answered, so it has stored the file; the crawler never hears
                self.client.sendall(data)
            self.client.shutdown(socket.SHUT_WR)
        except OSError:
            self._close()


@pytest.fixture
def logger(plant, line):
    return Logger.objects.create(plant=plant, line=line, code="A-11", multiplier=Decimal("1"))


SCENARIOS = {
    # name: (faults for the upload requests of the first run, set the server down before it, uploads stored by it)
    "the link drops mid-upload": ([None, ("cut", 400), ("cut", 2000)], False, 1),
    "the answer is lost after the server stored the file": ([("drop",), ("drop",)], False, 1),
    "the server goes down mid-delivery": ([None, ("crash",)], False, 1),
    "the server is down for the whole run": ([], True, 0),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_after_a_network_fault_the_next_run_delivers_each_file_exactly_once(transactional_db, live_server, plant, logger, tmp_path, scenario):
    faults, down_from_start, stored_in_first_run = SCENARIOS[scenario]
    _, key = crawler_token_create(plant=plant)
    tree = build_pw3360_tree(tmp_path / "logger")
    files = {*tree.day_files, *tree.old_day_files}
    proxy = FaultyProxy(int(live_server.url.rsplit(":", 1)[1]))
    try:
        with FTPServer(tree.root) as ftp:
            config = write_config(tmp_path / "crawler.toml", proxy.url, logger_toml("A-11", ftp.port))
            config.write_text(config.read_text().replace(TOKEN, key))
            proxy.faults.extend(faults)
            if down_from_start:
                proxy.down()

            assert crawl(config) == EXIT_PENDING  # uploads wait in the spool
            assert Upload.objects.count() == stored_in_first_run
            assert not proxy.faults, "a planned fault was never met: the scenario did not happen"
            waiting = {entry["remote_path"] for entry in pending(config)}
            delivered_first = set(Upload.objects.values_list("remote_path", flat=True))
            assert waiting | delivered_first == files  # nothing lost
            if scenario.startswith("the answer is lost"):
                assert delivered_first <= waiting  # stored, but the crawler does not know: it must send it again

            proxy.up()
            requests_before = proxy.upload_requests
            assert crawl(config) == EXIT_OK
            assert proxy.upload_requests - requests_before == len(waiting)  # each waiting file sent once, nothing else
            assert pending(config) == []
            assert crawl(config) == EXIT_OK  # and a further run changes nothing
            assert proxy.upload_requests - requests_before == len(waiting)
    finally:
        proxy.down()

    assert sorted(Upload.objects.values_list("remote_path", flat=True)) == sorted(files)
    assert all(u.status == Upload.Status.ACCEPTED for u in Upload.objects.all())
    # Every logger minute of the files once: the fixtures overlap, so count distinct times with the shared parser.
    minutes = {r.logger_time.replace(tzinfo=plant.zone) for f in files
               for r in parse_pw3360(tree.path(f).read_bytes(), filename=f.rsplit("/", 1)[1]).readings}  # fmt: skip
    assert Reading.objects.count() == len(minutes) > 0
    assert {r.astimezone(plant.zone) for r in Reading.objects.values_list("logger_time", flat=True)} == minutes
