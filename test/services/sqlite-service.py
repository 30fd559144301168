# A service backed by SQLite: one connection held open (WAL journal), inserting a numbered row every
# few milliseconds in its own transaction. It checks itself: GET /verify runs SQLite's own
# `PRAGMA integrity_check` and that the rows hold 1..n, each once.
#   sqlite-service.py <port> <database file>    GET /health · GET /count · GET /verify
import http.server
import sqlite3
import sys
import threading
import time

port, path = int(sys.argv[1]), sys.argv[2]
db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
db.execute('PRAGMA journal_mode=WAL')
db.execute('CREATE TABLE IF NOT EXISTS rows (n INTEGER PRIMARY KEY, at REAL NOT NULL)')
lock = threading.Lock()


def writer():
    while True:
        with lock:
            db.execute('BEGIN')
            db.execute('INSERT INTO rows (n, at) VALUES ((SELECT COALESCE(MAX(n), 0) + 1 FROM rows), ?)', (time.time(),))
            db.execute('COMMIT')
        time.sleep(0.005)


def verify():
    with lock:
        ok = db.execute('PRAGMA integrity_check').fetchone()[0]
        count, low, high = db.execute('SELECT COUNT(*), MIN(n), MAX(n) FROM rows').fetchone()
    if ok != 'ok':
        return 409, 'integrity_check: ' + ok
    if count and (low != 1 or high != count):
        return 409, 'rows hold %d numbers from %s to %s' % (count, low, high)
    return 200, str(count)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == '/health':
            status, text = 200, 'ok'
        elif self.path == '/count':
            with lock:
                status, text = 200, str(db.execute('SELECT COUNT(*) FROM rows').fetchone()[0])
        elif self.path == '/verify':
            status, text = verify()
        else:
            status, text = 404, 'not found'
        body = text.encode()
        self.send_response(status)
        self.send_header('content-type', 'text/plain')
        self.send_header('content-length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


threading.Thread(target=writer, daemon=True).start()
http.server.ThreadingHTTPServer(('0.0.0.0', port), Handler).serve_forever()
