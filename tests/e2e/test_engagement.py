"""Engagement (API.md "Posts, drafts, remixes" and "Engagement and feeds"): likes and
viewer.liked on every route that returns posts, POST /v1/events (validation, what is kept,
the views and shares counters), a post's remixes in engagement order, and its lineage.

Posts are written straight into PostgreSQL as the worker leaves them (fixtures.make_post);
remix edges are set in SQL the way a remix generation leaves them."""
import datetime
import unittest

import fixtures
import flick
from fixtures import ApiTestCase, follow, make_post, new_user, new_users, req, set_cameo, sql
from test_posts_cameos import ids, list_all

srv = None


def setUpModule():
    global srv
    srv = fixtures.start_suite("engagement", {"FLICK_WORKERS": "0"})


def tearDownModule():
    fixtures.end_suite(srv)


def remix(author, parent, **kw):
    """A post of author that remixes parent (as a remix generation leaves it)."""
    pid = make_post(author, **kw)
    sql("UPDATE posts c SET remix_of = p.id, remix_root = COALESCE(p.remix_root, p.id), "
        "remix_depth = p.remix_depth + 1 FROM posts p WHERE p.id = %d AND c.id = %d" % (int(parent), int(pid)))
    return pid


def like(user, pid):
    return req(user, "POST", "/v1/posts/%s/like" % pid)


def unlike(user, pid):
    return req(user, "DELETE", "/v1/posts/%s/like" % pid)


def page(user, pid):
    r = req(user, "GET", "/v1/posts/%s" % pid)
    assert r.status == 200, r
    return r.body


def sql_counts(pid):
    v, l, s = sql("SELECT views_count, likes_count, shares_count FROM posts WHERE id = %d" % int(pid))[0]
    return {"views": int(v), "likes": int(l), "shares": int(s)}


def send(user, events):
    return req(user, "POST", "/v1/events", {"events": events})


def stored_events(user):
    return int(sql("SELECT count(*) FROM events WHERE user_id = %d" % int(user.id))[0][0])


class Likes(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.author, cls.fan, cls.other = new_users(3)

    def test_like_and_unlike_are_idempotent(self):
        pid = make_post(self.author)
        for _ in range(2):
            r = like(self.fan, pid)
            self.assertEqual((r.status, r.raw), (204, b""), r)
        p = page(self.fan, pid)
        self.assertEqual(p["counts"]["likes"], 1)
        self.assertIs(p["viewer"]["liked"], True)
        self.assertIs(page(self.other, pid)["viewer"]["liked"], False)
        for _ in range(2):
            self.assertEqual(unlike(self.fan, pid).status, 204)
        p = page(self.fan, pid)
        self.assertEqual(p["counts"]["likes"], 0)
        self.assertIs(p["viewer"]["liked"], False)
        # Unliking what was never liked is fine too.
        self.assertEqual(unlike(self.other, pid).status, 204)
        self.assertEqual(sql_counts(pid)["likes"], 0)

    def test_parallel_likes_count_once(self):
        pid = make_post(self.author)
        out = flick.in_parallel(lambda i: like(self.fan, pid).status, 16)
        self.assertEqual(out, [204] * 16)
        self.assertEqual(sql_counts(pid)["likes"], 1)
        likers = new_users(8)
        out = flick.in_parallel(lambda i: like(likers[i % 8], pid).status, 24)
        self.assertEqual(out, [204] * 24)
        self.assertEqual(page(self.author, pid)["counts"]["likes"], 9)
        # Likes and unlikes racing: the counter always equals the rows.
        flick.in_parallel(lambda i: (unlike if i % 2 else like)(likers[i % 8], pid).status, 32)
        rows = int(sql("SELECT count(*) FROM likes WHERE post_id = %d" % int(pid))[0][0])
        self.assertEqual(sql_counts(pid)["likes"], rows)

    def test_posts_the_caller_cannot_see_are_404(self):
        draft = make_post(self.author, status="draft")
        followers = make_post(self.author, visibility="followers")
        removed = make_post(self.author, status="removed")
        hidden = make_post(self.author, status="hidden")
        for pid in (draft, followers, removed, hidden, "999999999999", "abc", "12x", "-1"):
            with self.subTest(post=pid):
                self.assertError(like(self.other, pid), 404, "not_found")
                self.assertError(unlike(self.other, pid), 404, "not_found")
        for pid in (draft, followers, removed, hidden):
            self.assertEqual(sql_counts(pid)["likes"], 0)
        # A follower may like a followers-only post; the author their own draft.
        fan = new_user()
        follow(fan, self.author)
        self.assertEqual(like(fan, followers).status, 204)
        self.assertEqual(like(self.author, draft).status, 204)
        self.assertEqual(sql_counts(followers)["likes"], 1)

    def test_needs_a_token(self):
        pid = make_post(self.author)
        self.assertError(srv.request("POST", "/v1/posts/%s/like" % pid), 401, "unauthorized")

    def test_the_author_hears_once(self):
        author, fan = new_users(2)
        pid = make_post(author)
        for _ in range(3):
            like(fan, pid)
            unlike(fan, pid)
        like(fan, pid)
        like(author, pid)           # their own like tells nobody
        n = req(author, "GET", "/v1/me/notifications").body["items"]
        liked = [x for x in n if x["type"] == "liked"]
        self.assertEqual(len(liked), 1, n)
        self.assertEqual((liked[0]["actor"]["id"], liked[0]["post_id"]), (fan.id, pid))


class ViewerLiked(ApiTestCase):
    """viewer.liked is the caller's own, on every route that returns posts."""

    @classmethod
    def setUpClass(cls):
        cls.me, cls.other, cls.star = new_users(3)
        set_cameo(cls.me, "everyone")
        cls.post = make_post(cls.me, caption="liked one")
        cls.plain = make_post(cls.me, caption="not liked")
        cls.draft = make_post(cls.me, status="draft")
        cls.to_publish = make_post(cls.me, status="draft")
        cls.featuring = make_post(cls.other, cameos=[cls.me])
        cls.featuring_draft = make_post(cls.other, status="draft", cameos=[cls.me])
        cls.child = remix(cls.star, cls.post)
        cls.grandchild = remix(cls.star, cls.child)
        for pid in (cls.post, cls.draft, cls.to_publish, cls.featuring, cls.child):
            assert like(cls.me, pid).status == 204

    def liked(self, items):
        return {p["id"]: p["viewer"]["liked"] for p in items}

    def test_post_page(self):
        self.assertIs(page(self.me, self.post)["viewer"]["liked"], True)
        self.assertIs(page(self.me, self.plain)["viewer"]["liked"], False)
        self.assertIs(page(self.other, self.post)["viewer"]["liked"], False)

    def test_user_posts_and_drafts(self):
        got = self.liked(list_all(self.me, "/v1/users/%s/posts" % self.me.name))
        self.assertEqual((got[self.post], got[self.plain]), (True, False))
        self.assertFalse(any(self.liked(list_all(self.other, "/v1/users/%s/posts" % self.me.name)).values()))
        self.assertIs(self.liked(list_all(self.me, "/v1/drafts"))[self.draft], True)

    def test_appearances(self):
        got = self.liked(list_all(self.me, "/v1/me/cameo/appearances"))
        self.assertEqual((got[self.featuring], got[self.featuring_draft]), (True, False))

    def test_publish_and_patch(self):
        r = req(self.me, "POST", "/v1/posts/%s/publish" % self.to_publish, {})
        self.assertEqual(r.status, 200, r)
        self.assertIs(r.body["viewer"]["liked"], True)
        r = req(self.me, "PATCH", "/v1/posts/%s" % self.post, {"caption": "still liked"})
        self.assertEqual(r.status, 200, r)
        self.assertIs(r.body["viewer"]["liked"], True)

    def test_remixes_and_lineage(self):
        self.assertEqual(self.liked(list_all(self.me, "/v1/posts/%s/remixes" % self.post)), {self.child: True})
        self.assertEqual(self.liked(list_all(self.other, "/v1/posts/%s/remixes" % self.post)), {self.child: False})
        r = req(self.me, "GET", "/v1/posts/%s/lineage" % self.grandchild)
        self.assertEqual(self.liked(r.body["items"]), {self.post: True, self.child: True})


class Events(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.author, cls.viewer = new_users(2)
        cls.post = make_post(cls.author)

    def ev(self, **kw):
        e = {"post_id": self.post, "type": "view"}
        e.update(kw)
        return e

    def assertRejected(self, events, names):
        before = stored_events(self.viewer)
        self.assertError(send(self.viewer, events), 400, "invalid_request", names)
        self.assertEqual(stored_events(self.viewer), before, "a refused batch stored events")

    def test_accepts_each_type_and_optional_fields(self):
        events = [self.ev(type=t) for t in ("view", "complete", "skip", "share", "not_interested")]
        events += [self.ev(watch_ms=0), self.ev(watch_ms=4200, at="2026-01-02T03:04:05Z"),
                   self.ev(at="2026-01-02T05:04:05.123456+02:00"), self.ev(watch_ms=None, at=None)]
        before = stored_events(self.viewer)
        r = send(self.viewer, events)
        self.assertEqual((r.status, r.body), (202, {"accepted": len(events)}), r)
        self.assertEqual(stored_events(self.viewer), before + len(events))
        rows = sql("SELECT api_time(at), watch_ms FROM events WHERE user_id = %d AND watch_ms = 4200"
                   % int(self.viewer.id))
        self.assertEqual(rows, [["2026-01-02T03:04:05Z", "4200"]])
        rows = sql("SELECT to_char(at AT TIME ZONE 'UTC', 'HH24:MI:SS.US') FROM events "
                   "WHERE user_id = %d AND at < '2026-01-03' AND watch_ms IS NULL" % int(self.viewer.id))
        self.assertEqual(rows, [["03:04:05.123456"]])

    def test_an_empty_batch(self):
        r = send(self.viewer, [])
        self.assertEqual((r.status, r.body), (202, {"accepted": 0}), r)

    def test_events_field(self):
        self.assertRejected(None, "events")
        for bad in ("view", 3, {"post_id": self.post}):
            with self.subTest(events=bad):
                self.assertRejected(bad, "events")
        r = req(self.viewer, "POST", "/v1/events", {})
        self.assertError(r, 400, "invalid_request", "events")

    def test_at_most_100_events(self):
        self.assertEqual(send(self.viewer, [self.ev()] * 100).status, 202)
        self.assertRejected([self.ev()] * 101, "events")

    def test_each_field_of_an_event(self):
        bad = [
            ("events[0]", "view"),
            ("events[0]", None),
            ("events[0].post_id", {"type": "view"}),
            ("events[0].post_id", self.ev(post_id=int(self.post))),
            ("events[0].post_id", self.ev(post_id="")),
            ("events[0].post_id", self.ev(post_id="12a")),
            ("events[0].post_id", self.ev(post_id="-5")),
            ("events[0].post_id", self.ev(post_id="99999999999999999999")),
            ("events[0].type", {"post_id": self.post}),
            ("events[0].type", self.ev(type="like")),
            ("events[0].type", self.ev(type="VIEW")),
            ("events[0].type", self.ev(type=1)),
            ("events[0].watch_ms", self.ev(watch_ms=-1)),
            ("events[0].watch_ms", self.ev(watch_ms="100")),
            ("events[0].watch_ms", self.ev(watch_ms=1.5)),
            ("events[0].watch_ms", self.ev(watch_ms=2 ** 31)),
            ("events[0].at", self.ev(at="yesterday")),
            ("events[0].at", self.ev(at="2026-02-30T00:00:00Z")),
            ("events[0].at", self.ev(at="2026-11-29T10:00:00")),
            ("events[0].at", self.ev(at="2026-11-29 10:00:00Z")),
            ("events[0].at", self.ev(at="2026-11-29T25:00:00Z")),
            ("events[0].at", self.ev(at=1700000000)),
        ]
        for names, event in bad:
            with self.subTest(event=event):
                self.assertRejected([event], names)

    def test_one_bad_event_rejects_the_batch(self):
        pid = make_post(self.author)
        events = [self.ev(post_id=pid), self.ev(post_id=pid, type="share"), self.ev(post_id=pid, type="complete"),
                  self.ev(post_id=pid, type="nope"), self.ev(post_id=pid)]
        self.assertRejected(events, "events[3].type")
        self.assertEqual(sql_counts(pid), {"views": 0, "likes": 0, "shares": 0})

    def test_events_on_posts_the_caller_cannot_see_are_dropped(self):
        author, viewer = new_users(2)
        visible = make_post(author)
        hidden = [make_post(author, status="draft"), make_post(author, visibility="followers"),
                  make_post(author, status="removed")]
        events = [{"post_id": p, "type": "view"} for p in hidden + ["999999999999", visible]]
        r = send(viewer, events)
        self.assertEqual((r.status, r.body), (202, {"accepted": 5}), r)
        rows = sql("SELECT post_id::text, author_id::text FROM events WHERE user_id = %d" % int(viewer.id))
        self.assertEqual(rows, [[visible, author.id]])
        for p in hidden:
            self.assertEqual(sql_counts(p)["views"], 0)
        self.assertEqual(sql_counts(visible)["views"], 1)

    def test_a_future_time_is_clamped_to_now(self):
        viewer = new_user()
        future = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.assertEqual(send(viewer, [self.ev(at=future)]).status, 202)
        self.assertEqual(sql("SELECT at <= now() AND at > now() - interval '1 minute' FROM events "
                             "WHERE user_id = %d" % int(viewer.id)), [["t"]])


class Counters(ApiTestCase):
    """counts.views: people who viewed (a view or a complete, once each); counts.shares:
    people who shared (once each). Skips and not_interested change neither."""

    def test_view_and_complete_from_one_viewer_count_once(self):
        author, a, b, c = new_users(4)
        pid = make_post(author)
        ev = lambda t: {"post_id": pid, "type": t}
        self.assertEqual(send(a, [ev("view"), ev("complete")]).status, 202)
        self.assertEqual(sql_counts(pid)["views"], 1)
        send(a, [ev("view")])
        send(a, [ev("complete")])
        self.assertEqual(sql_counts(pid)["views"], 1)
        send(b, [ev("complete")])               # a complete implies a view
        self.assertEqual(sql_counts(pid)["views"], 2)
        send(c, [ev("skip"), ev("not_interested")])
        self.assertEqual(sql_counts(pid), {"views": 2, "likes": 0, "shares": 0})
        send(c, [ev("share"), ev("share")])
        send(c, [ev("share")])
        send(a, [ev("share")])
        p = page(author, pid)
        self.assertEqual((p["counts"]["views"], p["counts"]["shares"]), (2, 2))

    def test_counters_exact_under_parallel_batches(self):
        author = new_user()
        viewers = new_users(6)
        posts = [make_post(author) for _ in range(3)]
        # Each viewer sends the same batch four times at once, posts in opposite orders.
        def batch(i):
            order = posts if i % 2 else list(reversed(posts))
            evs = [{"post_id": p, "type": t} for p in order for t in ("view", "complete", "share")]
            return send(viewers[i % 6], evs).status
        self.assertEqual(flick.in_parallel(batch, 24), [202] * 24)
        for p in posts:
            self.assertEqual(sql_counts(p), {"views": 6, "likes": 0, "shares": 6})


class Remixes(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.author, cls.a, cls.b, cls.viewer = new_users(4)
        cls.parent = make_post(cls.author)
        # Scores (tenths): likes*10 + remixes*20 + shares*10 + views.
        cls.plain = remix(cls.a, cls.parent)                            # 0
        cls.liked = remix(cls.b, cls.parent)                            # 5 likes: 50
        cls.remixed = remix(cls.a, cls.parent)                          # 2 remixes: 40
        cls.viewed = remix(cls.b, cls.parent)                           # 30 views: 30
        cls.tie_old = remix(cls.a, cls.parent)                          # 3 shares: 30, older
        cls.draft = remix(cls.a, cls.parent, status="draft")
        cls.followers = remix(cls.b, cls.parent, visibility="followers")
        cls.removed = remix(cls.a, cls.parent, status="removed")
        sql("UPDATE posts SET likes_count = 5 WHERE id = %s" % cls.liked)
        sql("UPDATE posts SET remixes_count = 2 WHERE id = %s" % cls.remixed)
        sql("UPDATE posts SET views_count = 30, published_at = now() WHERE id = %s" % cls.viewed)
        sql("UPDATE posts SET shares_count = 3, published_at = now() - interval '1 hour' WHERE id = %s"
            % cls.tie_old)
        cls.order = [cls.liked, cls.remixed, cls.viewed, cls.tie_old, cls.plain]

    def test_most_engaging_first(self):
        got = list_all(self.viewer, "/v1/posts/%s/remixes" % self.parent)
        self.assertEqual(ids(got), self.order)
        for p in got:
            self.assertEqual(p["remix_of"], self.parent)

    def test_pages_follow_the_same_order(self):
        for limit in (1, 2, 3):
            with self.subTest(limit=limit):
                self.assertEqual(ids(list_all(self.viewer, "/v1/posts/%s/remixes?limit=%d" % (self.parent, limit))), self.order)

    def test_only_visible_published_remixes(self):
        fan = new_user()
        follow(fan, self.b)
        self.assertIn(self.followers, ids(list_all(fan, "/v1/posts/%s/remixes" % self.parent)))
        # Not even its author sees a draft or removed remix here: only published ones are listed.
        mine = ids(list_all(self.a, "/v1/posts/%s/remixes" % self.parent))
        self.assertNotIn(self.draft, mine)
        self.assertNotIn(self.removed, mine)
        self.assertNotIn(self.followers, mine)

    def test_invisible_parent_is_404(self):
        hidden = make_post(self.author, visibility="followers")
        remix(self.a, hidden)
        for pid in (hidden, make_post(self.author, status="draft"), "999999999999", "x1"):
            with self.subTest(post=pid):
                self.assertError(req(self.viewer, "GET", "/v1/posts/%s/remixes" % pid), 404, "not_found")

    def test_a_post_without_remixes(self):
        r = req(self.viewer, "GET", "/v1/posts/%s/remixes" % self.plain)
        self.assertEqual((r.status, r.body), (200, {"items": [], "next_cursor": None}), r)

    def test_cursor_and_limit(self):
        path = "/v1/posts/%s/remixes" % self.parent
        r = req(self.viewer, "GET", path + "?limit=2")
        self.assertEqual(ids(r.body["items"]), self.order[:2])
        cursor = r.body["next_cursor"]
        self.assertIsInstance(cursor, str)
        for bad in (cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB"), "garbage", cursor + "x"):
            with self.subTest(cursor=bad):
                self.assertError(req(self.viewer, "GET", path + "?cursor=" + bad), 400, "invalid_request", "cursor")
        # Another list's cursor is not this one's.
        other = req(self.viewer, "GET", "/v1/users/%s/posts?limit=1" % self.a.name).body["next_cursor"]
        self.assertError(req(self.viewer, "GET", path + "?cursor=" + other), 400, "invalid_request", "cursor")
        for bad in ("0", "101", "x"):
            self.assertError(req(self.viewer, "GET", path + "?limit=" + bad), 400, "invalid_request", "limit")


class Lineage(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.a, cls.b, cls.c, cls.viewer = new_users(4)
        cls.root = make_post(cls.a)
        cls.mid = remix(cls.b, cls.root)
        cls.parent = remix(cls.c, cls.mid)
        cls.leaf = remix(cls.a, cls.parent)

    def lineage(self, user, pid):
        return req(user, "GET", "/v1/posts/%s/lineage" % pid)

    def test_the_chain_root_first(self):
        r = self.lineage(self.viewer, self.leaf)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(set(r.body), {"items"})
        self.assertEqual(ids(r.body["items"]), [self.root, self.mid, self.parent])
        self.assertEqual([p["remix_depth"] for p in r.body["items"]], [0, 1, 2])
        self.assertEqual(ids(self.lineage(self.viewer, self.mid).body["items"]), [self.root])

    def test_an_original_post_has_none(self):
        r = self.lineage(self.viewer, self.root)
        self.assertEqual((r.status, r.body), (200, {"items": []}), r)

    def test_an_ancestor_the_caller_cannot_see_is_left_out(self):
        a, b, c = new_users(3)
        root = make_post(a)
        mid = remix(b, root, visibility="followers")
        leaf = remix(c, mid)
        self.assertEqual(ids(self.lineage(self.viewer, leaf).body["items"]), [root])
        follow(self.viewer, b)
        self.assertEqual(ids(self.lineage(self.viewer, leaf).body["items"]), [root, mid])
        sql("UPDATE posts SET status = 'removed' WHERE id = %s" % root)
        self.assertEqual(ids(self.lineage(self.viewer, leaf).body["items"]), [mid])

    def test_an_invisible_post_is_404(self):
        draft = remix(self.b, self.parent, status="draft")
        for pid in (draft, "999999999999", "abc"):
            with self.subTest(post=pid):
                self.assertError(self.lineage(self.viewer, pid), 404, "not_found")
        self.assertEqual(ids(self.lineage(self.b, draft).body["items"]), [self.root, self.mid, self.parent])


if __name__ == "__main__":
    unittest.main()
