"""Operations endpoints: /healthz, /readyz, /metrics (API.md "Operations")."""
import json
import re
import threading
import time
import unittest

import flick

srv = None


def setUpModule():
    global srv
    srv = flick.start_server(name="ops")


def tearDownModule():
    srv.stop()


class Ops(unittest.TestCase):
    def test_healthz(self):
        r = srv.request("GET", "/healthz")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers["Content-Type"].startswith("application/json"))
        self.assertIsInstance(r.body, dict)

    def test_readyz(self):
        r = srv.request("GET", "/readyz")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["postgres"], "ok")
        self.assertEqual(r.body["redis"], "ok")

    def test_healthz_and_readyz_need_no_token_and_ignore_a_bad_one(self):
        self.assertEqual(srv.request("GET", "/healthz", token="x" * 43).status, 200)
        self.assertEqual(srv.request("GET", "/readyz", token="garbage").status, 200)

    def test_metrics(self):
        # Some traffic for the counters: a success, a 404 route, a 401 and a 405.
        self.assertEqual(srv.request("GET", "/healthz").status, 200)
        self.assertEqual(srv.request("GET", "/no/such/route").status, 404)
        self.assertEqual(srv.request("GET", "/v1/me").status, 401)
        self.assertEqual(srv.request("DELETE", "/v1/me").status, 405)
        r = srv.request("GET", "/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers["Content-Type"].startswith("text/plain"), r.headers["Content-Type"])
        text = r.raw.decode("utf-8")
        lines = text.splitlines()

        def samples(name):
            return [l for l in lines if l.startswith(name + "{") or l.startswith(name + " ")]

        # Every non-comment line is `name{labels} value` or `name value`.
        sample_re = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"'
                               r'(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? (?:[-+0-9.eE]+|[-+]?Inf|NaN)$')
        for l in lines:
            if l and not l.startswith("#"):
                self.assertRegex(l, sample_re)

        reqs = samples("flick_http_requests_total")
        self.assertIn("# TYPE flick_http_requests_total counter", text)
        self.assertTrue(any('route="/healthz"' in l and 'status="200"' in l for l in reqs), reqs)
        self.assertTrue(any('route="/v1/me"' in l and 'status="401"' in l for l in reqs), reqs)
        self.assertTrue(any('status="405"' in l for l in reqs), reqs)
        self.assertTrue(any('status="404"' in l for l in reqs), reqs)
        healthz = [l for l in reqs if 'route="/healthz"' in l and 'status="200"' in l][0]
        self.assertGreaterEqual(float(healthz.rsplit(" ", 1)[1]), 1)

        self.assertIn("# TYPE flick_http_request_duration_seconds histogram", text)
        buckets = samples("flick_http_request_duration_seconds_bucket")
        self.assertTrue(any('le="+Inf"' in l and 'route="/healthz"' in l for l in buckets), buckets)
        self.assertTrue(samples("flick_http_request_duration_seconds_sum"))
        self.assertTrue(samples("flick_http_request_duration_seconds_count"))
        # Buckets are cumulative: non-decreasing within one route.
        hz = [float(l.rsplit(" ", 1)[1]) for l in buckets if 'route="/healthz"' in l]
        self.assertEqual(hz, sorted(hz))

        self.assertTrue(any(l.startswith("flick_db_") for l in lines), "no flick_db_ samples")
        self.assertTrue(any(l.startswith("flick_redis_") for l in lines), "no flick_redis_ samples")
        jobs = samples("flick_generation_jobs")
        self.assertTrue(jobs, "no flick_generation_jobs samples")
        self.assertTrue(any('status="queued"' in l for l in jobs), jobs)

    def test_metrics_counts_grow(self):
        def count():
            text = srv.request("GET", "/metrics").raw.decode()
            for l in text.splitlines():
                if l.startswith("flick_http_requests_total{") and 'route="/readyz"' in l and 'status="200"' in l:
                    return float(l.rsplit(" ", 1)[1])
            return 0.0
        before = count()
        for _ in range(3):
            srv.request("GET", "/readyz")
        self.assertEqual(count(), before + 3)


class Concurrency(unittest.TestCase):
    def test_parallel_clients(self):
        acct = flick.signup(srv)
        expected = [("GET", "/v1/me", acct["token"], 200), ("GET", "/healthz", None, 200),
                    ("GET", "/v1/users/" + acct["username"], acct["token"], 200), ("GET", "/nope", None, 404),
                    ("GET", "/v1/me", None, 401), ("GET", "/readyz", None, 200),
                    ("GET", "/v1/me/invites?limit=5", acct["token"], 200)]
        wrong = []

        def client(k):
            for i in range(12):
                method, path, tok, status = expected[(k + i) % len(expected)]
                try:
                    r = srv.request(method, path, token=tok)
                    if r.status != status:
                        wrong.append((path, r))
                except OSError as e:
                    wrong.append((path, e))

        threads = [threading.Thread(target=client, args=(k,)) for k in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(wrong, [])


class Shutdown(unittest.TestCase):
    def test_sigterm_with_requests_in_flight(self):
        own = flick.start_server(name="shutdown")
        socks = []
        try:
            acct = flick.signup(own)
            body = json.dumps({"username": acct["username"], "password": acct["password"]}).encode()
            for _ in range(5):
                for data in (b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                             % len(body) + body,
                             b"GET /v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                             acct["token"].encode() + b"\r\n\r\n",
                             b"GET /v1/me HTTP/1.1\r\nHost: x\r\n",     # half a request
                             b""):                                         # idle
                    s = own.connect()
                    if data:
                        s.sendall(data)
                    socks.append(s)
            own.stop(timeout=20)    # raises unless exit status 0 and no sanitizer report
        finally:
            for s in socks:
                s.close()
            own.kill()


if __name__ == "__main__":
    unittest.main()
