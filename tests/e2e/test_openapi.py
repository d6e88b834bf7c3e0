"""openapi.yaml describes exactly the routes the server answers (`flickd routes`)."""
import os
import re
import unittest

import flick

SPEC = os.path.join(flick.ROOT, "openapi.yaml")
METHODS = {"get", "post", "put", "patch", "delete", "head", "options"}


def spec_operations(text):
    """The "METHOD /path" pairs under `paths:`: two-space-indented path keys, and
    four-space-indented method keys below each."""
    ops = set()
    in_paths = False
    path = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" "):
            in_paths = line.rstrip() == "paths:"
            path = None
            continue
        if not in_paths:
            continue
        m = re.match(r"^  (['\"]?)(/[^'\"]*)\1:\s*$", line)
        if m:
            path = m.group(2)
            continue
        m = re.match(r"^    ([a-z]+):", line)
        if m and path and m.group(1) in METHODS:
            ops.add("%s %s" % (m.group(1).upper(), path))
    return ops


class OpenAPI(unittest.TestCase):
    def test_spec_matches_routes(self):
        self.assertTrue(os.path.exists(SPEC), "openapi.yaml is missing at %s" % SPEC)
        with open(SPEC, encoding="utf-8") as f:
            described = spec_operations(f.read())
        answered = set(l.strip() for l in flick.run_cli("routes").splitlines() if l.strip())
        self.assertTrue(answered)
        self.assertTrue(described, "no operations found under paths: in openapi.yaml")
        self.assertEqual(sorted(answered - described), [], "routes the server answers that openapi.yaml lacks")
        self.assertEqual(sorted(described - answered), [], "operations in openapi.yaml the server does not answer")

    def test_parser(self):
        text = ("openapi: 3.1.0\npaths:\n  /v1/me:\n    get:\n      summary: x\n    patch:\n"
                "      parameters: []\n  '/v1/users/{username}':\n    parameters:\n      - name: u\n"
                "    get:\n      responses: {}\ncomponents:\n  /not/a/path:\n    get: {}\n")
        self.assertEqual(spec_operations(text), {"GET /v1/me", "PATCH /v1/me", "GET /v1/users/{username}"})


if __name__ == "__main__":
    unittest.main()
