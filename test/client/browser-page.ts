/**
 * The browser side of the SDK tests: a tiny static server serving a page that imports the minified
 * bundle (built by libs/client/scripts/bundle.mjs) and gets its token from that server (an async
 * token provider, as an app would ask its backend), and Debian's Chromium driven by playwright-core.
 * The page shows the connection state, the welcomes, the tab's client id, the resume outcome and
 * every push (text, position, recovered flag) for the tests to read.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { ClientTopology } from './topology.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const CHROMIUM = process.env['CHROMIUM_BIN'] ?? '/usr/bin/chromium';

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>Session Mesh SDK</title></head>
<body>
  <p>state: <span id="state">idle</span>, connections: <span id="welcomes">0</span>, client: <span id="client"></span>,
     resumed: <span id="resume"></span></p>
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
    client.on('resume', (r) => ($('resume').textContent = r.recovered ? 'recovered' : 'not recovered'));
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

export interface BrowserSite {
  /** The page's URL, pointed at the topology's edge. */
  readonly pageUrl: string;
  readonly browser: Browser;
  tokensServed(): number;
  /** A new tab on the page (its own sessionStorage), recording page errors. */
  open(): Promise<{ page: Page; errors: string[] }>;
  close(): Promise<void>;
}

export async function startBrowserSite(mesh: ClientTopology, user: string): Promise<BrowserSite> {
  execFileSync(process.execPath, ['libs/client/scripts/bundle.mjs'], { cwd: repoRoot, stdio: 'pipe' });
  const bundle = readFileSync(`${repoRoot}libs/client/dist/session-mesh-client.min.js`);
  let tokensServed = 0;
  const site = createServer((req, res) => {
    if (req.url === '/session-mesh-client.min.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    } else if (req.url === '/token' && req.method === 'POST') {
      tokensServed++;
      void mesh.token({ sub: user }).then((t) => res.writeHead(200, { 'content-type': 'text/plain' }).end(t));
    } else if (req.url?.startsWith('/?') || req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  const pageUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}/?mesh=${encodeURIComponent(mesh.url)}`;
  const closeSite = () => new Promise((resolve) => site.close(resolve));
  let browser: Browser;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  } catch (err) {
    await closeSite();
    throw err;
  }
  return {
    pageUrl,
    browser,
    tokensServed: () => tokensServed,
    open: async () => {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(err.message));
      await page.goto(pageUrl);
      return { page, errors };
    },
    close: async () => {
      await browser.close();
      await closeSite();
    },
  };
}

// Page-side expressions are strings: the tests are type-checked without the DOM library.
export const until = (page: Page, expression: string, timeout = 10_000) => page.waitForFunction(expression, undefined, { timeout });
export const state = (s: string) => `document.getElementById('state')?.textContent === '${s}'`;
export const shown = (n: number) => `document.querySelectorAll('#messages li').length === ${n}`;
export const welcomes = (n: number) => `document.getElementById('welcomes')?.textContent === '${n}'`;
export const text = (page: Page, id: string) => page.locator(`#${id}`).textContent();
export const messages = (page: Page) => page.locator('#messages li').allTextContents();
