// Web benchmark: initial JavaScript (gzipped and as sent) and the time from navigation to an
// interactive chat, on localhost in headless Chromium (Debian's /usr/bin/chromium).
//
//   cd web && npm run bench            (builds the app and the server first)
//   BENCH_RUNS=30 npm run bench        (more samples)
//
// It starts its own `apex serve` on a free 127.0.0.1 port with a temporary data directory and
// stops it at the end. The baseline in the same run is the signed-out sign-in form: the same
// bundle with no API calls, so the difference is what the chat adds (config, threads, WebSocket).

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const web = resolve(here, '..');
const repo = resolve(web, '..');
const webRoot = join(repo, 'src', 'Apex.Server', 'wwwroot');
const runs = Number(process.env.BENCH_RUNS ?? 15);
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
    srv.on('error', fail);
  });
}

async function waitFor(url, ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer within ${ms} ms`);
}

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { median: q(0.5), p95: q(0.95), min: s[0] };
};
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const ms = (n) => `${Math.round(n)} ms`;

console.log('building the web app and the server (Release)…');
execFileSync('npm', ['run', 'build', '--silent'], { cwd: web, stdio: 'inherit' });
execFileSync('dotnet', ['build', join(repo, 'src', 'Apex.Server'), '-c', 'Release', '-nologo', '-v', 'quiet'], { stdio: 'inherit' });

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const dataDir = mkdtempSync(join(tmpdir(), 'apex-bench-'));
const server = spawn(
  'dotnet',
  [join(repo, 'src', 'Apex.Server', 'bin', 'Release', 'net10.0', 'apex.dll'), 'serve', `--urls=${base}`, `--Apex:DataDir=${dataDir}`, `--Web:Root=${webRoot}`],
  { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ASPNETCORE_ENVIRONMENT: 'Production' } },
);
const stopServer = () => {
  if (server.exitCode === null) server.kill('SIGTERM');
};
process.on('exit', stopServer);

let browser;
try {
  await waitFor(`${base}/health/live`, 60_000);

  // 1. The initial JavaScript: every script index.html loads before the app runs.
  const html = await (await fetch(`${base}/`)).text();
  const srcs = [...html.matchAll(/<script[^>]*\bsrc="([^"]+)"/g), ...html.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="([^"]+)"/g)].map((m) => m[1]);
  let raw = 0;
  let gz = 0;
  for (const src of srcs) {
    const body = Buffer.from(await (await fetch(new URL(src, base))).arrayBuffer());
    raw += body.length;
    gz += gzipSync(body, { level: 9 }).length;
  }

  // 2. A user and a signed-in session, as the app stores it after sign-in.
  const reg = await fetch(`${base}/auth/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email: `bench-${Date.now()}@example.com`, password: 'bench-password-not-common-42' }),
  });
  if (!reg.ok) throw new Error(`register failed: ${reg.status} ${await reg.text()}`);
  const pair = await reg.json();
  const stored = JSON.stringify({
    accessToken: pair.access_token,
    refreshToken: pair.refresh_token,
    accessExpiresAt: Date.now() + pair.expires_in * 1000,
    user: pair.user,
  });

  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });

  // Marks performance.now() (ms since navigation start) when the condition first holds.
  const probe = (selector) => `(() => {
    const check = () => {
      if (window.__ready === undefined && document.querySelector(${JSON.stringify(selector)})) window.__ready = performance.now();
    };
    new MutationObserver(check).observe(document, { subtree: true, childList: true, attributes: true });
  })();`;
  const chatReady = '[data-testid="connection-status"][data-status="connected"]';
  const composerReady = '#composer-input';

  async function measure(signedIn, warm) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    if (signedIn) await context.addInitScript(`localStorage.setItem('apex.session', ${JSON.stringify(stored)});`);
    await context.addInitScript(probe(signedIn ? chatReady : 'input[type="email"]'));
    const page = await context.newPage();
    let sent = 0;
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    const scripts = new Set();
    cdp.on('Network.responseReceived', (e) => {
      if (e.type === 'Script') scripts.add(e.requestId);
    });
    cdp.on('Network.loadingFinished', (e) => {
      if (scripts.has(e.requestId)) sent += e.encodedDataLength;
    });
    if (warm) {
      await page.goto(base);
      await page.waitForFunction(() => window.__ready !== undefined);
      sent = 0;
      await page.reload();
    } else {
      await page.goto(base);
    }
    await page.waitForFunction(() => window.__ready !== undefined, null, { timeout: 30_000 });
    if (signedIn) await page.waitForSelector(composerReady);
    const t = await page.evaluate(() => window.__ready);
    await context.close();
    return { t, sent };
  }

  // Scenarios are interleaved so a busy machine slows all of them alike.
  const scenarios = [
    { name: 'sign-in form, cold cache (baseline)', signedIn: false, warm: false, samples: [], sent: 0 },
    { name: 'interactive chat, cold cache', signedIn: true, warm: false, samples: [], sent: 0 },
    { name: 'interactive chat, warm cache', signedIn: true, warm: true, samples: [], sent: 0 },
  ];
  for (const sc of scenarios) await measure(sc.signedIn, sc.warm); // warm-up
  for (let i = 0; i < runs; i++) {
    for (const sc of scenarios) {
      const r = await measure(sc.signedIn, sc.warm);
      sc.samples.push(r.t);
      sc.sent = r.sent;
    }
  }
  const rows = scenarios.map((sc) => ({ name: sc.name, ...stats(sc.samples), sent: sc.sent }));

  const budget = 150 * 1024;
  console.log('');
  console.log(`Initial JavaScript: ${srcs.length} file(s), ${kb(raw)} raw, ${kb(gz)} gzipped (budget ${kb(budget)}: ${gz <= budget ? 'within' : 'OVER'})`);
  console.log('');
  console.log(`| scenario (${runs} runs each) | median | p95 | min | JS bytes on the wire |`);
  console.log('|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.name} | ${ms(r.median)} | ${ms(r.p95)} | ${ms(r.min)} | ${kb(r.sent)} |`);
  const base0 = rows[0].median;
  console.log('');
  const d = rows[1].median - base0;
  console.log(`chat vs baseline (cold, median): ${d >= 0 ? '+' : '-'}${ms(Math.abs(d))}; chromium ${browser.version()}, node ${process.version}`);
  if (gz > budget) process.exitCode = 1;
} finally {
  await browser?.close();
  stopServer();
  await new Promise((r) => (server.exitCode === null ? server.once('exit', r) : r()));
  rmSync(dataDir, { recursive: true, force: true });
}

