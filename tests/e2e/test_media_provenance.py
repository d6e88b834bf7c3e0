"""Media and provenance (API.md "Media", "Provenance"): signed URLs and tokens, visibility
of the owning post, ETag/304, byte ranges (206/416), provenance records by hash and the
moderators' perceptual lookup.

Posts, media and provenance rows are made straight in PostgreSQL (psql), and their files
written into the store under $FLICK_DATA_DIR/media/aa/bb/<sha256>, so this suite does not
depend on the generation pipeline. Signed URLs are computed here as core/sign.c does, and
the poster's perceptual hash as media/phash.c does, from pixels this suite draws.
"""
import base64
import hashlib
import hmac
import math
import os
import struct
import subprocess
import tempfile
import time
import unittest
import zlib

import flick

srv = None
DB_URL = os.environ.get("FLICK_DATABASE_URL", "")
DATA_DIR = os.environ.get("FLICK_DATA_DIR") or os.path.join(flick.ROOT, "var", "data")
CACHE_CONTROL = "public, max-age=31536000, immutable"

# Made once in setUpModule.
CLIP = b""              # the video bytes (a rendered MP4 when the tool is built)
POSTER_PNG = b""        # the poster drawn here, lossless
POSTER_WEBP = b""       # the same picture as a lossy WebP (what the app shows)
POSTER_PHASH = 0        # media/phash.c's hash of the drawn pixels
users = {}              # role -> (username, token, id)


# ---- fixtures in PostgreSQL and the store ----

def sql(query):
    """Runs one statement with psql; returns its output rows (unaligned, '|' between fields)."""
    p = subprocess.run(["psql", DB_URL, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", query],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    if p.returncode != 0:
        raise RuntimeError("psql failed: %s\n%s" % (p.stderr.decode("utf-8", "replace"), query))
    return p.stdout.decode("utf-8").strip()


def user_id(username):
    return int(sql("SELECT id FROM users WHERE username = '%s'" % username))


def new_user(role="user"):
    name, token = flick.create_user(role=role)
    return name, token, user_id(name)


def store(data):
    """Writes bytes where media/store.h puts them; returns their SHA-256 (hex)."""
    sha = hashlib.sha256(data).hexdigest()
    folder = os.path.join(DATA_DIR, "media", sha[:2], sha[2:4])
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, sha)
    if not os.path.exists(path):
        tmp = path + ".tmp%d" % os.getpid()
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, path)
    return sha


def make_post(author_id, status="published", video=None, provenance_phash=None, write_file=True):
    """A generation, its post, a video and a poster media row; optionally a provenance
    record for the video. Returns a dict: post, video (media id), poster (media id),
    video_sha, poster_sha, data (the video bytes)."""
    # Each post gets its own bytes (provenance is keyed by the video's hash).
    data = video if video is not None else CLIP + os.urandom(16)
    sha = store(data) if write_file else hashlib.sha256(data).hexdigest()
    poster_sha = store(POSTER_WEBP)
    gen = int(sql("INSERT INTO generations (user_id, status) VALUES (%d, 'succeeded') RETURNING id" % author_id))
    post = int(sql("INSERT INTO posts (author_id, status, generation_id, published_at) VALUES "
                   "(%d, '%s', %d, CASE WHEN '%s' = 'published' THEN now() END) RETURNING id"
                   % (author_id, status, gen, status)))
    vid = int(sql("INSERT INTO media (post_id, kind, sha256, mime, bytes, width, height, duration_ms) "
                  "VALUES (%d, 'video', '%s', 'video/mp4', %d, 720, 1280, 4000) RETURNING id"
                  % (post, sha, len(data))))
    pid = int(sql("INSERT INTO media (post_id, kind, sha256, mime, bytes, width, height) "
                  "VALUES (%d, 'poster', '%s', 'image/webp', %d, 90, 160) RETURNING id"
                  % (post, poster_sha, len(POSTER_WEBP))))
    if provenance_phash is not None:
        sql("INSERT INTO provenance (sha256, post_id, generation_id, engine, model, phash) "
            "VALUES ('%s', %d, %d, 'builtin', 'standard', %d)"
            % (sha, post, gen, to_signed(provenance_phash)))
    return {"post": post, "gen": gen, "video": vid, "poster": pid, "video_sha": sha,
            "poster_sha": poster_sha, "data": data}


def to_signed(h):
    return h - (1 << 64) if h >= (1 << 63) else h


# ---- signed URLs, as core/sign.c makes them ----

def secret_key(secret=None):
    secret = secret if secret is not None else os.environ.get("FLICK_SECRET")
    if secret:
        return hashlib.blake2b(secret.encode("utf-8"), digest_size=32).digest()
    with open(os.path.join(DATA_DIR, "secret"), "rb") as f:
        return f.read(32)


def signed(media_id, ttl=3600, exp=None, key=None):
    exp = exp if exp is not None else int(time.time()) + ttl
    mac = hmac.new(key or secret_key(), ("media|%s|%d" % (media_id, exp)).encode(), hashlib.sha256).digest()
    sig = base64.urlsafe_b64encode(mac[:16]).rstrip(b"=").decode()
    return "/v1/media/%s?exp=%d&sig=%s" % (media_id, exp, sig)


# ---- a poster drawn here, and its perceptual hash as media/phash.c computes it ----

def draw_poster(w=90, h=160):
    """Smooth shapes on a gradient: enough structure for a stable hash. RGB rows."""
    px = bytearray()
    for y in range(h):
        for x in range(w):
            r = int(255 * x / (w - 1))
            g = int(255 * y / (h - 1))
            b = 128
            if (x - 30) ** 2 + (y - 50) ** 2 < 18 ** 2:
                r, g, b = 250, 240, 20
            if 50 <= x < 80 and 100 <= y < 140:
                r, g, b = 10, 20, 200
            if 10 <= x < 40 and 120 <= y < 130:
                r, g, b = 0, 0, 0
            px += bytes((r, g, b))
    return w, h, bytes(px)


def png_bytes(w, h, px):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    raw = b"".join(b"\x00" + px[y * w * 3:(y + 1) * w * 3] for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def phash64(w, h, px):
    """media/phash.c in Python: exact-area 32x32 luma, DCT-II frequencies 1..8 on both axes,
    each bit = coefficient above the median. Same operations in the same order."""
    n_, k_ = 32, 8

    def area_reduce(vals, n):
        cell = n / n_
        out = []
        for k in range(n_):
            lo, hi, s = k * cell, (k + 1) * cell, 0.0
            i = int(lo)
            while i < n and i < hi:
                a = lo if i < lo else float(i)
                b = hi if i + 1 > hi else float(i + 1)
                s += vals[i] * (b - a)
                i += 1
            out.append(s / cell)
        return out

    cols = []
    for y in range(h):
        row = px[y * w * 3:(y + 1) * w * 3]
        luma = [(299 * row[3 * x] + 587 * row[3 * x + 1] + 114 * row[3 * x + 2]) / 1000.0 for x in range(w)]
        cols.append(area_reduce(luma, w))
    grey = [[0.0] * n_ for _ in range(n_)]
    for x in range(n_):
        col = area_reduce([cols[y][x] for y in range(h)], h)
        for k in range(n_):
            grey[k][x] = col[k]
    pi = 3.14159265358979323846
    cosines = [[math.cos((2 * x + 1) * u * pi / (2 * n_)) for x in range(n_)] for u in range(k_ + 1)]
    rows = [[0.0] * n_ for _ in range(k_ + 1)]
    for u in range(k_ + 1):
        for y in range(n_):
            s = 0.0
            for x in range(n_):
                s += cosines[u][x] * grey[y][x]
            rows[u][y] = s
    coef = [0.0] * (k_ * k_)
    for v in range(1, k_ + 1):
        for u in range(1, k_ + 1):
            s = 0.0
            for y in range(n_):
                s += cosines[v][y] * rows[u][y]
            coef[(v - 1) * k_ + (u - 1)] = s
    srt = sorted(coef)
    median = (srt[k_ * k_ // 2 - 1] + srt[k_ * k_ // 2]) / 2.0
    return sum(1 << i for i in range(k_ * k_) if coef[i] > median)


def render_clip():
    """A real MP4 from the renderer's test tool when it is built; otherwise MP4-shaped bytes
    (the server serves bytes and never parses them)."""
    tool = os.path.join(os.path.dirname(flick.BIN), "tests", "tools", "render_clip")
    if os.access(tool, os.X_OK):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "clip.mp4")
            p = subprocess.run([tool, out, "4"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
            if p.returncode == 0:
                with open(out, "rb") as f:
                    return f.read()
    body = os.urandom(300 * 1024)
    return (struct.pack(">I4s4sI", 24, b"ftyp", b"isom", 0x200) + b"isomiso2" +
            struct.pack(">I4s", 8 + len(body), b"mdat") + body)


def setUpModule():
    global srv, CLIP, POSTER_PNG, POSTER_WEBP, POSTER_PHASH
    srv = flick.start_server(name="media")
    CLIP = render_clip()
    w, h, px = draw_poster()
    POSTER_PNG = png_bytes(w, h, px)
    POSTER_PHASH = phash64(w, h, px)
    with tempfile.TemporaryDirectory() as d:
        src, dst = os.path.join(d, "poster.png"), os.path.join(d, "poster.webp")
        with open(src, "wb") as f:
            f.write(POSTER_PNG)
        subprocess.run(["cwebp", "-quiet", "-q", "80", src, "-o", dst], check=True, timeout=60)
        with open(dst, "rb") as f:
            POSTER_WEBP = f.read()
    for role in ("author", "other", "moderator", "admin", "cameo"):
        users[role] = new_user({"moderator": "moderator", "admin": "admin"}.get(role, "user"))


def tearDownModule():
    srv.stop()


def get(path, token=None, headers=None):
    return srv.request("GET", path, token=token, headers=headers)


class Base(unittest.TestCase):
    def assertError(self, r, status, code):
        self.assertEqual(r.status, status, r)
        self.assertIsInstance(r.body, dict, r)
        self.assertEqual(r.body.get("error", {}).get("code"), code, r)
        self.assertIsInstance(r.body["error"].get("message"), str, r)

    def assertNotFound(self, r):
        self.assertError(r, 404, "not_found")


# ---- GET /v1/media/{id} ----

class Access(Base):
    @classmethod
    def setUpClass(cls):
        cls.p = make_post(users["author"][2])

    def test_signed_url_without_token(self):
        r = get(signed(self.p["video"]))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.raw, self.p["data"])
        self.assertEqual(r.headers["Content-Type"], "video/mp4")
        self.assertEqual(r.headers["ETag"], '"%s"' % self.p["video_sha"])
        self.assertEqual(r.headers["Cache-Control"], CACHE_CONTROL)
        self.assertEqual(r.headers["Accept-Ranges"], "bytes")
        self.assertEqual(int(r.headers["Content-Length"]), len(self.p["data"]))
        self.assertTrue(r.headers.get("X-Request-Id"))

    def test_poster_is_webp(self):
        r = get(signed(self.p["poster"]))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["Content-Type"], "image/webp")
        self.assertEqual(r.raw, POSTER_WEBP)
        self.assertEqual(r.headers["ETag"], '"%s"' % self.p["poster_sha"])

    def test_bad_signatures_are_404(self):
        vid = self.p["video"]
        good = signed(vid)
        exp = int(time.time()) + 3600
        sig = good.rsplit("sig=", 1)[1]
        flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
        for path in ("/v1/media/%s" % vid,                                      # neither
                     "/v1/media/%s?exp=%d&sig=%s" % (vid, exp, flipped),       # tampered
                     "/v1/media/%s?exp=%d&sig=%s" % (vid, exp + 1, sig),       # exp changed
                     "/v1/media/%s?exp=%d" % (vid, exp),                       # no sig
                     "/v1/media/%s?sig=%s" % (vid, sig),                       # no exp
                     "/v1/media/%s?exp=%d&sig=%s" % (vid, exp, sig + "AA"),    # too long
                     signed(vid, exp=int(time.time()) - 5),                    # expired
                     signed(vid, key=secret_key("another-secret")),            # other key
                     signed(self.p["poster"]).replace("/%s?" % self.p["poster"], "/%s?" % vid)):  # other id
            r = get(path)
            self.assertNotFound(r)
            self.assertNotIn("ETag", r.headers)

    def test_bad_token_without_signature_is_404_not_401(self):
        self.assertNotFound(get("/v1/media/%s" % self.p["video"], token="x" * 43))
        self.assertNotFound(get("/v1/media/%s" % self.p["video"], token="short"))

    def test_bad_token_with_valid_signature_still_works(self):
        r = get(signed(self.p["video"]), token="x" * 43)
        self.assertEqual(r.status, 200, r)

    def test_token_without_signature(self):
        for role in ("author", "other", "moderator"):
            r = get("/v1/media/%s" % self.p["video"], token=users[role][1])
            self.assertEqual(r.status, 200, (role, r))
            self.assertEqual(r.raw, self.p["data"])
            self.assertEqual(r.headers["Cache-Control"], CACHE_CONTROL)

    def test_unknown_and_malformed_ids(self):
        self.assertNotFound(get(signed("999999999999")))
        self.assertNotFound(get("/v1/media/999999999999", token=users["author"][1]))
        for bad in ("abc", "-1", "1.5", "99999999999999999999999", "%20"):
            self.assertNotFound(get("/v1/media/%s" % bad, token=users["author"][1]))

    def test_previous_secret_still_opens_old_urls(self):
        old = os.environ.get("FLICK_SECRET")
        if not old:
            self.skipTest("FLICK_SECRET is not set")
        rotated = flick.start_server(env={"FLICK_SECRET": "rotated-" + old, "FLICK_SECRET_PREVIOUS": old},
                                     name="media-rotated")
        try:
            r = rotated.request("GET", signed(self.p["video"]))
            self.assertEqual(r.status, 200, r)
            r = rotated.request("GET", signed(self.p["video"], key=secret_key("rotated-" + old)))
            self.assertEqual(r.status, 200, r)
            r = rotated.request("GET", signed(self.p["video"], key=secret_key("unrelated")))
            self.assertEqual(r.status, 404, r)
        finally:
            rotated.stop()


class Caching(Base):
    @classmethod
    def setUpClass(cls):
        cls.p = make_post(users["author"][2])
        cls.url = signed(cls.p["video"])
        cls.etag = '"%s"' % cls.p["video_sha"]

    def test_if_none_match_gives_304(self):
        for value in (self.etag, "W/" + self.etag, '"nope", ' + self.etag, "*"):
            r = get(self.url, headers={"If-None-Match": value})
            self.assertEqual(r.status, 304, (value, r))
            self.assertEqual(r.raw, b"")
            self.assertEqual(r.headers["ETag"], self.etag)
            self.assertEqual(r.headers["Cache-Control"], CACHE_CONTROL)

    def test_other_tag_gives_200(self):
        r = get(self.url, headers={"If-None-Match": '"%s"' % ("0" * 64)})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.raw, self.p["data"])

    def test_304_still_needs_access(self):
        r = get("/v1/media/%s" % self.p["video"], headers={"If-None-Match": self.etag})
        self.assertNotFound(r)


class Ranges(Base):
    @classmethod
    def setUpClass(cls):
        cls.p = make_post(users["author"][2])
        cls.url = signed(cls.p["video"])
        cls.data = cls.p["data"]
        cls.size = len(cls.data)

    def ranged(self, spec, **kw):
        return get(self.url, headers=dict({"Range": spec}, **kw))

    def assertPart(self, spec, start, end):
        r = self.ranged(spec)
        self.assertEqual(r.status, 206, (spec, r))
        self.assertEqual(r.headers["Content-Range"], "bytes %d-%d/%d" % (start, end, self.size), spec)
        self.assertEqual(int(r.headers["Content-Length"]), end - start + 1, spec)
        self.assertEqual(r.raw, self.data[start:end + 1], spec)
        self.assertEqual(r.headers["Content-Type"], "video/mp4")
        self.assertEqual(r.headers["ETag"], '"%s"' % self.p["video_sha"])
        self.assertEqual(r.headers["Accept-Ranges"], "bytes")

    def test_first_bytes(self):
        self.assertPart("bytes=0-99", 0, 99)
        self.assertPart("bytes=0-0", 0, 0)

    def test_middle(self):
        self.assertPart("bytes=1000-5000", 1000, 5000)

    def test_open_ended(self):
        self.assertPart("bytes=100-", 100, self.size - 1)
        self.assertPart("bytes=%d-" % (self.size - 1), self.size - 1, self.size - 1)

    def test_suffix(self):
        self.assertPart("bytes=-500", self.size - 500, self.size - 1)
        self.assertPart("bytes=-%d" % (self.size + 1000), 0, self.size - 1)

    def test_whole(self):
        self.assertPart("bytes=0-", 0, self.size - 1)
        self.assertPart("bytes=0-%d" % (self.size - 1), 0, self.size - 1)

    def test_end_past_the_file_is_clipped(self):
        self.assertPart("bytes=10-%d" % (self.size * 2), 10, self.size - 1)

    def test_head(self):
        # What a player asks before it fetches: the size, the tag, that ranges work.
        r = srv.request("HEAD", self.url)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.raw, b"")
        self.assertEqual(int(r.headers["Content-Length"]), self.size)
        self.assertEqual(r.headers["Accept-Ranges"], "bytes")
        self.assertEqual(r.headers["ETag"], '"%s"' % self.p["video_sha"])
        self.assertEqual(r.headers["Content-Type"], "video/mp4")
        r = srv.request("HEAD", self.url, headers={"Range": "bytes=0-99"})
        self.assertEqual((r.status, r.raw, r.headers["Content-Length"]), (206, b"", "100"))
        self.assertEqual(r.headers["Content-Range"], "bytes 0-99/%d" % self.size)
        self.assertEqual(srv.request("HEAD", signed(self.p["video"], exp=int(time.time()) - 5)).status, 404)

    def test_unsatisfiable(self):
        for spec in ("bytes=%d-" % self.size, "bytes=%d-%d" % (self.size + 10, self.size + 20),
                     "bytes=99999999999999999999999-", "bytes=5-2", "bytes=-0", "bytes=abc", "bytes=1-2x"):
            r = self.ranged(spec)
            self.assertError(r, 416, "range_not_satisfiable")
            self.assertEqual(r.headers["Content-Range"], "bytes */%d" % self.size, spec)
            self.assertNotIn("Cache-Control", r.headers)

    def test_several_ranges_or_other_units_give_everything(self):
        for spec in ("bytes=0-1,5-6", "bytes=0-1, 10-", "items=0-1"):
            r = self.ranged(spec)
            self.assertEqual(r.status, 200, (spec, r))
            self.assertEqual(r.raw, self.data)

    def test_if_range(self):
        r = self.ranged("bytes=0-9", **{"If-Range": '"%s"' % self.p["video_sha"]})
        self.assertEqual(r.status, 206, r)
        self.assertEqual(r.raw, self.data[:10])
        r = self.ranged("bytes=0-9", **{"If-Range": '"%s"' % ("1" * 64)})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.raw, self.data)

    def test_range_with_token(self):
        r = get("/v1/media/%s" % self.p["video"], token=users["other"][1], headers={"Range": "bytes=-10"})
        self.assertEqual(r.status, 206, r)
        self.assertEqual(r.raw, self.data[-10:])


class Visibility(Base):
    """Media follows its post: a signature opens drafts and published posts, never one taken
    down; a token applies the viewer's own rules."""

    def codes(self, p, roles=("author", "other", "moderator", "cameo")):
        out = {"signed": get(signed(p["video"])).status}
        for role in roles:
            out[role] = get("/v1/media/%s" % p["video"], token=users[role][1]).status
        return out

    def test_draft(self):
        p = make_post(users["author"][2], status="draft")
        self.assertEqual(self.codes(p), {"signed": 200, "author": 200, "other": 404, "moderator": 404,
                                         "cameo": 404})

    def test_removed_post(self):
        p = make_post(users["author"][2])
        self.assertEqual(get(signed(p["video"])).status, 200)
        url = signed(p["video"])
        sql("UPDATE posts SET status = 'removed' WHERE id = %d" % p["post"])
        self.assertNotFound(get(url))
        self.assertNotFound(get(signed(p["poster"])))
        self.assertEqual(self.codes(p), {"signed": 404, "author": 200, "other": 404, "moderator": 200,
                                         "cameo": 404})

    def test_hidden_post(self):
        p = make_post(users["author"][2])
        sql("UPDATE posts SET status = 'hidden' WHERE id = %d" % p["post"])
        self.assertEqual(self.codes(p), {"signed": 404, "author": 200, "other": 404, "moderator": 200,
                                         "cameo": 404})

    def test_revoked_cameo(self):
        p = make_post(users["author"][2])
        sql("INSERT INTO post_cameos (post_id, user_id) VALUES (%d, %d)" % (p["post"], users["cameo"][2]))
        self.assertEqual(get(signed(p["video"])).status, 200)
        sql("UPDATE post_cameos SET revoked = true WHERE post_id = %d" % p["post"])
        self.assertNotFound(get(signed(p["video"])))
        self.assertNotFound(get(signed(p["poster"])))
        # Its author and the cameo's owner still see the post, so its media too.
        self.assertEqual(self.codes(p), {"signed": 404, "author": 200, "other": 404, "moderator": 404,
                                         "cameo": 200})

    def test_revoked_cameo_on_a_draft(self):
        p = make_post(users["author"][2], status="draft")
        sql("INSERT INTO post_cameos (post_id, user_id, revoked) VALUES (%d, %d, true)"
            % (p["post"], users["cameo"][2]))
        self.assertNotFound(get(signed(p["video"])))

    def test_followers_only_post(self):
        p = make_post(users["author"][2])
        sql("UPDATE posts SET visibility = 'followers' WHERE id = %d" % p["post"])
        # The signed URL went to a follower who could see it; a stranger's token cannot.
        self.assertEqual(self.codes(p, ("author", "other")), {"signed": 200, "author": 200, "other": 404})

    def test_banned_author(self):
        author = new_user()
        p = make_post(author[2])
        sql("UPDATE users SET banned = true WHERE id = %d" % author[2])
        self.assertNotFound(get(signed(p["video"])))
        self.assertEqual(get("/v1/media/%s" % p["video"], token=users["moderator"][1]).status, 200)

    def test_missing_file_is_404_and_logged(self):
        p = make_post(users["author"][2], write_file=False)
        r = get(signed(p["video"]))
        self.assertNotFound(r)
        time.sleep(0.1)
        self.assertIn("media file missing from the store", srv.log_text())
        self.assertIn(p["video_sha"], srv.log_text())


# ---- provenance ----

class Provenance(Base):
    @classmethod
    def setUpClass(cls):
        cls.p = make_post(users["author"][2], provenance_phash=POSTER_PHASH)

    def test_record(self):
        r = get("/v1/provenance/%s" % self.p["video_sha"])
        self.assertEqual(r.status, 200, r)
        b = r.body
        self.assertEqual(b["sha256"], self.p["video_sha"])
        self.assertEqual(b["post_id"], str(self.p["post"]))
        self.assertEqual(b["generation_id"], str(self.p["gen"]))
        self.assertEqual(b["engine"], "builtin")
        self.assertEqual(b["model"], "standard")
        self.assertEqual(b["phash"], "%016x" % POSTER_PHASH)
        self.assertRegex(b["created_at"], r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")

    def test_upper_case_hash_is_accepted(self):
        r = get("/v1/provenance/%s" % self.p["video_sha"].upper())
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["sha256"], self.p["video_sha"])

    def test_top_bit_and_no_post(self):
        sha = hashlib.sha256(os.urandom(32)).hexdigest()
        gen = int(sql("INSERT INTO generations (user_id, status) VALUES (%d, 'succeeded') RETURNING id"
                      % users["author"][2]))
        sql("INSERT INTO provenance (sha256, post_id, generation_id, engine, model, phash) "
            "VALUES ('%s', NULL, %d, 'builtin', 'pro', %d)" % (sha, gen, to_signed(0xfedcba9876543210)))
        r = get("/v1/provenance/%s" % sha)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["phash"], "fedcba9876543210")
        self.assertIsNone(r.body["post_id"])
        self.assertEqual(r.body["model"], "pro")

    def test_unknown_is_404(self):
        self.assertNotFound(get("/v1/provenance/%s" % ("ab" * 32)))

    def test_malformed_is_400(self):
        for bad in ("ab" * 31 + "a", "ab" * 32 + "a", "g" * 64, "xyz", "%20" * 64):
            self.assertError(get("/v1/provenance/%s" % bad), 400, "invalid_request")

    def test_public(self):
        r = get("/v1/provenance/%s" % self.p["video_sha"], token=users["other"][1])
        self.assertEqual(r.status, 200, r)


class Lookup(Base):
    @classmethod
    def setUpClass(cls):
        cls.p = make_post(users["author"][2], provenance_phash=POSTER_PHASH)
        # A second record a known two bits away, one of them the sign bit of the bigint.
        cls.q = make_post(users["author"][2], provenance_phash=POSTER_PHASH ^ (1 << 63) ^ 1)

    def lookup(self, data, ctype="image/webp", token=None):
        token = token if token is not None else users["moderator"][1]
        return srv.request("POST", "/v1/provenance/lookup", body=data, token=token or None,
                           headers={"Content-Type": ctype} if ctype else None)

    def found(self, r):
        self.assertEqual(r.status, 200, r)
        items = r.body["items"]
        self.assertLessEqual(len(items), 20)
        dist = [it["distance"] for it in items]
        self.assertEqual(dist, sorted(dist), "closest first")
        return {it["record"]["sha256"]: it for it in items}

    def test_webp_of_the_poster(self):
        by_sha = self.found(self.lookup(POSTER_WEBP))
        self.assertIn(self.p["video_sha"], by_sha)
        hit = by_sha[self.p["video_sha"]]
        self.assertLessEqual(hit["distance"], 10)
        rec = hit["record"]
        self.assertEqual(rec["post_id"], str(self.p["post"]))
        self.assertEqual(rec["generation_id"], str(self.p["gen"]))
        self.assertEqual(rec["phash"], "%016x" % POSTER_PHASH)
        self.assertEqual(set(rec), {"sha256", "post_id", "generation_id", "engine", "model", "phash", "created_at"})

    def test_png_of_the_poster(self):
        by_sha = self.found(self.lookup(POSTER_PNG, "image/png"))
        d1 = by_sha[self.p["video_sha"]]["distance"]
        self.assertLessEqual(d1, 2)
        d2 = by_sha[self.q["video_sha"]]["distance"]
        self.assertLessEqual(abs(d2 - 2), d1)

    def test_admin_may_look_up(self):
        self.assertIn(self.p["video_sha"], self.found(self.lookup(POSTER_WEBP, token=users["admin"][1])))

    def test_plain_user_is_403(self):
        self.assertError(self.lookup(POSTER_WEBP, token=users["other"][1]), 403, "forbidden")

    def test_anonymous_is_401(self):
        self.assertError(self.lookup(POSTER_WEBP, token=""), 401, "unauthorized")

    def test_garbage_is_400(self):
        self.assertError(self.lookup(os.urandom(2000), "image/png"), 400, "invalid_request")
        self.assertError(self.lookup(POSTER_WEBP[:40], "image/webp"), 400, "invalid_request")

    def test_wrong_or_missing_content_type_is_400(self):
        for ctype in ("application/json", "application/octet-stream", "image/gif", "image/webpx", ""):
            r = self.lookup(POSTER_WEBP, ctype)
            self.assertError(r, 400, "invalid_request")

    def test_empty_body_is_400(self):
        self.assertError(self.lookup(b"", "image/webp"), 400, "invalid_request")

    def test_unrelated_picture_finds_nothing_close(self):
        w, h = 64, 64
        px = bytes(((x * 37) ^ (y * 91)) & 0xff for y in range(h) for x in range(w) for _ in range(3))
        r = self.lookup(png_bytes(w, h, px), "image/png")
        by_sha = self.found(r)
        self.assertNotIn(self.p["video_sha"], by_sha)
        for it in r.body["items"]:
            self.assertLessEqual(it["distance"], 16)


if __name__ == "__main__":
    unittest.main()
