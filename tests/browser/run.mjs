#!/usr/bin/env node
// Runs the browser suite: starts flickd (FLICK_BIN) against the PostgreSQL and Redis that
// scripts/test.sh started, makes the accounts and reported posts, and drives the moderator
// console in Debian's chromium. The last line is `browser: N passed, N failed`; the exit
// status is 0 only if nothing failed.
//
//     node tests/browser/run.mjs            every test
//     node tests/browser/run.mjs claims     only tests whose name contains the word
//
// FLICK_CHROMIUM overrides /usr/bin/chromium; FLICK_BROWSER_WATCHDOG_S (600) ends a hung run.
import { Server, isolateDatabase, launchBrowser, runTests } from './harness.mjs';
import { setUp, tests } from './console.mjs';

const WATCHDOG_S = Number(process.env.FLICK_BROWSER_WATCHDOG_S || 600);

async function main() {
  const only = process.argv[2];
  let passed = 0;
  let failed = 0;
  const srv = new Server();
  let browser = null;
  // A hung run must not hang the caller: report and leave without the summary line.
  const watchdog = setTimeout(() => {
    console.log('browser: watchdog fired after ' + WATCHDOG_S + ' s');
    srv.kill();
    process.exit(2);
  }, WATCHDOG_S * 1000);
  try {
    await isolateDatabase();
    await srv.start();
    browser = await launchBrowser();
    const shared = await setUp(srv);
    ({ passed, failed } = await runTests(tests(shared), { browser, only }));
  } catch (e) {
    failed += 1;
    console.log('FAIL set-up\n     ' + String(e && e.stack ? e.stack : e).split('\n').slice(0, 15).join('\n     '));
  } finally {
    if (browser) await browser.close().catch(() => {});
    try {
      await srv.stop();
    } catch (e) {
      failed += 1;
      console.log('FAIL flickd shutdown\n     ' + String(e.message).split('\n').join('\n     '));
    }
    clearTimeout(watchdog);
  }
  console.log('browser: ' + passed + ' passed, ' + failed + ' failed');
  process.exitCode = failed ? 1 : 0;
}

main();
