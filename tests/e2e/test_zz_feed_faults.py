"""The feeds when a dependency goes away (runs among the last suites): without Redis all three
feeds still answer 200, fast, from PostgreSQL alone, and page without repeats; once Redis is
back the rank role rebuilds what Redis lost. Without PostgreSQL they answer 503. Services are
restarted in `finally` whatever happens."""
import time
import unittest

import fixtures
import flick
from fixtures import close_sql, follow, make_post, new_users, req, sql
from test_feed import FEEDS, event, ids, redis_cli, start_rank, stop_rank

srv = None
rank = None
FAST_S = 2.0        # an answer while a dependency is down comes within this
RECOVER_S = 10.0    # and normal service (trending rebuilt included) returns within this


def setUpModule():
    global srv, rank
    srv = fixtures.start_suite("feed-faults", {"FLICK_WORKERS": "0"})
    rank = start_rank()


def tearDownModule():
    try:
        flick.services("pg-start")
        flick.services("redis-start")
        stop_rank(rank)
    finally:
        fixtures.end_suite(srv)


class FeedFaults(unittest.TestCase):
    def timed(self, user, path):
        start = time.monotonic()
        r = req(user, "GET", path)
        elapsed = time.monotonic() - start
        self.assertLess(elapsed, FAST_S, "%s took %.2f s" % (path, elapsed))
        return r

    def scroll_fast(self, user, path, limit, most=100):
        """Pages of one scroll, each answered fast: all of them, or the first `most`."""
        pages, cursor = [], None
        for _ in range(most):
            r = self.timed(user, "%s?limit=%d%s" % (path, limit, "&cursor=" + cursor if cursor else ""))
            self.assertEqual(r.status, 200, r)
            pages.append(r.body["items"])
            cursor = r.body["next_cursor"]
            if not cursor:
                return pages
        if most < 100:
            return pages
        self.fail("%s does not end" % path)

    def wait_for(self, what, check):
        end = time.monotonic() + RECOVER_S
        while time.monotonic() < end:
            if check():
                return
            time.sleep(0.2)
        self.fail("%s did not recover within %.0f s" % (what, RECOVER_S))

    def test_redis_down_feeds_answer_from_postgres(self):
        viewer, author, other, fan = new_users(4)
        follow(viewer, author)
        mine = [make_post(author) for _ in range(6)] + [make_post(other) for _ in range(6)]
        restricted = make_post(author)
        sql("UPDATE posts SET restricted = true WHERE id = %s" % restricted)
        event(fan, mine[0], "share")
        self.wait_for("trending", lambda: redis_cli("ZSCORE", "rank:{trending}", mine[0]) != "")
        before = req(viewer, "GET", "/v1/feed?limit=3")
        self.assertEqual(before.status, 200, before)
        snapshot_cursor = before.body["next_cursor"]
        try:
            flick.services("redis-stop")
            for path in FEEDS:
                pages = self.scroll_fast(viewer, path, 5, most=4)
                seen = ids([i for p in pages for i in p])
                self.assertTrue(seen, path)
                self.assertEqual(len(seen), len(set(seen)), "%s repeats posts without Redis" % path)
                if path == "/v1/feed/following":
                    self.assertIn(restricted, seen)
                else:
                    self.assertNotIn(restricted, seen)
                if path == "/v1/feed":
                    for pid in mine:
                        self.assertIn(pid, seen, "without Redis For You still has the candidates")
                    for item in [i for p in pages for i in p]:
                        self.assertIn(item["reason"]["code"], ("followed_author", "explore", "features_you",
                                                               "remix_of_liked", "preference_match", "trending"))
            # A cursor from before the outage still answers (the scroll starts over).
            r = self.timed(viewer, "/v1/feed?limit=3&cursor=" + snapshot_cursor)
            self.assertEqual(r.status, 200, r)
            self.assertTrue(r.body["items"])
            self.assertEqual(self.timed(viewer, "/v1/me/feed-preferences").status, 200)
            # The rank role keeps running and events still land in PostgreSQL.
            event(fan, mine[1], "complete")
            time.sleep(0.5)
            self.assertIsNone(rank.poll(), "flickd rank died without Redis")
        finally:
            flick.services("redis-start")
        # Redis came back empty: the rank role replays the log, trending returns, and
        # snapshot paging is back (no repeats across pages).
        self.wait_for("trending after Redis returned",
                      lambda: redis_cli("ZSCORE", "rank:{trending}", mine[0]) != "")
        self.wait_for("the completion folded again",
                      lambda: redis_cli("HGET", "rank:{post:%s}" % mine[1], "completes") == "1")
        seen = ids([i for p in self.scroll_fast(viewer, "/v1/feed", 25) for i in p])
        self.assertEqual(len(seen), len(set(seen)))
        self.assertTrue(srv.alive())
        self.assertIsNone(rank.poll())

    def test_postgres_down_feeds_are_unavailable(self):
        viewer, author = new_users(2)
        follow(viewer, author)
        make_post(author)
        for path in FEEDS:
            self.assertEqual(req(viewer, "GET", path).status, 200)
        try:
            flick.services("pg-stop")
            for path in FEEDS + ("/v1/me/feed-preferences",):
                r = self.timed(viewer, path)
                self.assertEqual(r.status, 503, r)
                self.assertEqual(r.body["error"]["code"], "unavailable", r)
        finally:
            flick.services("pg-start")
            close_sql()     # its session died with the server; the next sql() opens another
        self.wait_for("feeds", lambda: all(req(viewer, "GET", p).status == 200 for p in FEEDS))
        self.assertIsNone(rank.poll(), "flickd rank died without PostgreSQL")


if __name__ == "__main__":
    unittest.main()
