"""Feeds (API.md "Engagement and feeds"): For You, following and trending, feed preferences,
and the rank role that turns events into everyone's ranking.

Every rule is checked from outside, against a database that other suites also fill: a test
makes its own viewers and authors, and looks only at where its own posts land. The rank role
runs as its own process (`flickd rank`) beside the server, as it would in a deployment."""
import os
import signal
import subprocess
import time
import unittest

import fixtures
import flick
from fixtures import ApiTestCase, follow, make_post, new_user, new_users, req, sql

srv = None
rank = None
REASONS = {"followed_author", "trending", "remix_of_liked", "features_you", "preference_match", "explore"}
FEEDS = ("/v1/feed", "/v1/feed/following", "/v1/feed/trending")
SETTLE_S = 10.0     # events reach everyone's ranking within this
TOP = 10            # ... enough to lift a post into the first TOP of trending


def start_rank():
    """`flickd rank` with the suite's environment; its log sits beside the servers' logs."""
    os.makedirs(flick.LOG_DIR, exist_ok=True)
    log = open(os.path.join(flick.LOG_DIR, "rank-%d.log" % os.getpid()), "ab")
    proc = subprocess.Popen([flick.BIN, "rank"], env=flick._base_env(), stdin=subprocess.DEVNULL,
                            stdout=log, stderr=log, cwd=flick.ROOT)
    proc.log = log
    proc.log_path = log.name
    return proc


def stop_rank(proc):
    """SIGTERM; the role must stop by itself, cleanly, with no sanitizer report."""
    if proc.poll() is not None:
        raise AssertionError("flickd rank exited early with %s" % proc.returncode)
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError("flickd rank did not stop within 15 s of SIGTERM")
    finally:
        proc.log.close()
    if rc != 0:
        raise AssertionError("flickd rank exited with %s" % rc)
    with open(proc.log_path, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    marks = [m for m in flick.SANITIZER_MARKS if m in text]
    if marks:
        raise AssertionError("sanitizer report in %s: %s" % (proc.log_path, ", ".join(marks)))


def setUpModule():
    global srv, rank
    srv = fixtures.start_suite("feed", {"FLICK_WORKERS": "0"})
    rank = start_rank()


def tearDownModule():
    try:
        stop_rank(rank)
    finally:
        fixtures.end_suite(srv)


def redis_cli(*args):
    out = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", os.environ["FLICK_REDIS_PORT"]] + list(args),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10, check=True)
    return out.stdout.decode().strip()


def page(user, path="/v1/feed", limit=20, cursor=None):
    r = req(user, "GET", "%s?limit=%d%s" % (path, limit, "&cursor=" + cursor if cursor else ""))
    assert r.status == 200, r
    return r.body


def scroll(user, path="/v1/feed", limit=100, pages=None):
    """The pages of one scroll (all of them, or the first `pages`)."""
    out, cursor = [], None
    for _ in range(pages or 200):
        body = page(user, path, limit, cursor)
        out.append(body["items"])
        cursor = body["next_cursor"]
        if not cursor:
            return out
    if pages:
        return out
    raise AssertionError("%s does not end" % path)


def ids(items):
    return [i["id"] for i in items]


def flat(pages):
    return [i for p in pages for i in p]


def event(user, pid, type_):
    r = req(user, "POST", "/v1/events", {"events": [{"post_id": pid, "type": type_}]})
    assert r.status == 202, r


def remix(author, parent, **kw):
    pid = make_post(author, **kw)
    sql("UPDATE posts c SET remix_of = p.id, remix_root = COALESCE(p.remix_root, p.id), "
        "remix_depth = p.remix_depth + 1 FROM posts p WHERE p.id = %d AND c.id = %d" % (int(parent), int(pid)))
    return pid


def age(pid, hours):
    sql("UPDATE posts SET published_at = now() - interval '%d hours' WHERE id = %d" % (hours, int(pid)))


class Reasons(ApiTestCase):
    def test_every_item_is_a_signed_post_with_a_reason(self):
        viewer, followed, featuring, liked_author, remixer, steered = new_users(6)
        follow(viewer, followed)
        p_followed = make_post(followed, caption="from a friend")
        p_features = make_post(featuring, cameos=[viewer])
        p_liked = make_post(liked_author)
        self.assertEqual(req(viewer, "POST", "/v1/posts/%s/like" % p_liked).status, 204)
        p_remix = remix(remixer, p_liked)
        word = "zq" + os.urandom(4).hex()
        p_pref = make_post(steered, caption="a clip about %s and more" % word.upper())
        self.assertEqual(req(viewer, "PUT", "/v1/me/feed-preferences", {"more": [word]}).status, 200)

        items = flat(scroll(viewer))
        by_id = {i["id"]: i for i in items}
        for pid, code in ((p_followed, "followed_author"), (p_features, "features_you"),
                          (p_remix, "remix_of_liked"), (p_pref, "preference_match")):
            self.assertIn(pid, by_id, "%s post missing from For You" % code)
            self.assertEqual(by_id[pid]["reason"]["code"], code, by_id[pid]["reason"])
        self.assertEqual(by_id[p_followed]["reason"]["text"], "You follow @%s" % followed.name)
        self.assertIn(word, by_id[p_pref]["reason"]["text"])
        for item in items:
            self.assertIn(item["reason"]["code"], REASONS, item["reason"])
            self.assertIsInstance(item["reason"]["text"], str)
            self.assertTrue(item["reason"]["text"])
            for field in ("author", "status", "visibility", "media", "counts", "viewer", "remix_root", "cameos"):
                self.assertIn(field, item)
            self.assertEqual(item["status"], "published")
            self.assertIs(item["restricted"], False)
            self.assertNotEqual(item["author"]["id"], viewer.id, "my own post in my For You")
        # post_json_for: the viewer's like shows; a post I liked is not in For You here, so
        # look through the following feed.
        follow(viewer, liked_author)
        liked = [i for i in flat(scroll(viewer, "/v1/feed/following")) if i["id"] == p_liked]
        self.assertEqual(liked[0]["viewer"], {"liked": True})

    def test_explore_and_trending_reasons(self):
        viewer, stranger = new_users(2)
        p = make_post(stranger)
        items = {i["id"]: i for i in flat(scroll(viewer))}
        self.assertIn(p, items)
        self.assertIn(items[p]["reason"]["code"], ("explore", "trending"))
        for item in flat(scroll(viewer, "/v1/feed/trending")):
            self.assertEqual(item["reason"]["code"], "trending")


class Paging(ApiTestCase):
    def test_no_post_twice_in_one_scroll(self):
        viewer, *authors = new_users(5)
        for a in authors:
            follow(viewer, a)
            for _ in range(4):
                make_post(a)
        for path in ("/v1/feed", "/v1/feed/trending", "/v1/feed/following"):
            pages = scroll(viewer, path, limit=7)
            seen = ids(flat(pages))
            self.assertEqual(len(seen), len(set(seen)), "%s repeats posts across pages" % path)
            self.assertGreater(len(pages), 1, path)
            self.assertTrue(all(len(p) <= 7 for p in pages))
        following = ids(flat(scroll(viewer, "/v1/feed/following", limit=5)))
        self.assertEqual(len(following), 16)

    def test_a_page_asked_for_again_skips_nothing(self):
        # A client whose answer was lost asks for the same page again, with the same cursor:
        # the posts of the lost answer are not skipped for the rest of the scroll, and the
        # scroll still holds no post twice. Posts that only For You's random `explore` sample
        # found may not come round again in a scroll, shown or not: the check leaves them out.
        viewer, *authors = new_users(7)
        for a in authors:
            follow(viewer, a)
            make_post(a)
            make_post(a)
        for path in ("/v1/feed", "/v1/feed/trending"):
            with self.subTest(path=path):
                first = page(viewer, path, 4)
                lost = page(viewer, path, 4, first["next_cursor"])
                head = req(viewer, "HEAD", "%s?limit=4&cursor=%s" % (path, first["next_cursor"]))
                self.assertEqual(head.status, 200)
                again = page(viewer, path, 4, first["next_cursor"])
                seen = ids(first["items"]) + ids(again["items"])
                cursor = again["next_cursor"]
                while cursor:
                    body = page(viewer, path, 100, cursor)
                    seen += ids(body["items"])
                    cursor = body["next_cursor"]
                self.assertEqual(len(seen), len(set(seen)), "repeats in %s" % seen)
                kept = {i["id"] for i in lost["items"] if i["reason"]["code"] != "explore"}
                self.assertTrue(kept, "the lost page: %s" % [(i["id"], i["reason"]) for i in lost["items"]])
                self.assertEqual(kept - set(seen), set(), "skipped for good")

    def test_following_is_newest_first_and_only_followed(self):
        viewer, a, b, c = new_users(4)
        follow(viewer, a)
        follow(viewer, b)
        made = []
        for i, author in enumerate((a, b, c, a, b)):
            pid = make_post(author)
            sql("UPDATE posts SET published_at = now() - interval '%d minutes' WHERE id = %s" % (10 - i, pid))
            made.append((pid, author))
        got = ids(flat(scroll(viewer, "/v1/feed/following", limit=2)))
        want = [pid for pid, author in reversed(made) if author is not c]
        self.assertEqual(got, want)

    def test_forged_cursors_and_bad_limits(self):
        viewer = new_user()
        for path in FEEDS:
            for bad in ("0", "101", "-1", "abc", "1.5", ""):
                r = req(viewer, "GET", "%s?limit=%s" % (path, bad))
                self.assertError(r, 400, "invalid_request", "limit")
            for cursor in ("garbage", "czEyMzQ1Njc4OTA", "A" * 60):
                self.assertError(req(viewer, "GET", "%s?cursor=%s" % (path, cursor)), 400, "invalid_request", "cursor")
            self.assertEqual(req(None, "GET", path).status, 401)
        # A genuine cursor of one feed is refused by another, and by another route.
        make_post(new_user())
        real = page(viewer, "/v1/feed", limit=1)["next_cursor"]
        self.assertTrue(real)
        self.assertError(req(viewer, "GET", "/v1/feed/trending?cursor=" + real), 400, "invalid_request", "cursor")
        self.assertError(req(viewer, "GET", "/v1/drafts?cursor=" + real), 400, "invalid_request", "cursor")
        tampered = real[:-2] + ("AA" if real[-2:] != "AA" else "BB")
        self.assertError(req(viewer, "GET", "/v1/feed?cursor=" + tampered), 400, "invalid_request", "cursor")
        self.assertEqual(req(viewer, "GET", "/v1/feed?cursor=" + real).status, 200)

    def test_another_users_cursor_is_not_their_scroll(self):
        # A cursor names its scroll, not the viewer: someone else using it gets a fresh
        # scroll of their own, never the first viewer's snapshot or posts they may not see.
        a, b, author = new_users(3)
        follow(a, author)
        secret = make_post(author, visibility="followers")
        cursor = page(a, "/v1/feed", limit=1)["next_cursor"]
        self.assertNotIn(secret, ids(page(b, "/v1/feed", 100, cursor)["items"]))


class PageRules(ApiTestCase):
    def assertPageRules(self, items, where):
        authors = [i["author"]["id"] for i in items]
        roots = [i["remix_root"] or i["id"] for i in items]
        for x, y in zip(authors, authors[1:]):
            self.assertNotEqual(x, y, "%s: the same author in adjacent slots: %s" % (where, authors))
        for a in set(authors):
            self.assertLessEqual(authors.count(a), 2, "%s: author %s fills %d items" % (where, a, authors.count(a)))
        for r in set(roots):
            self.assertLessEqual(roots.count(r), 2, "%s: remix root %s fills %d items" % (where, r, roots.count(r)))

    def test_diversity_within_each_page(self):
        # Enough authors that every rule can hold on the first two pages, whatever else
        # the database holds.
        viewer, prolific, root_author, *others = new_users(30)
        follow(viewer, prolific)
        for _ in range(14):
            make_post(prolific)             # followed: the strongest candidates
        original = make_post(root_author)
        for o in others[:6]:
            follow(viewer, o)
            remix(o, original)              # six followed remixes of one root
        for o in others[6:]:
            make_post(o)
        pages = scroll(viewer, "/v1/feed", limit=10, pages=2)
        for n, items in enumerate(pages):
            self.assertEqual(len(items), 10)
            self.assertPageRules(items, "For You page %d" % (n + 1))
        for n, items in enumerate(scroll(viewer, "/v1/feed/trending", limit=10, pages=2)):
            self.assertPageRules(items, "trending page %d" % (n + 1))

    def test_small_pages_keep_authors_apart_across_the_scroll(self):
        # A followed author's posts lead For You; with pages of one or two items, no page
        # and no page boundary may put that author twice in a row while others remain.
        viewer, prolific, *others = new_users(8)
        follow(viewer, prolific)
        for _ in range(4):
            make_post(prolific)
        for o in others:
            make_post(o)
        for path in ("/v1/feed", "/v1/feed/trending"):
            for limit in (1, 2):
                with self.subTest(path=path, limit=limit):
                    authors = [i["author"]["id"] for i in flat(scroll(viewer, path, limit=limit, pages=6))]
                    self.assertEqual(len(authors), 6 * limit)
                    for x, y in zip(authors, authors[1:]):
                        self.assertNotEqual(x, y, "%s limit %d: %s" % (path, limit, authors))


class Steering(ApiTestCase):
    def test_completed_posts_sink(self):
        viewer, author = new_users(2)
        follow(viewer, author)
        posts = [make_post(author) for _ in range(5)]
        before = ids(flat(scroll(viewer, "/v1/feed", limit=100)))
        self.assertLess(before.index(posts[-1]), before.index(posts[0]), "the newest leads before")
        event(viewer, posts[-1], "complete")
        pages = scroll(viewer, "/v1/feed", limit=100)
        order = ids(flat(pages))
        for p in posts[:-1]:
            self.assertIn(p, order)
        # It sinks below every candidate not completed: after its author's other posts, and
        # off the first page whenever there is more than one (or past the end of a scroll
        # that the snapshot cap cuts short).
        if len(pages) > 1:
            self.assertNotIn(posts[-1], ids(pages[0]))
        if posts[-1] in order:
            for p in posts[:-1]:
                self.assertLess(order.index(p), order.index(posts[-1]))

    def test_not_interested_author_absent_for_the_next_pages(self):
        viewer, dull, other = new_users(3)
        follow(viewer, dull)
        follow(viewer, other)
        dull_posts = [make_post(dull) for _ in range(6)]
        for _ in range(6):
            make_post(other)
        self.assertIn(dull_posts[-1], ids(flat(scroll(viewer, "/v1/feed", limit=100, pages=2))))
        event(viewer, dull_posts[0], "not_interested")
        shown = flat(scroll(viewer, "/v1/feed", limit=5, pages=3))
        self.assertGreaterEqual(len(shown), 12)
        self.assertEqual([i["id"] for i in shown if i["author"]["id"] == dull.id], [])
        # A fresh scroll later is no different, and the author's posts still show elsewhere.
        self.assertNotIn(dull.id, [i["author"]["id"] for i in flat(scroll(viewer, "/v1/feed", limit=50, pages=3))])
        self.assertIn(dull_posts[1], ids(flat(scroll(viewer, "/v1/feed/following"))))

    def test_preferences_take_effect_on_the_next_page(self):
        viewer, author = new_users(2)
        follow(viewer, author)
        word = "zr" + os.urandom(4).hex()
        dull = make_post(author, prompt="a quiet %s harbour" % word)
        age(dull, 1)
        plain = [make_post(author) for _ in range(4)]
        for p in plain:
            age(p, 1)
        first = page(viewer, "/v1/feed", limit=1)
        self.assertNotIn(dull, ids(first["items"]))
        r = req(viewer, "PUT", "/v1/me/feed-preferences", {"less": [word]})
        self.assertEqual(r.status, 200, r)
        cursor, rest = first["next_cursor"], []
        while cursor:
            body = page(viewer, "/v1/feed", 100, cursor)
            rest += ids(body["items"])
            cursor = body["next_cursor"]
        for p in plain:
            self.assertIn(p, rest)
            if dull in rest:
                self.assertLess(rest.index(p), rest.index(dull), "a `less` term sinks the post")

        # `more` lifts a post from nowhere to the next page, with its reason.
        viewer2, stranger = new_users(2)
        liked_word = "zs" + os.urandom(4).hex()
        target = make_post(stranger, caption="All about %s!" % liked_word.capitalize())
        age(target, 30)
        control = make_post(stranger, caption="all about something else")
        age(control, 30)
        first = page(viewer2, "/v1/feed", limit=3)
        self.assertNotIn(target, ids(first["items"]))
        self.assertEqual(req(viewer2, "PUT", "/v1/me/feed-preferences", {"more": [liked_word]}).status, 200)
        second = page(viewer2, "/v1/feed", 100, first["next_cursor"])["items"]
        self.assertIn(target, ids(second), "the `more` post is on the very next page")
        hit = [i for i in second if i["id"] == target][0]
        self.assertEqual(hit["reason"]["code"], "preference_match")
        self.assertNotIn(control, ids(second)[:ids(second).index(target)])

    def test_open_reports_rank_lower(self):
        viewer, author, *reporters = new_users(4)
        follow(viewer, author)
        clean = make_post(author)
        reported = make_post(author)
        for rep in reporters[:1]:
            r = req(rep, "POST", "/v1/posts/%s/reports" % reported, {"reason": "spam"})
            self.assertIn(r.status, (200, 201), r)
        order = ids(flat(scroll(viewer, "/v1/feed")))
        self.assertLess(order.index(clean), order.index(reported))


class Visibility(ApiTestCase):
    def test_followers_only_posts(self):
        author, fan, stranger = new_users(3)
        follow(fan, author)
        secret = make_post(author, visibility="followers")
        self.assertIn(secret, ids(flat(scroll(fan, "/v1/feed"))))
        self.assertIn(secret, ids(flat(scroll(fan, "/v1/feed/following"))))
        for viewer in (fan, stranger):
            self.assertNotIn(secret, ids(flat(scroll(viewer, "/v1/feed/trending"))))
        self.assertNotIn(secret, ids(flat(scroll(stranger, "/v1/feed"))))

    def test_restricted_posts(self):
        author, adult = new_users(2)
        minor = fixtures.new_minor()
        follow(adult, author)
        follow(minor, author)
        restricted = make_post(author)
        sql("UPDATE posts SET restricted = true WHERE id = %s" % restricted)
        for path in ("/v1/feed", "/v1/feed/trending"):
            for viewer in (adult, minor):
                self.assertNotIn(restricted, ids(flat(scroll(viewer, path))), path)
        self.assertIn(restricted, ids(flat(scroll(adult, "/v1/feed/following"))))
        self.assertNotIn(restricted, ids(flat(scroll(minor, "/v1/feed/following"))))

    def test_removed_hidden_and_drafts_never(self):
        author, viewer = new_users(2)
        mod = fixtures.create_users(1, "moderator", "free")[0]
        follow(viewer, author)
        follow(mod, author)
        gone = [make_post(author, status=s) for s in ("removed", "hidden", "draft")]
        shown = make_post(author)
        revoked = make_post(author, cameos=[new_user()])
        sql("UPDATE post_cameos SET revoked = true WHERE post_id = %s" % revoked)
        for who in (viewer, mod):
            for path in FEEDS:
                got = ids(flat(scroll(who, path)))
                for pid in gone + [revoked]:
                    self.assertNotIn(pid, got, "%s in %s" % (pid, path))
            self.assertIn(shown, ids(flat(scroll(who, "/v1/feed/following"))))

    def test_posts_featuring_me_or_whom_i_follow(self):
        # For You offers the posts featuring the viewer or someone they follow, by authors
        # they do not follow: each once in a scroll, with its reason; a completed one after
        # the others; never one the viewer may not get, nor one by an author they were not
        # interested in, nor their own.
        viewer, friend, other, dull, banned, *authors = new_users(9)
        follow(viewer, friend)
        me = make_post(authors[0], cameos=[viewer])
        them = make_post(authors[1], cameos=[friend])
        both = make_post(authors[2], cameos=[friend, viewer])
        done = make_post(authors[3], cameos=[friend])
        never = [make_post(authors[0], status=s, cameos=[viewer]) for s in ("draft", "removed", "hidden")]
        never.append(make_post(authors[1], visibility="followers", cameos=[viewer]))
        never.append(make_post(authors[2], cameos=[friend]))
        sql("UPDATE posts SET restricted = true WHERE id = %s" % never[-1])
        never.append(make_post(authors[3], cameos=[viewer, other]))
        sql("UPDATE post_cameos SET revoked = true WHERE post_id = %s AND user_id = %s" % (never[-1], other.id))
        never.append(make_post(banned, cameos=[viewer]))
        sql("UPDATE users SET banned = true WHERE id = %s" % banned.id)
        never.append(make_post(viewer, cameos=[friend]))
        never.append(make_post(dull, cameos=[friend]))
        event(viewer, make_post(dull), "not_interested")
        event(viewer, done, "complete")

        pages = scroll(viewer, "/v1/feed", limit=20)
        order = ids(flat(pages))
        self.assertGreater(len(pages), 1)
        self.assertEqual(len(order), len(set(order)), "a post twice in one scroll")
        by_id = {i["id"]: i for i in flat(pages)}
        for pid, text in ((me, "You appear in this video"), (both, "You appear in this video"),
                          (them, "Features @%s, whom you follow" % friend.name)):
            self.assertIn(pid, by_id)
            self.assertEqual(by_id[pid]["reason"], {"code": "features_you", "text": text})
        for pid in never:
            self.assertNotIn(pid, order)
        if done in order:
            for pid in (me, them, both):
                self.assertLess(order.index(pid), order.index(done), "a completed post sinks")


class Preferences(ApiTestCase):
    def test_normalised_replaced_and_read_back(self):
        u = new_user()
        self.assertEqual(req(u, "GET", "/v1/me/feed-preferences").body, {"more": [], "less": []})
        r = req(u, "PUT", "/v1/me/feed-preferences",
                {"more": ["  Cats ", "cats", "DOGS", "Straße", "   "], "less": ["Gore"], "other": 1})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, {"more": ["cats", "dogs", "strasse"], "less": ["gore"]})
        self.assertEqual(req(u, "GET", "/v1/me/feed-preferences").body, r.body)
        r = req(u, "PUT", "/v1/me/feed-preferences", {"more": ["sea"]})
        self.assertEqual(r.body, {"more": ["sea"], "less": []}, "PUT replaces both lists")
        self.assertEqual(req(u, "GET", "/v1/me/feed-preferences").body, {"more": ["sea"], "less": []})

    def test_validation_names_the_field(self):
        u = new_user()
        put = lambda body: req(u, "PUT", "/v1/me/feed-preferences", body)
        self.assertError(put({"more": ["t%d" % i for i in range(21)]}), 400, "invalid_request", "more")
        self.assertEqual(put({"more": ["t%d" % i for i in range(20)]}).status, 200)
        self.assertError(put({"less": ["x" * 41]}), 400, "invalid_request", "less[0]")
        self.assertEqual(put({"less": ["é" * 40]}).status, 200, "40 characters, not bytes")
        self.assertError(put({"more": "cats"}), 400, "invalid_request", "more")
        self.assertError(put({"less": ["ok", 3]}), 400, "invalid_request", "less[1]")
        self.assertError(put([]), 400, "invalid_request")
        self.assertError(req(u, "PUT", "/v1/me/feed-preferences", "{"), 400, "invalid_request")
        self.assertEqual(req(u, "GET", "/v1/me/feed-preferences").body["less"], ["é" * 40],
                         "a refused PUT changes nothing")


class Ranking(ApiTestCase):
    def test_fetching_a_feed_is_not_a_view(self):
        viewer, author = new_users(2)
        follow(viewer, author)
        pid = make_post(author)
        for path in FEEDS:
            scroll(viewer, path)
        self.assertEqual(sql("SELECT count(*) FROM events WHERE user_id = %s" % viewer.id), [["0"]])
        self.assertEqual(req(viewer, "GET", "/v1/posts/" + pid).body["counts"]["views"], 0)

    def wait_trending_top(self, viewer, pid, what):
        """pid reaches the first TOP items of trending within SETTLE_S."""
        end, top = time.monotonic() + SETTLE_S, []
        while time.monotonic() < end:
            top = ids(page(viewer, "/v1/feed/trending", limit=TOP)["items"])
            if pid in top:
                return
            time.sleep(0.3)
        self.fail("%s: %s not among the first %d of trending within %.0f s: %s" % (what, pid, TOP, SETTLE_S, top))

    def wait_in_trending_list(self, pid):
        end = time.monotonic() + SETTLE_S
        while time.monotonic() < end and redis_cli("ZSCORE", "rank:{trending}", pid) == "":
            time.sleep(0.2)
        self.assertNotEqual(redis_cli("ZSCORE", "rank:{trending}", pid), "", "%s not in the trending list" % pid)

    def test_events_reach_everyones_ranking_within_seconds(self):
        author, viewer, *fans = new_users(8)
        hot = make_post(author)
        age(hot, 2)             # older than the posts around it, so only the events lift it
        self.assertNotIn(hot, ids(page(viewer, "/v1/feed/trending", limit=TOP)["items"]))
        for fan in fans:
            r = req(fan, "POST", "/v1/events", {"events": [
                {"post_id": hot, "type": "view"}, {"post_id": hot, "type": "complete"},
                {"post_id": hot, "type": "share"}]})
            self.assertEqual(r.status, 202, r)
        self.wait_trending_top(viewer, hot, "events")
        # Its counters lift it at once; the rank role's list takes it in at its next pass.
        self.wait_in_trending_list(hot)

        # Redis loses everything: the rank role replays the log and trending comes back.
        redis_cli("FLUSHALL")
        self.assertEqual(redis_cli("ZSCORE", "rank:{trending}", hot), "")
        self.wait_in_trending_list(hot)
        self.wait_trending_top(viewer, hot, "after a flush")

if __name__ == "__main__":
    unittest.main()
