#!/usr/bin/python3
"""tests/tools/fake_engine.py: a local stand-in for a video generation service speaking the
OpenAI-style Videos API, for testing flickd's http engine adapter and job worker. It serves
real MP4 bytes (a clip rendered by build/.../tests/tools/render_clip) and can be told to
misbehave. Python 3 standard library only; loopback only; not a product component.

    fake_engine.py --clip CLIP.mp4 [--alt-clip OTHER.mp4] [--key KEY] [--port-file FILE]
                   [--port N] [--job-seconds S]

Endpoints (Authorization: Bearer KEY required when --key is given, else 401):
    POST /v1/videos                {model, prompt, seconds: "4", size: "480x854"} -> video
    GET  /v1/videos/{id}           -> {id, status, progress, error}
    GET  /v1/videos/{id}/content   -> MP4 bytes (409 until completed)
    POST /v1/videos/{id}/remix     {prompt} -> video
Control (no auth):
    POST /_mode  {"mode": M, "count": N, "only": ENDPOINT, "seconds": S, "bytes": B,
                  "retry_after": R}
        M is one of: normal; slow (polls say in_progress until a job is S seconds old);
        429 / 500 / reject (400) / redirect (302) / hang (accept, never answer) / garbage
        (200 with a body that is not JSON); failed (polls report the job failed);
        truncated (Content-Length larger than what is sent, then close); oversized (B bytes
        of content with no Content-Length); not_mp4 (content that is not a video);
        wrong_duration (serves --alt-clip). The mode applies to the next N calls it affects
        (default: until changed), optionally only to ENDPOINT (submit|poll|content|remix).
    GET  /_stats -> counts of calls per endpoint, the last submit and remix bodies, jobs.
"""
import argparse
import http.server
import json
import os
import re
import secrets
import socket
import sys
import threading
import time

JSON_ENDPOINTS = ("submit", "poll", "remix")
CONTENT_MODES = ("truncated", "oversized", "not_mp4", "wrong_duration")


class State:
    def __init__(self, clip, alt_clip, key, job_seconds):
        self.lock = threading.Lock()
        self.clip = clip
        self.alt_clip = alt_clip
        self.key = key
        self.job_seconds = job_seconds
        self.jobs = {}
        self.mode = {"mode": "normal"}
        self.stats = {"submit": 0, "poll": 0, "content": 0, "remix": 0, "unauthorized": 0,
                      "faults": 0, "last_submit": None, "last_remix": None, "remix_sources": []}

    def fault_for(self, endpoint):
        """The mode to apply to this call (consuming one of its count), or None."""
        with self.lock:
            m = self.mode
            name = m.get("mode", "normal")
            if name == "normal":
                return None
            only = m.get("only")
            if only and only != endpoint:
                return None
            if name in CONTENT_MODES and endpoint != "content":
                return None
            if name in ("slow", "failed") and endpoint != "poll":
                return None
            if name == "garbage" and endpoint not in JSON_ENDPOINTS:
                return None
            count = m.get("count")
            if count is not None:
                if count <= 0:
                    return None
                m["count"] = count - 1
            self.stats["faults"] += 1
            return dict(m)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-engine/1"

    def log_message(self, fmt, *args):     # quiet: tests read /_stats instead
        pass

    # -- plumbing --

    @property
    def state(self):
        return self.server.state

    def body_json(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw.decode("utf-8")) if raw else None
        except (ValueError, UnicodeDecodeError):
            return None

    def send(self, status, obj=None, raw=None, headers=None, ctype="application/json"):
        data = raw if raw is not None else (json.dumps(obj).encode() if obj is not None else b"")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, message, headers=None):
        self.send(status, {"error": {"message": message, "type": "fake", "code": None}},
                  headers=headers)

    def authorized(self):
        if not self.state.key:
            return True
        if self.headers.get("Authorization") == "Bearer " + self.state.key:
            return True
        with self.state.lock:
            self.state.stats["unauthorized"] += 1
        self.error(401, "invalid api key")
        return False

    def apply_fault(self, endpoint):
        """Answers according to the current mode if it affects this call; True if it did."""
        f = self.state.fault_for(endpoint)
        if f is None:
            return False
        name = f["mode"]
        if name in ("slow", "failed", "wrong_duration", "not_mp4", "truncated", "oversized"):
            self._fault = f            # handled by the endpoint itself
            return False
        if name == "429":
            hdrs = {"Retry-After": str(f["retry_after"])} if f.get("retry_after") else None
            self.error(429, "rate limited", headers=hdrs)
        elif name == "500":
            self.error(500, "internal error")
        elif name == "reject":
            self.error(400, "the prompt was rejected by the fake engine")
        elif name == "redirect":
            self.send(302, {"moved": True}, headers={"Location": "http://127.0.0.1:9/elsewhere"})
        elif name == "garbage":
            self.send(200, raw=b"{\"id\": \"video_1\", \"status\": <<garbage>>")
        elif name == "hang":
            self.close_connection = True
            time.sleep(3600)
        return True

    # -- routes --

    def do_POST(self):
        self._fault = None
        if self.path == "/_mode":
            body = self.body_json() or {}
            with self.state.lock:
                self.state.mode = body if body.get("mode") else {"mode": "normal"}
            return self.send(204)
        body = self.body_json()
        if not self.authorized():
            return
        m = re.fullmatch(r"/v1/videos/([A-Za-z0-9_.-]+)/remix", self.path)
        if self.path == "/v1/videos":
            return self.submit(body)
        if m:
            return self.remix(m.group(1), body)
        self.error(404, "no such route")

    def do_GET(self):
        self._fault = None
        if self.path == "/_stats":
            with self.state.lock:
                out = dict(self.state.stats)
                out["jobs"] = list(self.state.jobs.values())
            return self.send(200, out)
        if not self.authorized():
            return
        m = re.fullmatch(r"/v1/videos/([A-Za-z0-9_.-]+)(/content)?", self.path)
        if not m:
            return self.error(404, "no such route")
        if m.group(2):
            return self.content(m.group(1))
        return self.poll(m.group(1))

    def new_job(self, fields):
        job = dict(fields)
        job["id"] = "video_" + secrets.token_hex(8)
        job["created"] = time.monotonic()
        with self.state.lock:
            self.state.jobs[job["id"]] = job
        return job

    def video_json(self, job, status, progress, error=None):
        return {"id": job["id"], "object": "video", "model": job.get("model"),
                "status": status, "progress": progress, "seconds": job.get("seconds"),
                "size": job.get("size"), "error": error,
                "remixed_from_video_id": job.get("remixed_from")}

    def submit(self, body):
        with self.state.lock:
            self.state.stats["submit"] += 1
            self.state.stats["last_submit"] = body
        if self.apply_fault("submit"):
            return
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in
                                                 ("model", "prompt", "seconds", "size")):
            return self.error(400, "model, prompt, seconds and size are required strings")
        if body["seconds"] not in ("4", "8", "12") or not re.fullmatch(r"\d+x\d+", body["size"]):
            return self.error(400, "bad seconds or size")
        job = self.new_job({k: body[k] for k in ("model", "prompt", "seconds", "size")})
        self.send(200, self.video_json(job, "queued", 0))

    def remix(self, source, body):
        with self.state.lock:
            self.state.stats["remix"] += 1
            self.state.stats["last_remix"] = body
            self.state.stats["remix_sources"].append(source)
            parent = self.state.jobs.get(source)
        if self.apply_fault("remix"):
            return
        if parent is None:
            return self.error(404, "no such video")
        if not isinstance(body, dict) or not isinstance(body.get("prompt"), str):
            return self.error(400, "prompt is required")
        job = self.new_job({"model": parent["model"], "prompt": body["prompt"],
                            "seconds": parent["seconds"], "size": parent["size"],
                            "remixed_from": source})
        self.send(200, self.video_json(job, "queued", 0))

    def progress_of(self, job):
        """(status, progress) of a job under the current mode."""
        age = time.monotonic() - job["created"]
        f = self._fault
        total = self.state.job_seconds
        if f and f["mode"] == "slow":
            total = float(f.get("seconds", 5))
            job["slow_until"] = job["created"] + total
        elif job.get("slow_until"):
            total = job["slow_until"] - job["created"]
        if age >= total:
            return "completed", 100
        if age < total / 5:
            return "queued", 0
        return "in_progress", min(99, int(100 * age / total))

    def poll(self, job_id):
        with self.state.lock:
            self.state.stats["poll"] += 1
            job = self.state.jobs.get(job_id)
        if self.apply_fault("poll"):
            return
        if job is None:
            return self.error(404, "no such video")
        if self._fault and self._fault["mode"] == "failed":
            job["failed"] = True
        if job.get("failed"):
            return self.send(200, self.video_json(job, "failed", 0, {
                "code": "generation_failed", "message": "the fake engine gave up on this one"}))
        status, progress = self.progress_of(job)
        self.send(200, self.video_json(job, status, progress))

    def content(self, job_id):
        with self.state.lock:
            self.state.stats["content"] += 1
            job = self.state.jobs.get(job_id)
        if self.apply_fault("content"):
            return
        if job is None:
            return self.error(404, "no such video")
        if self.progress_of(job)[0] != "completed" or job.get("failed"):
            return self.error(409, "the video is not ready")
        f = self._fault
        mode = f["mode"] if f else "normal"
        path = self.state.alt_clip if mode == "wrong_duration" else self.state.clip
        with open(path, "rb") as fh:
            data = fh.read()
        if mode == "not_mp4":
            return self.send(200, raw=b"<html><body>not a video</body></html>\n" * 64,
                             ctype="video/mp4")
        if mode == "truncated":
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if mode == "oversized":
            # No Content-Length: the client can only find out by counting while it reads.
            total = int(f.get("bytes", 8 << 20))
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            sent, chunk = 0, data + b"\0" * max(0, 65536 - len(data) % 65536)
            try:
                while sent < total:
                    self.wfile.write(chunk)
                    sent += len(chunk)
            except OSError:
                pass       # the client hung up once it had seen enough: that is the point
            return
        self.send(200, raw=data, ctype="video/mp4")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clip", required=True)
    ap.add_argument("--alt-clip")
    ap.add_argument("--key", default="")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--job-seconds", type=float, default=0.6,
                    help="how long a job takes in normal mode")
    a = ap.parse_args()
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.state = State(a.clip, a.alt_clip or a.clip, a.key, a.job_seconds)
    port = srv.server_address[1]
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as fh:
            fh.write("%d\n" % port)
        os.rename(tmp, a.port_file)
    print(port, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
