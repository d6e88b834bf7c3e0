"""The in-process caches (viewers by token, the body of GET /v1/me) as a client sees them:
a reply that follows a change through the API never shows the old value, on any
connection (PATCH /v1/me, invites, cameo, generations and their cancel, admin limits,
automatic quotas, roles, logout); a change made by another process (psql, a second
flickd) shows within a second; the caches are used (/metrics counts hits) and
FLICK_CACHE=0 turns them off.

Requests alternate between several keep-alive connections (the server runs three event
loops) and fresh ones, many times over, so that a stale entry or a fill racing a change
would show. Moderation decisions (`ban_author`) have no route in the server yet: a ban is
written with SQL, which is the cross-process path."""
import hashlib
import http.client
import itertools
import json
import threading
import time
import unittest

import fixtures
import flick
from fixtures import ApiTestCase, lit, new_user, new_users, sql

srv = None
ADMIN = None
_others = []                # servers a test started, stopped at the end of the module
ENV = {"FLICK_WORKERS": "0", "FLICK_THREADS": "3", "FLICK_LOGIN_LIMIT_USER": "1000000"}
PROMPT = "a corgi surfing a wave at sunrise, cinematic"
ACROSS_S = 1.0              # another process's change shows within this


def setUpModule():
    global srv, ADMIN
    srv = fixtures.start_suite("cache", ENV)
    ADMIN = new_user("admin")


def tearDownModule():
    try:
        for s in _others:
            s.stop()
    finally:
        fixtures.end_suite(srv)


def other_server(env=None, name="cache2"):
    s = flick.start_server(env=dict(ENV, **(env or {})), name=name)
    _others.append(s)
    return s


class Conns:
    """Keep-alive connections to one server, used in turn; every `fresh_every`-th request
    goes on a new connection instead."""

    def __init__(self, server, n=4, fresh_every=5):
        self.server = server
        self.conns = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=10) for _ in range(n)]
        self.turn = itertools.count()
        self.fresh_every = fresh_every

    def request(self, method, path, body=None, token=None):
        i = next(self.turn)
        if self.fresh_every and i % self.fresh_every == self.fresh_every - 1:
            return self.server.request(method, path, body, token=token)
        conn = self.conns[i % len(self.conns)]
        headers = {"Authorization": "Bearer " + token} if token else {}
        data = None if body is None else json.dumps(body).encode("utf-8")
        if data is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        return flick.Response(resp.status, resp.headers, resp.read())

    def me(self, user_or_token):
        return self.request("GET", "/v1/me", token=getattr(user_or_token, "token", user_or_token))

    def close(self):
        for c in self.conns:
            c.close()


def while_reading(token, act, readers=3, fresh_every=0):
    """Runs act(reads) while `readers` threads send GET /v1/me with token, each on
    connections of its own, one after another, adding (time sent, Response) to reads as
    the answers come. Returns reads."""
    reads, errors = [], []
    stop = threading.Event()

    def reader():
        c = Conns(srv, n=1, fresh_every=fresh_every)
        try:
            while not stop.is_set():
                sent = time.monotonic()
                reads.append((sent, c.me(token)))
        except Exception as e:      # raised below, in the caller's thread
            errors.append(e)
        finally:
            c.close()

    threads = [threading.Thread(target=reader) for _ in range(readers)]
    for t in threads:
        t.start()
    try:
        act(reads)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    if errors:
        raise errors[0]
    return reads


def metrics(server):
    """The samples of /metrics as {'name{labels}': value}."""
    r = server.request("GET", "/metrics")
    assert r.status == 200, r
    out = {}
    for line in r.raw.decode("utf-8").splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def lookups(m, cache, result):
    return m['flick_cache_lookups_total{cache="%s",result="%s"}' % (cache, result)]


def token_hash_sql(token):
    return "decode(%s, 'hex')" % lit(hashlib.sha256(token.encode("ascii")).hexdigest())


def settings():
    return sql("SELECT name, value FROM settings ORDER BY name")


def restore_settings(saved):
    sql("UPDATE settings s SET value = v.value::bigint FROM (VALUES %s) v(name, value) "
        "WHERE s.name = v.name AND s.value <> v.value::bigint"
        % ", ".join("(%s, %s)" % (lit(n), lit(v)) for n, v in saved))


class Base(ApiTestCase):
    def setUp(self):
        self.c = Conns(srv)

    def tearDown(self):
        self.c.close()

    def warm(self, user, times=6):
        """GET /v1/me on every connection, so that the viewer and the body are cached."""
        for _ in range(times):
            r = self.c.me(user)
            self.assertEqual(r.status, 200, r)
        return r.body

    def eventually(self, what, fetch, want, timeout=ACROSS_S):
        """Polls fetch() until it returns want; fails after `timeout` with its last value."""
        end = time.monotonic() + timeout
        while True:
            last = fetch()
            if last == want:
                return
            if time.monotonic() > end:
                self.fail("%s: not %r within %.1f s (last: %r)" % (what, want, timeout, last))
            time.sleep(0.01)


class WithLimits(Base):
    """Tests that change the settings (limits, quota mode): restored as they were after each."""

    def setUp(self):
        super().setUp()
        self._saved = settings()

    def tearDown(self):
        restore_settings(self._saved)
        super().tearDown()

    def put_limits(self, **body):
        r = self.c.request("PUT", "/v1/admin/limits", body, token=ADMIN.token)
        self.assertEqual(r.status, 200, r)
        return r.body


# ---- read your writes, within the process ----

class ReadYourWrites(WithLimits):
    def test_patch_me(self):
        u = new_user()
        self.warm(u)
        for i in range(40):
            bio = "bio number %d" % i
            r = self.c.request("PATCH", "/v1/me", {"bio": bio, "display_name": "D%d" % (i % 7)}, token=u.token)
            self.assertEqual(r.status, 200, r)
            for _ in range(2):
                m = self.c.me(u)
                self.assertEqual(m.status, 200, m)
                self.assertEqual((m.body["bio"], m.body["display_name"]), (bio, "D%d" % (i % 7)), "iteration %d" % i)

    def test_patch_me_while_others_read(self):
        """Readers on their own connections and threads: any GET /v1/me sent after a PATCH
        was answered shows that PATCH or a later one."""
        u = new_user()
        self.warm(u)
        done = []           # (time the reply to PATCH n came, n)

        def patches(reads):
            for n in range(1, 101):
                r = self.c.request("PATCH", "/v1/me", {"bio": "v%d" % n}, token=u.token)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.body["bio"], "v%d" % n)
                done.append((time.monotonic(), n))
                time.sleep(0.002)

        reads = while_reading(u.token, patches, readers=4, fresh_every=7)
        self.assertGreater(len(reads), 100)
        stale = []
        for sent, r in reads:
            self.assertEqual(r.status, 200, r)
            seen = int(r.body["bio"][1:]) if r.body["bio"] else 0
            newest = max([n for at, n in done if at <= sent], default=0)
            if seen < newest:
                stale.append((seen, newest))
        self.assertEqual(stale, [], "(shown, already answered) for reads sent after a PATCH")

    def test_mint_invites(self):
        u = new_user()
        self.put_limits(invites_per_user=100)
        left = self.warm(u)["invites_left"]
        self.assertEqual(left, 100)
        for i in range(40):
            r = self.c.request("POST", "/v1/me/invites", token=u.token)
            self.assertEqual(r.status, 201, r)
            for _ in range(2):
                m = self.c.me(u)
                self.assertEqual(m.body["invites_left"], left - i - 1, "after mint %d" % (i + 1))

    def test_cameo_put_and_delete(self):
        u = new_user()
        self.assertIs(self.warm(u)["has_cameo"], False)
        for i in range(30):
            r = self.c.request("PUT", "/v1/me/cameo", {"permission": ("only_me", "everyone")[i % 2]}, token=u.token)
            self.assertEqual(r.status, 200, r)
            for _ in range(2):
                self.assertIs(self.c.me(u).body["has_cameo"], True, "after PUT %d" % i)
            r = self.c.request("DELETE", "/v1/me/cameo", token=u.token)
            self.assertEqual(r.status, 204, r)
            for _ in range(2):
                self.assertIs(self.c.me(u).body["has_cameo"], False, "after DELETE %d" % i)

    def test_generations_and_cancel(self):
        u = new_user()
        self.put_limits(quota_mode="fixed", daily_generations_free=50)
        full = self.warm(u)["generations_left_today"]
        self.assertEqual(full, 50)
        for i in range(25):
            r = self.c.request("POST", "/v1/generations", {"prompt": PROMPT}, token=u.token)
            self.assertEqual(r.status, 202, r)
            for _ in range(2):
                self.assertEqual(self.c.me(u).body["generations_left_today"], full - 1, "after generation %d" % i)
            r = self.c.request("DELETE", "/v1/generations/" + r.body["id"], token=u.token)
            self.assertEqual(r.status, 204, r)
            for _ in range(2):
                self.assertEqual(self.c.me(u).body["generations_left_today"], full, "after cancel %d" % i)
        # Kept ones add up.
        for i in range(5):
            self.assertEqual(self.c.request("POST", "/v1/generations", {"prompt": PROMPT}, token=u.token).status, 202)
            self.assertEqual(self.c.me(u).body["generations_left_today"], full - i - 1)

    def test_admin_limits_show_at_once(self):
        free, pro = new_user(), new_user(tier="pro")
        self.put_limits(quota_mode="fixed")
        self.warm(free)
        self.warm(pro)
        for i in range(30):
            body = self.put_limits(daily_generations_free=3 + i, daily_generations_pro=100 + i,
                                   invites_per_user=i % 9)
            self.assertEqual(body["daily_generations_free"], 3 + i)
            for _ in range(2):
                m = self.c.me(free).body
                self.assertEqual((m["generations_left_today"], m["invites_left"]), (3 + i, i % 9), "round %d" % i)
                self.assertEqual(self.c.me(pro).body["generations_left_today"], 100 + i, "round %d" % i)

    def test_automatic_quota_follows_active_users_at_once(self):
        """In automatic mode everyone's allowance depends on how many users are active: a
        sign-up, or the login of someone away for more than a day, changes it for all."""
        u, away = new_users(2)
        limits = self.put_limits(quota_mode="auto", pro_weight=1, quota_floor_free=1)

        def split_three_ways():
            """Capacity for 3 clips each among the users active now; GET /v1/me says 3."""
            active = self.c.request("GET", "/v1/admin/limits", token=ADMIN.token).body["active_users"]
            self.assertGreaterEqual(active, 3)
            self.assertEqual(self.put_limits(engine_capacity_seconds=8 * 3 * active)["daily_generations_free"], 3)
            self.assertEqual(self.warm(u)["generations_left_today"], 3)

        self.assertEqual(limits["quota_mode"], "auto")
        for i in range(3):
            split_three_ways()
            flick.signup(srv, code=fixtures.invite_codes(1)[0])
            for _ in range(3):
                self.assertEqual(self.c.me(u).body["generations_left_today"], 2, "after sign-up %d" % i)
        for i in range(3):
            sql("UPDATE users SET last_active_at = now() - interval '2 days' WHERE id = %s" % away.id)
            split_three_ways()
            r = flick.login(srv, away.name)
            self.assertEqual(r.status, 200, r)
            for _ in range(3):
                self.assertEqual(self.c.me(u).body["generations_left_today"], 2, "after login %d" % i)

    def test_each_token_gets_its_own_me(self):
        """Interleaved users on the same connections each get their own body, the same
        bytes and headers as the reply that filled the cache."""
        users = new_users(4)
        first = {u.id: self.c.me(u) for u in users}
        for i in range(60):
            u = users[i % len(users)]
            m = self.c.me(u)
            self.assertEqual((m.status, m.body["id"], m.body["username"]), (200, u.id, u.name))
            self.assertEqual(m.raw, first[u.id].raw)
            self.assertEqual(m.headers["Content-Type"], first[u.id].headers["Content-Type"])
            self.assertTrue(m.headers.get("X-Request-Id"))


# ---- sessions and roles, within the process ----

class Sessions(Base):
    def test_logout_is_401_at_once_on_every_connection(self):
        u = new_user()
        keep = u.token
        for i in range(25):
            tok = flick.login(srv, u.name).body["token"]
            self.warm(tok, times=5)
            r = self.c.request("POST", "/v1/auth/logout", token=tok)
            self.assertEqual(r.status, 204, r)
            for _ in range(5):
                self.assertError(self.c.me(tok), 401, "unauthorized")
            self.assertError(srv.request("GET", "/v1/me", token=tok), 401, "unauthorized")
            self.assertError(self.c.request("GET", "/v1/me/invites", token=tok), 401, "unauthorized")
            self.assertEqual(self.c.me(keep).status, 200, "the user's other token, round %d" % i)

    def test_logout_while_others_read(self):
        """Readers keep asking with the token on their own connections: every request sent
        after the logout was answered is 401."""
        u = new_user()
        for _ in range(10):
            tok = flick.login(srv, u.name).body["token"]
            self.warm(tok, times=4)
            out = []

            def logout(reads):
                time.sleep(0.03)
                r = self.c.request("POST", "/v1/auth/logout", token=tok)
                out.append(time.monotonic())
                self.assertEqual(r.status, 204, r)
                end = out[0] + 5
                while sum(1 for sent, _ in list(reads) if sent > out[0]) < 12 and time.monotonic() < end:
                    time.sleep(0.01)

            reads = while_reading(tok, logout)
            after = [r.status for sent, r in reads if sent > out[0]]
            self.assertTrue(after, "no read after the logout")
            self.assertEqual(set(after), {401})
            self.assertEqual({r.status for sent, r in reads} - {200, 401}, set())

    def set_role(self, user, role):
        r = self.c.request("PUT", "/v1/admin/users/%s/role" % user.name, {"role": role}, token=ADMIN.token)
        self.assertEqual(r.status, 200, r)

    def test_role_change_applies_to_the_next_request(self):
        u = new_user()
        lookup = "/v1/provenance/lookup"      # moderators: 400 without an image, users 403
        try:
            for i in range(15):
                self.set_role(u, "user")
                for _ in range(3):
                    self.assertError(self.c.request("GET", "/v1/admin/limits", token=u.token), 403, "forbidden")
                    self.assertError(self.c.request("POST", lookup, token=u.token), 403, "forbidden")
                    self.assertEqual(self.c.me(u).body["role"], "user")
                self.set_role(u, "moderator")
                for _ in range(3):
                    self.assertError(self.c.request("POST", lookup, token=u.token), 400, "invalid_request")
                    self.assertError(self.c.request("GET", "/v1/admin/limits", token=u.token), 403, "forbidden")
                    self.assertEqual(self.c.me(u).body["role"], "moderator")
                self.set_role(u, "admin")
                for _ in range(3):
                    r = self.c.request("GET", "/v1/admin/limits", token=u.token)
                    self.assertEqual(r.status, 200, "round %d: %r" % (i, r))
                    self.assertEqual(self.c.me(u).body["role"], "admin")
        finally:
            self.set_role(u, "user")
        self.assertError(self.c.request("GET", "/v1/admin/limits", token=u.token), 403, "forbidden")


# ---- changes made by other processes ----

class OtherProcesses(WithLimits):
    def test_display_name_written_with_sql(self):
        u = new_user()
        self.warm(u)
        for i in range(8):
            name = "from psql %d" % i
            sql("UPDATE users SET display_name = %s WHERE id = %s" % (lit(name), u.id))
            self.eventually("display_name", lambda: self.c.me(u).body["display_name"], name)
            # And it stays.
            for _ in range(4):
                self.assertEqual(self.c.me(u).body["display_name"], name)

    def test_ban_and_unban_with_sql(self):
        u = new_user()
        try:
            for i in range(5):
                self.warm(u)
                sql("UPDATE users SET banned = true WHERE id = %s" % u.id)
                self.eventually("after the ban", lambda: self.c.me(u).status, 401)
                for _ in range(4):
                    self.assertError(self.c.me(u), 401, "unauthorized")
                sql("UPDATE users SET banned = false WHERE id = %s" % u.id)
                self.eventually("after the unban", lambda: self.c.me(u).status, 200)
        finally:
            sql("UPDATE users SET banned = false WHERE id = %s" % u.id)

    def test_session_deleted_with_sql(self):
        u = new_user()
        for i in range(5):
            tok = flick.login(srv, u.name).body["token"]
            self.warm(tok)
            rows = sql("DELETE FROM sessions WHERE token_hash = %s RETURNING user_id" % token_hash_sql(tok))
            self.assertEqual(rows, [[u.id]])
            self.eventually("after the session went", lambda: self.c.me(tok).status, 401)
            self.assertEqual(self.c.me(u).status, 200)

    def test_role_written_with_sql(self):
        u = new_user()

        def limits():
            return self.c.request("GET", "/v1/admin/limits", token=u.token).status

        try:
            for i in range(4):
                self.assertEqual(limits(), 403)
                sql("UPDATE users SET role = 'admin' WHERE id = %s" % u.id)
                self.eventually("as an admin", limits, 200)
                sql("UPDATE users SET role = 'user' WHERE id = %s" % u.id)
                self.eventually("as a user", limits, 403)
        finally:
            sql("UPDATE users SET role = 'user' WHERE id = %s" % u.id)

    def test_cameo_and_settings_written_with_sql(self):
        u = new_user()
        self.warm(u)
        for i in range(4):
            sql("INSERT INTO cameos (user_id, permission) VALUES (%s, 'only_me')" % u.id)
            self.eventually("has_cameo", lambda: self.c.me(u).body["has_cameo"], True)
            sql("DELETE FROM cameos WHERE user_id = %s" % u.id)
            self.eventually("has_cameo", lambda: self.c.me(u).body["has_cameo"], False)
            sql("UPDATE settings SET value = %d WHERE name = 'invites_per_user'" % (20 + i))
            self.eventually("invites_left", lambda: self.c.me(u).body["invites_left"], 20 + i)

    def test_tier_and_birth_year_written_with_sql(self):
        u = new_user()
        self.put_limits(quota_mode="fixed", daily_generations_free=4, daily_generations_pro=40)
        self.warm(u)
        adult, minor = flick.birth_year_for_age(30), flick.birth_year_for_age(15)
        try:
            for i in range(4):
                sql("UPDATE users SET tier = 'pro', birth_year = %d WHERE id = %s" % (minor, u.id))
                self.eventually("pro and minor", lambda: [self.c.me(u).body[k] for k in
                                ("tier", "generations_left_today", "minor")], ["pro", 40, True])
                sql("UPDATE users SET tier = 'free', birth_year = %d WHERE id = %s" % (adult, u.id))
                self.eventually("free and adult", lambda: [self.c.me(u).body[k] for k in
                                ("tier", "generations_left_today", "minor")], ["free", 4, False])
        finally:
            sql("UPDATE users SET tier = 'free', birth_year = 1990 WHERE id = %s" % u.id)

    def test_generation_failed_and_invite_deleted_with_sql(self):
        """What a worker process does to a job, and an operator to an invite."""
        u = new_user()
        self.put_limits(quota_mode="fixed", daily_generations_free=10, invites_per_user=10)
        for i in range(4):
            g = self.c.request("POST", "/v1/generations", {"prompt": PROMPT}, token=u.token)
            self.assertEqual(g.status, 202, g)
            code = self.c.request("POST", "/v1/me/invites", token=u.token).body["code"]
            m = self.warm(u)
            self.assertEqual((m["generations_left_today"], m["invites_left"]), (9, 9))
            sql("UPDATE generations SET status = 'failed', finished_at = now() WHERE id = %s" % g.body["id"])
            self.eventually("generations_left_today", lambda: self.c.me(u).body["generations_left_today"], 10)
            sql("DELETE FROM invites WHERE code = %s" % lit(code))
            self.eventually("invites_left", lambda: self.c.me(u).body["invites_left"], 10)

    def test_another_api_process(self):
        """Two flickd on one database: what one changes, the other shows within a second."""
        other = other_server()
        c2 = Conns(other)
        try:
            u = new_user()
            for i in range(8):
                tok = flick.login(srv, u.name).body["token"]
                self.warm(tok, times=4)
                for _ in range(4):
                    self.assertEqual(c2.me(tok).status, 200)
                bio = "written on the other server %d" % i
                self.assertEqual(c2.request("PATCH", "/v1/me", {"bio": bio}, token=tok).status, 200)
                self.assertEqual(c2.me(tok).body["bio"], bio)       # the writer's own process: at once
                self.eventually("bio on the first server", lambda: self.c.me(tok).body["bio"], bio)
                self.assertEqual(c2.request("POST", "/v1/auth/logout", token=tok).status, 204)
                self.assertEqual(c2.me(tok).status, 401)
                self.eventually("logout on the first server", lambda: self.c.me(tok).status, 401)
        finally:
            c2.close()


# ---- the caches are used, and can be turned off ----

class Metrics(Base):
    def test_hits_are_counted(self):
        u = new_user()
        self.c.me(u)
        before = metrics(srv)
        self.assertEqual(before["flick_cache_enabled"], 1)
        for _ in range(20):
            self.assertEqual(self.c.me(u).status, 200)
        after = metrics(srv)
        self.assertGreaterEqual(lookups(after, "profiles", "hit") - lookups(before, "profiles", "hit"), 10)
        self.assertGreaterEqual(lookups(after, "viewers", "hit") - lookups(before, "viewers", "hit"), 10)
        self.assertGreaterEqual(after['flick_cache_entries{cache="profiles"}'], 1)
        self.assertGreaterEqual(after['flick_cache_entries{cache="viewers"}'], 1)
        self.assertEqual(after["flick_cache_enabled"], 1)

    def test_flick_cache_0(self):
        off = other_server({"FLICK_CACHE": "0"}, name="cache-off")
        c = Conns(off)
        try:
            u = new_user()
            for i in range(20):
                m = c.me(u)
                self.assertEqual((m.status, m.body["id"]), (200, u.id), m)
                if i % 5 == 0:
                    r = c.request("PATCH", "/v1/me", {"bio": "off %d" % i}, token=u.token)
                    self.assertEqual(r.status, 200, r)
                    self.assertEqual(c.me(u).body["bio"], "off %d" % i)
            tok = flick.login(off, u.name).body["token"]
            self.assertEqual(c.me(tok).status, 200)
            self.assertEqual(c.request("POST", "/v1/auth/logout", token=tok).status, 204)
            self.assertEqual(c.me(tok).status, 401)
            m = metrics(off)
            self.assertEqual(m["flick_cache_enabled"], 0)
            for cache in ("viewers", "profiles"):
                self.assertEqual(lookups(m, cache, "hit"), 0, cache)
                self.assertEqual(m['flick_cache_entries{cache="%s"}' % cache], 0, cache)
        finally:
            c.close()
        off.stop()
        _others.remove(off)


if __name__ == "__main__":
    unittest.main()
