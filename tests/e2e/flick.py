"""Harness for the end-to-end suites: runs flickd on a free loopback port, talks HTTP to
it, and drives the operator commands (`flickd admin ...`).

Environment (exported by scripts/test.sh): FLICK_BIN, FLICK_DATABASE_URL, FLICK_REDIS_URL,
FLICK_VAR, FLICK_PG_PORT, FLICK_REDIS_PORT, FLICK_SECRET, FLICK_MIGRATIONS_DIR,
FLICK_DATA_DIR. Only the Python standard library is used.
"""
import http.client
import itertools
import json
import os
import secrets
import signal
import socket
import subprocess
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("FLICK_BIN") or os.path.join(ROOT, "build", "flickd")
VAR = os.environ.get("FLICK_VAR") or os.path.join(ROOT, "var", "test", "e2e")
LOG_DIR = os.path.join(VAR, "e2e")

# Text a sanitizer build writes when it finds something; a server log holding any of it
# fails the suite that ran the server.
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                   "runtime error", "ThreadSanitizer")

# Every server the suite starts: the runner stops stragglers at exit.
_servers = []
_seq = itertools.count(1)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _base_env(extra=None):
    env = dict(os.environ)
    env.setdefault("FLICK_THREADS", "2")
    # Every test talks from 127.0.0.1: a per-address login limit would make tests depend
    # on one another. Suites that test it pass their own value.
    env.setdefault("FLICK_LOGIN_LIMIT_IP", "1000000")
    env.setdefault("FLICK_LOG_LEVEL", "info")
    for k, v in (extra or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = str(v)
    return env


class Response:
    """status, headers (case-insensitive), body (parsed JSON, or raw bytes), raw."""

    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        ctype = headers.get("Content-Type", "") or ""
        self.body = raw
        if raw and ctype.startswith("application/json"):
            try:
                self.body = json.loads(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                self.body = raw

    def __iter__(self):   # status, headers, body = resp
        return iter((self.status, self.headers, self.body))

    def __repr__(self):
        return "<%d %r>" % (self.status, self.raw[:300])

    @property
    def error_code(self):
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return self.body["error"].get("code")
        return None


class Server:
    """One flickd process. Use start_server(); stop() checks that it exited cleanly."""

    def __init__(self, env=None, name="flickd"):
        self.port = None
        self.name = name
        self.extra_env = dict(env or {})
        self.proc = None
        self.log_path = None
        self._log = None

    # -- life cycle --

    def start(self, timeout=15.0):
        os.makedirs(LOG_DIR, exist_ok=True)
        last_error = None
        for _attempt in range(3):       # a free port can be taken between probe and bind
            self.port = free_port()
            env = _base_env(self.extra_env)
            env["FLICK_LISTEN"] = "127.0.0.1:%d" % self.port
            self.log_path = os.path.join(LOG_DIR, "%s-%d-%d.log" % (self.name, next(_seq), self.port))
            self._log = open(self.log_path, "ab")
            self.proc = subprocess.Popen([BIN, "serve"], env=env, stdin=subprocess.DEVNULL,
                                         stdout=self._log, stderr=self._log, cwd=ROOT)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    if self.request("GET", "/healthz", timeout=1).status == 200:
                        _servers.append(self)
                        return self
                except OSError as e:
                    last_error = e
                time.sleep(0.05)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError("flickd did not answer /healthz within %.0f s; log %s:\n%s"
                                   % (timeout, self.log_path, self.log_tail()))
            self._log.close()
            last_error = "exited with %s:\n%s" % (self.proc.returncode, self.log_tail())
            if "cannot listen" not in self.log_tail():
                break
        raise RuntimeError("flickd did not start: %s" % last_error)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=30):
        return "\n".join(self.log_text().splitlines()[-n:])

    def sanitizer_reports(self):
        text = self.log_text()
        return [m for m in SANITIZER_MARKS if m in text]

    def stop(self, timeout=15.0):
        """SIGTERM, then SIGKILL after `timeout`. Raises AssertionError unless the process
        was alive until now, exited with 0, and logged no sanitizer report."""
        if self.proc is None:
            return
        problems = []
        if self.proc.poll() is not None:
            problems.append("flickd had already exited with %s" % self.proc.returncode)
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                problems.append("flickd did not exit within %.0f s of SIGTERM" % timeout)
        if self.proc.returncode not in (0, None) and not problems:
            problems.append("flickd exited with %s after SIGTERM" % self.proc.returncode)
        if self._log:
            self._log.close()
        marks = self.sanitizer_reports()
        if marks:
            problems.append("sanitizer report in the log: %s" % ", ".join(marks))
        if self in _servers:
            _servers.remove(self)
        self.proc_returncode = self.proc.returncode
        if problems:
            raise AssertionError("; ".join(problems) + "\nlog %s:\n%s" % (self.log_path, self.log_tail(40)))

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    # -- HTTP --

    def request(self, method, path, body=None, token=None, headers=None, timeout=10.0):
        """One request on a fresh connection. body: None, a dict/list (sent as JSON), str
        or bytes (sent as is). Returns a Response (unpacks as status, headers, body)."""
        hdrs = {}
        data = None
        if body is not None:
            if isinstance(body, (dict, list)):
                data = json.dumps(body).encode("utf-8")
                hdrs["Content-Type"] = "application/json"
            elif isinstance(body, str):
                data = body.encode("utf-8")
                hdrs["Content-Type"] = "application/json"
            else:
                data = bytes(body)
                hdrs["Content-Type"] = "application/json"
        if token:
            hdrs["Authorization"] = "Bearer " + token
        hdrs.update(headers or {})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
            return Response(resp.status, resp.headers, raw)
        finally:
            conn.close()

    def connect(self, timeout=5.0):
        """A raw socket to the server."""
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def raw(self, timeout=5.0):
        """A Raw client connection (reads pipelined responses one by one)."""
        return Raw(self.port, timeout)


def start_server(env=None, name="flickd"):
    return Server(env, name).start()


def stop_all():
    """Kills any server a suite forgot (the runner calls this at exit)."""
    for s in list(_servers):
        s.kill()
        _servers.remove(s)


# ---- operator commands ----

def run_cli(*args, timeout=30):
    p = subprocess.run([BIN] + list(args), env=_base_env(), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, cwd=ROOT)
    err = p.stderr.decode("utf-8", "replace")
    marks = [m for m in SANITIZER_MARKS if m in err]
    if p.returncode != 0 or marks:
        raise RuntimeError("flickd %s failed (%s): %s" % (" ".join(args), p.returncode, err.strip()))
    return p.stdout.decode("utf-8").strip()


def in_parallel(fn, n):
    """fn(0) .. fn(n-1), each on a thread of its own; their results in order. The first
    exception one of them raised is raised again here, in the caller's thread."""
    out, errors = [None] * n, []

    def run(i):
        try:
            out[i] = fn(i)
        except Exception as e:      # reported below, in the caller's thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return out


_invite_pool = []
_invite_lock = threading.Lock()
INVITE_BATCH = 4


def invite():
    """A fresh operator-minted invite code. Codes are minted a few at a time, in parallel
    processes, since each `flickd admin invite` pays for a process start and a connection."""
    with _invite_lock:
        if not _invite_pool:
            out = in_parallel(lambda i: run_cli("admin", "invite"), INVITE_BATCH)
            _invite_pool.extend(out)
        return _invite_pool.pop()


def create_user(role="user", tier="free", name=None):
    """Creates a user through the operator command; returns (username, token)."""
    name = name or unique_name(role[:3])
    token = run_cli("admin", "create-user", name, "--role", role, "--tier", tier)
    return name, token


_name_lock = threading.Lock()
_name_seq = itertools.count(1)


def unique_name(prefix="u"):
    """A username no other test (or earlier run against the same database) has used."""
    with _name_lock:
        n = next(_name_seq)
    return ("%s_%s%d" % (prefix, secrets.token_hex(4), n))[:30]


PASSWORD = "correct horse battery"


def birth_year_for_age(age):
    """The birth year of someone who turns `age` this year (UTC)."""
    return time.gmtime().tm_year - age


def signup(server, username=None, password=PASSWORD, birth_year=1990, code=None):
    """Signs a new user up; returns a dict: username, password, token, user."""
    username = username or unique_name()
    r = server.request("POST", "/v1/auth/signup", {
        "invite_code": code or invite(), "username": username,
        "password": password, "birth_year": birth_year})
    if r.status != 201:
        raise AssertionError("signup of %s failed: %r" % (username, r))
    return {"username": username, "password": password, "token": r.body["token"], "user": r.body["user"]}


def login(server, username, password=PASSWORD):
    return server.request("POST", "/v1/auth/login", {"username": username, "password": password})


# ---- services (fault injection) ----

def services(action):
    """scripts/services.sh pg-stop|pg-start|redis-stop|redis-start with the suite's env."""
    subprocess.run(["bash", os.path.join(ROOT, "scripts", "services.sh"), action],
                   env=dict(os.environ), check=True, timeout=60, cwd=ROOT,
                   stdout=subprocess.DEVNULL)


# ---- raw HTTP on sockets ----

def recv_all(sock, deadline_s=3.0):
    """Reads until the peer closes or `deadline_s` passes. Returns (data, closed)."""
    data = b""
    end = time.monotonic() + deadline_s
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return data, False
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return data, False
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk


class Raw:
    """A raw client connection that reads responses one at a time, keeping whatever
    arrived after the current one (pipelining)."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, timeout):
        self.sock.settimeout(timeout)
        chunk = self.sock.recv(65536)
        if not chunk:
            return False
        self.buf += chunk
        return True

    def response(self, timeout=5.0):
        """(status, headers with lower-case names, body) of the next response; None if the
        server closed first. Bodies are Content-Length framed (or end at close)."""
        while b"\r\n\r\n" not in self.buf:
            if not self._fill(timeout):
                return None
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        status, headers = _parse_head_lines(head)
        if "content-length" in headers:
            n = int(headers["content-length"])
            self.buf = rest
            while len(self.buf) < n:
                if not self._fill(timeout):
                    break
            body, self.buf = self.buf[:n], self.buf[n:]
        else:
            self.buf = rest
            while self._fill(timeout):
                pass
            body, self.buf = self.buf, b""
        return status, headers, body

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_response(sock, timeout=5.0):
    """One response from a plain socket that carries nothing after it."""
    r = Raw.__new__(Raw)
    r.sock, r.buf = sock, b""
    return r.response(timeout)


def _parse_head_lines(head):
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers


