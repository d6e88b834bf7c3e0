"""`flickd seed`, as `make run` uses it: the demo admin with a fresh token and invite each
time, and, the first time only, the demo people and their published clips (remixes and a
cameo included) made by the real pipeline. Runs against a database of its own, so the demo
never mixes with the other suites' data."""
import os
import re
import subprocess
import unittest
import urllib.parse

import flick


def _db_url(name):
    u = urllib.parse.urlsplit(os.environ["FLICK_DATABASE_URL"])
    return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + name, u.query, u.fragment))


def _psql(url, query):
    out = subprocess.run(["psql", url, "-X", "-q", "-tA", "-c", query], check=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    return out.stdout.decode().strip()


class SeedTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = "flick_seed_%d" % os.getpid()
        cls.url = _db_url(cls.db)
        _psql(os.environ["FLICK_DATABASE_URL"], "DROP DATABASE IF EXISTS %s" % cls.db)
        _psql(os.environ["FLICK_DATABASE_URL"], "CREATE DATABASE %s" % cls.db)
        cls.data = os.path.join(flick.VAR, "seed-data")
        cls.env = {"FLICK_DATABASE_URL": cls.url, "FLICK_DATA_DIR": cls.data}
        cls.cli(["migrate"])
        cls.first = cls.cli(["seed"])
        cls.second = cls.cli(["seed"])
        cls.srv = flick.start_server(cls.env, "seed")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        _psql(os.environ["FLICK_DATABASE_URL"], "DROP DATABASE IF EXISTS %s WITH (FORCE)" % cls.db)

    @classmethod
    def cli(cls, args):
        env = flick._base_env(cls.env)
        p = subprocess.run([flick.BIN] + args, env=env, stdin=subprocess.DEVNULL, cwd=flick.ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
        err = p.stderr.decode("utf-8", "replace")
        if p.returncode != 0 or any(m in err for m in flick.SANITIZER_MARKS):
            raise AssertionError("flickd %s failed (%s): %s" % (" ".join(args), p.returncode, err[-3000:]))
        return p.stdout.decode()

    @staticmethod
    def token_of(out):
        m = re.search(r"^admin token: (\S+)$", out, re.M)
        assert m, out
        return m.group(1)

    def test_each_run_prints_a_working_admin_token_and_a_fresh_invite(self):
        for out in (self.first, self.second):
            r = self.srv.request("GET", "/v1/me", token=self.token_of(out))
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.body["username"], "admin")
            self.assertEqual(r.body["role"], "admin")
        codes = [re.search(r"^invite code: (\S+)$", o, re.M).group(1) for o in (self.first, self.second)]
        self.assertNotEqual(codes[0], codes[1])

    def test_the_demo_is_made_once(self):
        self.assertEqual(_psql(self.url, "SELECT count(*) FROM users WHERE username IN ('ana','ben','cleo','dev')"), "4")
        self.assertEqual(_psql(self.url, "SELECT count(*) FROM generations"), "7")
        self.assertEqual(_psql(self.url, "SELECT count(*) FROM posts"), "7")

    def test_demo_posts_are_published_with_real_media(self):
        token = self.token_of(self.second)
        seen = 0
        for name in ("ana", "ben", "cleo", "dev"):
            r = self.srv.request("GET", "/v1/users/%s/posts" % name, token=token)
            self.assertEqual(r.status, 200, r.body)
            self.assertGreaterEqual(len(r.body["items"]), 1, name)
            for post in r.body["items"]:
                seen += 1
                self.assertEqual(post["status"], "published")
                self.assertEqual(post["author"]["username"], name)
                video = post["media"]["video"]
                path = urllib.parse.urlsplit(video["url"])
                m = self.srv.request("GET", path.path + "?" + path.query)
                self.assertEqual(m.status, 200)
                self.assertEqual(m.raw[4:8], b"ftyp")
                self.assertEqual(len(m.raw), video["bytes"])
                self.assertEqual(len(post["media"]["poster"]), 3)
        self.assertEqual(seen, 7)

    def test_demo_has_remixes_and_a_cameo(self):
        token = self.token_of(self.second)
        r = self.srv.request("GET", "/v1/users/ana/posts", token=token)
        boat = [p for p in r.body["items"] if p["remix_of"] is None and "boat" in p["prompt"]][0]
        self.assertEqual(boat["counts"]["remixes"], 2)
        remixes = []
        for name in ("cleo", "dev"):
            items = self.srv.request("GET", "/v1/users/%s/posts" % name, token=token).body["items"]
            remixes += [p for p in items if p["remix_of"] == boat["id"]]
        self.assertEqual(len(remixes), 2)
        for p in remixes:
            self.assertEqual(p["remix_root"], boat["id"])
            self.assertEqual(p["remix_depth"], 1)
        items = self.srv.request("GET", "/v1/users/ben/posts", token=token).body["items"]
        cast = [p for p in items if p["cameos"]]
        self.assertEqual([u["username"] for u in cast[0]["cameos"]], ["ana"])
        self.assertEqual(_psql(self.url, "SELECT count(*) FROM notifications n JOIN users u ON u.id = n.user_id "
                                         "WHERE u.username = 'ana' AND n.type IN ('remixed', 'cameo_used')"), "3")


if __name__ == "__main__":
    unittest.main()
