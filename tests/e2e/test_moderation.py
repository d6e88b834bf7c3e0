"""Moderation (API.md "Moderation"): reports gather into cases and hide a post at the
threshold, moderators claim cases from a priority queue without ever sharing one, decide
them with visible effects (dismiss, remove, restrict, ban the author), and every decision
lands in the audit log and in `moderation` notifications."""
import calendar
import time
import unittest

import fixtures
import flick
from fixtures import make_post, new_minor, new_user, new_users, parallel, req, sql

srv = None


def setUpModule():
    global srv
    srv = fixtures.start_suite("moderation")


def tearDownModule():
    fixtures.end_suite(srv)


def report(user, post_id, reason="spam", note=None):
    body = {"reason": reason}
    if note is not None:
        body["note"] = note
    return req(user, "POST", "/v1/posts/%s/reports" % post_id, body)


def open_case(post_id):
    """The id of the post's open case, or None."""
    rows = sql("SELECT id FROM moderation_cases WHERE post_id = %d AND status = 'open'" % int(post_id))
    return rows[0][0] if rows else None


def post_status(post_id):
    return sql("SELECT status, restricted FROM posts WHERE id = %d" % int(post_id))[0]


def close_all_cases():
    """Decides every open case in SQL, so that a test starts with an empty queue."""
    sql("WITH c AS (UPDATE moderation_cases SET status = 'decided', action = 'dismiss', decided_at = now() "
        "WHERE status = 'open' RETURNING id) UPDATE reports SET open = false WHERE case_id IN (SELECT id FROM c)")


def decide(mod, case_id, action, note=None):
    body = {"action": action}
    if note is not None:
        body["note"] = note
    return req(mod, "POST", "/v1/moderation/cases/%s/decision" % case_id, body)


def claim(mod):
    return req(mod, "POST", "/v1/moderation/queue/claim")


def reported_case(author=None, reason="spam", reporters=1):
    """A published post with an open case of `reporters` reports; (post id, case id, users)."""
    author = author or new_user()
    pid = make_post(author)
    users = new_users(reporters)
    for u in users:
        r = report(u, pid, reason)
        assert r.status == 201, r
    return pid, open_case(pid), users


def pages(user, path, limit, most=200):
    """The items of list `path`, `limit` a page, following the cursor for at most `most` pages."""
    items, cursor = [], None
    for _ in range(most):
        r = req(user, "GET", "%s?limit=%d" % (path, limit) + ("&cursor=" + cursor if cursor else ""))
        assert r.status == 200, r
        items += r.body["items"]
        cursor = r.body["next_cursor"]
        if not cursor:
            return items
    if most == 200:
        raise AssertionError("%s does not end" % path)
    return items


def queue(mod, limit=100):
    """Every case of the queue."""
    return pages(mod, "/v1/moderation/queue", limit)


class Reports(fixtures.ApiTestCase):
    def test_validation_names_the_field(self):
        u = new_user()
        pid = make_post(new_user())
        self.assertError(req(u, "POST", "/v1/posts/%s/reports" % pid, {}), 400, "invalid_request", "reason")
        self.assertError(report(u, pid, "rude"), 400, "invalid_request", "reason")
        self.assertError(req(u, "POST", "/v1/posts/%s/reports" % pid, {"reason": 7}), 400, "invalid_request", "reason")
        self.assertError(report(u, pid, "spam", "x" * 1001), 400, "invalid_request", "note")
        self.assertError(req(u, "POST", "/v1/posts/%s/reports" % pid, {"reason": "spam", "note": 5}),
                         400, "invalid_request", "note")
        self.assertError(req(u, "POST", "/v1/posts/%s/reports" % pid, "[1]"), 400, "invalid_request")
        self.assertEqual(sql("SELECT count(*) FROM reports WHERE post_id = %s" % pid), [["0"]])
        r = report(u, pid, "other", "é" * 1000)     # 1000 characters, more bytes
        self.assertEqual(r.status, 201, r)

    def test_created_then_a_repeat_is_the_same_report(self):
        u = new_user()
        pid = make_post(new_user())
        r = report(u, pid, "harassment", "they keep posting me")
        self.assertEqual(r.status, 201, r)
        for field in ("id", "post_id", "reason", "note", "created_at"):
            self.assertIn(field, r.body)
        self.assertEqual((r.body["post_id"], r.body["reason"], r.body["note"]),
                         (pid, "harassment", "they keep posting me"))
        self.assertIsInstance(r.body["id"], str)
        again = report(u, pid, "spam")
        self.assertEqual(again.status, 200, again)
        self.assertEqual(again.body["id"], r.body["id"])
        self.assertEqual(again.body["reason"], "harassment")
        self.assertEqual(sql("SELECT count(*) FROM reports WHERE post_id = %s" % pid), [["1"]])
        self.assertEqual(sql("SELECT count(*) FROM moderation_cases WHERE post_id = %s" % pid), [["1"]])

    def test_parallel_repeats_make_one_report(self):
        u = new_user()
        pid = make_post(new_user())
        results = parallel(lambda i: report(u, pid, "spam"), 8)
        for r in results:
            self.assertNotIsInstance(r, Exception, r)
        self.assertEqual(sorted(r.status for r in results), [200] * 7 + [201], results)
        self.assertEqual(len({r.body["id"] for r in results}), 1, results)
        self.assertEqual(sql("SELECT count(*) FROM reports WHERE post_id = %s" % pid), [["1"]])

    def test_parallel_reporters_share_one_case(self):
        users = new_users(6)
        pid = make_post(new_user())
        results = parallel(lambda i: report(users[i], pid, "violence"), len(users))
        # reports take turns: the third hides the post, which later reporters can no longer see
        self.assertEqual(sorted(getattr(r, "status", r) for r in results), [201] * 3 + [404] * 3, results)
        self.assertEqual(sql("SELECT count(*), count(DISTINCT case_id) FROM reports WHERE post_id = %s" % pid),
                         [["3", "1"]])
        self.assertEqual(post_status(pid)[0], "hidden")

    def test_posts_the_reporter_cannot_see_are_404(self):
        u, author = new_user(), new_user()
        draft = make_post(author, status="draft")
        followers = make_post(author, visibility="followers")
        removed = make_post(author, status="removed")
        for pid in (draft, followers, removed, "999999999999", "abc", "-1"):
            self.assertError(report(u, pid), 404, "not_found")
        restricted = make_post(author)
        sql("UPDATE posts SET restricted = true WHERE id = %s" % restricted)
        self.assertError(report(new_minor(), restricted), 404, "not_found")
        self.assertEqual(report(u, restricted).status, 201)
        fixtures.follow(u, author)
        self.assertEqual(report(u, followers).status, 201)
        self.assertEqual(sql("SELECT count(*) FROM reports WHERE post_id IN (%s, %s)" % (draft, removed)), [["0"]])

    def test_three_distinct_reporters_hide_the_post(self):
        author, other, mod = new_user(), new_user(), new_user(role="moderator")
        a, b, c = new_users(3)
        pid = make_post(author)
        self.assertEqual(report(a, pid, "spam").status, 201)
        self.assertEqual(report(b, pid, "other").status, 201)
        self.assertEqual(report(b, pid, "sexual").status, 200)     # a repeat is not a reporter more
        self.assertEqual(post_status(pid)[0], "published")
        self.assertEqual(req(other, "GET", "/v1/posts/%s" % pid).status, 200)
        self.assertEqual(report(c, pid, "spam").status, 201)
        self.assertEqual(post_status(pid)[0], "hidden")
        self.assertError(req(other, "GET", "/v1/posts/%s" % pid), 404, "not_found")
        mine = req(author, "GET", "/v1/posts/%s" % pid)
        self.assertEqual((mine.status, mine.body["status"]), (200, "hidden"), mine)
        seen = req(mod, "GET", "/v1/posts/%s" % pid)
        self.assertEqual((seen.status, seen.body["status"]), (200, "hidden"), seen)
        names = [p["id"] for p in req(other, "GET", "/v1/users/%s/posts" % author.name).body["items"]]
        self.assertNotIn(pid, names)
        # its reporters still get their reports back; anyone else cannot see it to report it
        self.assertEqual(report(a, pid, "spam").status, 200)
        self.assertError(report(other, pid, "spam"), 404, "not_found")

    def test_one_minor_safety_report_hides_the_post(self):
        author, other = new_user(), new_user()
        pid = make_post(author)
        self.assertEqual(report(new_user(), pid, "minor_safety").status, 201)
        self.assertEqual(post_status(pid)[0], "hidden")
        self.assertError(req(other, "GET", "/v1/posts/%s" % pid), 404, "not_found")
        self.assertEqual(req(author, "GET", "/v1/posts/%s" % pid).status, 200)

    def test_reports_on_a_followers_only_post_hide_it_too(self):
        author = new_user()
        pid = make_post(author, visibility="followers")
        users = new_users(3)
        for u in users:
            fixtures.follow(u, author)
            self.assertEqual(report(u, pid, "likeness").status, 201)
        self.assertEqual(post_status(pid)[0], "hidden")
        self.assertError(req(users[0], "GET", "/v1/posts/%s" % pid), 404, "not_found")


class Roles(fixtures.ApiTestCase):
    ROUTES = (("GET", "/v1/moderation/queue", None), ("POST", "/v1/moderation/queue/claim", None),
              ("POST", "/v1/moderation/cases/1/decision", {"action": "dismiss"}),
              ("GET", "/v1/moderation/audit", None))

    def test_users_get_403_and_no_token_401(self):
        u = new_user()
        for method, path, body in self.ROUTES:
            self.assertError(req(u, method, path, body), 403, "forbidden")
            self.assertError(srv.request(method, path, body), 401, "unauthorized")
            self.assertError(srv.request(method, path, body, token="not-a-token"), 401, "unauthorized")
        self.assertError(srv.request("POST", "/v1/posts/1/reports", {"reason": "spam"}), 401, "unauthorized")

    def test_moderators_and_admins_may(self):
        for role in ("moderator", "admin"):
            u = new_user(role=role)
            self.assertEqual(req(u, "GET", "/v1/moderation/queue").status, 200)
            self.assertEqual(req(u, "GET", "/v1/moderation/audit").status, 200)


class Queue(fixtures.ApiTestCase):
    def test_highest_priority_first_and_paging(self):
        close_all_cases()
        mod = new_user(role="moderator")
        spam, c_spam, _ = reported_case(reason="spam")
        two, c_two, users = reported_case(reason="sexual", reporters=1)
        self.assertEqual(report(new_user(), two, "violence").status, 201)
        reach, c_reach, _ = reported_case(reason="spam")
        sql("UPDATE posts SET views_count = 1000000 WHERE id = %s" % reach)
        minor, c_minor, _ = reported_case(reason="minor_safety")
        old, c_old, _ = reported_case(reason="spam")
        sql("UPDATE moderation_cases SET created_at = now() - interval '10 hours' WHERE id = %s" % c_old)
        items = queue(mod)
        ids = [c["id"] for c in items]
        # minor_safety 100; spam 2 + 2 ln(1e6 + 1) = 29.6; sexual 10 + violence 10 = 20;
        # spam 2 + 10 h of waiting at 0.5 = 7; spam 2
        self.assertEqual(ids, [c_minor, c_reach, c_two, c_old, c_spam], items)
        prios = [c["priority"] for c in items]
        self.assertEqual(prios, sorted(prios, reverse=True))
        self.assertGreaterEqual(prios[0], 100)
        self.assertAlmostEqual(prios[1], 2 + 2 * 13.8155, delta=0.1)
        self.assertAlmostEqual(prios[3], 7, delta=0.1)
        self.assertAlmostEqual(prios[4], 2, delta=0.1)
        two_case = items[2]
        self.assertEqual(two_case["reasons"], {"sexual": 1, "violence": 1})
        self.assertEqual(two_case["reporters"], 2)
        self.assertEqual(two_case["post"]["id"], two)
        self.assertEqual(two_case["status"], "open")
        self.assertIsNone(two_case["decision"])
        self.assertIsNone(two_case["claimed_by"])
        # one at a time, the same order, no repeats
        self.assertEqual([c["id"] for c in queue(mod, limit=1)], ids)
        self.assertEqual([c["id"] for c in queue(mod, limit=2)], ids)

    def test_forged_cursor_and_bad_limit(self):
        mod = new_user(role="moderator")
        self.assertError(req(mod, "GET", "/v1/moderation/queue?cursor=abc"), 400, "invalid_request", "cursor")
        self.assertError(req(mod, "GET", "/v1/moderation/queue?limit=0"), 400, "invalid_request", "limit")
        audit_cursor = None
        for _ in range(2):
            r = req(mod, "GET", "/v1/moderation/audit?limit=1")
            audit_cursor = r.body["next_cursor"]
        if audit_cursor:    # one list's cursor is refused by another
            self.assertError(req(mod, "GET", "/v1/moderation/queue?cursor=" + audit_cursor), 400, "invalid_request")

    def test_decided_cases_leave_the_queue(self):
        mod = new_user(role="moderator")
        pid, cid, _ = reported_case()
        self.assertIn(cid, [c["id"] for c in queue(mod)])
        self.assertEqual(decide(mod, cid, "dismiss").status, 200)
        self.assertNotIn(cid, [c["id"] for c in queue(mod)])


class Claims(fixtures.ApiTestCase):
    def test_204_when_nothing_to_claim(self):
        close_all_cases()
        self.assertEqual(claim(new_user(role="moderator")).status, 204)

    def test_claim_leases_the_top_case_for_ten_minutes(self):
        close_all_cases()
        mod = new_user(role="moderator")
        reported_case(reason="spam")
        pid, cid, _ = reported_case(reason="minor_safety")
        r = claim(mod)
        self.assertEqual(r.status, 200, r)
        c = r.body
        self.assertEqual(c["id"], cid)
        self.assertEqual(c["status"], "claimed")
        self.assertEqual(c["claimed_by"]["id"], mod.id)
        self.assertEqual(c["post"]["id"], pid)
        self.assertEqual(c["post"]["status"], "hidden")
        self.assertEqual(c["reasons"], {"minor_safety": 1})
        self.assertEqual(c["reporters"], 1)
        self.assertIsNone(c["decision"])
        expires = calendar.timegm(time.strptime(c["claim_expires_at"], "%Y-%m-%dT%H:%M:%SZ"))
        self.assertAlmostEqual(expires - time.time(), 600, delta=30)
        # a moderator who holds a case gets it again
        again = claim(mod)
        self.assertEqual((again.status, again.body["id"]), (200, cid))
        listed = {x["id"]: x for x in queue(mod)}
        self.assertEqual(listed[cid]["status"], "claimed")

    def test_parallel_moderators_never_share_a_case(self):
        for ncases, nmods in ((4, 4), (3, 6)):
            close_all_cases()
            cases = {reported_case()[1] for _ in range(ncases)}
            mods = fixtures.create_users(nmods, "moderator", "free")
            results = parallel(lambda i: claim(mods[i]), nmods)
            statuses = sorted(getattr(r, "status", r) for r in results)
            self.assertEqual(statuses, [200] * ncases + [204] * (nmods - ncases), results)
            got = [r.body["id"] for r in results if r.status == 200]
            self.assertEqual(sorted(got), sorted(cases), results)
            holders = sql("SELECT count(DISTINCT claimed_by) FROM moderation_cases WHERE status = 'open' "
                          "AND claim_expires_at > now()")
            self.assertEqual(holders, [[str(ncases)]])

    def test_expired_lease_can_be_claimed_again(self):
        close_all_cases()
        m1, m2 = new_user(role="moderator"), new_user(role="moderator")
        pid, cid, _ = reported_case()
        self.assertEqual(claim(m1).body["id"], cid)
        self.assertEqual(claim(m2).status, 204)
        self.assertError(decide(m2, cid, "remove"), 409, "conflict")
        self.assertEqual(post_status(pid)[0], "published")
        sql("UPDATE moderation_cases SET claim_expires_at = now() - interval '1 second' WHERE id = %s" % cid)
        listed = {x["id"]: x for x in queue(m2)}
        self.assertEqual(listed[cid]["status"], "open")
        self.assertIsNone(listed[cid]["claimed_by"])
        r = claim(m2)
        self.assertEqual((r.status, r.body["id"], r.body["claimed_by"]["id"]), (200, cid, m2.id))
        self.assertError(decide(m1, cid, "dismiss"), 409, "conflict")
        self.assertEqual(decide(m2, cid, "dismiss").status, 200)


class Decisions(fixtures.ApiTestCase):
    def test_validation_and_conflicts(self):
        m1, m2 = new_user(role="moderator"), new_user(role="moderator")
        pid, cid, _ = reported_case()
        self.assertError(decide(m1, cid, "delete"), 400, "invalid_request", "action")
        self.assertError(req(m1, "POST", "/v1/moderation/cases/%s/decision" % cid, {}), 400, "invalid_request", "action")
        self.assertError(decide(m1, cid, "remove", "x" * 1001), 400, "invalid_request", "note")
        self.assertError(decide(m1, "999999999999", "dismiss"), 404, "not_found")
        self.assertError(decide(m1, "abc", "dismiss"), 404, "not_found")
        sql("UPDATE moderation_cases SET claimed_by = %s, claim_expires_at = now() + interval '10 minutes' "
            "WHERE id = %s" % (m1.id, cid))
        self.assertError(decide(m2, cid, "remove"), 409, "conflict")
        self.assertEqual(post_status(pid)[0], "published")
        r = decide(m1, cid, "dismiss", "not spam")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["status"], "decided")
        self.assertIsNone(r.body["claimed_by"])
        d = r.body["decision"]
        self.assertEqual((d["action"], d["note"], d["moderator"]["id"]), ("dismiss", "not spam", m1.id))
        self.assertIn("decided_at", d)
        self.assertError(decide(m1, cid, "remove"), 409, "conflict")
        self.assertError(decide(m2, cid, "remove"), 409, "conflict")
        self.assertEqual(post_status(pid)[0], "published")

    def test_parallel_decisions_decide_once(self):
        mods = fixtures.create_users(4, "moderator", "free")
        pid, cid, _ = reported_case()
        results = parallel(lambda i: decide(mods[i], cid, ("remove", "dismiss", "restrict", "ban_author")[i]), 4)
        self.assertEqual(sorted(getattr(r, "status", r) for r in results), [200, 409, 409, 409], results)
        self.assertEqual(sql("SELECT count(*) FROM audit_log WHERE case_id = %s" % cid), [["1"]])

    def test_dismiss_publishes_a_hidden_post_again_and_closes_reports(self):
        author, other, mod = new_user(), new_user(), new_user(role="moderator")
        pid, cid, users = reported_case(author, "minor_safety")
        self.assertError(req(other, "GET", "/v1/posts/%s" % pid), 404)
        self.assertEqual(decide(mod, cid, "dismiss").status, 200)
        r = req(other, "GET", "/v1/posts/%s" % pid)
        self.assertEqual((r.status, r.body["status"], r.body["restricted"]), (200, "published", False), r)
        self.assertEqual(sql("SELECT bool_or(open) FROM reports WHERE case_id = %s" % cid), [["f"]])
        # the reporter may report it again: a new report in a new case
        again = report(users[0], pid, "spam")
        self.assertEqual(again.status, 201, again)
        self.assertNotEqual(open_case(pid), cid)

    def test_remove(self):
        author, other, mod = new_user(), new_user(), new_user(role="moderator")
        pid, cid, users = reported_case(author, "violence")
        self.assertEqual(decide(mod, cid, "remove").status, 200)
        self.assertError(req(other, "GET", "/v1/posts/%s" % pid), 404, "not_found")
        self.assertError(req(users[0], "GET", "/v1/posts/%s" % pid), 404, "not_found")
        mine = req(author, "GET", "/v1/posts/%s" % pid)
        self.assertEqual((mine.status, mine.body["status"]), (200, "removed"))
        self.assertEqual(req(mod, "GET", "/v1/posts/%s" % pid).status, 200)

    def test_restrict_keeps_the_link_and_hides_from_minors(self):
        author, other, mod, minor = new_user(), new_user(), new_user(role="moderator"), new_minor()
        pid, cid, _ = reported_case(author, "sexual", reporters=3)
        self.assertEqual(post_status(pid)[0], "hidden")
        r = decide(mod, cid, "restrict")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["post"]["restricted"], True)
        seen = req(other, "GET", "/v1/posts/%s" % pid)
        self.assertEqual((seen.status, seen.body["status"], seen.body["restricted"]), (200, "published", True), seen)
        self.assertError(req(minor, "GET", "/v1/posts/%s" % pid), 404, "not_found")

    def test_restrict_a_post_that_was_not_hidden(self):
        mod, minor = new_user(role="moderator"), new_minor()
        pid, cid, _ = reported_case(reason="spam")
        self.assertEqual(decide(mod, cid, "restrict").status, 200)
        self.assertEqual(post_status(pid), ["published", "t"])
        self.assertError(req(minor, "GET", "/v1/posts/%s" % pid), 404, "not_found")

    def test_ban_author_ends_their_tokens_at_once_and_removes_their_posts(self):
        author, other, mod = new_user(), new_user(), new_user(role="moderator")
        second = make_post(author)
        draft = make_post(author, status="draft")
        pid, cid, _ = reported_case(author, "harassment")
        # the server has the author's session and posts in hand before the ban
        self.assertEqual(req(author, "GET", "/v1/me").status, 200)
        self.assertEqual(req(other, "GET", "/v1/posts/%s" % second).status, 200)
        r = decide(mod, cid, "ban_author", "repeated harassment")
        self.assertEqual(r.status, 200, r)
        self.assertError(req(author, "GET", "/v1/me"), 401, "unauthorized")
        self.assertError(req(author, "GET", "/v1/drafts"), 401, "unauthorized")
        for p in (pid, second, draft):
            self.assertError(req(other, "GET", "/v1/posts/%s" % p), 404, "not_found")
        self.assertEqual(sql("SELECT banned FROM users WHERE id = %s" % author.id), [["t"]])
        self.assertEqual(sql("SELECT count(*) FROM sessions WHERE user_id = %s" % author.id), [["0"]])
        self.assertEqual(sql("SELECT array_agg(DISTINCT status) FROM posts WHERE author_id = %s" % author.id),
                         [["{removed}"]])
        self.assertEqual(flick.login(srv, author.name).status, 401)


class Audit(fixtures.ApiTestCase):
    def test_decisions_role_changes_and_removals_newest_first(self):
        mod, admin = new_user(role="moderator"), new_user(role="admin")
        author, target = new_user(), new_user()
        pid, cid, _ = reported_case(author, "spam")
        self.assertEqual(decide(mod, cid, "remove", "spam ring").status, 200)
        self.assertEqual(req(admin, "PUT", "/v1/admin/users/%s/role" % target.name, {"role": "moderator"}).status, 200)
        deleted = make_post(new_user())
        self.assertEqual(req(mod, "DELETE", "/v1/posts/%s" % deleted).status, 204)
        ban_pid, ban_cid, _ = reported_case(author=new_user())
        banned_author = sql("SELECT author_id FROM posts WHERE id = %s" % ban_pid)[0][0]
        self.assertEqual(decide(admin, ban_cid, "ban_author").status, 200)

        items = pages(mod, "/v1/moderation/audit", 4, most=1)
        self.assertEqual(len(items), 4)
        ban, removal, role, decision = items
        self.assertEqual((ban["action"], ban["case_id"], ban["target_type"], ban["target_id"], ban["actor"]["id"]),
                         ("ban_author", ban_cid, "user", banned_author, admin.id))
        self.assertEqual((removal["action"], removal["case_id"], removal["target_type"], removal["target_id"],
                          removal["actor"]["id"]), ("remove", None, "post", deleted, mod.id))
        self.assertEqual((role["action"], role["target_type"], role["target_id"], role["actor"]["id"]),
                         ("role_change", "user", target.id, admin.id))
        self.assertIn("moderator", role["note"])
        self.assertEqual((decision["action"], decision["case_id"], decision["target_type"], decision["target_id"],
                          decision["note"], decision["actor"]["id"]),
                         ("remove", cid, "post", pid, "spam ring", mod.id))
        for e in items:
            for field in ("id", "at", "actor", "action", "case_id", "target_type", "target_id", "note"):
                self.assertIn(field, e)
        ids = [int(e["id"]) for e in items]
        self.assertEqual(ids, sorted(ids, reverse=True))
        # one at a time gives the same entries
        self.assertEqual([e["id"] for e in pages(mod, "/v1/moderation/audit", 1, most=4)], [e["id"] for e in items])


class Reach(fixtures.ApiTestCase):
    def test_nobody_decides_a_case_about_their_own_post(self):
        close_all_cases()
        mod, other = new_user(role="moderator"), new_user(role="moderator")
        pid, cid, _ = reported_case(author=mod, reporters=3)
        self.assertEqual(post_status(pid)[0], "hidden")
        for action in ("dismiss", "remove", "ban_author"):
            self.assertError(decide(mod, cid, action), 403, "forbidden", "your own post")
        self.assertEqual(post_status(pid)[0], "hidden")
        # A claim passes over it: nothing else is open, so there is nothing to claim.
        self.assertEqual(claim(mod).status, 204)
        r = claim(other)
        self.assertEqual((r.status, r.body["id"]), (200, cid), r)
        self.assertEqual(decide(other, cid, "dismiss").status, 200)
        self.assertEqual(post_status(pid)[0], "published")

    def test_only_an_admin_bans_a_moderator_or_an_admin(self):
        mod, admin = new_user(role="moderator"), new_user(role="admin")
        for role in ("moderator", "admin"):
            with self.subTest(author_role=role):
                author = new_user(role=role)
                _, cid, _ = reported_case(author=author)
                self.assertError(decide(mod, cid, "ban_author"), 403, "forbidden", "only an admin")
                self.assertEqual(req(author, "GET", "/v1/me").status, 200, "still signed in")
                self.assertEqual(decide(admin, cid, "ban_author").status, 200)
                self.assertEqual(req(author, "GET", "/v1/me").status, 401)
        # A moderator still bans a user, and still removes a moderator's post.
        _, cid, _ = reported_case(author=new_user())
        self.assertEqual(decide(mod, cid, "ban_author").status, 200)
        _, cid, _ = reported_case(author=new_user(role="moderator"))
        self.assertEqual(decide(mod, cid, "remove").status, 200)


class AuditOfChanges(fixtures.ApiTestCase):
    def test_a_request_that_changes_nothing_logs_nothing(self):
        mod, admin, target = new_user(role="moderator"), new_user(role="admin"), new_user()
        start = int(sql("SELECT coalesce(max(id), 0) FROM audit_log")[0][0])
        pid = make_post(new_user())
        for _ in range(3):      # a retried removal
            self.assertEqual(req(mod, "DELETE", "/v1/posts/%s" % pid).status, 204)
        for _ in range(2):      # the same role again
            r = req(admin, "PUT", "/v1/admin/users/%s/role" % target.name, {"role": "moderator"})
            self.assertEqual((r.status, r.body.get("role")), (200, "moderator"), r)
        invites = req(admin, "GET", "/v1/admin/limits").body["invites_per_user"]
        self.assertEqual(req(admin, "PUT", "/v1/admin/limits", {"invites_per_user": invites}).status, 200)
        policy = req(admin, "GET", "/v1/admin/policy").body["blocked_terms"]
        term = "zzaudit" + flick.secrets.token_hex(3)
        try:
            for _ in range(2):  # three spellings of one term: the note counts what is stored
                r = req(admin, "PUT", "/v1/admin/policy", {"blocked_terms": policy + [term, term.upper(), "  " + term]})
                self.assertEqual(len(r.body["blocked_terms"]), len(policy) + 1, r)
        finally:
            req(admin, "PUT", "/v1/admin/policy", {"blocked_terms": policy})
        logged = [tuple(row) for row in sql("SELECT action, target_id, coalesce(note, '') FROM audit_log "
                                             "WHERE id > %d ORDER BY id" % start)]
        self.assertEqual(logged, [("remove", pid, ""), ("role_change", target.id, "role: moderator"),
                                  ("policy_change", "blocked_terms", "%d terms" % (len(policy) + 1)),
                                  ("policy_change", "blocked_terms", "%d terms" % len(policy))])


class Notifications(fixtures.ApiTestCase):
    def test_author_and_each_reporter_are_told(self):
        author, mod = new_user(), new_user(role="moderator")
        pid, cid, users = reported_case(author, "spam", reporters=2)
        self.assertEqual(decide(mod, cid, "dismiss").status, 200)
        rows = sql("SELECT user_id, actor_id, read FROM notifications WHERE type = 'moderation' "
                   "AND post_id = %s ORDER BY user_id" % pid)
        self.assertEqual(rows, sorted([[u.id, mod.id, "f"] for u in [author] + users], key=lambda x: int(x[0])))
        for u in [author] + users:      # and they see it in their notifications
            r = req(u, "GET", "/v1/me/notifications")
            self.assertEqual(r.status, 200, r)
            mine = [(n["type"], n["post_id"], n["actor"]["id"]) for n in r.body["items"] if n["type"] == "moderation"]
            self.assertEqual(mine, [("moderation", pid, mod.id)], r)
        # a later case on the same post, decided by the same moderator, tells them again
        r = report(users[0], pid, "other")
        self.assertEqual(r.status, 201)
        sql("UPDATE notifications SET read = true WHERE post_id = %s" % pid)
        self.assertEqual(decide(mod, open_case(pid), "restrict").status, 200)
        rows = sql("SELECT user_id, read FROM notifications WHERE type = 'moderation' AND post_id = %s "
                   "ORDER BY user_id" % pid)
        told = {u: read for u, read in rows}
        self.assertEqual((told[author.id], told[users[0].id]), ("f", "f"))
        self.assertEqual(told[users[1].id], "t")   # not a reporter of the second case


if __name__ == "__main__":
    unittest.main()
