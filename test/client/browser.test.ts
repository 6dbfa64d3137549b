/**
 * The SDK in a real browser: Debian's Chromium driven by playwright-core loads a page from a tiny
 * static server, which imports the minified bundle (built here by libs/client/scripts/bundle.mjs)
 * and gets its token from the page's server (an async token provider). The page connects, shows a
 * push, survives an edge restart and shows the pushes after it; the test reads them from the DOM.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bytes, startClientTopology, subjects, type ClientTopology } from './topology.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const CHROMIUM = process.env['CHROMIUM_BIN'] ?? '/usr/bin/chromium';

let mesh: ClientTopology;
let site: Server;
let siteUrl: string;
let browser: Browser;
let tokensServed = 0;

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>Session Mesh SDK</title></head>
<body>
  <p>state: <span id="state">idle</span>, connections: <span id="welcomes">0</span>, client: <span id="client"></span></p>
  <ul id="messages"></ul>
  <script type="module">
    import { createClient } from '/session-mesh-client.min.js';
    const mesh = new URLSearchParams(location.search).get('mesh');
    const client = createClient({
      url: mesh,
      // An async token provider: the page asks its own server, as an app would ask its backend.
      token: () => fetch('/token', { method: 'POST' }).then((r) => r.text()),
      backoff: { baseMs: 100, maxMs: 1000 },
    });
    const $ = (id) => document.getElementById(id);
    client.on('state', ({ state }) => ($('state').textContent = state));
    client.on('welcome', (w) => {
      $('welcomes').textContent = String(Number($('welcomes').textContent) + 1);
      $('client').textContent = w.client;
    });
    client.onPush((push) => {
      const li = document.createElement('li');
      li.textContent = push.text();
      if (push.position !== undefined) li.dataset.position = String(push.position);
      if (push.recovered) li.dataset.recovered = 'true';
      $('messages').append(li);
    });
    client.connect();
    window.meshClient = client;
  </script>
</body></html>`;

beforeAll(async () => {
  mesh = await startClientTopology();
  execFileSync(process.execPath, ['libs/client/scripts/bundle.mjs'], { cwd: repoRoot, stdio: 'pipe' });
  const bundle = readFileSync(`${repoRoot}libs/client/dist/session-mesh-client.min.js`);
  site = createServer((req, res) => {
    if (req.url === '/session-mesh-client.min.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    } else if (req.url === '/token' && req.method === 'POST') {
      tokensServed++;
      void mesh.token({ sub: 'browser-user', jti: 'browser-session' }).then((t) => res.writeHead(200, { 'content-type': 'text/plain' }).end(t));
    } else if (req.url?.startsWith('/?') || req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}/`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => site?.close(resolve));
  await mesh?.stop();
});

// Page-side expressions are strings: the tests are type-checked without the DOM library.
const messages = (page: Page) => page.locator('#messages li').allTextContents();
const until = (page: Page, expression: string, timeout = 10_000) => page.waitForFunction(expression, undefined, { timeout });
const state = (s: string) => `document.getElementById('state')?.textContent === '${s}'`;
const shown = (n: number) => `document.querySelectorAll('#messages li').length === ${n}`;
const text = (page: Page, id: string) => page.locator(`#${id}`).textContent();

it('a page using the bundle connects, shows pushes, survives an edge restart and shows the pushes after it', async () => {
  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(`${siteUrl}?mesh=${encodeURIComponent(mesh.url)}`);
  await until(page, state('open'), 15_000);
  const clientId = await text(page, 'client');
  expect(clientId).toMatch(/.+/);
  // The tab's id is in sessionStorage, where a reload finds it.
  expect(await page.evaluate("sessionStorage.getItem('session-mesh.client')")).toBe(clientId);

  mesh.backend.publish(subjects.pushUser('browser-user'), bytes('before restart'));
  await until(page, shown(1));

  await mesh.edge().stop();
  await until(page, `!(${state('open')})`);
  await mesh.startEdge();
  await until(page, `document.getElementById('welcomes')?.textContent === '2' && ${state('open')}`, 20_000);
  mesh.backend.publish(subjects.pushUser('browser-user'), bytes('after restart 1'));
  mesh.backend.publish(subjects.pushUser('browser-user'), bytes('after restart 2'));
  await until(page, shown(3));

  expect(await messages(page)).toEqual(['before restart', 'after restart 1', 'after restart 2']);
  // Same tab, same client id after the reconnect.
  expect(await text(page, 'client')).toBe(clientId);
  expect(tokensServed).toBeGreaterThanOrEqual(1);
  expect(pageErrors).toEqual([]);
  await page.close();
});
