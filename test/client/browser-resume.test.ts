/**
 * A page resumes after the edge is SIGKILLed and shows the durable
 * pushes it missed, flagged as recovered, in order, none twice.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { shown, startBrowserSite, state, text, until, welcomes, type BrowserSite } from './browser-page.js';
import { bytes, startClientTopology, subjects, type ClientTopology } from './topology.js';

let mesh: ClientTopology;
let site: BrowserSite;

beforeAll(async () => {
  mesh = await startClientTopology();
  site = await startBrowserSite(mesh, 'browser-durable');
}, 90_000);

afterAll(async () => {
  await site?.close();
  await mesh?.stop();
});

it('a page resumes after the edge is SIGKILLed and shows the durable pushes it missed, flagged as recovered', async () => {
  const { page, errors } = await site.open();
  await until(page, state('open'), 15_000);
  const durable = (t: string) => mesh.backend.publishStored(subjects.durableUser('browser-durable'), bytes(t));
  await durable('kept');
  await until(page, shown(1));

  await mesh.edge().kill();
  await until(page, `!(${state('open')})`);
  // Stored by JetStream while the page has no edge.
  await durable('missed 1');
  await durable('missed 2');
  await mesh.startEdge();
  await until(page, `${welcomes(2)} && ${state('open')}`, 20_000);
  await durable('live');
  await until(page, shown(4));

  const rows = await page.locator('#messages li').evaluateAll((lis) => lis.map((li) => [li.textContent, li.getAttribute('data-recovered') ?? '']));
  expect(rows).toEqual([
    ['kept', ''],
    ['missed 1', 'true'],
    ['missed 2', 'true'],
    ['live', ''],
  ]);
  expect(await text(page, 'resume')).toBe('recovered');
  const stored = (await page.evaluate("sessionStorage.getItem('session-mesh.client.resume')")) as string;
  const positions = await page.locator('#messages li').evaluateAll((lis) => lis.map((li) => Number(li.getAttribute('data-position'))));
  expect(stored.endsWith(` ${positions[3]}`)).toBe(true);
  expect([...positions].sort((a, b) => a - b)).toEqual(positions);
  expect(errors).toEqual([]);
  await page.close();
});
