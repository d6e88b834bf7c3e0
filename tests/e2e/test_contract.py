"""Sentences of API.md checked from outside, where the server once said otherwise: every list
pages with ?limit= and ?cursor=, and the posts that feature me are listed (and notified)
under the same visibility rules as every other list."""
import unittest

import fixtures
from fixtures import ApiTestCase, approve, follow, make_post, new_minor, new_user, new_users, req, sql
from test_posts_cameos import list_all

srv = None


def setUpModule():
    global srv
    srv = fixtures.start_suite("contract", {"FLICK_WORKERS": "0"})


def tearDownModule():
    fixtures.end_suite(srv)


def ids(items):
    return [p["id"] for p in items]


class Lists(ApiTestCase):
    def test_cameo_approvals_page_like_every_list(self):
        owner = new_user()
        approved = new_users(3)
        for u in approved:
            approve(owner, u)
        path = "/v1/me/cameo/approvals"
        for bad in ("0", "101", "abc"):
            self.assertError(req(owner, "GET", path + "?limit=" + bad), 400, "invalid_request", "limit")
        self.assertError(req(owner, "GET", path + "?cursor=AAAAAAAAAAAAAAAAAAAAAAAA"), 400, "invalid_request")
        r = req(owner, "GET", path + "?limit=2")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.body["items"]), 2, r)
        self.assertIsInstance(r.body["next_cursor"], str, r)
        # Newest approval first, each once across the pages.
        self.assertEqual(ids(list_all(owner, path + "?limit=1")), [u.id for u in reversed(approved)])
        # Another list's cursor is refused.
        other = req(owner, "GET", "/v1/me/cameo/appearances?limit=1")
        self.assertEqual(other.status, 200, other)
        make_post(owner, cameos=[owner])
        make_post(owner, cameos=[owner])
        cursor = req(owner, "GET", "/v1/me/cameo/appearances?limit=1").body["next_cursor"]
        self.assertIsInstance(cursor, str)
        self.assertError(req(owner, "GET", path + "?cursor=" + cursor), 400, "invalid_request")


class RequestIds(ApiTestCase):
    """Every response carries X-Request-Id, echoed when the client sent one: the connection
    guard's refusals included."""

    def test_a_body_over_the_limit_echoes_the_request_id(self):
        user = new_user()
        big = '{"bio": "' + "b" * (1024 * 1024) + '"}'
        r = req(user, "PATCH", "/v1/me", big, {"X-Request-Id": "big-body-1"})
        self.assertError(r, 413, "too_large")
        self.assertEqual(r.headers.get("X-Request-Id"), "big-body-1")
        r = req(user, "PATCH", "/v1/me", big)
        self.assertEqual(r.status, 413)
        self.assertRegex(r.headers.get("X-Request-Id") or "", r"^[0-9a-f]{24}$")

    def test_ids_up_to_128_characters_are_echoed(self):
        # A UUID, a 32-byte hex trace id and the longest id echoed, through the API and
        # through the connection guard's own refusal.
        user = new_user()
        for rid in ("3f2b8c1e-4d5a-4b6c-9e7f-0a1b2c3d4e5f", "ab" * 32, "r." + "x" * 126):
            with self.subTest(length=len(rid)):
                r = req(user, "GET", "/v1/me", None, {"X-Request-Id": rid})
                self.assertEqual((r.status, r.headers.get("X-Request-Id")), (200, rid))
                with srv.raw() as conn:
                    conn.send(b"PATCH /v1/me HTTP/1.1\r\nHost: x\r\nX-Request-Id: " + rid.encode() +
                              b"\r\nTransfer-Encoding: chunked\r\n\r\n200000\r\n")
                    status, headers, body = conn.response()
                self.assertEqual((status, headers.get("x-request-id")), (413, rid), body)
        r = req(user, "GET", "/v1/me", None, {"X-Request-Id": "x" * 129})
        self.assertRegex(r.headers.get("X-Request-Id") or "", r"^[0-9a-f]{24}$")

    def test_a_chunked_body_over_the_limit_echoes_the_request_id(self):
        with srv.raw() as conn:
            conn.send(b"PATCH /v1/me HTTP/1.1\r\nHost: x\r\nX-Request-Id: chunks-2\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n200000\r\n")   # a 2 MiB chunk announced
            status, headers, body = conn.response()
        self.assertEqual(status, 413, body)
        self.assertEqual(headers.get("x-request-id"), "chunks-2")


def scroll(user, path, pages=10):
    """Every item of up to `pages` pages of 100 of one scroll."""
    items, cursor = [], None
    for _ in range(pages):
        r = req(user, "GET", path + "?limit=100" + ("&cursor=" + cursor if cursor else ""))
        assert r.status == 200, r
        items += r.body["items"]
        cursor = r.body["next_cursor"]
        if not cursor:
            break
    return items


class Feeds(ApiTestCase):
    def test_followers_only_posts_reach_no_feed_of_a_moderator_who_does_not_follow(self):
        author = new_user()
        mod, following_mod = new_users(2, "moderator")
        follow(following_mod, author)
        posts = [make_post(author, visibility="followers", prompt="a quiet harbour at dawn") for _ in range(3)]
        # A moderator may open them, as any post...
        self.assertEqual(req(mod, "GET", "/v1/posts/%s" % posts[0]).status, 200)
        # ...but no feed of theirs carries them unless they follow the author.
        for path in ("/v1/feed", "/v1/feed/trending", "/v1/feed/following"):
            self.assertEqual([p for p in ids(scroll(mod, path)) if p in posts], [], path)
        self.assertEqual(sorted(p for p in ids(scroll(following_mod, "/v1/feed")) if p in posts), sorted(posts))


class FollowersOnlyInLists(ApiTestCase):
    """A followers-only post is listed only to its author's followers, in every list, even to
    a moderator, who may still open it by link; only the posts that feature me list it to me
    whoever I follow."""

    def test_every_list_of_a_moderator_who_does_not_follow(self):
        author, other = new_users(2)
        mod, following_mod = new_users(2, "moderator")
        follow(following_mod, author)
        root = make_post(mod)
        remix = make_post(author, visibility="followers", cameos=[mod, following_mod])
        sql("UPDATE posts SET remix_of = %d, remix_root = %d, remix_depth = 1 WHERE id = %d"
            % (int(root), int(root), int(remix)))
        child = make_post(other)
        sql("UPDATE posts SET remix_of = %d, remix_root = %d, remix_depth = 2 WHERE id = %d"
            % (int(remix), int(root), int(child)))
        for viewer in (mod, following_mod):
            sql("INSERT INTO notifications (user_id, type, actor_id, post_id) VALUES "
                "(%d, 'remixed', %d, %d), (%d, 'cameo_used', %d, %d)"
                % (int(viewer.id), int(author.id), int(remix), int(viewer.id), int(author.id), int(remix)))
        for viewer, listed in ((mod, False), (following_mod, True)):
            self.assertEqual(req(viewer, "GET", "/v1/posts/%s" % remix).status, 200)
            lists = {
                "user posts": ids(list_all(viewer, "/v1/users/%s/posts" % author.name)),
                "remixes": ids(list_all(viewer, "/v1/posts/%s/remixes" % root)),
                "lineage": ids(req(viewer, "GET", "/v1/posts/%s/lineage" % child).body["items"]),
                "remixed notifications": [n["post_id"] for n in list_all(viewer, "/v1/me/notifications")
                                          if n["type"] == "remixed"],
            }
            for name, got in lists.items():
                self.assertEqual(remix in got, listed, (viewer, name, got))
            # A post that features me is a use of my likeness: listed to me either way.
            self.assertIn(remix, ids(list_all(viewer, "/v1/me/cameo/appearances")), viewer)
            r = req(viewer, "GET", "/v1/users/%s" % author.name)
            self.assertEqual(r.body["posts_count"], 1 if listed else 0, viewer)


class Profile(ApiTestCase):
    def test_posts_count_counts_what_the_viewer_may_see(self):
        author, follower, stranger = new_users(3)
        minor = new_minor()
        follow(follower, author)
        follow(minor, author)
        make_post(author)
        make_post(author, visibility="followers")
        restricted = make_post(author)
        sql("UPDATE posts SET restricted = true WHERE id = %d" % int(restricted))
        make_post(author, status="draft")
        for viewer, n in ((author, 3), (follower, 3), (stranger, 2), (minor, 2)):
            r = req(viewer, "GET", "/v1/users/%s" % author.name)
            self.assertEqual(r.status, 200, r)
            listed = list_all(viewer, "/v1/users/%s/posts" % author.name)
            self.assertEqual((r.body["posts_count"], len(listed)), (n, n), viewer)


class Metrics(ApiTestCase):
    def test_latency_histograms_by_route_and_status(self):
        user = new_user()
        self.assertEqual(req(user, "GET", "/v1/me").status, 200)
        self.assertEqual(srv.request("GET", "/v1/me").status, 401)
        text = srv.request("GET", "/metrics").raw.decode()
        counts = [l for l in text.splitlines()
                  if l.startswith("flick_http_request_duration_seconds_count{") and 'route="/v1/me"' in l]
        for status in ("200", "401"):
            self.assertTrue(any('status="%s"' % status in l for l in counts), counts)
        # Each series' buckets are cumulative and end at its count.
        series = {}
        for l in text.splitlines():
            if l.startswith("flick_http_request_duration_seconds_bucket{") and 'route="/v1/me"' in l:
                key = l[:l.index(",le=")]
                series.setdefault(key, []).append(float(l.rsplit(" ", 1)[1]))
        self.assertTrue(series)
        for key, values in series.items():
            self.assertEqual(values, sorted(values), key)


class MethodNotAllowed(ApiTestCase):
    def test_an_unknown_method_is_405_with_allow(self):
        cases = ((b"PROPFIND /v1/me", "GET, HEAD, PATCH"), (b"TRACE /v1/posts/12/like?x=1", "POST, DELETE"),
                 (b"PROPFIND /v1/no/such/path", ""))
        for line, allow in cases:
            with srv.raw() as conn:
                conn.send(line + b" HTTP/1.1\r\nHost: x\r\nX-Request-Id: m-1\r\n\r\n")
                status, headers, body = conn.response()
            self.assertEqual(status, 405, body)
            self.assertEqual(headers.get("allow"), allow, line)
            self.assertIn(b"method_not_allowed", body)
        # The same Allow as a known method the path does not serve.
        r = srv.request("PUT", "/v1/me")
        self.assertError(r, 405, "method_not_allowed")
        self.assertEqual(r.headers.get("Allow"), "GET, HEAD, PATCH")

    def test_head_is_get_without_the_body(self):
        user = new_user()
        got = srv.request("GET", "/v1/me", token=user.token)
        head = srv.request("HEAD", "/v1/me", token=user.token)
        self.assertEqual(head.status, 200)
        self.assertEqual(head.raw, b"")
        self.assertEqual(int(head.headers["Content-Length"]), len(got.raw))
        self.assertEqual(head.headers["Content-Type"], got.headers["Content-Type"])
        self.assertTrue(head.headers.get("X-Request-Id"))
        # Checks and errors as GET: no token is 401, a POST-only path is 405 without HEAD.
        r = srv.request("HEAD", "/v1/me")
        self.assertEqual((r.status, r.raw), (401, b""))
        self.assertEqual(r.headers.get("WWW-Authenticate"), "Bearer")
        r = srv.request("HEAD", "/v1/auth/login")
        self.assertEqual((r.status, r.headers.get("Allow")), (405, "POST"))


class ModerationNotifications(ApiTestCase):
    def moderation_notes(self, user):
        return [(n["actor"]["id"], n["post_id"]) for n in list_all(user, "/v1/me/notifications")
                if n["type"] == "moderation"]

    def test_a_moderators_removal_tells_the_author(self):
        author = new_user()
        mod = new_user("moderator")
        by_mod, by_author = make_post(author), make_post(author)
        self.assertEqual(req(author, "DELETE", "/v1/posts/%s" % by_author).status, 204)
        self.assertEqual(self.moderation_notes(author), [])
        self.assertEqual(req(mod, "DELETE", "/v1/posts/%s" % by_mod).status, 204)
        self.assertEqual(self.moderation_notes(author), [(mod.id, by_mod)])
        # Removing it again tells nobody anything new.
        self.assertEqual(req(mod, "DELETE", "/v1/posts/%s" % by_mod).status, 204)
        self.assertEqual(self.moderation_notes(author), [(mod.id, by_mod)])
        self.assertEqual(self.moderation_notes(mod), [])


class Rights(ApiTestCase):
    """A valid token without the right is 403; an object the caller may not see is 404."""

    def test_changing_someone_elses_post(self):
        author, other = new_users(2)
        public = make_post(author, caption="mine")
        draft = make_post(author, status="draft")
        follow(other, author)
        followers_only = make_post(author, visibility="followers", caption="mine")
        for pid in (public, followers_only):
            self.assertError(req(other, "PATCH", "/v1/posts/%s" % pid, {"caption": "taken"}), 403, "forbidden")
            self.assertError(req(other, "POST", "/v1/posts/%s/publish" % pid, {}), 403, "forbidden")
            self.assertError(req(other, "DELETE", "/v1/posts/%s" % pid), 403, "forbidden")
        for pid in (draft, "999999999999"):
            self.assertError(req(other, "PATCH", "/v1/posts/%s" % pid, {"caption": "taken"}), 404, "not_found")
            self.assertError(req(other, "POST", "/v1/posts/%s/publish" % pid, {}), 404, "not_found")
            self.assertError(req(other, "DELETE", "/v1/posts/%s" % pid), 404, "not_found")
        stranger = new_user()
        self.assertError(req(stranger, "PATCH", "/v1/posts/%s" % followers_only, {"caption": "x"}), 404, "not_found")
        r = req(author, "GET", "/v1/posts/%s" % public)
        self.assertEqual((r.body["caption"], r.body["status"]), ("mine", "published"))
        self.assertEqual(req(author, "GET", "/v1/posts/%s" % draft).body["status"], "draft")
        r = req(author, "PATCH", "/v1/posts/%s" % public, {"caption": "still mine"})
        self.assertEqual((r.status, r.body["caption"]), (200, "still mine"))


class Appearances(ApiTestCase):
    """GET /v1/me/cameo/appearances lists every use of my likeness (drafts of others,
    followers-only posts of strangers, held posts), never removed ones or, for a minor,
    restricted ones; `cameo_used` notifications follow it."""

    def cameo_used(self, user):
        return [n["post_id"] for n in list_all(user, "/v1/me/notifications") if n["type"] == "cameo_used"]

    def notify_cameo(self, author, user, pid):
        sql("INSERT INTO notifications (user_id, type, actor_id, post_id) VALUES (%d, 'cameo_used', %d, %d)"
            % (int(user.id), int(author.id), int(pid)))

    def test_every_use_of_my_likeness_and_the_pages_it_opens_to_me(self):
        author, x, other = new_users(3)
        draft = make_post(author, status="draft", cameos=[x])
        public = make_post(author, cameos=[x])
        followers_only = make_post(author, visibility="followers", cameos=[x])
        hidden = make_post(author, status="hidden", cameos=[x])
        removed = make_post(author, status="removed", cameos=[x])
        with_revoked = make_post(author, cameos=[x, other])
        sql("UPDATE post_cameos SET revoked = true WHERE post_id = %d AND user_id = %d"
            % (int(with_revoked), int(other.id)))
        for pid in (draft, public, followers_only, hidden, removed, with_revoked):
            self.notify_cameo(author, x, pid)
        # I open the page of every draft or published use of my likeness; a post held for
        # review stays with its author and the moderators, and a removed one is gone.
        for pid in (draft, public, followers_only, with_revoked):
            self.assertEqual(req(x, "GET", "/v1/posts/%s" % pid).status, 200, pid)
        for pid in (hidden, removed):
            self.assertEqual(req(x, "GET", "/v1/posts/%s" % pid).status, 404, pid)
        # Nobody else gains anything: the draft, the held post and the followers-only post
        # stay closed to a stranger.
        for pid in (draft, followers_only, hidden):
            self.assertEqual(req(other, "GET", "/v1/posts/%s" % pid).status, 404, pid)
        every = sorted([draft, public, followers_only, hidden, with_revoked])
        self.assertEqual(sorted(ids(list_all(x, "/v1/me/cameo/appearances"))), every)
        self.assertEqual(sorted(self.cameo_used(x)), every)
        # Found there, each one can be taken down by the person it features.
        self.assertEqual(req(x, "DELETE", "/v1/posts/%s/cameos/me" % followers_only).status, 204)
        # The person who revoked still sees the post they took down.
        self.assertIn(with_revoked, ids(list_all(other, "/v1/me/cameo/appearances")))
        # A banned author's posts are gone from everyone's appearances.
        sql("UPDATE users SET banned = true WHERE id = %d" % int(author.id))
        self.assertEqual(ids(list_all(x, "/v1/me/cameo/appearances")), [])

    def test_a_draft_that_features_me_stays_open_to_me_after_i_take_it_down_or_revoke(self):
        # DELETE /v1/me/cameo: "every post that features me, published or draft, [...] its
        # page gives 404 to everyone but its author and me".
        author, x, stranger = new_users(3)
        taken_down, revoked = make_post(author, status="draft", cameos=[x]), make_post(author, status="draft", cameos=[x])
        self.assertEqual(req(x, "DELETE", "/v1/posts/%s/cameos/me" % taken_down).status, 204)
        self.assertEqual(req(x, "DELETE", "/v1/me/cameo").status, 204)
        for pid in (taken_down, revoked):
            for who, status in ((author, 200), (x, 200), (stranger, 404)):
                with self.subTest(post=pid, who=who.name):
                    r = req(who, "GET", "/v1/posts/%s" % pid)
                    self.assertEqual(r.status, status, r)
                    if status == 200:
                        self.assertEqual(r.body["status"], "draft")
        # Open to look at, not to act on: publishing and editing stay the author's (403: it is
        # no secret to them), deleting too (404: they take it down with DELETE .../cameos/me).
        self.assertError(req(x, "POST", "/v1/posts/%s/publish" % revoked, {}), 403, "forbidden")
        self.assertError(req(x, "PATCH", "/v1/posts/%s" % revoked, {"caption": "mine now"}), 403, "forbidden")
        self.assertError(req(x, "DELETE", "/v1/posts/%s" % revoked), 404, "not_found")
        # Its remix chain and remixes are open to them as its page is.
        self.assertEqual(req(x, "GET", "/v1/posts/%s/lineage" % revoked).status, 200)
        self.assertEqual(req(x, "GET", "/v1/posts/%s/remixes" % revoked).status, 200)
        self.assertEqual(req(stranger, "GET", "/v1/posts/%s/lineage" % revoked).status, 404)
        r = req(author, "GET", "/v1/posts/%s" % revoked)
        self.assertEqual((r.body["status"], r.body["caption"]), ("draft", ""), r)

    def test_restricted_posts_are_never_listed_to_a_minor(self):
        author = new_user()
        minor = new_minor()
        r = req(minor, "PUT", "/v1/me/cameo", {"permission": "approved"})
        self.assertEqual(r.status, 200, r)
        approve(minor, author)
        plain = make_post(author, cameos=[minor])
        restricted = make_post(author, cameos=[minor])
        sql("UPDATE posts SET restricted = true WHERE id = %d" % int(restricted))
        for pid in (plain, restricted):
            self.notify_cameo(author, minor, pid)
        self.assertEqual(req(minor, "GET", "/v1/posts/%s" % restricted).status, 404)
        self.assertEqual(ids(list_all(minor, "/v1/me/cameo/appearances")), [plain])
        self.assertEqual(self.cameo_used(minor), [plain])


if __name__ == "__main__":
    unittest.main()
