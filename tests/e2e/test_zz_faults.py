"""Fault injection (runs last): PostgreSQL and then Redis are stopped under a running
server and started again. While one is down the server answers fast and honestly (503
`unavailable` where it needs PostgreSQL; logins fail open without Redis), and once it is
back the server recovers by itself. Services are restarted in `finally` whatever happens."""
import time
import unittest

import flick

srv = None
USER = None
FAST_S = 2.0        # an answer while a dependency is down comes within this
RECOVER_S = 5.0     # and normal service returns within this once it is back


def setUpModule():
    global srv, USER
    srv = flick.start_server(name="faults")
    USER = flick.signup(srv)


def tearDownModule():
    try:
        flick.services("pg-start")
        flick.services("redis-start")
    finally:
        srv.stop()


class Faults(unittest.TestCase):
    def timed(self, method, path, body=None, token=None):
        start = time.monotonic()
        r = srv.request(method, path, body, token=token, timeout=FAST_S + 3)
        elapsed = time.monotonic() - start
        self.assertLess(elapsed, FAST_S, "%s %s took %.2f s" % (method, path, elapsed))
        self.assertTrue(r.headers.get("X-Request-Id"))
        return r

    def assertUnavailable(self, r):
        self.assertEqual(r.status, 503, r)
        self.assertTrue(r.headers.get("Content-Type", "").startswith("application/json"))
        self.assertEqual(set(r.body), {"error"}, r)
        self.assertEqual(r.body["error"]["code"], "unavailable", r)
        self.assertIsInstance(r.body["error"]["message"], str)

    def wait_for(self, what, check, timeout=RECOVER_S):
        end = time.monotonic() + timeout
        last = None
        while time.monotonic() < end:
            try:
                last = check()
                if last is True:
                    return
            except OSError as e:
                last = e
            time.sleep(0.1)
        self.fail("%s did not recover within %.0f s (last: %r)" % (what, timeout, last))

    def test_postgres_down_and_back(self):
        tok = USER["token"]
        self.assertEqual(srv.request("GET", "/v1/me", token=tok).status, 200)
        try:
            flick.services("pg-stop")
            for _ in range(3):      # not only the first request after the loss
                self.assertUnavailable(self.timed("GET", "/v1/me", token=tok))
            self.assertUnavailable(self.timed("GET", "/v1/users/" + USER["username"], token=tok))
            self.assertUnavailable(self.timed("POST", "/v1/auth/login",
                                              {"username": USER["username"], "password": USER["password"]}))
            self.assertUnavailable(self.timed("PATCH", "/v1/me", {"bio": "while down"}, token=tok))
            r = self.timed("GET", "/readyz")
            self.assertEqual(r.status, 503, r)
            self.assertNotEqual(r.body.get("postgres"), "ok", r)
            self.assertEqual(r.body.get("redis"), "ok", r)
            self.assertEqual(self.timed("GET", "/healthz").status, 200)
            m = self.timed("GET", "/metrics")
            self.assertEqual(m.status, 200)
            self.assertIn(b"flick_http_requests_total", m.raw)
            # Bad input is still bad input, and a missing token is still 401.
            self.assertEqual(self.timed("POST", "/v1/auth/login", b"{").status, 400)
            self.assertEqual(self.timed("GET", "/v1/me").status, 401)
        finally:
            flick.services("pg-start")
        self.wait_for("GET /v1/me", lambda: srv.request("GET", "/v1/me", token=tok).status == 200)
        self.wait_for("/readyz", lambda: srv.request("GET", "/readyz").status == 200)
        self.assertEqual(srv.request("GET", "/v1/me", token=tok).body["username"], USER["username"])
        self.assertNotEqual(srv.request("GET", "/v1/me", token=tok).body["bio"], "while down")
        self.assertEqual(flick.login(srv, USER["username"]).status, 200)
        self.assertTrue(srv.alive())

    def sample(self, name):
        """One sample of /metrics, by its name with labels."""
        text = self.timed("GET", "/metrics").raw.decode("utf-8")
        return float(next(l.rsplit(" ", 1)[1] for l in text.splitlines() if l.startswith(name + " ")))

    def test_postgres_down_with_a_cached_token(self):
        # The token and its /v1/me are in the caches; once PostgreSQL is gone they hold
        # nothing (no connection hears about changes), so the answer is 503, not the copy.
        tok = USER["token"]
        for _ in range(5):
            self.assertEqual(srv.request("GET", "/v1/me", token=tok).status, 200)
        hit = 'flick_cache_lookups_total{cache="profiles",result="hit"}'
        self.assertEqual(self.sample("flick_cache_enabled"), 1)
        try:
            flick.services("pg-stop")
            hits = self.sample(hit)
            for _ in range(5):
                self.assertUnavailable(self.timed("GET", "/v1/me", token=tok))
            self.assertEqual(self.sample(hit), hits)
            self.assertEqual(self.sample("flick_cache_enabled"), 0)
            self.assertEqual(self.sample('flick_cache_entries{cache="viewers"}'), 0)
            self.assertEqual(self.sample('flick_cache_entries{cache="profiles"}'), 0)
        finally:
            flick.services("pg-start")
        self.wait_for("GET /v1/me", lambda: srv.request("GET", "/v1/me", token=tok).status == 200)
        for _ in range(3):
            self.assertEqual(srv.request("GET", "/v1/me", token=tok).body["username"], USER["username"])
        self.assertEqual(self.sample("flick_cache_enabled"), 1)
        self.assertTrue(srv.alive())

    def test_redis_down_and_back(self):
        tok = USER["token"]
        try:
            flick.services("redis-stop")
            r = self.timed("POST", "/v1/auth/login", {"username": USER["username"], "password": USER["password"]})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(self.timed("GET", "/v1/me", token=r.body["token"]).status, 200)
            r = self.timed("POST", "/v1/auth/login", {"username": USER["username"], "password": "wrong password"})
            self.assertEqual(r.status, 401, r)
            self.assertEqual(self.timed("GET", "/v1/me", token=tok).status, 200)
            r = self.timed("GET", "/readyz")
            self.assertEqual(r.status, 503, r)
            self.assertNotEqual(r.body.get("redis"), "ok", r)
            self.assertEqual(r.body.get("postgres"), "ok", r)
            self.assertEqual(self.timed("GET", "/healthz").status, 200)
            self.assertEqual(self.timed("GET", "/metrics").status, 200)
        finally:
            flick.services("redis-start")
        self.wait_for("/readyz", lambda: srv.request("GET", "/readyz").status == 200)
        self.assertEqual(flick.login(srv, USER["username"]).status, 200)
        self.assertTrue(srv.alive())

    def test_zz_still_alive(self):
        self.assertTrue(srv.alive())
        self.assertEqual(srv.request("GET", "/healthz").status, 200)


if __name__ == "__main__":
    unittest.main()
