// Harness for the browser suite: runs flickd on a free loopback port against the test
// PostgreSQL and Redis (the FLICK_* variables scripts/test.sh exports), speaks HTTP to it,
// runs operator commands, and launches Debian's chromium through playwright-core. Not for
// the tests themselves (console.mjs).
import { spawn, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = process.env.FLICK_BIN || path.join(ROOT, 'build', 'flickd');
const VAR = process.env.FLICK_VAR || path.join(ROOT, 'var', 'test', 'browser');
const LOG_DIR = path.join(VAR, 'browser');
export const PASSWORD = 'correct horse battery';

// What a sanitizer build writes when it finds something; a log holding any of it fails.
const SANITIZER_MARKS = ['AddressSanitizer', 'LeakSanitizer', 'UndefinedBehaviorSanitizer', 'runtime error'];

// The launch flags MACHINE-NOTES.md gives for Debian's chromium in a container.
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];

function env(extra) {
  return {
    ...process.env,
    FLICK_THREADS: process.env.FLICK_THREADS || '2',
    // Every request comes from 127.0.0.1, and every test signs the same moderator in: the
    // login limits (tested in the e2e suites) would make tests depend on one another.
    FLICK_LOGIN_LIMIT_IP: '1000000',
    FLICK_LOGIN_LIMIT_USER: '1000000',
    ...extra,
  };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let nameSeq = 0;
// A username no earlier run against the same database has used.
export function uniqueName(prefix) {
  nameSeq += 1;
  return (prefix + '_' + randomBytes(4).toString('hex') + nameSeq).slice(0, 30);
}

// `flickd <args>`; resolves to its stdout, trimmed. Fails on a non-zero exit or a sanitizer report.
export function cli(...args) {
  return new Promise((resolve, reject) => {
    execFile(BIN, args, { env: env(), cwd: ROOT, timeout: 60000 }, (err, stdout, stderr) => {
      const marks = SANITIZER_MARKS.filter((m) => stderr.includes(m));
      if (err || marks.length) reject(new Error('flickd ' + args.join(' ') + ' failed: ' + (stderr || err)));
      else resolve(stdout.trim());
    });
  });
}

// One flickd process (`all`: the API and a generation worker, so posts get real media).
export class Server {
  constructor(extraEnv) {
    this.extraEnv = extraEnv || {};
    this.proc = null;
    this.port = 0;
    this.logPath = null;
  }

  get base() { return 'http://127.0.0.1:' + this.port; }

  async start() {
    fs.mkdirSync(LOG_DIR, { recursive: true });
    for (let attempt = 0; attempt < 3; attempt++) {     // a free port can be taken before bind
      this.port = await freePort();
      this.logPath = path.join(LOG_DIR, 'flickd-' + this.port + '.log');
      const log = fs.openSync(this.logPath, 'a');
      this.proc = spawn(BIN, ['all'], {
        cwd: ROOT, stdio: ['ignore', log, log],
        env: env({ FLICK_LISTEN: '127.0.0.1:' + this.port, FLICK_WORKERS: '2', ...this.extraEnv }),
      });
      fs.closeSync(log);
      this.exited = new Promise((resolve) => this.proc.once('exit', (code, signal) => resolve({ code, signal })));
      const deadline = Date.now() + 20000;
      while (Date.now() < deadline && this.proc.exitCode === null) {
        try {
          if ((await fetch(this.base + '/healthz')).status === 200) return this;
        } catch (e) { /* not listening yet */ }
        await sleep(50);
      }
      if (this.proc.exitCode === null) {
        this.proc.kill('SIGKILL');
        throw new Error('flickd did not answer /healthz; log ' + this.logPath + ':\n' + this.logTail());
      }
      if (!this.logTail().includes('cannot listen')) break;
    }
    throw new Error('flickd did not start; log ' + this.logPath + ':\n' + this.logTail());
  }

  logTail(n = 30) {
    try {
      return fs.readFileSync(this.logPath, 'utf8').split('\n').slice(-n).join('\n');
    } catch (e) {
      return '';
    }
  }

  // SIGTERM; fails unless the process was alive, exits 0 in time and logged no sanitizer report.
  async stop() {
    if (!this.proc) return;
    const problems = [];
    if (this.proc.exitCode !== null) problems.push('flickd had already exited with ' + this.proc.exitCode);
    else this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 15000);
    const { code, signal } = await this.exited;
    clearTimeout(timer);
    if (!problems.length && code !== 0) problems.push('flickd exited with ' + (code ?? signal) + ' after SIGTERM');
    const text = fs.readFileSync(this.logPath, 'utf8');
    const marks = SANITIZER_MARKS.filter((m) => text.includes(m));
    if (marks.length) problems.push('sanitizer report in the log: ' + marks.join(', '));
    this.proc = null;
    if (problems.length) throw new Error(problems.join('; ') + '\nlog ' + this.logPath + ':\n' + this.logTail(40));
  }

  kill() {
    if (this.proc && this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }

  // One request; resolves to {status, headers, body} (JSON parsed when it is JSON).
  async request(method, urlPath, { body, token, headers, redirect } = {}) {
    const h = { ...(headers || {}) };
    if (token) h.Authorization = 'Bearer ' + token;
    if (body !== undefined) h['Content-Type'] = 'application/json';
    const res = await fetch(this.base + urlPath, {
      method, headers: h, redirect: redirect || 'manual',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const raw = Buffer.from(await res.arrayBuffer());
    let parsed = raw;
    if ((res.headers.get('content-type') || '').startsWith('application/json') && raw.length) {
      parsed = JSON.parse(raw.toString('utf8'));
    }
    return { status: res.status, headers: res.headers, body: parsed, text: raw.toString('utf8') };
  }

  // The request, which must answer `status`; its body.
  async expect(status, method, urlPath, opts) {
    const r = await this.request(method, urlPath, opts);
    if (r.status !== status) {
      throw new Error(method + ' ' + urlPath + ': expected ' + status + ', got ' + r.status + ' ' + r.text.slice(0, 300));
    }
    return r.body;
  }
}

// ---- a database of the suite's own ----

const BROWSER_DB = 'flick_browser';
const BROWSER_REDIS_DB = '1';

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env: process.env, timeout: 60000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(cmd + ' ' + args.join(' ') + ' failed: ' + (stderr || err.message)));
      else resolve(stdout);
    });
  });
}

// The same URL or conninfo string naming another database.
function otherDatabase(conninfo, name) {
  if (/^postgres(ql)?:\/\//.test(conninfo)) {
    const u = new URL(conninfo);
    u.pathname = '/' + name;
    return u.toString();
  }
  return conninfo + ' dbname=' + name;
}

// The queue and the audit log are global: whatever other suites left in them (open cases,
// claims held for minutes) would change what the console shows. So the suite runs on a fresh
// database in the same PostgreSQL, migrated here, and on a Redis database of its own,
// emptied first. Sets FLICK_DATABASE_URL and FLICK_REDIS_URL for everything started after.
export async function isolateDatabase() {
  const base = process.env.FLICK_DATABASE_URL;
  const redis = process.env.FLICK_REDIS_URL;
  if (!base || !redis) throw new Error('FLICK_DATABASE_URL and FLICK_REDIS_URL must be set (scripts/test.sh exports them)');
  await run('psql', [base, '-X', '-q', '-v', 'ON_ERROR_STOP=1',
    '-c', 'DROP DATABASE IF EXISTS ' + BROWSER_DB + ' WITH (FORCE)', '-c', 'CREATE DATABASE ' + BROWSER_DB]);
  process.env.FLICK_DATABASE_URL = otherDatabase(base, BROWSER_DB);
  const u = new URL(redis);
  u.pathname = '/' + BROWSER_REDIS_DB;
  process.env.FLICK_REDIS_URL = u.toString();
  await run('redis-cli', ['-u', process.env.FLICK_REDIS_URL, 'FLUSHDB']);
  await cli('migrate');
}

// ---- accounts and posts, made through the API and the operator commands ----

// A new adult account with the known password: {username, token, id}.
export async function signup(srv, prefix = 'web') {
  const username = uniqueName(prefix);
  const code = await cli('admin', 'invite');
  const body = await srv.expect(201, 'POST', '/v1/auth/signup', {
    body: { invite_code: code, username, password: PASSWORD, birth_year: 1990 },
  });
  return { username, token: body.token, id: body.user.id };
}

// An admin made by the operator command (random password): {username, token}.
export async function createAdmin() {
  const username = uniqueName('webadm');
  return { username, token: await cli('admin', 'create-user', username, '--role', 'admin') };
}

// A signed-up account (known password) that an admin promotes to moderator over the API.
export async function moderator(srv, admin) {
  const u = await signup(srv, 'webmod');
  await srv.expect(200, 'PUT', '/v1/admin/users/' + u.username + '/role', { token: admin.token, body: { role: 'moderator' } });
  return u;
}

// A published post of `author` with real media: a generation rendered by the builtin
// engine, then published with `caption`. Resolves to the post.
export async function publishedPost(srv, author, prompt, caption) {
  const gen = await srv.expect(202, 'POST', '/v1/generations', { token: author.token, body: { prompt, seconds: 4 } });
  const deadline = Date.now() + 120000;
  let g = gen;
  while (g.status === 'queued' || g.status === 'running') {
    if (Date.now() > deadline) throw new Error('generation ' + gen.id + ' did not finish in time');
    await sleep(200);
    g = await srv.expect(200, 'GET', '/v1/generations/' + gen.id, { token: author.token });
  }
  if (g.status !== 'succeeded') throw new Error('generation ' + gen.id + ' ended ' + g.status + ': ' + JSON.stringify(g.error));
  return srv.expect(200, 'POST', '/v1/posts/' + g.post_id + '/publish', { token: author.token, body: { caption } });
}

// ---- the browser ----

export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.FLICK_CHROMIUM || '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
    timeout: 60000,
  });
}

// ---- running tests ----

// Runs each test in order with a fresh browser context (so sessionStorage starts empty);
// a test fails on a thrown error and on any script error or console error the page
// reported while it ran. Prints one line per test and returns {passed, failed}.
export async function runTests(tests, { browser, only }) {
  let passed = 0;
  let failed = 0;
  for (const [name, fn] of tests) {
    if (only && !name.includes(only)) continue;
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    context.setDefaultTimeout(15000);
    const pageErrors = [];
    context.on('page', (page) => {
      page.on('pageerror', (e) => pageErrors.push('script error: ' + e.message));
      page.on('console', (m) => {
        // A refused request is the console reporting an API answer; anything else is a fault.
        if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of (401|403|404|409)/.test(m.text())) {
          pageErrors.push('console error: ' + m.text());
        }
      });
    });
    const started = Date.now();
    try {
      await fn(context);
      if (pageErrors.length) throw new Error(pageErrors.join('\n'));
      passed += 1;
      console.log('ok   ' + name + ' (' + ((Date.now() - started) / 1000).toFixed(1) + ' s)');
    } catch (e) {
      failed += 1;
      console.log('FAIL ' + name + '\n' + String(e && e.stack ? e.stack : e).split('\n').slice(0, 12).map((l) => '     ' + l).join('\n'));
    } finally {
      await context.close();
    }
  }
  return { passed, failed };
}
