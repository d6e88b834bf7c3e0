"""Users, database fixtures and request helpers shared by test_generations.py and
test_posts_cameos.py: accounts, one psql session, posts written straight into PostgreSQL,
and the common API calls. A suite calls `use(server)` from setUpModule before any helper:
requests go to that server, and cancel_leftover_jobs() cleans up after the users made since."""
import os
import subprocess
import threading
import unittest

import flick
from flick import birth_year_for_age, signup

_srv = None


def use(server):
    """Sends the helpers' requests to server, and starts a fresh record of users (and an
    empty pool) for the suite that calls it."""
    global _srv
    _srv = server
    User.made.clear()
    with _pool_lock:
        _pool.clear()


class User:
    made = []       # every user made since use(): their queued jobs are canceled at the end

    def __init__(self, name, token, uid, minor=False):
        self.name, self.token, self.id, self.minor = name, token, uid, minor
        User.made.append(self)

    def __repr__(self):
        return "<User %s>" % self.name


def req(user, method, path, body=None, headers=None):
    return _srv.request(method, path, body, token=user.token if user else None, headers=headers)


def _user_from_token(name, token):
    r = _srv.request("GET", "/v1/me", token=token)
    if r.status != 200:
        raise AssertionError("GET /v1/me for %s: %r" % (name, r))
    return User(name, token, r.body["id"], r.body.get("minor", False))


def create_users(n, role, tier):
    """n users made by the operator command, in parallel (each is a process start)."""
    return flick.in_parallel(lambda i: _user_from_token(*flick.create_user(role, tier)), n)


def invite_codes(n):
    """n unused invite codes, as an operator mints them (created_by NULL), in one statement."""
    return [row[0] for row in sql(
        "INSERT INTO invites (code) SELECT 'e2e' || substr(md5(random()::text || clock_timestamp()::text), 1, 16) "
        "FROM generate_series(1, %d) RETURNING code" % n)]


def _signup(code, birth_year=1990):
    acct = signup(_srv, birth_year=birth_year, code=code)
    return User(acct["username"], acct["token"], acct["user"]["id"], birth_year > birth_year_for_age(18))


_pool = []
_pool_lock = threading.Lock()
POOL_BATCH = 8


def new_users(n, role="user", tier="free"):
    """n fresh users (never used before). Plain free adults sign up over HTTP, a batch at a
    time in parallel; other roles and tiers come from the operator command."""
    if (role, tier) != ("user", "free"):
        return create_users(n, role, tier)
    with _pool_lock:
        if len(_pool) < n:
            codes = invite_codes(max(POOL_BATCH, n - len(_pool)))
            made = parallel(lambda i: _signup(codes[i]), len(codes))
            for u in made:
                if isinstance(u, Exception):
                    raise u
            _pool.extend(made)
        taken, _pool[:] = _pool[:n], _pool[n:]
    return taken


def new_user(role="user", tier="free"):
    return new_users(1, role, tier)[0]


def new_minor(age=15):
    u = _signup(invite_codes(1)[0], birth_year_for_age(age))
    assert req(u, "GET", "/v1/me").body["minor"] is True, "a %d-year-old is not a minor" % age
    return u


class _Psql:
    """One psql session for the whole suite: a process start per statement is slow."""
    END = "__flick_e2e_end__"

    def __init__(self):
        self.proc = None
        self.lock = threading.Lock()

    def _start(self):
        self.proc = subprocess.Popen(
            ["psql", os.environ["FLICK_DATABASE_URL"], "-X", "-q", "-tA", "-F", "\t",
             "-v", "ON_ERROR_STOP=0", "-v", "VERBOSITY=terse"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def run(self, query):
        with self.lock:
            if self.proc is None or self.proc.poll() is not None:
                self._start()
            text = query.strip().rstrip(";") + ";\n\\echo " + self.END + "\n"
            self.proc.stdin.write(text.encode("utf-8"))
            self.proc.stdin.flush()
            lines = []
            while True:
                line = self.proc.stdout.readline()
                if not line:
                    raise AssertionError("psql exited: %s\n%s" % (b"".join(lines), query))
                line = line.decode("utf-8").rstrip("\n")
                if line == self.END:
                    break
                lines.append(line)
        if any(l.startswith(("ERROR:", "psql:", "FATAL:")) for l in lines):
            raise AssertionError("psql failed: %s\n%s" % ("\n".join(lines), query))
        return [l.split("\t") for l in lines if l]

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


_psql = _Psql()


def sql(query):
    """Runs one SQL statement against the suite's database; rows as lists of strings."""
    return _psql.run(query)


def lit(s):
    return "'" + str(s).replace("'", "''") + "'"


def make_post(author, status="published", visibility="public", allow_remix=True, cameos=(),
              prompt="a lighthouse in a storm", caption="", model="standard", seconds=8, aspect="9:16"):
    """A post as the worker leaves it (a succeeded generation and its post, with the people
    cast in it), written straight into the database; returns the post id (a string)."""
    ids = ",".join(str(int(u.id)) for u in cameos)
    rows = sql(
        "WITH ids AS (SELECT nextval(pg_get_serial_sequence('generations', 'id')) AS gid, "
        "                    nextval(pg_get_serial_sequence('posts', 'id')) AS pid), "
        "g AS (INSERT INTO generations (id, user_id, status, prompt, model, seconds, aspect, progress, "
        "                               cameo_ids, finished_at, post_id) "
        "      SELECT gid, %(a)s, 'succeeded', %(p)s, %(m)s, %(sec)d, %(asp)s, 100, ARRAY[%(c)s]::bigint[], "
        "             now(), pid FROM ids), "
        "p AS (INSERT INTO posts (id, author_id, status, visibility, prompt, model, seconds, aspect, caption, "
        "                         allow_remix, generation_id, published_at) "
        "      SELECT pid, %(a)s, %(s)s, %(v)s, %(p)s, %(m)s, %(sec)d, %(asp)s, %(cap)s, %(ar)s, gid, "
        "             CASE WHEN %(s)s = 'draft' THEN NULL ELSE now() END FROM ids), "
        "pc AS (INSERT INTO post_cameos (post_id, user_id) SELECT pid, unnest(ARRAY[%(c)s]::bigint[]) FROM ids) "
        "SELECT pid FROM ids"
        % {"a": int(author.id), "p": lit(prompt), "c": ids, "s": lit(status), "v": lit(visibility),
           "cap": lit(caption), "ar": "true" if allow_remix else "false", "m": lit(model),
           "sec": seconds, "asp": lit(aspect)})
    return rows[0][0]


def generate(user, prompt, key=None, raw=None, **fields):
    """POST /v1/generations; a prompt of None leaves it out, raw (when given) is sent as is."""
    body = dict(fields)
    if prompt is not None:
        body["prompt"] = prompt
    headers = {"Idempotency-Key": key} if key is not None else None
    return req(user, "POST", "/v1/generations", raw if raw is not None else body, headers)


def left_today(user):
    r = req(user, "GET", "/v1/me")
    assert r.status == 200, r
    return r.body["generations_left_today"]


def my_generations(user):
    """Every generation of user, following the cursor."""
    items, cursor = [], None
    for _ in range(100):
        path = "/v1/generations?limit=100" + ("&cursor=" + cursor if cursor else "")
        r = req(user, "GET", path)
        assert r.status == 200, r
        items += r.body["items"]
        cursor = r.body["next_cursor"]
        if not cursor:
            return items
    raise AssertionError("generation list does not end")


def follow(a, b):
    r = req(a, "POST", "/v1/users/%s/follow" % b.name)
    assert r.status == 204, r


def set_cameo(user, permission):
    r = req(user, "PUT", "/v1/me/cameo", {"permission": permission})
    assert r.status == 200, r


def approve(owner, user):
    r = req(owner, "POST", "/v1/me/cameo/approvals", {"username": user.name})
    assert r.status == 201, r


def parallel(fn, n):
    """Runs fn(i) for i in 0..n-1 on n threads released together; results in order."""
    results = [None] * n
    barrier = threading.Barrier(n)

    def run(i):
        try:
            barrier.wait(15)
        except threading.BrokenBarrierError:
            pass
        try:
            results[i] = fn(i)
        except Exception as e:      # kept as the result: the test reports it
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def close_sql():
    """Ends the psql session (the next sql() starts another)."""
    _psql.close()


def start_suite(name, env=None):
    """The flickd of one suite (test module), started with env, with the helpers' requests
    sent to it (see use())."""
    server = flick.start_server(env=env, name=name)
    use(server)
    return server


def end_suite(server):
    """Ends what start_suite began: cancels the jobs the suite left queued, ends the psql
    session and stops server, each step even when one before it failed."""
    try:
        cancel_leftover_jobs()
    finally:
        try:
            close_sql()
        finally:
            server.stop()


def cancel_leftover_jobs():
    """Cancels the jobs the suite left queued, so that a worker started by a later suite
    does not spend its time on them."""
    if User.made:
        sql("UPDATE generations SET status = 'canceled', finished_at = now(), updated_at = now() "
            "WHERE status IN ('queued', 'running') AND user_id = ANY (ARRAY[%s]::bigint[])"
            % ",".join(str(int(u.id)) for u in User.made))


class ApiTestCase(unittest.TestCase):
    def assertError(self, r, status, code=None, names=None):
        """r is an error answer: this status, a JSON error with a message, and (when given)
        this code and a message that names names."""
        self.assertEqual(r.status, status, r)
        self.assertIsInstance(r.body, dict, r)
        err = r.body.get("error")
        self.assertIsInstance(err, dict, r)
        self.assertIsInstance(err.get("message"), str, r)
        if code:
            self.assertEqual(err.get("code"), code, r)
        if names:
            self.assertIn(names, err["message"], r)
