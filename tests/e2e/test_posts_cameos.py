"""Posts and cameos (API.md "Posts, drafts, remixes", "Cameos"): a post's page and its
shape, drafts, publishing, visibility, editing and deleting (by the author or a
moderator, audited), the cameo and its approval list, appearances, revoking consent and
taking a post down.

Most posts are written straight into PostgreSQL as the worker leaves them (a succeeded
generation and its draft), so those tests do not wait on video rendering; the Pipeline
class runs `flickd all` with one worker and follows one real generation to its draft."""
import os
import re
import subprocess
import time
import unittest
import urllib.parse

import fixtures
import flick
from fixtures import ApiTestCase, follow, left_today, lit, make_post, new_user, new_users, req, set_cameo, sql

srv = None
RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
USER_FIELDS = {"id", "username", "display_name", "bio", "created_at", "has_cameo"}
POST_FIELDS = {"id", "author", "status", "visibility", "caption", "prompt", "model", "seconds", "aspect",
               "allow_remix", "remix_of", "remix_root", "remix_depth", "cameos", "media", "counts",
               "viewer", "created_at", "published_at"}
GENERATION_FIELDS = {"id", "status", "progress", "prompt", "model", "seconds", "aspect", "cameos",
                     "remix_of", "error", "post_id", "created_at", "finished_at"}
PROMPT = "a paper boat on a rainy street"


# ---- users, fixtures and requests (the shared ones are in fixtures.py) ----

def generate(user, prompt=PROMPT, **kw):
    return fixtures.generate(user, prompt, **kw)


def publish(user, pid, body=None):
    return req(user, "POST", "/v1/posts/%s/publish" % pid, body)


def get_post(user, pid):
    return req(user, "GET", "/v1/posts/%s" % pid)


def list_all(user, path):
    """Every item of a list, following next_cursor."""
    items, cursor = [], None
    for _ in range(50):
        sep = "&" if "?" in path else "?"
        r = req(user, "GET", path + (sep + "cursor=" + cursor if cursor else ""))
        assert r.status == 200, r
        items += r.body["items"]
        cursor = r.body["next_cursor"]
        if not cursor:
            return items
    raise AssertionError("%s does not end" % path)


def ids(items):
    return [x["id"] for x in items]


def setUpModule():
    global srv
    srv = fixtures.start_suite("posts_cameos", {"FLICK_WORKERS": "0"})


def tearDownModule():
    fixtures.end_suite(srv)


class AllServer(flick.Server):
    """`flickd all`: the API and the generation workers in one process (flick.Server runs
    `flickd serve`). Started and stopped like flick.Server."""

    def start(self, timeout=30.0):
        os.makedirs(flick.LOG_DIR, exist_ok=True)
        for _attempt in range(3):       # a free port can be taken between probe and bind
            self.port = flick.free_port()
            env = flick._base_env(self.extra_env)
            env["FLICK_LISTEN"] = "127.0.0.1:%d" % self.port
            self.log_path = os.path.join(flick.LOG_DIR, "%s-%d-%d.log" % (self.name, next(flick._seq), self.port))
            self._log = open(self.log_path, "ab")
            self.proc = subprocess.Popen([flick.BIN, "all"], env=env, stdin=subprocess.DEVNULL,
                                         stdout=self._log, stderr=self._log, cwd=flick.ROOT)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if self.request("GET", "/healthz", timeout=1).status == 200:
                        flick._servers.append(self)
                        return self
                except OSError:
                    pass
                time.sleep(0.05)
            if self.proc.poll() is None:
                self.kill()
                raise RuntimeError("flickd all did not answer /healthz; log %s:\n%s"
                                   % (self.log_path, self.log_tail()))
            self._log.close()
            if "cannot listen" not in self.log_tail():
                break
        raise RuntimeError("flickd all did not start:\n%s" % self.log_tail())


class Base(ApiTestCase):
    def assertNotFound(self, r):
        self.assertError(r, 404, "not_found")

    def assertUser(self, u, who=None):
        self.assertIsInstance(u, dict)
        self.assertTrue(USER_FIELDS <= set(u), "user lacks %s" % (USER_FIELDS - set(u)))
        self.assertIsInstance(u["id"], str)
        self.assertIsInstance(u["has_cameo"], bool)
        self.assertRegex(u["created_at"], RFC3339_UTC)
        if who is not None:
            self.assertEqual((u["id"], u["username"]), (who.id, who.name))

    def assertPost(self, p):
        self.assertIsInstance(p, dict, p)
        self.assertTrue(POST_FIELDS <= set(p), "post lacks %s" % (POST_FIELDS - set(p)))
        self.assertIsInstance(p["id"], str)
        self.assertRegex(p["id"], r"^[0-9]+$")
        self.assertUser(p["author"])
        self.assertIn(p["status"], ("draft", "published", "removed", "hidden"))
        self.assertIn(p["visibility"], ("public", "followers"))
        self.assertIsInstance(p["caption"], str)
        self.assertIsInstance(p["allow_remix"], bool)
        self.assertIsInstance(p["remix_depth"], int)
        for u in p["cameos"]:
            self.assertUser(u)
        self.assertTrue({"views", "likes", "remixes", "shares"} <= set(p["counts"]), p["counts"])
        for k in ("views", "likes", "remixes", "shares"):
            self.assertIs(type(p["counts"][k]), int, p["counts"])
        self.assertIsInstance(p["viewer"].get("liked"), bool, p["viewer"])
        self.assertRegex(p["created_at"], RFC3339_UTC)
        if p["published_at"] is not None:
            self.assertRegex(p["published_at"], RFC3339_UTC)
        if "restricted" in p:
            self.assertIsInstance(p["restricted"], bool)

    def page(self, user, pid):
        r = get_post(user, pid)
        self.assertEqual(r.status, 200, r)
        self.assertPost(r.body)
        return r.body


# ---- a post's page ----

class PostPage(Base):
    def test_a_draft_has_the_full_post_shape_for_its_author(self):
        a = new_user()
        pid = make_post(a, status="draft", cameos=[a], prompt="a heron in the fog", model="pro",
                        seconds=12, aspect="16:9")
        p = self.page(a, pid)
        self.assertEqual(p["id"], pid)
        self.assertUser(p["author"], a)
        self.assertEqual(p["status"], "draft")
        self.assertEqual(p["visibility"], "public")
        self.assertEqual(p["caption"], "")
        self.assertEqual(p["prompt"], "a heron in the fog")
        self.assertEqual((p["model"], p["seconds"], p["aspect"]), ("pro", 12, "16:9"))
        self.assertIs(p["allow_remix"], True)
        self.assertIsNone(p["remix_of"])
        self.assertIsNone(p["remix_root"])
        self.assertEqual(p["remix_depth"], 0)
        self.assertEqual(len(p["cameos"]), 1)
        self.assertUser(p["cameos"][0], a)
        self.assertIsNone(p["media"])
        self.assertEqual(p["counts"], {"views": 0, "likes": 0, "remixes": 0, "shares": 0})
        self.assertEqual(p["viewer"], {"liked": False})
        self.assertIsNone(p["published_at"])

    def test_someone_elses_draft_is_404(self):
        a, b = new_users(2)
        pid = make_post(a, status="draft")
        self.assertNotFound(get_post(b, pid))
        follow(b, a)
        self.assertNotFound(get_post(b, pid))
        self.assertError(srv.request("GET", "/v1/posts/" + pid), 401, "unauthorized")
        for bad in ("999999999999", "abc", "0", "-1", "99999999999999999999999"):
            with self.subTest(id=bad):
                self.assertNotFound(get_post(a, bad))

    def test_media_shape(self):
        a, b = new_users(2)
        pid = make_post(a)
        sql("INSERT INTO media (post_id, kind, sha256, mime, bytes, width, height, duration_ms) VALUES "
            "(%(p)s, 'video', repeat('a', 64), 'video/mp4', 123456, 720, 1280, 8000), "
            "(%(p)s, 'poster', repeat('b', 64), 'image/webp', 2000, 720, 1280, NULL), "
            "(%(p)s, 'poster', repeat('c', 64), 'image/webp', 1000, 360, 640, NULL), "
            "(%(p)s, 'preview', repeat('d', 64), 'image/webp', 5000, 360, 640, NULL)" % {"p": int(pid)})
        media = self.page(b, pid)["media"]
        self.assertIsInstance(media, dict, media)
        v = media["video"]
        self.assertEqual((v["mime"], v["width"], v["height"], v["duration_ms"], v["bytes"]),
                         ("video/mp4", 720, 1280, 8000, 123456))
        self.assertEqual([(x["width"], x["height"]) for x in media["poster"]], [(360, 640), (720, 1280)])
        urls = [v["url"], media["preview"]["url"]] + [x["url"] for x in media["poster"]]
        for url in urls:
            self.assertIsInstance(url, str)
            self.assertIn("/v1/media/", url)
        self.assertEqual(len(set(urls)), 4, urls)


# ---- drafts and publishing ----

class Drafts(Base):
    def test_drafts_lists_only_my_drafts_newest_first(self):
        a, b = new_users(2)
        mine = [make_post(a, status="draft", prompt="draft %d" % i) for i in range(3)]
        make_post(a, status="published")
        theirs = make_post(b, status="draft")
        r = req(a, "GET", "/v1/drafts")
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(r.body["next_cursor"])
        for p in r.body["items"]:
            self.assertPost(p)
            self.assertEqual(p["status"], "draft")
            self.assertUser(p["author"], a)
        self.assertEqual(ids(r.body["items"]), list(reversed(mine)))
        self.assertEqual(ids(list_all(a, "/v1/drafts?limit=2")), list(reversed(mine)))
        self.assertEqual(ids(list_all(b, "/v1/drafts")), [theirs])
        # Published: no longer a draft.
        self.assertEqual(publish(a, mine[1]).status, 200)
        self.assertEqual(ids(list_all(a, "/v1/drafts")), [mine[2], mine[0]])
        self.assertError(req(a, "GET", "/v1/drafts?limit=0"), 400, "invalid_request", "limit")
        self.assertError(req(a, "GET", "/v1/drafts?cursor=forged"), 400, "invalid_request")

    def test_publish_applies_caption_visibility_and_allow_remix(self):
        a, b = new_users(2)
        pid = make_post(a, status="draft")
        before = time.time()
        r = publish(a, pid, {"caption": "First light ☀️", "visibility": "public", "allow_remix": False})
        self.assertEqual(r.status, 200, r)
        self.assertPost(r.body)
        p = r.body
        self.assertEqual((p["id"], p["status"], p["visibility"]), (pid, "published", "public"))
        self.assertEqual(p["caption"], "First light ☀️")
        self.assertIs(p["allow_remix"], False)
        self.assertRegex(p["published_at"] or "", RFC3339_UTC)
        published = time.mktime(time.strptime(p["published_at"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
        self.assertLess(abs(published - before), 300)
        seen = self.page(b, pid)
        self.assertEqual((seen["status"], seen["caption"], seen["allow_remix"]),
                         ("published", "First light ☀️", False))
        self.assertIn(pid, ids(list_all(b, "/v1/users/%s/posts" % a.name)))

    def test_publishing_again_changes_nothing(self):
        a = new_user()
        pid = make_post(a, status="draft")
        first = publish(a, pid, {"caption": "one", "allow_remix": False})
        self.assertEqual(first.status, 200, first)
        time.sleep(1.1)
        again = publish(a, pid, {"caption": "two", "visibility": "followers", "allow_remix": True})
        self.assertEqual(again.status, 200, again)
        for k in ("status", "caption", "visibility", "allow_remix", "published_at"):
            self.assertEqual(again.body[k], first.body[k], k)
        self.assertEqual(self.page(a, pid)["published_at"], first.body["published_at"])
        self.assertEqual(publish(a, pid).status, 200)

    def test_publish_with_no_body_uses_the_defaults(self):
        a = new_user()
        pid = make_post(a, status="draft", caption="kept")
        r = publish(a, pid)
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.body["status"], r.body["visibility"], r.body["allow_remix"], r.body["caption"]),
                         ("published", "public", True, "kept"))
        pid = make_post(a, status="draft")
        r = publish(a, pid, {})
        self.assertEqual((r.status, r.body["status"]), (200, "published"))

    def test_publishing_keeps_what_the_draft_was_edited_to(self):
        a = new_user()
        pid = make_post(a, status="draft")
        r = req(a, "PATCH", "/v1/posts/%s" % pid, {"allow_remix": False, "caption": "edited"})
        self.assertEqual((r.status, r.body["allow_remix"]), (200, False), r)
        r = publish(a, pid, {})
        self.assertEqual((r.status, r.body["allow_remix"], r.body["caption"]), (200, False, "edited"), r)

    def test_publish_checks_its_body(self):
        a = new_user()
        pid = make_post(a, status="draft")
        self.assertError(publish(a, pid, {"caption": "x" * 501}), 400, "invalid_request", "caption")
        self.assertError(publish(a, pid, {"caption": 5}), 400, "invalid_request", "caption")
        self.assertError(publish(a, pid, {"visibility": "secret"}), 400, "invalid_request", "visibility")
        self.assertError(publish(a, pid, {"visibility": "Public"}), 400, "invalid_request", "visibility")
        self.assertError(publish(a, pid, {"allow_remix": "yes"}), 400, "invalid_request", "allow_remix")
        self.assertError(publish(a, pid, "[]"), 400, "invalid_request")
        self.assertEqual(self.page(a, pid)["status"], "draft")
        caption = "é" * 500
        r = publish(a, pid, {"caption": caption})
        self.assertEqual((r.status, r.body["caption"]), (200, caption))

    def test_only_the_author_publishes(self):
        a, b = new_users(2)
        pid = make_post(a, status="draft")
        self.assertNotFound(publish(b, pid, {"caption": "mine now"}))
        self.assertNotFound(publish(a, "999999999999"))
        self.assertNotFound(publish(a, "abc"))
        p = self.page(a, pid)
        self.assertEqual((p["status"], p["caption"]), ("draft", ""))
        # A published post b can see: still not theirs to publish (403, it is no secret).
        self.assertEqual(publish(a, pid).status, 200)
        self.assertError(publish(b, pid, {"caption": "mine now"}), 403, "forbidden")
        self.assertEqual(self.page(b, pid)["caption"], "")

    def test_publishing_a_remix_counts_once_on_its_parent(self):
        a, b, c = new_users(3)
        root = make_post(a)
        parent = make_post(b, prompt="a remix of a lighthouse")
        child = make_post(c, status="draft", prompt="a remix of a remix")
        # The remix fields as the worker fills them from the parent at draft time.
        sql("UPDATE posts SET remix_of = %d, remix_root = %d, remix_depth = 1 WHERE id = %d"
            % (int(root), int(root), int(parent)))
        sql("UPDATE posts SET remix_of = %d, remix_root = %d, remix_depth = 2 WHERE id = %d"
            % (int(parent), int(root), int(child)))
        p = self.page(c, child)
        self.assertEqual((p["remix_of"], p["remix_root"], p["remix_depth"]), (parent, root, 2))
        self.assertEqual(self.page(c, parent)["counts"]["remixes"], 0)
        r = publish(c, child)
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.body["remix_of"], r.body["remix_root"], r.body["remix_depth"]), (parent, root, 2))
        self.assertEqual(self.page(c, parent)["counts"]["remixes"], 1)
        self.assertEqual(publish(c, child).status, 200)
        self.assertEqual(self.page(a, parent)["counts"]["remixes"], 1)
        self.assertEqual(self.page(a, root)["counts"]["remixes"], 0)     # direct remixes only

    def test_a_remix_counts_on_its_parent_only_while_it_is_published(self):
        a, b, c, mod, *reporters = new_users(7)
        sql("UPDATE users SET role = 'moderator' WHERE id = %d" % int(mod.id))
        parent = make_post(a)
        kept, deleted = (make_post(u, status="draft", prompt="a remix") for u in (b, c))
        sql("UPDATE posts SET remix_of = %d, remix_root = %d, remix_depth = 1 WHERE id IN (%d, %d)"
            % (int(parent), int(parent), int(kept), int(deleted)))
        counted = lambda: self.page(a, parent)["counts"]["remixes"]
        listed = lambda: len(list_all(a, "/v1/posts/%s/remixes" % parent))
        for who, pid in ((b, kept), (c, deleted)):
            self.assertEqual(publish(who, pid).status, 200)
        self.assertEqual((counted(), listed()), (2, 2))
        # Deleted by its author: no longer a published remix.
        self.assertEqual(req(c, "DELETE", "/v1/posts/%s" % deleted).status, 204)
        self.assertEqual((counted(), listed()), (1, 1))
        # Held for review by three reports, then cleared by a moderator: out, then back.
        for u in reporters[:3]:
            self.assertEqual(req(u, "POST", "/v1/posts/%s/reports" % kept, {"reason": "spam"}).status, 201)
        self.assertEqual((counted(), listed()), (0, 0))
        case = [c for c in list_all(mod, "/v1/moderation/queue") if c["post"]["id"] == kept][0]
        r = req(mod, "POST", "/v1/moderation/cases/%s/decision" % case["id"], {"action": "dismiss"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((counted(), listed()), (1, 1))
        # Removed by a moderator.
        self.assertEqual(req(mod, "DELETE", "/v1/posts/%s" % kept).status, 204)
        self.assertEqual((counted(), listed()), (0, 0))

    def test_followers_only_posts(self):
        a, fan, other = new_users(3)
        follow(fan, a)
        pid = make_post(a, status="draft")
        r = publish(a, pid, {"visibility": "followers"})
        self.assertEqual((r.status, r.body["visibility"]), (200, "followers"))
        public = make_post(a)
        self.assertEqual(self.page(fan, pid)["visibility"], "followers")
        self.assertNotFound(get_post(other, pid))
        self.assertEqual(self.page(a, pid)["id"], pid)
        self.assertEqual(ids(list_all(fan, "/v1/users/%s/posts" % a.name)), [public, pid])
        self.assertEqual(ids(list_all(other, "/v1/users/%s/posts" % a.name)), [public])
        self.assertIn(pid, ids(list_all(a, "/v1/users/%s/posts" % a.name)))
        # Following makes it visible; unfollowing hides it again.
        follow(other, a)
        self.assertEqual(self.page(other, pid)["id"], pid)
        self.assertEqual(req(other, "DELETE", "/v1/users/%s/follow" % a.name).status, 204)
        self.assertNotFound(get_post(other, pid))


# ---- editing and deleting ----

class EditDelete(Base):
    def test_patch_by_the_author(self):
        a, b = new_users(2)
        pid = make_post(a, caption="old")
        r = req(a, "PATCH", "/v1/posts/" + pid, {"caption": "new caption"})
        self.assertEqual(r.status, 200, r)
        self.assertPost(r.body)
        self.assertEqual((r.body["caption"], r.body["allow_remix"]), ("new caption", True))
        r = req(a, "PATCH", "/v1/posts/" + pid, {"allow_remix": False})
        self.assertEqual((r.status, r.body["caption"], r.body["allow_remix"]), (200, "new caption", False))
        r = req(a, "PATCH", "/v1/posts/" + pid, {})
        self.assertEqual((r.status, r.body["caption"], r.body["allow_remix"]), (200, "new caption", False))
        self.assertEqual(self.page(b, pid)["caption"], "new caption")
        self.assertError(req(a, "PATCH", "/v1/posts/" + pid, {"caption": "x" * 501}), 400, "invalid_request",
                         "caption")
        self.assertError(req(a, "PATCH", "/v1/posts/" + pid, {"allow_remix": "no"}), 400, "invalid_request",
                         "allow_remix")
        self.assertEqual(self.page(a, pid)["caption"], "new caption")

    def test_patch_by_anyone_else(self):
        # 403 on a post they can see, 404 on one they cannot (a draft).
        a, b = new_users(2)
        pid = make_post(a, caption="mine")
        draft = make_post(a, status="draft")
        self.assertError(req(b, "PATCH", "/v1/posts/" + pid, {"caption": "hijacked"}), 403, "forbidden")
        self.assertNotFound(req(b, "PATCH", "/v1/posts/" + draft, {"caption": "hijacked"}))
        self.assertError(req(b, "PATCH", "/v1/posts/" + pid, {"allow_remix": False}), 403, "forbidden")
        p = self.page(a, pid)
        self.assertEqual((p["caption"], p["allow_remix"]), ("mine", True))
        self.assertNotFound(req(a, "PATCH", "/v1/posts/999999999999", {"caption": "x"}))

    def test_delete_by_the_author(self):
        a, b = new_users(2)
        pid = make_post(a)
        draft = make_post(a, status="draft")
        self.assertError(req(b, "DELETE", "/v1/posts/" + pid), 403, "forbidden")
        self.assertNotFound(req(b, "DELETE", "/v1/posts/" + draft))
        self.assertEqual(self.page(b, pid)["status"], "published")
        r = req(a, "DELETE", "/v1/posts/" + pid)
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.raw, b"")
        self.assertNotFound(get_post(b, pid))
        self.assertEqual(self.page(a, pid)["status"], "removed")
        self.assertNotIn(pid, ids(list_all(b, "/v1/users/%s/posts" % a.name)))
        self.assertNotFound(req(b, "DELETE", "/v1/posts/" + pid))
        self.assertEqual(req(a, "DELETE", "/v1/posts/" + draft).status, 204)
        self.assertNotIn(draft, ids(list_all(a, "/v1/drafts")))
        self.assertNotFound(req(a, "DELETE", "/v1/posts/999999999999"))

    def test_a_moderator_deletes_and_it_is_audited(self):
        a, b = new_users(2)
        mod = new_user("moderator")
        pid = make_post(a)
        r = req(mod, "DELETE", "/v1/posts/" + pid)
        self.assertEqual(r.status, 204, r)
        self.assertNotFound(get_post(b, pid))
        self.assertEqual(self.page(a, pid)["status"], "removed")
        self.assertEqual(self.page(mod, pid)["status"], "removed")
        rows = sql("SELECT action, target_type FROM audit_log WHERE actor_id = %d AND target_id = %s"
                   % (int(mod.id), lit(pid)))
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0][1], "post")
        self.assertIn("remove", rows[0][0])
        # The author removing their own post is not a moderation decision.
        own = make_post(a)
        self.assertEqual(req(a, "DELETE", "/v1/posts/" + own).status, 204)


# ---- the cameo, approvals, appearances ----

class Cameo(Base):
    def test_put_creates_then_updates(self):
        u = new_user()
        self.assertFalse(req(u, "GET", "/v1/me").body["has_cameo"])
        r = req(u, "PUT", "/v1/me/cameo", {"permission": "approved"})
        self.assertEqual(r.status, 200, r)
        c = r.body
        self.assertTrue({"user_id", "permission", "created_at", "updated_at"} <= set(c), c)
        self.assertEqual((c["user_id"], c["permission"]), (u.id, "approved"))
        self.assertRegex(c["created_at"], RFC3339_UTC)
        self.assertRegex(c["updated_at"], RFC3339_UTC)
        self.assertTrue(req(u, "GET", "/v1/me").body["has_cameo"])
        time.sleep(1.1)
        r = req(u, "PUT", "/v1/me/cameo", {"permission": "mutuals"})
        self.assertEqual((r.status, r.body["permission"], r.body["created_at"]), (200, "mutuals", c["created_at"]))
        self.assertGreater(r.body["updated_at"], c["updated_at"])
        for perm in ("only_me", "everyone"):
            self.assertEqual(req(u, "PUT", "/v1/me/cameo", {"permission": perm}).body["permission"], perm)

    def test_put_checks_the_permission(self):
        u = new_user()
        for bad in ({}, {"permission": "friends"}, {"permission": "EVERYONE"}, {"permission": ""},
                    {"permission": 1}, {"permission": None}, {"permission": ["everyone"]}):
            with self.subTest(body=bad):
                self.assertError(req(u, "PUT", "/v1/me/cameo", bad), 400, "invalid_request", "permission")
        self.assertFalse(req(u, "GET", "/v1/me").body["has_cameo"])

    def test_approvals(self):
        u, b, c = new_users(3)
        r = req(u, "GET", "/v1/me/cameo/approvals")
        self.assertEqual((r.status, r.body["items"], r.body["next_cursor"]), (200, [], None))
        r = req(u, "POST", "/v1/me/cameo/approvals", {"username": b.name})
        self.assertEqual(r.status, 201, r)
        self.assertUser(r.body, b)
        self.assertEqual(req(u, "POST", "/v1/me/cameo/approvals", {"username": c.name}).status, 201)
        listed = req(u, "GET", "/v1/me/cameo/approvals").body["items"]
        for x in listed:
            self.assertUser(x)
        self.assertEqual(sorted(x["username"] for x in listed), sorted([b.name, c.name]))
        self.assertNotFound(req(u, "POST", "/v1/me/cameo/approvals", {"username": "nobody_" + b.name[:20]}))
        self.assertError(req(u, "POST", "/v1/me/cameo/approvals", {}), 400, "invalid_request", "username")
        self.assertError(req(u, "POST", "/v1/me/cameo/approvals", {"username": 5}), 400, "invalid_request",
                         "username")
        # Approving twice keeps one entry.
        self.assertIn(req(u, "POST", "/v1/me/cameo/approvals", {"username": b.name}).status, (200, 201))
        self.assertEqual(len(req(u, "GET", "/v1/me/cameo/approvals").body["items"]), 2)
        self.assertEqual(req(u, "DELETE", "/v1/me/cameo/approvals/" + b.name).status, 204)
        self.assertEqual([x["username"] for x in req(u, "GET", "/v1/me/cameo/approvals").body["items"]],
                         [c.name])
        # Lists are per owner.
        self.assertEqual(req(b, "GET", "/v1/me/cameo/approvals").body["items"], [])

    def test_appearances_include_other_peoples_drafts(self):
        x, b, c = new_users(3)
        draft = make_post(b, status="draft", cameos=[x])
        published = make_post(c, cameos=[b, x])
        make_post(b, status="draft")
        make_post(c, cameos=[b])
        r = req(x, "GET", "/v1/me/cameo/appearances")
        self.assertEqual(r.status, 200, r)
        for p in r.body["items"]:
            self.assertPost(p)
            self.assertIn(x.id, [u["id"] for u in p["cameos"]])
        self.assertEqual(sorted(ids(r.body["items"])), sorted([draft, published]))
        self.assertEqual(sorted(ids(list_all(x, "/v1/me/cameo/appearances?limit=1"))), sorted([draft, published]))
        self.assertEqual(ids(list_all(c, "/v1/me/cameo/appearances")), [])
        # The draft is still a draft: listed for x, not readable by c.
        self.assertNotFound(get_post(c, draft))


# ---- revoking consent and taking posts down ----

class Revocation(Base):
    def test_revoking_the_cameo(self):
        x, b, c, third = new_users(4)
        set_cameo(x, "everyone")
        follow(third, c)
        published = make_post(c, cameos=[x])
        followers_post = make_post(c, cameos=[x], visibility="followers")
        draft = make_post(b, status="draft", cameos=[x])
        unrelated = make_post(c)
        left_before = left_today(b)
        queued = generate(b, cameos=[x.name])
        self.assertEqual(queued.status, 202, queued)
        gid = queued.body["id"]
        self.assertEqual(left_today(b), left_before - 1)
        self.assertEqual(self.page(third, published)["id"], published)
        self.assertEqual(self.page(third, followers_post)["id"], followers_post)

        r = req(x, "DELETE", "/v1/me/cameo")
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.raw, b"")
        self.assertFalse(req(x, "GET", "/v1/me").body["has_cameo"])
        # Third parties: gone, from the page and from the author's list.
        for pid in (published, followers_post):
            self.assertNotFound(get_post(third, pid))
        self.assertEqual(ids(list_all(third, "/v1/users/%s/posts" % c.name)), [unrelated])
        # Its author and the person featured still see it.
        self.assertEqual(self.page(c, published)["id"], published)
        self.assertEqual(self.page(x, published)["id"], published)
        self.assertEqual(self.page(b, draft)["status"], "draft")
        # The queued generation failed with cameo_revoked, and gave its quota back.
        g = req(b, "GET", "/v1/generations/" + gid).body
        self.assertEqual(g["status"], "failed", g)
        self.assertEqual(g["error"]["code"], "cameo_revoked", g)
        self.assertIsInstance(g["error"]["message"], str)
        self.assertIsNone(g["post_id"])
        self.assertRegex(g["finished_at"] or "", RFC3339_UTC)
        self.assertEqual(left_today(b), left_before)
        self.assertError(req(b, "DELETE", "/v1/generations/" + gid), 409, "conflict")
        # The draft featuring x can no longer be published.
        self.assertError(publish(b, draft, {"caption": "anyway"}), 403, "cameo_revoked")
        self.assertEqual(self.page(b, draft)["status"], "draft")
        # And nobody may cast x now, but x may still cast themselves.
        self.assertError(generate(b, cameos=[x.name]), 403, "cameo_not_allowed", x.name)
        self.assertEqual(generate(x, cameos=[x.name]).status, 202)

    def test_taking_a_post_down(self):
        x, c, third = new_users(3)
        pid = make_post(c, cameos=[x])
        other = make_post(c)
        self.assertEqual(self.page(third, pid)["id"], pid)
        self.assertNotFound(req(third, "DELETE", "/v1/posts/%s/cameos/me" % pid))
        self.assertNotFound(req(c, "DELETE", "/v1/posts/%s/cameos/me" % pid))
        self.assertNotFound(req(x, "DELETE", "/v1/posts/%s/cameos/me" % other))
        self.assertNotFound(req(x, "DELETE", "/v1/posts/999999999999/cameos/me"))
        self.assertNotFound(req(x, "DELETE", "/v1/posts/abc/cameos/me"))
        self.assertEqual(self.page(third, pid)["id"], pid)
        r = req(x, "DELETE", "/v1/posts/%s/cameos/me" % pid)
        self.assertEqual(r.status, 204, r)
        self.assertNotFound(get_post(third, pid))
        self.assertNotIn(pid, ids(list_all(third, "/v1/users/%s/posts" % c.name)))
        self.assertEqual(self.page(c, pid)["id"], pid)
        self.assertEqual(self.page(x, pid)["id"], pid)
        # Only that post: x's other appearances stay up.
        elsewhere = make_post(c, cameos=[x])
        self.assertEqual(self.page(third, elsewhere)["id"], elsewhere)
        self.assertEqual(self.page(third, other)["id"], other)

    def test_taking_down_a_draft_blocks_its_publication(self):
        x, b = new_users(2)
        draft = make_post(b, status="draft", cameos=[x])
        self.assertEqual(req(x, "DELETE", "/v1/posts/%s/cameos/me" % draft).status, 204)
        self.assertError(publish(b, draft), 403, "cameo_revoked")



# ---- the whole pipeline: a generation becomes a draft with real media ----

class Pipeline(Base):
    """Runs `flickd all` with one worker (the builtin engine): a queued generation turns
    into a draft post of its caller, with an MP4 and WebP stills."""
    JOB_TIMEOUT_S = 150

    @classmethod
    def setUpClass(cls):
        cls.all = AllServer(env={"FLICK_WORKERS": "1"}, name="posts_all").start()
        cls.a, cls.x, cls.other = new_users(3)
        set_cameo(cls.x, "everyone")
        r = cls.all.request("POST", "/v1/generations", {"prompt": "a paper lantern drifting over a lake",
                                                         "seconds": 4, "aspect": "1:1", "cameos": [cls.x.name]},
                            token=cls.a.token)
        assert r.status == 202, r
        cls.gid = r.body["id"]
        # Jobs another suite left queued would be claimed first (oldest first): go ahead of them.
        sql("UPDATE generations SET next_attempt_at = now() - interval '1 hour' WHERE id = %d" % int(cls.gid))
        cls.progress = []
        deadline = time.monotonic() + cls.JOB_TIMEOUT_S
        g = r.body
        while time.monotonic() < deadline:
            g = cls.all.request("GET", "/v1/generations/" + cls.gid, token=cls.a.token).body
            cls.progress.append((g["status"], g["progress"]))
            if g["status"] in ("succeeded", "failed", "canceled"):
                break
            time.sleep(0.25)
        cls.done = g

    @classmethod
    def tearDownClass(cls):
        cls.all.stop()

    def test_the_job_succeeds_with_a_draft(self):
        g = self.done
        self.assertEqual(g["status"], "succeeded",
                         "job not done after %d s: %r; log %s" % (self.JOB_TIMEOUT_S, g, self.all.log_path))
        self.assertEqual(g["progress"], 100)
        self.assertIsNone(g["error"])
        self.assertRegex(g["post_id"] or "", r"^[0-9]+$")
        self.assertRegex(g["finished_at"] or "", RFC3339_UTC)
        self.assertEqual(g["cameos"], [self.x.name])
        seen = [p for _, p in self.progress]
        self.assertEqual(seen, sorted(seen), self.progress)
        for status, _ in self.progress:
            self.assertIn(status, ("queued", "running", "succeeded"))

    def test_the_draft_carries_the_request_and_real_media(self):
        g = self.done
        self.assertEqual(g["status"], "succeeded", g)
        p = self.page(self.a, g["post_id"])
        self.assertUser(p["author"], self.a)
        self.assertEqual((p["status"], p["published_at"]), ("draft", None))
        self.assertEqual((p["prompt"], p["model"], p["seconds"], p["aspect"]),
                         ("a paper lantern drifting over a lake", "standard", 4, "1:1"))
        self.assertEqual((p["remix_of"], p["remix_root"], p["remix_depth"]), (None, None, 0))
        self.assertEqual([u["username"] for u in p["cameos"]], [self.x.name])
        media = p["media"]
        self.assertIsInstance(media, dict, p)
        v = media["video"]
        self.assertEqual(v["mime"], "video/mp4")
        self.assertEqual(v["width"], v["height"])           # 1:1
        self.assertGreater(v["width"], 0)
        self.assertTrue(3500 <= v["duration_ms"] <= 4500, v)
        self.assertGreater(v["bytes"], 0)
        self.assertGreaterEqual(len(media["poster"]), 1)
        widths = [x["width"] for x in media["poster"]]
        self.assertEqual(widths, sorted(widths))
        for still in media["poster"]:
            self.assertEqual(still["width"], still["height"])
        # The signed URL works without a token and serves the MP4, tagged with its job.
        parts = urllib.parse.urlsplit(v["url"])
        r = self.all.request("GET", parts.path + "?" + parts.query)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers["Content-Type"].startswith("video/mp4"), r.headers)
        self.assertEqual(len(r.raw), v["bytes"])
        self.assertEqual(r.raw[4:8], b"ftyp")
        self.assertIn(("flick-provenance:%s" % g["id"]).encode(), r.raw)
        parts = urllib.parse.urlsplit(media["poster"][0]["url"])
        r = self.all.request("GET", parts.path + "?" + parts.query)
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.raw[:4], r.raw[8:12]), (b"RIFF", b"WEBP"))

    def test_the_draft_is_private_until_published(self):
        pid = self.done["post_id"]
        self.assertIsNotNone(pid, self.done)
        self.assertIn(pid, ids(list_all(self.a, "/v1/drafts")))
        self.assertNotFound(get_post(self.other, pid))
        self.assertIn(pid, ids(list_all(self.x, "/v1/me/cameo/appearances")))
        # The person it features opens the draft and its media with their token (no
        # signature); nobody else does.
        draft = self.page(self.x, pid)
        self.assertEqual(draft["status"], "draft")
        path = urllib.parse.urlsplit(draft["media"]["video"]["url"]).path
        r = self.all.request("GET", path, token=self.x.token)
        self.assertEqual((r.status, r.raw[4:8]), (200, b"ftyp"), r)
        self.assertNotFound(self.all.request("GET", path, token=self.other.token))
        r = publish(self.a, pid, {"caption": "lanterns"})
        self.assertEqual((r.status, r.body["status"]), (200, "published"))
        self.assertEqual(self.page(self.other, pid)["caption"], "lanterns")
        self.assertNotIn(pid, ids(list_all(self.a, "/v1/drafts")))
        self.assertIn(pid, ids(list_all(self.other, "/v1/users/%s/posts" % self.a.name)))


if __name__ == "__main__":
    unittest.main()
