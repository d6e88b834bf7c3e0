// The moderator console in a real browser: serving (/console/, caching, no path outside the
// folder), sign-in and refusal, the queue with a reported post's media and untrusted
// caption, claim and decide, a case held by someone else, the audit log and its paging, and
// the end of a session. Tests run in order and share the accounts and posts of setUp().
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { ROOT, Server, PASSWORD, createAdmin, moderator, publishedPost, signup } from './harness.mjs';

// A caption that would run script or load an image if it were ever parsed as HTML.
export const HOSTILE_CAPTION = 'look <script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> & <b>bold</b>';

// Accounts and two reported posts, made through the API: case A (three reporters, the
// hostile caption) outranks case B (one reporter).
export async function setUp(srv) {
  const admin = await createAdmin();
  const [mod, mod2, author, plain, r1, r2, r3] = await Promise.all([
    moderator(srv, admin), moderator(srv, admin), signup(srv, 'webauth'), signup(srv, 'webuser'),
    signup(srv, 'webrep'), signup(srv, 'webrep'), signup(srv, 'webrep'),
  ]);
  const [postA, postB] = await Promise.all([
    publishedPost(srv, author, 'a lighthouse in a storm at night', HOSTILE_CAPTION),
    publishedPost(srv, author, 'a quiet harbour at dawn', 'morning boats'),
  ]);
  const report = (u, post, reason, note) =>
    srv.expect(201, 'POST', '/v1/posts/' + post.id + '/reports', { token: u.token, body: { reason, note } });
  await report(r1, postA, 'spam', 'posted everywhere');
  await report(r2, postA, 'spam', undefined);
  await report(r3, postA, 'harassment', 'mocks a classmate');
  await report(r1, postB, 'other', undefined);
  const queue = await srv.expect(200, 'GET', '/v1/moderation/queue?limit=100', { token: mod.token });
  const caseOf = (post) => (queue.items.find((c) => String(c.post.id) === String(post.id)) || {}).id;
  const [caseA, caseB] = [caseOf(postA), caseOf(postB)];
  if (!caseA || !caseB) throw new Error('the reported posts have no open cases: ' + JSON.stringify(queue));
  return { srv, admin, mod, mod2, author, plain, postA, postB, caseA, caseB };
}

// ---- page helpers ----

async function openConsole(context, srv) {
  const page = await context.newPage();
  await page.goto(srv.base + '/console/');
  return page;
}

// Signs in through the form; resolves to the token the login answer carried.
async function signIn(page, user) {
  await page.getByLabel('Username').fill(user.username);
  await page.getByLabel('Password').fill(PASSWORD);
  const [login] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/v1/auth/login')),
    page.getByRole('button', { name: 'Sign in' }).click(),
  ]);
  const body = await login.json();
  if (login.status() !== 200) throw new Error('sign-in of ' + user.username + ' answered ' + login.status() + ' ' + JSON.stringify(body));
  return body.token;
}

// Waits until the page has read the whole of `answer` and run what it queued after.
async function settle(page, answer) {
  await answer.finished();
  await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 100)));
}

const caseCard = (page, id) => page.locator('article.case[data-case-id="' + id + '"]');

// A raw GET whose path is sent exactly as written (fetch would resolve "..").
function rawGet(port, rawPath) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: rawPath, method: 'GET' }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

// ---- the tests ----

export function tests(s) {
  const { srv } = s;
  return [
    ['serves the console with its types, caching and redirect', async () => {
      const redirect = await srv.request('GET', '/console');
      assert.equal(redirect.status, 301);
      assert.equal(redirect.headers.get('location'), '/console/');

      const page = await srv.request('GET', '/console/');
      assert.equal(page.status, 200);
      assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
      assert.equal(page.headers.get('cache-control'), 'no-cache');
      assert.match(page.headers.get('content-security-policy'), /script-src 'self'/);
      assert.match(page.text, /<script src="console.js"/);
      const etag = page.headers.get('etag');
      assert.match(etag, /^"[0-9a-f]{32}"$/);
      const again = await srv.request('GET', '/console/', { headers: { 'If-None-Match': etag } });
      assert.equal(again.status, 304);
      assert.equal(again.text, '');
      assert.equal((await srv.request('GET', '/console/', { headers: { 'If-None-Match': '"other"' } })).status, 200);

      for (const [file, type] of [['console.js', 'text/javascript; charset=utf-8'], ['console.css', 'text/css; charset=utf-8'],
        ['index.html', 'text/html; charset=utf-8'], ['favicon.svg', 'image/svg+xml']]) {
        const r = await srv.request('GET', '/console/' + file);
        assert.equal(r.status, 200, file);
        assert.equal(r.headers.get('content-type'), type, file);
        assert.equal(r.text, fs.readFileSync(path.join(ROOT, 'web', 'console', file), 'utf8'), file);
      }
    }],

    ['never serves a path outside the console folder', async () => {
      const outside = ['/console/../README.md', '/console/../../etc/passwd', '/console/%2e%2e/README.md',
        '/console/..%2fREADME.md', '/console/%2e%2e%2f%2e%2e%2fetc%2fpasswd', '/console//etc/passwd',
        '/console/%2fetc%2fpasswd', '/console/index.html%00.css', '/console/.hidden', '/console/missing.js',
        '/console/sub/index.html', '/console/console%2ejs'];
      for (const p of outside) {
        const r = await rawGet(srv.port, p);
        assert.equal(r.status, 404, p + ' answered ' + r.status);
        assert.doesNotMatch(r.body, /root:|flick is the backend/, p);
      }
      // A folder of its own (FLICK_WEB_DIR), holding a link to a file elsewhere and a sub-folder.
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flick-web-'));
      const other = new Server({ FLICK_WEB_DIR: dir, FLICK_WORKERS: '0' });
      try {
        fs.mkdirSync(path.join(dir, 'console', 'sub'), { recursive: true });
        fs.writeFileSync(path.join(dir, 'console', 'index.html'), '<!doctype html><title>other</title>');
        fs.writeFileSync(path.join(dir, 'console', 'sub', 'inner.txt'), 'inner');
        fs.writeFileSync(path.join(dir, 'secret.txt'), 'secret');
        fs.symlinkSync(path.join(dir, 'secret.txt'), path.join(dir, 'console', 'link.txt'));
        await other.start();
        const index = await other.request('GET', '/console/');
        assert.equal(index.status, 200);
        assert.equal(index.text, '<!doctype html><title>other</title>');
        for (const p of ['/console/link.txt', '/console/sub', '/console/sub/inner.txt', '/console/console.js',
          '/console/../secret.txt', '/console/%2e%2e/secret.txt']) {
          assert.equal((await rawGet(other.port, p)).status, 404, p);
        }
      } finally {
        await other.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }],

    ['shows the API message when sign-in fails', async (context) => {
      const page = await openConsole(context, srv);
      const api = await srv.request('POST', '/v1/auth/login', { body: { username: s.mod.username, password: 'wrong password!' } });
      assert.equal(api.status, 401);
      await page.getByLabel('Username').fill(s.mod.username);
      await page.getByLabel('Password').fill('wrong password!');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('#signin-error').waitFor();
      assert.equal(await page.locator('#signin-error').textContent(), api.body.error.message);
      assert.equal(await page.locator('#view-queue').isVisible(), false);
      assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    }],

    ['tells a user who is not a moderator that the console is for moderators', async (context) => {
      const page = await openConsole(context, srv);
      const token = await signIn(page, s.plain);
      const refusal = page.locator('#refused-text');
      await refusal.waitFor();
      assert.match(await refusal.textContent(), /This console is for moderators/);
      assert.match(await refusal.textContent(), new RegExp('@' + s.plain.username));
      assert.equal(await page.locator('#view-queue').isVisible(), false);
      assert.equal(await page.locator('#nav').isVisible(), false);
      // The console keeps no token it cannot use, and ends that session.
      assert.equal(await page.evaluate(() => sessionStorage.length), 0);
      assert.equal((await srv.request('GET', '/v1/me', { token })).status, 401);
      await page.getByRole('button', { name: 'Sign in as someone else' }).click();
      await page.getByLabel('Username').waitFor();
    }],

    ['shows the reported post, its media and reports, and the caption as text', async (context) => {
      const page = await openConsole(context, srv);
      const queued = page.waitForResponse((r) => r.url().includes('/v1/moderation/queue?'));
      await signIn(page, s.mod);
      const q = await (await queued).json();
      const card = caseCard(page, s.caseA);
      await card.waitFor();
      assert.equal(await page.locator('#who-name').textContent(), '@' + s.mod.username);

      // Highest priority first: A (three reporters) before B (one).
      const order = await page.locator('#queue-list article.case').evaluateAll((els) => els.map((e) => e.dataset.caseId));
      assert.ok(order.indexOf(String(s.caseA)) >= 0 && order.indexOf(String(s.caseA)) < order.indexOf(String(s.caseB)), 'order ' + order);
      const apiCase = q.items.find((c) => String(c.id) === String(s.caseA));
      assert.equal(await card.locator('.priority').textContent(), String(apiCase.priority));

      assert.equal(await card.locator('.reporters').textContent(), '3 reporters');
      const reasons = await card.locator('.reason').allTextContents();
      assert.deepEqual(reasons, ['Spam × 2', 'Harassment × 1']);
      assert.equal(await card.locator('.author').textContent(), '@' + s.author.username);
      assert.equal(await card.locator('.prompt').textContent(), 'a lighthouse in a storm at night');

      // The caption is text: the markup shows as written, nothing in it ran or loaded.
      const caption = card.locator('.caption');
      assert.equal(await caption.textContent(), HOSTILE_CAPTION);
      assert.equal(await caption.evaluate((e) => e.childElementCount), 0);
      assert.equal(await page.evaluate(() => window.__pwned), undefined);
      assert.equal(await page.locator('main script, main img[src="x"], main b').count(), 0);

      // The poster shows, and the video plays on demand, from the post's media (fetched
      // with the token: a hidden post's signed URLs open nothing).
      assert.equal(s.postA.status === 'published' && (await srv.request('GET', '/v1/posts/' + s.postA.id, { token: s.mod.token })).body.status, 'hidden',
        'three reporters hide the post');
      const bare = (u) => new URL(u, srv.base).pathname;
      const poster = card.locator('.media img');
      await page.waitForFunction((img) => img.complete && img.naturalWidth > 0, await poster.elementHandle());
      assert.match(await poster.getAttribute('src'), /^blob:/);
      const [videoAnswer] = await Promise.all([
        page.waitForResponse((r) => r.url().includes('/v1/media/')),
        card.getByRole('button', { name: 'Play video' }).click(),
      ]);
      assert.equal(bare(videoAnswer.url()), bare(s.postA.media.video.url));
      assert.equal(videoAnswer.status(), 200);
      assert.equal(videoAnswer.headers()['content-type'], 'video/mp4');
      const video = card.locator('video');
      await video.waitFor();
      assert.match(await video.getAttribute('src'), /^blob:/);
      assert.equal(await video.evaluate((v) => v === document.activeElement), true, 'the player takes focus');
    }],

    ['fits a phone screen', async (context) => {
      const page = await openConsole(context, srv);
      await page.setViewportSize({ width: 375, height: 740 });
      await signIn(page, s.mod);
      await caseCard(page, s.caseA).waitFor();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, 'page is ' + overflow + ' px wider than the screen');
      // Media above the details: one column.
      const box = await caseCard(page, s.caseA).locator('.media').boundingBox();
      const details = await caseCard(page, s.caseA).locator('.details').boundingBox();
      assert.ok(details.y >= box.y + box.height - 1, 'details sit below the media');
    }],

    ['claims the next case and removes the post; the audit log shows it', async (context) => {
      const page = await openConsole(context, srv);
      await signIn(page, s.mod);
      await caseCard(page, s.caseA).waitFor();
      await page.getByRole('button', { name: 'Claim next case' }).click();
      const mine = page.locator('#claimed ' + 'article.case[data-case-id="' + s.caseA + '"]');
      await mine.waitFor();
      assert.match(await mine.locator('.case-state').textContent(), /^Claimed by you until /);
      assert.match(await page.locator('#queue-status').textContent(), new RegExp('You hold case ' + s.caseA));
      assert.equal(await page.locator('#queue-list article.case[data-case-id="' + s.caseA + '"]').count(), 0, 'shown once');
      assert.equal(await page.evaluate(() => document.activeElement.closest('#claimed') !== null &&
        document.activeElement.name === 'action'), true, 'the decision has the focus');

      await mine.getByLabel(/Remove/).check();
      await mine.getByLabel(/Note/).fill('spam, <i>repeatedly</i>');
      await mine.getByRole('button', { name: 'Decide case ' + s.caseA }).click();
      await page.locator('#queue-status', { hasText: 'Case ' + s.caseA + ' decided: remove.' }).waitFor();
      await caseCard(page, s.caseA).waitFor({ state: 'detached' });
      assert.equal(await page.locator('#claimed').isVisible(), false);

      // The decision took effect: the post is removed.
      const post = await srv.expect(200, 'GET', '/v1/posts/' + s.postA.id, { token: s.mod.token });
      assert.equal(post.status, 'removed');

      await page.getByRole('button', { name: 'Audit log' }).click();
      const row = page.locator('#audit-rows tr').first();
      await row.waitFor();
      const cells = await row.locator('td').allTextContents();
      assert.equal(cells[1], '@' + s.mod.username);
      assert.equal(cells[2], 'remove');
      assert.equal(cells[4], String(s.caseA));
      assert.equal(cells[5], 'spam, <i>repeatedly</i>');
      assert.equal(await row.locator('td.note').evaluate((e) => e.childElementCount), 0);
    }],

    ['says so when a case is held by another moderator', async (context) => {
      const claimed = await srv.request('POST', '/v1/moderation/queue/claim', { token: s.mod2.token });
      assert.equal(claimed.status, 200);
      assert.equal(String(claimed.body.id), String(s.caseB));
      const page = await openConsole(context, srv);
      await signIn(page, s.mod);
      const card = caseCard(page, s.caseB);
      await card.waitFor();
      assert.equal(await card.locator('.case-state').textContent(), 'Claimed by @' + s.mod2.username);
      await card.getByLabel(/Dismiss/).check();
      const [answer] = await Promise.all([
        page.waitForResponse((r) => r.url().includes('/decision')),
        card.getByRole('button', { name: 'Decide case ' + s.caseB }).click(),
      ]);
      assert.equal(answer.status(), 409);
      await card.locator('.error', { hasText: 'This case is held by another moderator.' }).waitFor();
      const after = await srv.expect(200, 'GET', '/v1/posts/' + s.postB.id, { token: s.mod.token });
      assert.notEqual(after.status, 'removed');
      // Its holder decides it, which empties the queue for the next test.
      await srv.expect(200, 'POST', '/v1/moderation/cases/' + s.caseB + '/decision', { token: s.mod2.token, body: { action: 'dismiss' } });
    }],

    ['reports an empty queue', async (context) => {
      const page = await openConsole(context, srv);
      await signIn(page, s.mod);
      await page.locator('#queue-empty', { hasText: 'No open cases. The queue is empty.' }).waitFor();
      const [answer] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/v1/moderation/queue/claim')),
        page.getByRole('button', { name: 'Claim next case' }).click(),
      ]);
      assert.equal(answer.status(), 204);
      await page.locator('#queue-status', { hasText: 'The queue is empty: there is no case to claim.' }).waitFor();
      assert.equal(await page.locator('article.case').count(), 0);
    }],

    ['keeps a claimed case when an older answer of the queue arrives late', async (context) => {
      const post = await publishedPost(srv, s.author, 'a red kite over the dunes', 'kite day');
      await srv.expect(201, 'POST', '/v1/posts/' + post.id + '/reports', { token: s.plain.token, body: { reason: 'spam' } });
      const page = await openConsole(context, srv);
      // The console's first queue load is answered before the claim, and that answer is held
      // back until the claim has been shown.
      let release;
      const held = new Promise((resolve) => { release = resolve; });
      let answered;
      const before = new Promise((resolve) => { answered = resolve; });
      let first = true;
      await page.route('**/v1/moderation/queue?*', async (route) => {
        if (!first) return route.continue();
        first = false;
        const old = await route.fetch();
        answered();
        await held;
        await route.fulfill({ response: old });
      });
      await signIn(page, s.mod);
      await before;
      const [claim] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/v1/moderation/queue/claim')),
        page.getByRole('button', { name: 'Claim next case' }).click(),
      ]);
      assert.equal(claim.status(), 200);
      const claimed = await claim.json();
      assert.equal(String(claimed.post.id), String(post.id));
      const mine = page.locator('#claimed article.case[data-case-id="' + claimed.id + '"]');
      await mine.waitFor();
      // The claim's own queue load has been shown: the next answer is the held one.
      const late = page.waitForResponse((r) => r.url().includes('/v1/moderation/queue?'));
      release();
      await settle(page, await late);
      assert.equal(await mine.isVisible(), true, 'the claimed case is still shown');
      assert.match(await page.locator('#queue-status').textContent(), new RegExp('You hold case ' + claimed.id));
      await srv.expect(200, 'POST', '/v1/moderation/cases/' + claimed.id + '/decision', { token: s.mod.token, body: { action: 'dismiss' } });
    }],

    ['pages through the audit log with its cursor', async (context) => {
      // Role changes are audited too: enough of them to need more than one page.
      const target = await signup(srv, 'webrole');
      for (let i = 0; i < 22; i++) {
        await srv.expect(200, 'PUT', '/v1/admin/users/' + target.username + '/role',
          { token: s.admin.token, body: { role: i % 2 === 0 ? 'moderator' : 'user' } });
      }
      let total = 0;
      let cursor = null;
      do {
        const pageBody = await srv.expect(200, 'GET', '/v1/moderation/audit?limit=100' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''), { token: s.mod.token });
        total += pageBody.items.length;
        cursor = pageBody.next_cursor;
      } while (cursor);
      assert.ok(total > 22);

      const page = await openConsole(context, srv);
      await signIn(page, s.mod);
      await page.getByRole('button', { name: 'Audit log' }).click();
      const rows = page.locator('#audit-rows tr');
      const more = page.getByRole('button', { name: 'Load older entries' });
      await more.waitFor();
      assert.equal(await rows.count(), 20);
      while (await more.isVisible()) {
        const before = await rows.count();
        await more.click();
        await page.waitForFunction((n) => document.querySelectorAll('#audit-rows tr').length > n, before);
      }
      assert.equal(await rows.count(), total);
      const times = await page.locator('#audit-rows time').evaluateAll((els) => els.map((e) => Date.parse(e.getAttribute('datetime'))));
      for (let i = 1; i < times.length; i++) assert.ok(times[i] <= times[i - 1], 'newest first at row ' + i);
    }],

    ['keeps the session across a reload and ends it on sign-out', async (context) => {
      const page = await openConsole(context, srv);
      const token = await signIn(page, s.mod);
      await page.locator('#view-queue').waitFor();
      await page.reload();
      await page.locator('#view-queue').waitFor();
      assert.equal(await page.locator('#who-name').textContent(), '@' + s.mod.username);
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByLabel('Username').waitFor();
      assert.equal(await page.locator('#banner').textContent(), 'You are signed out.');
      assert.equal(await page.evaluate(() => sessionStorage.length), 0);
      assert.equal((await srv.request('GET', '/v1/me', { token })).status, 401);
      await page.reload();
      await page.getByLabel('Username').waitFor();
      assert.equal(await page.locator('#view-queue').isVisible(), false);
    }],

    ['says "signed out" when a request that was still out comes back refused', async (context) => {
      const page = await openConsole(context, srv);
      // Hold the console's first queue load until the sign-out has gone through: the server
      // then refuses it (401) with the token that was just signed out.
      let release;
      const held = new Promise((resolve) => { release = resolve; });
      let out;
      const sent = new Promise((resolve) => { out = resolve; });
      await page.route('**/v1/moderation/queue?*', async (route) => {
        out();
        await held;
        await route.continue();
      });
      await signIn(page, s.mod);
      await sent;
      await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/v1/auth/logout')),
        page.getByRole('button', { name: 'Sign out' }).click(),
      ]);
      await page.getByLabel('Username').waitFor();
      const late = page.waitForResponse((r) => r.url().includes('/v1/moderation/queue?'));
      release();
      const answer = await late;
      assert.equal(answer.status(), 401);
      await settle(page, answer);
      assert.equal(await page.locator('#banner').textContent(), 'You are signed out.');
      assert.equal(await page.getByLabel('Username').isVisible(), true);
    }],

    ['returns to sign-in when the session ends elsewhere', async (context) => {
      const page = await openConsole(context, srv);
      // The session ends only once the console has finished loading the queue, so that it is
      // the Refresh below, not the console's own first load, that meets the 401.
      const queued = page.waitForResponse((r) => r.url().includes('/v1/moderation/queue?'));
      const token = await signIn(page, s.mod);
      await queued;
      await page.locator('#view-queue').waitFor();
      await srv.expect(204, 'POST', '/v1/auth/logout', { token });
      await page.getByRole('button', { name: 'Refresh' }).first().click();
      await page.locator('#banner', { hasText: 'Your session has ended. Sign in again.' }).waitFor();
      await page.getByLabel('Username').waitFor();
      assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    }],
  ];
}
