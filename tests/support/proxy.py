"""A TCP proxy a worker reaches a server through (PostgreSQL, or anything across a namespace's link), which a test
can cut."""

import socket
import threading


class TcpProxy:
    """Forwards a local port to the database server; cut() makes the database unreachable for a while.

    cut(refuse=n) closes every forwarded connection at once (as a failover or a network blip does) and turns the
    next n connection attempts away; after those, connections go through again. Counting attempts rather than
    seconds keeps the outage the same length on a fast machine and a slow one.
    """

    def __init__(self, target_host, target_port, *, listen_host="127.0.0.1"):
        self.target = (target_host, target_port)
        self.listener = socket.create_server((listen_host, 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.pairs = set()
        self.refuse_left = 0
        self.refused = 0
        self.closed = False
        threading.Thread(target=self._accept, daemon=True, name="db-proxy").start()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                if self.refuse_left > 0:
                    self.refuse_left -= 1
                    self.refused += 1
                    client.close()
                    continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            pair = (client, upstream)
            with self.lock:
                self.pairs.add(pair)
            threading.Thread(target=self._pump, args=(client, upstream, pair), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, pair), daemon=True).start()

    def _pump(self, source, sink, pair):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        self._close(pair)

    def _close(self, pair):
        with self.lock:
            self.pairs.discard(pair)
        for sock in pair:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def cut(self, *, refuse):
        with self.lock:
            self.refuse_left = refuse
            pairs = list(self.pairs)
        for pair in pairs:
            self._close(pair)

    def refusals_done(self):
        with self.lock:
            return self.refuse_left == 0

    def close(self):
        self.closed = True
        self.listener.close()
        for pair in list(self.pairs):
            self._close(pair)
