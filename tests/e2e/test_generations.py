"""Generations (API.md "Generations", "Cameos", "Conventions"): POST /v1/generations
validation and the generation object, the order of the checks (400 → 403 → 422 → 429)
and that refusals use no quota, the pro tier, the prompt content policy, daily quotas
(fixed, parallel, given back on cancel, automatic), Idempotency-Key, reading, listing
and cancelling, who may be cast, and remix_of.

The server runs as `flickd serve`: no worker takes the jobs, so they stay queued. Posts
that remix_of needs are written straight into PostgreSQL."""
import re
import time
import unittest

import fixtures
import flick
from fixtures import (ApiTestCase, User, approve, create_users, follow,
                      left_today, make_post, my_generations, new_minor, new_user, new_users, parallel, req,
                      set_cameo, sql)

srv = None
ADMIN = None
RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
GENERATION_FIELDS = {"id", "status", "progress", "prompt", "model", "seconds", "aspect", "cameos",
                     "remix_of", "error", "post_id", "created_at", "finished_at"}
LIMIT_NAMES = ("daily_generations_free", "daily_generations_pro", "invites_per_user",
               "engine_capacity_seconds", "quota_floor_free", "quota_floor_pro", "pro_weight")
PROMPT = "a corgi surfing a wave at sunrise, cinematic"
# The policy the module runs under: whatever was in force, plus terms these tests rely on.
MODULE_TERMS = ["gore"]
_saved_policy = None


# ---- users, fixtures and requests (the shared ones are in fixtures.py) ----

def generate(user, prompt=PROMPT, **kw):
    return fixtures.generate(user, prompt, **kw)


def stored_limits():
    """The limits as stored (in automatic mode GET answers computed daily values)."""
    s = {name: int(value) for name, value in sql("SELECT name, value FROM settings")}
    body = {n: s[n] for n in LIMIT_NAMES if n in s}
    body["quota_mode"] = "auto" if s.get("quota_auto") == 1 else "fixed"
    return body


def put_limits(**body):
    r = req(ADMIN, "PUT", "/v1/admin/limits", body)
    assert r.status == 200, r
    return r.body


def get_policy():
    r = req(ADMIN, "GET", "/v1/admin/policy")
    assert r.status == 200, r
    return r.body["blocked_terms"]


def put_policy(terms):
    r = req(ADMIN, "PUT", "/v1/admin/policy", {"blocked_terms": terms})
    assert r.status == 200, r
    return r.body["blocked_terms"]


_second = []


def second_server():
    """Another API process on the same database (a deployment runs several)."""
    if not _second:
        _second.append(flick.start_server(env={"FLICK_WORKERS": "0"}, name="generations2"))
    return _second[0]


def setUpModule():
    global srv, ADMIN, _saved_policy
    srv = fixtures.start_suite("generations", {"FLICK_WORKERS": "0"})
    ADMIN = new_user("admin")
    _saved_policy = get_policy()
    put_policy(sorted(set(_saved_policy) | set(MODULE_TERMS)))


def tearDownModule():
    try:
        if _saved_policy is not None:
            put_policy(_saved_policy)
    finally:
        try:
            for other in _second:
                other.stop()
        finally:
            fixtures.end_suite(srv)


class Base(ApiTestCase):
    def assertInvalid(self, r, field):
        self.assertError(r, 400, "invalid_request", field)

    def assertGeneration(self, g):
        self.assertIsInstance(g, dict, g)
        self.assertTrue(GENERATION_FIELDS <= set(g), "generation lacks %s" % (GENERATION_FIELDS - set(g)))
        self.assertIsInstance(g["id"], str)
        self.assertRegex(g["id"], r"^[0-9]+$")
        self.assertIn(g["status"], ("queued", "running", "succeeded", "failed", "canceled"))
        self.assertIs(type(g["progress"]), int)
        self.assertTrue(0 <= g["progress"] <= 100, g)
        self.assertIsInstance(g["cameos"], list)
        self.assertRegex(g["created_at"], RFC3339_UTC)
        if g["finished_at"] is not None:
            self.assertRegex(g["finished_at"], RFC3339_UTC)

    def accepted(self, r):
        self.assertEqual(r.status, 202, r)
        self.assertGeneration(r.body)
        return r.body


class WithLimits(Base):
    """Restores the limits as they were stored before each test."""

    def setUp(self):
        self._limits = stored_limits()

    def tearDown(self):
        put_limits(**self._limits)


# ---- validation and the generation object ----

class Validation(Base):
    @classmethod
    def setUpClass(cls):
        cls.u, cls.pro = new_users(1)[0], new_user(tier="pro")

    def test_prompt_is_required_non_empty_and_at_most_2000_characters(self):
        u = self.u
        self.assertInvalid(generate(u, prompt=None), "prompt")
        self.assertInvalid(generate(u, prompt=None, raw={"prompt": None}), "prompt")
        self.assertInvalid(generate(u, prompt=""), "prompt")
        self.assertInvalid(generate(u, prompt="x" * 2001), "prompt")
        self.assertInvalid(generate(u, prompt="é" * 2001), "prompt")
        for bad in (42, True, ["a cat"], {"text": "a cat"}):
            with self.subTest(prompt=bad):
                self.assertInvalid(generate(u, prompt=bad), "prompt")

    def test_prompt_limit_counts_characters_not_bytes(self):
        prompt = "é" * 1999 + "!"          # 2000 characters, 3999 bytes
        g = self.accepted(generate(self.u, prompt=prompt))
        self.assertEqual(g["prompt"], prompt)

    def test_model_seconds_aspect(self):
        u = self.u
        for bad in ("ultra", "Standard", "PRO", "", 1, ["pro"]):
            with self.subTest(model=bad):
                self.assertInvalid(generate(u, model=bad), "model")
        for bad in (5, 0, -4, 16, 80, "8", 8.5, True):
            with self.subTest(seconds=bad):
                self.assertInvalid(generate(u, seconds=bad), "seconds")
        for bad in ("4:3", "9x16", "16:10", "", "9:16 ", 916, ["9:16"]):
            with self.subTest(aspect=bad):
                self.assertInvalid(generate(u, aspect=bad), "aspect")

    def test_cameos_must_be_an_array_of_at_most_two_usernames(self):
        u = self.u
        for bad in ("alice_1", {"0": "alice_1"}, 7, True):
            with self.subTest(cameos=bad):
                self.assertInvalid(generate(u, cameos=bad), "cameos")
        self.assertInvalid(generate(u, cameos=["aaa_1", "bbb_2", "ccc_3"]), "cameos")
        self.assertInvalid(generate(u, cameos=[u.name, "bbb_2", "ccc_3"]), "cameos")
        for bad in ([1], [None], [["aaa_1"]], [{"username": "aaa_1"}], [u.name, 5]):
            with self.subTest(cameos=bad):
                self.assertInvalid(generate(u, cameos=bad), "cameos")

    def test_remix_of_must_be_a_post_id_string(self):
        for bad in ("abc", "", "-1", "1.5", "12abc", " 12", "9" * 40, 12, [12], True):
            with self.subTest(remix_of=bad):
                self.assertInvalid(generate(self.u, remix_of=bad), "remix_of")

    def test_idempotency_key_length(self):
        self.assertInvalid(generate(self.u, key="k" * 256), "Idempotency-Key")
        self.accepted(generate(self.u, key="k" * 255))

    def test_body_must_be_a_json_object(self):
        for raw in ("[]", '"a cat"', "not json", "{", '{"prompt": "a", "prompt": "b"}'):
            with self.subTest(body=raw):
                self.assertError(generate(self.u, raw=raw.encode()), 400, "invalid_request")
        self.assertError(srv.request("POST", "/v1/generations", {"prompt": PROMPT}), 401, "unauthorized")

    def test_accepted_generation_has_every_field_with_defaults(self):
        before = time.time()
        r = generate(self.u, prompt="  a fox in the snow  ", extra_field="ignored")
        g = self.accepted(r)
        self.assertTrue(r.headers["Content-Type"].startswith("application/json"), r.headers)
        self.assertEqual(g["status"], "queued")
        self.assertEqual(g["progress"], 0)
        self.assertEqual(g["prompt"], "  a fox in the snow  ")
        self.assertEqual(g["model"], "standard")
        self.assertIs(type(g["seconds"]), int)
        self.assertEqual(g["seconds"], 8)
        self.assertEqual(g["aspect"], "9:16")
        self.assertEqual(g["cameos"], [])
        self.assertIsNone(g["remix_of"])
        self.assertIsNone(g["error"])
        self.assertIsNone(g["post_id"])
        self.assertIsNone(g["finished_at"])
        created = time.mktime(time.strptime(g["created_at"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
        self.assertLess(abs(created - before), 300, g["created_at"])
        again = req(self.u, "GET", "/v1/generations/" + g["id"])
        self.assertEqual(again.status, 200, again)
        self.assertEqual(again.body, g)

    def test_explicit_choices_are_kept(self):
        g = self.accepted(generate(self.u, model="standard", seconds=4, aspect="16:9"))
        self.assertEqual((g["model"], g["seconds"], g["aspect"]), ("standard", 4, "16:9"))
        g = self.accepted(generate(self.u, seconds=12, aspect="1:1", cameos=[], remix_of=None))
        self.assertEqual((g["seconds"], g["aspect"], g["cameos"], g["remix_of"]), (12, "1:1", [], None))

    def test_pro_model_needs_the_pro_tier(self):
        self.assertError(generate(self.u, model="pro"), 403, "forbidden")
        g = self.accepted(generate(self.pro, model="pro", seconds=12))
        self.assertEqual((g["model"], g["seconds"]), ("pro", 12))
        limits = req(ADMIN, "GET", "/v1/admin/limits").body
        if limits.get("quota_mode", "fixed") == "fixed":
            self.assertEqual(left_today(self.pro), limits["daily_generations_pro"] - 1)


# ---- the order of the checks, and refusals that use no quota ----

class CheckOrder(WithLimits):
    def test_invalid_and_forbidden_is_400(self):
        u = new_user()
        self.assertInvalid(generate(u, model="pro", seconds=5), "seconds")
        self.assertInvalid(generate(u, model="pro", aspect="4:3"), "aspect")
        self.assertInvalid(generate(u, model="pro", cameos=["nobody_here_x", "b_1", "c_2"]), "cameos")
        self.assertInvalid(generate(u, prompt="gore " * 500, model="pro"), "prompt")   # 2500 chars
        self.assertInvalid(generate(u, prompt="gore", seconds=5), "seconds")

    def test_forbidden_and_blocked_is_403(self):
        u = new_user()
        self.assertError(generate(u, prompt="lots of gore", model="pro"), 403, "forbidden")
        self.assertError(generate(u, prompt="lots of gore", cameos=["no_such_user_zz9"]), 403,
                         "cameo_not_allowed", "no_such_user_zz9")

    def test_blocked_and_over_quota_is_422_and_over_quota_alone_429(self):
        u = new_user()
        put_limits(daily_generations_free=1)
        self.accepted(generate(u))
        self.assertError(generate(u, prompt="lots of gore"), 422, "prompt_blocked")
        self.assertError(generate(u, prompt="lots of gore", model="pro"), 403, "forbidden")
        self.assertInvalid(generate(u, prompt="lots of gore", seconds=7), "seconds")
        self.assertError(generate(u), 429, "quota_exceeded")

    def test_refused_requests_use_no_quota(self):
        u = new_user()
        put_limits(daily_generations_free=2)
        self.assertEqual(left_today(u), 2)
        self.accepted(generate(u))
        self.assertEqual(left_today(u), 1)
        refusals = [
            (generate(u, seconds=5), 400),
            (generate(u, prompt=""), 400),
            (generate(u, model="pro"), 403),
            (generate(u, cameos=["no_such_user_zz9"]), 403),
            (generate(u, remix_of="999999999999"), 404),
            (generate(u, prompt="so much GORE"), 422),
        ]
        for r, status in refusals:
            self.assertEqual(r.status, status, r)
        self.assertEqual(left_today(u), 1)
        self.assertEqual(len(my_generations(u)), 1)
        self.accepted(generate(u))
        self.assertEqual(left_today(u), 0)
        for _ in range(3):
            self.assertError(generate(u), 429, "quota_exceeded")
        self.assertEqual(left_today(u), 0)
        # The 429s took nothing: one more allowed is exactly one more generation.
        put_limits(daily_generations_free=3)
        self.assertEqual(left_today(u), 1)
        self.accepted(generate(u))
        self.assertError(generate(u), 429, "quota_exceeded")
        self.assertEqual(len(my_generations(u)), 3)


# ---- the prompt content policy ----

class Policy(Base):
    def setUp(self):
        self._policy = get_policy()

    def tearDown(self):
        put_policy(self._policy)

    def test_only_admins_read_or_change_the_policy(self):
        u, mod = new_user(), new_user("moderator")
        for who in (u, mod):
            self.assertError(req(who, "GET", "/v1/admin/policy"), 403, "forbidden")
            self.assertError(req(who, "PUT", "/v1/admin/policy", {"blocked_terms": []}), 403, "forbidden")
        self.assertError(srv.request("GET", "/v1/admin/policy"), 401, "unauthorized")
        self.assertEqual(get_policy(), self._policy)

    def test_put_checks_its_body(self):
        for bad in ({}, {"blocked_terms": "gore"}, {"blocked_terms": [1]}, {"blocked_terms": [""]},
                    {"blocked_terms": ["   "]}, {"blocked_terms": ["ok", None]}, {"blocked_terms": ["x" * 101]}):
            with self.subTest(body=bad):
                self.assertError(req(ADMIN, "PUT", "/v1/admin/policy", bad), 400, "invalid_request", "blocked_terms")
        self.assertEqual(get_policy(), self._policy)

    def test_a_term_added_at_run_time_blocks_at_once_and_removing_it_unblocks(self):
        u = new_user()
        term = "zorb" + flick.secrets.token_hex(3)
        prompt = "a parade of %s balloons" % term
        self.accepted(generate(u, prompt=prompt))
        stored = put_policy(self._policy + [term])
        self.assertIn(term, stored)
        self.assertIn(term, get_policy())
        self.assertError(generate(u, prompt=prompt), 422, "prompt_blocked")
        self.assertError(generate(u, prompt=term.upper()), 422, "prompt_blocked")
        put_policy(self._policy)
        self.assertNotIn(term, get_policy())
        self.accepted(generate(u, prompt=prompt))

    def test_a_change_reaches_every_server_process_at_once(self):
        other, u = second_server(), new_user()
        term = "quux" + flick.secrets.token_hex(3)
        body = {"prompt": "a %s in the rain" % term}
        put_policy(self._policy + [term])
        r = other.request("POST", "/v1/generations", body, token=u.token)
        self.assertError(r, 422, "prompt_blocked")
        self.assertIn(term, other.request("GET", "/v1/admin/policy", token=ADMIN.token).body["blocked_terms"])
        put_policy(self._policy)
        self.accepted(other.request("POST", "/v1/generations", body, token=u.token))

    def test_matching_is_unicode_case_insensitive(self):
        u = new_user()
        put_policy(self._policy + ["straße", "Éclair"])
        for prompt in ("driving down the STRASSE", "Strasse at night", "die Straße", "STRAẞE",
                       "an Éclair on a plate", "ÉCLAIR", "eating an e\u0301clair", "éclair."):
            with self.subTest(prompt=prompt):
                self.assertError(generate(u, prompt=prompt), 422, "prompt_blocked")
        for prompt in ("a Straßenbahn in Vienna", "eclair without the accent", "two éclairs"):
            with self.subTest(prompt=prompt):
                self.accepted(generate(u, prompt=prompt))

    def test_matching_is_on_word_boundaries(self):
        u = new_user()
        put_policy(self._policy + ["gore", "school shooting"])
        for prompt in ("gore", "GORE!", "so much gore.", "a gore-soaked hallway", "(Gore)",
                       "a School Shooting scene"):
            with self.subTest(prompt=prompt):
                self.assertError(generate(u, prompt=prompt), 422, "prompt_blocked")
        for prompt in ("a gorey old house", "Al Gore2", "ungore", "gore_tex jacket", "schoolshooting"):
            with self.subTest(prompt=prompt):
                self.accepted(generate(u, prompt=prompt))

    def test_spacing_wide_letters_and_invisible_characters_hide_no_term(self):
        u = new_user()
        stored = put_policy(self._policy + ["gore", "  School \t Shooting "])
        self.assertIn("school shooting", stored)
        for prompt in ("a school  shooting", "a school\nshooting", "school\u00a0shooting", "\uff27\uff2f\uff32\uff25",
                       "g\u200bore", "go\u00adre"):
            with self.subTest(prompt=prompt):
                self.assertError(generate(u, prompt=prompt), 422, "prompt_blocked")
        self.accepted(generate(u, prompt="a school, then shooting stars"))


# ---- daily quotas ----

class Quotas(WithLimits):
    def test_fixed_quota_then_429_with_retry_after(self):
        u = new_user()
        put_limits(quota_mode="fixed", daily_generations_free=3)
        self.assertEqual(left_today(u), 3)
        for i in range(3):
            self.accepted(generate(u, prompt="clip %d" % i))
            self.assertEqual(left_today(u), 2 - i)
        r = generate(u)
        self.assertError(r, 429, "quota_exceeded")
        ra = r.headers.get("Retry-After")
        self.assertIsNotNone(ra, r.headers)
        self.assertRegex(ra, r"^[0-9]+$")
        self.assertTrue(1 <= int(ra) <= 86400, ra)
        self.assertEqual(len(my_generations(u)), 3)

    def test_pro_users_have_their_own_limit(self):
        free, pro = new_user(), new_user(tier="pro")
        put_limits(quota_mode="fixed", daily_generations_free=1, daily_generations_pro=2)
        self.assertEqual((left_today(free), left_today(pro)), (1, 2))
        self.accepted(generate(pro))
        self.accepted(generate(pro, model="pro"))
        self.assertError(generate(pro), 429, "quota_exceeded")
        self.accepted(generate(free))
        self.assertError(generate(free), 429, "quota_exceeded")

    def test_a_new_limit_reaches_every_server_process_at_once(self):
        other, u = second_server(), new_user()
        put_limits(quota_mode="fixed", daily_generations_free=1)
        self.assertEqual(other.request("GET", "/v1/me", token=u.token).body["generations_left_today"], 1)
        self.accepted(other.request("POST", "/v1/generations", {"prompt": PROMPT}, token=u.token))
        self.assertError(generate(u), 429, "quota_exceeded")
        self.assertError(other.request("POST", "/v1/generations", {"prompt": PROMPT}, token=u.token),
                         429, "quota_exceeded")
        put_limits(daily_generations_free=2)
        self.accepted(other.request("POST", "/v1/generations", {"prompt": PROMPT}, token=u.token))

    def test_parallel_requests_never_overshoot_the_quota(self):
        u = new_user()
        put_limits(quota_mode="fixed", daily_generations_free=5)
        results = parallel(lambda i: generate(u, prompt="parallel clip %d" % i), 50)
        errors = [r for r in results if isinstance(r, Exception)]
        self.assertEqual(errors, [])
        statuses = sorted(r.status for r in results)
        self.assertEqual(statuses.count(202), 5, statuses)
        self.assertEqual(statuses.count(429), 45, statuses)
        for r in results:
            if r.status == 429:
                self.assertEqual(r.error_code, "quota_exceeded", r)
        made = my_generations(u)
        self.assertEqual(len(made), 5)
        self.assertEqual(sorted(g["id"] for g in made),
                         sorted(r.body["id"] for r in results if r.status == 202))
        self.assertEqual(left_today(u), 0)

    def test_canceling_gives_the_quota_back(self):
        u = new_user()
        put_limits(quota_mode="fixed", daily_generations_free=2)
        first = self.accepted(generate(u))
        self.accepted(generate(u))
        self.assertError(generate(u), 429, "quota_exceeded")
        self.assertEqual(req(u, "DELETE", "/v1/generations/" + first["id"]).status, 204)
        self.assertEqual(left_today(u), 1)
        self.accepted(generate(u))
        self.assertError(generate(u), 429, "quota_exceeded")

    def test_limits_put_checks_its_body_and_needs_an_admin(self):
        before = req(ADMIN, "GET", "/v1/admin/limits").body
        for bad in ({"daily_generations_free": -1}, {"daily_generations_free": "5"},
                    {"daily_generations_free": 1.5}, {"quota_mode": "sometimes"}, {"quota_mode": 1},
                    {"engine_capacity_seconds": -8}):
            with self.subTest(body=bad):
                self.assertError(req(ADMIN, "PUT", "/v1/admin/limits", bad), 400, "invalid_request",
                                 next(iter(bad)))
        self.assertEqual(req(ADMIN, "GET", "/v1/admin/limits").body, before)
        u = new_user()
        self.assertError(req(u, "GET", "/v1/admin/limits"), 403, "forbidden")
        self.assertError(req(u, "PUT", "/v1/admin/limits", {"daily_generations_free": 1000}), 403, "forbidden")

    def test_automatic_quota_follows_capacity_and_active_users(self):
        u = new_user()
        r = put_limits(quota_mode="auto", pro_weight=1, quota_floor_free=1, quota_floor_pro=1,
                       engine_capacity_seconds=0)
        self.assertEqual(r["quota_mode"], "auto")
        # No capacity: the floor.
        self.assertEqual(r["daily_generations_free"], 1)
        r = put_limits(quota_floor_free=2)
        self.assertEqual(r["daily_generations_free"], 2)
        active = r.get("active_users")
        if active is None:
            active = int(sql("SELECT count(*) FROM users WHERE last_active_at > now() - interval '1 day' "
                             "AND NOT banned")[0][0])
        self.assertGreaterEqual(active, 2)
        # Capacity for 3 clips of 8 s per active user: 3 each, above the floor.
        r = put_limits(engine_capacity_seconds=8 * 3 * active)
        self.assertEqual(r["daily_generations_free"], 3, r)
        self.assertEqual(req(ADMIN, "GET", "/v1/admin/limits").body["daily_generations_free"], 3)
        self.assertEqual(left_today(u), 3)
        # A much larger capacity gives more; a smaller one shrinks it, never below the floor.
        big = put_limits(engine_capacity_seconds=8 * 40 * active)["daily_generations_free"]
        self.assertEqual(big, 40)
        self.assertEqual(put_limits(engine_capacity_seconds=8 * active)["daily_generations_free"], 2)
        put_limits(engine_capacity_seconds=8 * 3 * active)
        # One more active user (a new account, not one from the pool): the same capacity
        # shared among more people.
        create_users(1, "user", "free")
        self.assertEqual(req(ADMIN, "GET", "/v1/admin/limits").body["daily_generations_free"], 2)
        # And the allowance in force is the one the server enforces.
        self.accepted(generate(u))
        self.accepted(generate(u))
        self.assertError(generate(u), 429, "quota_exceeded")
        # Back to fixed: the fixed value again.
        r = put_limits(quota_mode="fixed", daily_generations_free=7)
        self.assertEqual((r["quota_mode"], r["daily_generations_free"]), ("fixed", 7))


# ---- Idempotency-Key ----

class Idempotency(Base):
    def test_same_key_same_body_replays_the_first_response(self):
        u = new_user()
        body = {"prompt": "a red kite over the dunes", "seconds": 4}
        first = generate(u, key="order-1", raw=body)
        g = self.accepted(first)
        self.assertNotIn(b'" : ', first.raw, "compact, like every other answer")
        for _ in range(2):
            again = generate(u, key="order-1", raw=body)
            self.assertEqual(again.status, 202, again)
            self.assertEqual(again.body, first.body)
            self.assertEqual(again.raw, first.raw)
        self.assertEqual([x["id"] for x in my_generations(u)], [g["id"]])
        self.assertEqual(left_today(u), left_today(new_user()) - 1)

    def test_same_key_different_body_is_422(self):
        u = new_user()
        self.accepted(generate(u, key="k-1", prompt="a red kite"))
        self.assertError(generate(u, key="k-1", prompt="a blue kite"), 422, "idempotency_mismatch")
        self.assertError(generate(u, key="k-1", prompt="a red kite", seconds=4), 422, "idempotency_mismatch")
        self.assertEqual(len(my_generations(u)), 1)
        # Another key is another request.
        self.accepted(generate(u, key="k-2", prompt="a blue kite"))
        self.assertEqual(len(my_generations(u)), 2)

    def test_parallel_duplicates_start_one_job(self):
        u = new_user()
        body = {"prompt": "twenty clients, one intent"}
        results = parallel(lambda i: generate(u, key="dup-key", raw=body), 20)
        errors = [r for r in results if isinstance(r, Exception)]
        self.assertEqual(errors, [])
        ids = set()
        for r in results:
            if r.status == 202:
                ids.add(r.body["id"])
            else:
                self.assertError(r, 409, "conflict")
        self.assertEqual(len(ids), 1, [r for r in results])
        self.assertEqual([g["id"] for g in my_generations(u)], list(ids))
        # Once settled, a retry replays the one job.
        r = generate(u, key="dup-key", raw=body)
        self.assertEqual((r.status, r.body["id"]), (202, ids.pop()))

    def test_keys_belong_to_one_user(self):
        a, b = new_users(2)
        ga = self.accepted(generate(a, key="shared-key"))
        gb = self.accepted(generate(b, key="shared-key"))
        self.assertNotEqual(ga["id"], gb["id"])
        self.assertEqual(len(my_generations(a)), 1)
        self.assertEqual(len(my_generations(b)), 1)
        self.assertError(req(b, "GET", "/v1/generations/" + ga["id"]), 404, "not_found")

    def test_a_refused_keyed_request_does_not_hold_its_key(self):
        lim = stored_limits()
        try:
            u = new_user()
            put_limits(quota_mode="fixed", daily_generations_free=1)
            self.accepted(generate(u))
            body = {"prompt": "one more, please"}
            for _ in range(2):      # refused, not "in progress"
                self.assertError(generate(u, key="after-quota", raw=body), 429, "quota_exceeded")
            for _ in range(2):
                self.assertError(generate(u, key="blocked", prompt="gore"), 422, "prompt_blocked")
            put_limits(daily_generations_free=2)
            # Refused requests stored nothing: once the quota allows, the same request under
            # the same key is a new job, and from then on it replays.
            r = generate(u, key="after-quota", raw=body)
            self.assertEqual(r.status, 202, r)
            again = generate(u, key="after-quota", raw=body)
            self.assertEqual((again.status, again.body), (202, r.body))
            self.assertEqual(again.headers.get("Idempotent-Replayed"), "true")
            self.assertEqual(len(my_generations(u)), 2)
        finally:
            put_limits(**lim)

    def test_a_corrected_request_can_reuse_the_key_of_a_refused_one(self):
        u = new_user()
        self.assertError(generate(u, key="fix-me", raw={"prompt": ""}), 400, "invalid_request", "prompt")
        fixed = self.accepted(generate(u, key="fix-me", raw={"prompt": "a kite, this time"}))
        self.assertEqual([g["id"] for g in my_generations(u)], [fixed["id"]])

    def test_the_same_json_in_another_key_order_or_spacing_is_the_same_body(self):
        u = new_user()
        first = generate(u, key="order-free", raw='{"prompt":"a kite at dusk","seconds":4,"aspect":"1:1"}')
        g = self.accepted(first)
        for text in ('{"seconds":4,"aspect":"1:1","prompt":"a kite at dusk"}',
                     '{ "aspect" : "1:1" ,\n  "prompt": "a kite at dusk", "seconds": 4 }',
                     '{"prompt":"a kite at \\u0064usk","seconds":4,"aspect":"1:1"}'):
            with self.subTest(body=text):
                again = generate(u, key="order-free", raw=text)
                self.assertEqual((again.status, again.body), (202, first.body), again)
                self.assertEqual(again.headers.get("Idempotent-Replayed"), "true")
        self.assertError(generate(u, key="order-free", raw='{"seconds":8,"aspect":"1:1","prompt":"a kite at dusk"}'),
                         422, "idempotency_mismatch")
        self.assertEqual([x["id"] for x in my_generations(u)], [g["id"]])

    def test_a_retry_after_the_quota_is_used_still_replays(self):
        lim = stored_limits()
        try:
            u = new_user()
            put_limits(quota_mode="fixed", daily_generations_free=1)
            first = generate(u, key="only-one")
            self.accepted(first)
            again = generate(u, key="only-one")
            self.assertEqual((again.status, again.raw), (202, first.raw))
            self.assertError(generate(u, key="another"), 429, "quota_exceeded")
        finally:
            put_limits(**lim)


# ---- reading, listing, cancelling ----

class ReadListCancel(Base):
    def test_a_generation_is_visible_to_its_owner_only(self):
        a, b = new_users(2)
        g = self.accepted(generate(a))
        r = req(a, "GET", "/v1/generations/" + g["id"])
        self.assertEqual((r.status, r.body["id"]), (200, g["id"]))
        self.assertError(req(b, "GET", "/v1/generations/" + g["id"]), 404, "not_found")
        self.assertError(req(ADMIN, "GET", "/v1/generations/" + g["id"]), 404, "not_found")
        for bad in ("999999999999", "abc", "0", "-1", "1e3", "99999999999999999999999"):
            with self.subTest(id=bad):
                self.assertError(req(a, "GET", "/v1/generations/" + bad), 404, "not_found")
        self.assertError(srv.request("GET", "/v1/generations/" + g["id"]), 401, "unauthorized")

    def test_list_is_mine_newest_first_with_paging(self):
        a, b = new_users(2)
        made = [self.accepted(generate(a, prompt="clip %d" % i))["id"] for i in range(5)]
        self.accepted(generate(b))
        seen, cursor, pages = [], None, 0
        while True:
            r = req(a, "GET", "/v1/generations?limit=2" + ("&cursor=" + cursor if cursor else ""))
            self.assertEqual(r.status, 200, r)
            self.assertTrue({"items", "next_cursor"} <= set(r.body), r)
            self.assertLessEqual(len(r.body["items"]), 2)
            for g in r.body["items"]:
                self.assertGeneration(g)
            seen += [g["id"] for g in r.body["items"]]
            pages += 1
            cursor = r.body["next_cursor"]
            if cursor is None:
                break
            self.assertIsInstance(cursor, str)
            self.assertLess(pages, 10)
        self.assertEqual(seen, list(reversed(made)))
        self.assertEqual(pages, 3)
        # Default page size covers them all; another user's list is theirs alone.
        r = req(a, "GET", "/v1/generations")
        self.assertEqual([g["id"] for g in r.body["items"]], list(reversed(made)))
        self.assertIsNone(r.body["next_cursor"])
        self.assertEqual(len(my_generations(b)), 1)

    def test_bad_limits_and_forged_cursors_are_400(self):
        a, b = new_users(2)
        for i in range(3):
            self.accepted(generate(a, prompt="clip %d" % i))
            self.accepted(generate(b, prompt="clip %d" % i))
        for bad in ("0", "101", "-1", "abc", "2.5", ""):
            with self.subTest(limit=bad):
                r = req(a, "GET", "/v1/generations?limit=" + bad)
                if bad == "":
                    self.assertIn(r.status, (200, 400), r)
                else:
                    self.assertError(r, 400, "invalid_request", "limit")
        cursor = req(a, "GET", "/v1/generations?limit=1").body["next_cursor"]
        self.assertIsInstance(cursor, str)
        flipped = cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]
        for bad in ("abc", flipped, cursor[:-4], cursor + "xx", "MjAyMC0wMS0wMVQwMDowMDowMFp8MQ",
                    "A" * 400):
            with self.subTest(cursor=bad):
                self.assertError(req(a, "GET", "/v1/generations?limit=1&cursor=" + bad), 400, "invalid_request")
        # b's genuine cursor on a's list never shows b's generations.
        bcur = req(b, "GET", "/v1/generations?limit=1").body["next_cursor"]
        r = req(a, "GET", "/v1/generations?limit=100&cursor=" + bcur)
        if r.status == 200:
            bids = {g["id"] for g in my_generations(b)}
            self.assertFalse(bids & {g["id"] for g in r.body["items"]}, r)
        else:
            self.assertError(r, 400, "invalid_request")

    def test_cancel_a_queued_generation(self):
        a, b = new_users(2)
        g = self.accepted(generate(a))
        self.assertError(req(b, "DELETE", "/v1/generations/" + g["id"]), 404, "not_found")
        self.assertEqual(req(a, "GET", "/v1/generations/" + g["id"]).body["status"], "queued")
        r = req(a, "DELETE", "/v1/generations/" + g["id"])
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.raw, b"")
        after = req(a, "GET", "/v1/generations/" + g["id"]).body
        self.assertGeneration(after)
        self.assertEqual(after["status"], "canceled")
        self.assertRegex(after["finished_at"] or "", RFC3339_UTC)
        self.assertIsNone(after["post_id"])
        self.assertError(req(a, "DELETE", "/v1/generations/" + g["id"]), 409, "conflict")
        self.assertEqual(req(a, "GET", "/v1/generations/" + g["id"]).body, after)
        for bad in ("999999999999", "abc"):
            self.assertError(req(a, "DELETE", "/v1/generations/" + bad), 404, "not_found")

    def test_cancel_running_is_204_finished_is_409(self):
        a = new_user()
        running, done, failed = (self.accepted(generate(a, prompt="clip %d" % i))["id"] for i in range(3))
        sql("UPDATE generations SET status = 'running', progress = 40 WHERE id = %d" % int(running))
        sql("UPDATE generations SET status = 'succeeded', progress = 100, finished_at = now() WHERE id = %d"
            % int(done))
        sql("UPDATE generations SET status = 'failed', error_code = 'engine_error', error_message = 'x', "
            "finished_at = now() WHERE id = %d" % int(failed))
        self.assertEqual(req(a, "DELETE", "/v1/generations/" + running).status, 204)
        self.assertEqual(req(a, "GET", "/v1/generations/" + running).body["status"], "canceled")
        for gid, status in ((done, "succeeded"), (failed, "failed")):
            self.assertError(req(a, "DELETE", "/v1/generations/" + gid), 409, "conflict")
            self.assertEqual(req(a, "GET", "/v1/generations/" + gid).body["status"], status)
        err = req(a, "GET", "/v1/generations/" + failed).body["error"]
        self.assertEqual(err["code"], "engine_error")
        self.assertIsInstance(err["message"], str)


# ---- who may be cast ----

class Casting(Base):
    def cast(self, caster, *targets):
        return generate(caster, cameos=[t.name if isinstance(t, User) else t for t in targets])

    def assertNotAllowed(self, r, name):
        self.assertError(r, 403, "cameo_not_allowed", name)

    def test_unknown_user_or_no_cameo_is_refused_naming_them(self):
        a, x = new_users(2)
        self.assertNotAllowed(self.cast(a, "ghost_" + flick.secrets.token_hex(4)), "ghost_")
        self.assertNotAllowed(self.cast(a, x), x.name)
        set_cameo(x, "everyone")
        self.assertNotAllowed(self.cast(a, x, "ghost_zz9"), "ghost_zz9")

    def test_yourself_always(self):
        a = new_user()
        g = self.accepted(self.cast(a, a))
        self.assertEqual(g["cameos"], [a.name])
        set_cameo(a, "only_me")
        self.assertEqual(self.accepted(self.cast(a, a))["cameos"], [a.name])

    def test_everyone(self):
        a, x, y = new_users(3)
        set_cameo(x, "everyone")
        set_cameo(y, "everyone")
        g = self.accepted(self.cast(a, x, y))
        self.assertEqual(g["cameos"], [x.name, y.name])
        self.assertEqual(self.accepted(self.cast(a, y, a))["cameos"], [y.name, a.name])

    def test_approved(self):
        a, b, x = new_users(3)
        set_cameo(x, "approved")
        self.assertNotAllowed(self.cast(a, x), x.name)
        approve(x, a)
        self.assertEqual(self.accepted(self.cast(a, x))["cameos"], [x.name])
        self.assertNotAllowed(self.cast(b, x), x.name)
        self.assertEqual(req(x, "DELETE", "/v1/me/cameo/approvals/" + a.name).status, 204)
        self.assertNotAllowed(self.cast(a, x), x.name)

    def test_mutuals(self):
        a, x = new_users(2)
        set_cameo(x, "mutuals")
        self.assertNotAllowed(self.cast(a, x), x.name)
        follow(a, x)
        self.assertNotAllowed(self.cast(a, x), x.name)
        approve(x, a)       # approval is not what "mutuals" asks for
        self.assertNotAllowed(self.cast(a, x), x.name)
        follow(x, a)
        self.accepted(self.cast(a, x))
        self.assertEqual(req(a, "DELETE", "/v1/users/%s/follow" % x.name).status, 204)
        self.assertNotAllowed(self.cast(a, x), x.name)

    def test_only_me_never(self):
        a, x = new_users(2)
        set_cameo(x, "only_me")
        follow(a, x)
        follow(x, a)
        approve(x, a)
        self.assertNotAllowed(self.cast(a, x), x.name)

    def test_the_second_name_is_checked_too(self):
        a, x, y = new_users(3)
        set_cameo(x, "everyone")
        set_cameo(y, "approved")
        self.assertNotAllowed(self.cast(a, x, y), y.name)
        self.assertEqual(len(my_generations(a)), 0)

    def test_minors(self):
        a, b = new_users(2)
        m = new_minor(15)
        self.assertError(req(m, "PUT", "/v1/me/cameo", {"permission": "everyone"}), 400, "invalid_request")
        self.assertFalse(req(m, "GET", "/v1/me").body["has_cameo"])
        # approved only: not enough for an adult
        set_cameo(m, "approved")
        approve(m, a)
        self.assertNotAllowed(self.cast(a, m), m.name)
        # mutuals only: not enough either
        set_cameo(m, "mutuals")
        follow(b, m)
        follow(m, b)
        self.assertNotAllowed(self.cast(b, m), m.name)
        # mutuals and approved: allowed, under either permission
        follow(a, m)
        follow(m, a)
        self.accepted(self.cast(a, m))
        set_cameo(m, "approved")
        self.assertEqual(self.accepted(self.cast(a, m))["cameos"], [m.name])
        self.assertNotAllowed(self.cast(b, m), m.name)
        # only_me still means only me
        set_cameo(m, "only_me")
        self.assertNotAllowed(self.cast(a, m), m.name)
        # and the minor may always cast themselves
        self.accepted(self.cast(m, m))


# ---- remix_of ----

class RemixOf(Base):
    @classmethod
    def setUpClass(cls):
        cls.a, cls.author = new_users(2)

    def test_unknown_post_is_404(self):
        self.assertError(generate(self.a, remix_of="999999999999"), 404, "not_found")

    def test_a_post_the_caller_cannot_see_is_404(self):
        draft = make_post(self.author, status="draft")
        removed = make_post(self.author, status="removed")
        followers = make_post(self.author, visibility="followers")
        for pid in (draft, removed, followers):
            with self.subTest(post=pid):
                self.assertError(generate(self.a, remix_of=pid), 404, "not_found")

    def test_remixes_not_allowed_is_403(self):
        closed = make_post(self.author, allow_remix=False)
        self.assertError(generate(self.a, remix_of=closed), 403, "remix_not_allowed")
        # 403 before the content policy's 422
        self.assertError(generate(self.a, remix_of=closed, prompt="gore"), 403, "remix_not_allowed")

    def test_a_visible_post_that_allows_remixes(self):
        open_post = make_post(self.author)
        g = self.accepted(generate(self.a, remix_of=open_post))
        self.assertEqual(g["remix_of"], open_post)
        self.assertIsInstance(g["remix_of"], str)
        self.assertEqual(req(self.a, "GET", "/v1/generations/" + g["id"]).body["remix_of"], open_post)
        # A follower may remix a followers-only post.
        fan = new_user()
        follow(fan, self.author)
        followers = make_post(self.author, visibility="followers")
        self.assertEqual(self.accepted(generate(fan, remix_of=followers))["remix_of"], followers)


if __name__ == "__main__":
    unittest.main()
