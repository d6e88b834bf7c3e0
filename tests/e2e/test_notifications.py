"""Notifications (API.md "Notifications"): `followed`, `liked`, `remixed` and `cameo_used`
from the actions that cause them (cameo_used from a real generation run by a worker), no
repeats, the list (newest first, cursor, limit), marking read, and which ones are left out
(banned actors, posts the recipient can no longer see)."""
import re
import time
import unittest

import fixtures
import flick
from fixtures import ApiTestCase, follow, make_post, new_user, new_users, req, set_cameo, sql
from test_posts_cameos import AllServer, list_all

srv = None
FIELDS = {"id", "type", "actor", "post_id", "created_at", "read"}
RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def setUpModule():
    global srv
    srv = fixtures.start_suite("notifications", {"FLICK_WORKERS": "0"})


def tearDownModule():
    fixtures.end_suite(srv)


def notes(user, path="/v1/me/notifications"):
    """Every notification of user, newest first, following the cursor."""
    return list_all(user, path)


def of_type(user, t):
    return [n for n in notes(user) if n["type"] == t]


def unfollow(a, b):
    r = req(a, "DELETE", "/v1/users/%s/follow" % b.name)
    assert r.status == 204, r


def remix_draft(author, parent):
    pid = make_post(author, status="draft")
    sql("UPDATE posts c SET remix_of = p.id, remix_root = COALESCE(p.remix_root, p.id), "
        "remix_depth = p.remix_depth + 1 FROM posts p WHERE p.id = %d AND c.id = %d" % (int(parent), int(pid)))
    return pid


class Shape(ApiTestCase):
    def test_fields_and_types(self):
        me, fan = new_users(2)
        pid = make_post(me)
        follow(fan, me)
        self.assertEqual(req(fan, "POST", "/v1/posts/%s/like" % pid).status, 204)
        items = notes(me)
        self.assertEqual([n["type"] for n in items], ["liked", "followed"])
        for n in items:
            self.assertEqual(set(n), FIELDS, n)
            self.assertRegex(n["id"], r"^[0-9]+$")
            self.assertRegex(n["created_at"], RFC3339_UTC)
            self.assertIs(n["read"], False)
            self.assertEqual((n["actor"]["id"], n["actor"]["username"]), (fan.id, fan.name))
            self.assertIn("has_cameo", n["actor"])
        self.assertEqual((items[0]["post_id"], items[1]["post_id"]), (pid, None))
        self.assertEqual(notes(fan), [])

    def test_needs_a_token(self):
        self.assertError(srv.request("GET", "/v1/me/notifications"), 401, "unauthorized")
        self.assertError(srv.request("POST", "/v1/me/notifications/read", {"up_to_id": "1"}), 401, "unauthorized")


class Followed(ApiTestCase):
    def test_one_per_follower(self):
        star, fan = new_users(2)
        follow(fan, star)
        follow(fan, star)
        for _ in range(4):
            unfollow(fan, star)
            follow(fan, star)
        got = of_type(star, "followed")
        self.assertEqual(len(got), 1, got)
        self.assertEqual(got[0]["actor"]["id"], fan.id)

    def test_parallel_follow_spam(self):
        star, fan = new_users(2)

        def spam(i):
            r = req(fan, "DELETE" if i % 3 == 2 else "POST", "/v1/users/%s/follow" % star.name)
            return r.status
        self.assertEqual(flick.in_parallel(spam, 24), [204] * 24)
        follow(fan, star)
        self.assertEqual(len(of_type(star, "followed")), 1)

    def test_a_follow_a_day_later_comes_back_unread(self):
        star, fan, other = new_users(3)
        follow(fan, star)
        old = of_type(star, "followed")[0]
        follow(other, star)
        req(star, "POST", "/v1/me/notifications/read", {"up_to_id": "999999999999"})
        sql("UPDATE notifications SET created_at = now() - interval '2 days' WHERE id = %s" % old["id"])
        unfollow(fan, star)
        follow(fan, star)
        items = notes(star)
        self.assertEqual([(n["type"], n["actor"]["id"], n["read"]) for n in items],
                         [("followed", fan.id, False), ("followed", other.id, True)])
        self.assertGreater(int(items[0]["id"]), int(items[1]["id"]))
        self.assertNotEqual(items[0]["id"], old["id"])


class Liked(ApiTestCase):
    def test_one_per_person_and_post_never_for_oneself(self):
        me, a, b = new_users(3)
        p1, p2 = make_post(me), make_post(me)
        for u, p in ((a, p1), (a, p1), (b, p1), (a, p2), (me, p1)):
            self.assertEqual(req(u, "POST", "/v1/posts/%s/like" % p).status, 204)
        req(a, "DELETE", "/v1/posts/%s/like" % p1)
        req(a, "POST", "/v1/posts/%s/like" % p1)
        got = sorted((n["actor"]["id"], n["post_id"]) for n in of_type(me, "liked"))
        self.assertEqual(got, sorted([(a.id, p1), (b.id, p1), (a.id, p2)]))


class Remixed(ApiTestCase):
    def test_publishing_a_remix_tells_the_parent_author(self):
        me, remixer = new_users(2)
        parent = make_post(me)
        child = remix_draft(remixer, parent)
        self.assertEqual(of_type(me, "remixed"), [])       # a draft tells nobody
        r = req(remixer, "POST", "/v1/posts/%s/publish" % child, {})
        self.assertEqual(r.status, 200, r)
        req(remixer, "POST", "/v1/posts/%s/publish" % child, {})   # publishing again: nothing new
        got = of_type(me, "remixed")
        self.assertEqual([(n["actor"]["id"], n["post_id"]) for n in got], [(remixer.id, child)])
        # Remixing one's own post tells nobody.
        mine = remix_draft(me, parent)
        self.assertEqual(req(me, "POST", "/v1/posts/%s/publish" % mine, {}).status, 200)
        self.assertEqual(len(of_type(me, "remixed")), 1)


class LeftOut(ApiTestCase):
    def test_a_banned_actor_is_left_out(self):
        me, fan, other = new_users(3)
        pid = make_post(me)
        follow(fan, me)
        follow(other, me)
        req(fan, "POST", "/v1/posts/%s/like" % pid)
        sql("UPDATE users SET banned = true WHERE id = %s" % fan.id)
        self.assertEqual([n["actor"]["id"] for n in notes(me)], [other.id])
        sql("UPDATE users SET banned = false WHERE id = %s" % fan.id)
        self.assertEqual(len(notes(me)), 3)

    def test_a_post_i_can_no_longer_see_is_left_out(self):
        me, remixer = new_users(2)
        parent = make_post(me)
        child = remix_draft(remixer, parent)
        self.assertEqual(req(remixer, "POST", "/v1/posts/%s/publish" % child, {"visibility": "followers"}).status, 200)
        follow(me, remixer)
        self.assertEqual(len(of_type(me, "remixed")), 1)
        unfollow(me, remixer)           # the remix is followers-only: I no longer see it
        self.assertEqual(of_type(me, "remixed"), [])
        follow(me, remixer)
        self.assertEqual(len(of_type(me, "remixed")), 1)
        sql("UPDATE posts SET status = 'removed' WHERE id = %s" % child)
        self.assertEqual(of_type(me, "remixed"), [])

    def test_moderation_stays_even_when_the_post_is_removed(self):
        me, mod = new_users(2)
        pid = make_post(me, status="removed")
        sql("INSERT INTO notifications (user_id, type, actor_id, post_id) VALUES (%s, 'moderation', %s, %s)"
            % (me.id, mod.id, pid))
        self.assertEqual([(n["type"], n["post_id"]) for n in notes(me)], [("moderation", pid)])

    def test_cameo_used_while_the_post_features_me(self):
        me, maker = new_users(2)
        pid = make_post(maker, status="draft", cameos=[me])
        sql("INSERT INTO notifications (user_id, type, actor_id, post_id) VALUES (%s, 'cameo_used', %s, %s)"
            % (me.id, maker.id, pid))
        self.assertEqual([n["post_id"] for n in of_type(me, "cameo_used")], [pid])   # someone's draft
        sql("UPDATE posts SET status = 'removed' WHERE id = %s" % pid)
        self.assertEqual(of_type(me, "cameo_used"), [])


class ListAndRead(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.me = new_user()
        cls.fans = new_users(5)
        for f in cls.fans:
            follow(f, cls.me)
        cls.all = notes(cls.me)

    def test_newest_first_across_pages(self):
        self.assertEqual([n["actor"]["id"] for n in self.all], [f.id for f in reversed(self.fans)])
        for limit in (1, 2, 4):
            with self.subTest(limit=limit):
                got = notes(self.me, "/v1/me/notifications?limit=%d" % limit)
                self.assertEqual([n["id"] for n in got], [n["id"] for n in self.all])
        r = req(self.me, "GET", "/v1/me/notifications?limit=5")
        self.assertEqual((len(r.body["items"]), r.body["next_cursor"]), (5, None))

    def test_bad_limit_and_forged_cursor(self):
        for bad in ("0", "101", "ten"):
            self.assertError(req(self.me, "GET", "/v1/me/notifications?limit=" + bad), 400, "invalid_request", "limit")
        cursor = req(self.me, "GET", "/v1/me/notifications?limit=1").body["next_cursor"]
        flipped = cursor[:5] + ("A" if cursor[5] != "A" else "B") + cursor[6:]
        for bad in (flipped, "garbage", cursor[:-1]):
            with self.subTest(cursor=bad):
                self.assertError(req(self.me, "GET", "/v1/me/notifications?cursor=" + bad), 400,
                                 "invalid_request", "cursor")
        # Another list's cursor is not this list's.
        make_post(self.me)
        make_post(self.me)
        other = req(self.me, "GET", "/v1/users/%s/posts?limit=1" % self.me.name).body["next_cursor"]
        self.assertError(req(self.me, "GET", "/v1/me/notifications?cursor=" + other), 400, "invalid_request", "cursor")

    def test_read_up_to_an_id(self):
        me = new_user()
        fans = new_users(4)
        for f in fans:
            follow(f, me)
        items = notes(me)                         # newest first
        middle = items[2]["id"]
        r = req(me, "POST", "/v1/me/notifications/read", {"up_to_id": middle})
        self.assertEqual((r.status, r.raw), (204, b""), r)
        self.assertEqual([n["read"] for n in notes(me)], [False, False, True, True])
        # Mine only: someone else's up_to_id marks nothing of mine.
        other = new_user()
        self.assertEqual(req(other, "POST", "/v1/me/notifications/read", {"up_to_id": "999999999999"}).status, 204)
        self.assertEqual([n["read"] for n in notes(me)], [False, False, True, True])
        self.assertEqual(req(me, "POST", "/v1/me/notifications/read", {"up_to_id": items[0]["id"]}).status, 204)
        self.assertEqual([n["read"] for n in notes(me)], [True] * 4)

    def test_read_needs_an_id_string(self):
        for body in ({}, {"up_to_id": None}, {"up_to_id": 12}, {"up_to_id": "12a"}, {"up_to_id": ""},
                     {"up_to_id": "-3"}, {"up_to_id": "99999999999999999999"}):
            with self.subTest(body=body):
                self.assertError(req(self.me, "POST", "/v1/me/notifications/read", body), 400,
                                 "invalid_request", "up_to_id")
        self.assertError(req(self.me, "POST", "/v1/me/notifications/read", ["1"]), 400, "invalid_request")
        self.assertFalse(any(n["read"] for n in notes(self.me)))


class CameoUsed(ApiTestCase):
    """`flickd all` with one worker: a generation that casts me makes a draft, and the
    worker tells me at draft time."""
    JOB_TIMEOUT_S = 150

    @classmethod
    def setUpClass(cls):
        cls.all = AllServer(env={"FLICK_WORKERS": "1"}, name="notifications_all").start()
        cls.maker, cls.me = new_users(2)
        set_cameo(cls.me, "everyone")
        r = cls.all.request("POST", "/v1/generations", {"prompt": "a kite over a windy beach", "seconds": 4,
                                                         "aspect": "1:1", "cameos": [cls.me.name]},
                            token=cls.maker.token)
        assert r.status == 202, r
        gid = r.body["id"]
        sql("UPDATE generations SET next_attempt_at = now() - interval '1 hour' WHERE id = %d" % int(gid))
        deadline = time.monotonic() + cls.JOB_TIMEOUT_S
        g = r.body
        while time.monotonic() < deadline and g["status"] not in ("succeeded", "failed", "canceled"):
            time.sleep(0.25)
            g = cls.all.request("GET", "/v1/generations/" + gid, token=cls.maker.token).body
        cls.done = g

    @classmethod
    def tearDownClass(cls):
        cls.all.stop()

    def test_the_cameo_owner_hears_at_draft_time(self):
        g = self.done
        self.assertEqual(g["status"], "succeeded", "job not done: %r; log %s" % (g, self.all.log_path))
        got = of_type(self.me, "cameo_used")
        self.assertEqual([(n["actor"]["id"], n["post_id"]) for n in got], [(self.maker.id, g["post_id"])])
        self.assertEqual(of_type(self.maker, "cameo_used"), [])


if __name__ == "__main__":
    unittest.main()
