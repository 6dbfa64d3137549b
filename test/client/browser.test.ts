/**
 * The SDK in a real browser (Debian's Chromium through playwright-core, see browser-page.ts): a page
 * using the minified bundle connects, shows a push, survives an edge restart (SIGTERM drain, then a
 * new edge process on the same port) and shows the pushes after it; the test reads them from the DOM.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { messages, shown, startBrowserSite, state, text, until, welcomes, type BrowserSite } from './browser-page.js';
import { bytes, startClientTopology, subjects, type ClientTopology } from './topology.js';

let mesh: ClientTopology;
let site: BrowserSite;

beforeAll(async () => {
  mesh = await startClientTopology();
  site = await startBrowserSite(mesh, 'browser-user');
}, 90_000);

afterAll(async () => {
  await site?.close();
  await mesh?.stop();
});

it('a page using the bundle connects, shows pushes, survives an edge restart and shows the pushes after it', async () => {
  const { page, errors } = await site.open();
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
  await until(page, `${welcomes(2)} && ${state('open')}`, 20_000);
  mesh.backend.publish(subjects.pushUser('browser-user'), bytes('after restart 1'));
  mesh.backend.publish(subjects.pushUser('browser-user'), bytes('after restart 2'));
  await until(page, shown(3));

  expect(await messages(page)).toEqual(['before restart', 'after restart 1', 'after restart 2']);
  // Same tab, same client id after the reconnect.
  expect(await text(page, 'client')).toBe(clientId);
  expect(site.tokensServed()).toBeGreaterThanOrEqual(1);
  expect(errors).toEqual([]);
  await page.close();
});
