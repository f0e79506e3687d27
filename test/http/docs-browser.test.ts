// The docs page in a real browser (Debian's chromium through puppeteer-core, no browser download): swagger-ui
// renders every operation of the document under the page's CSP, and no request leaves the server's origin.
import t from 'tap';
import { listen } from '../../src/http/server.js';
import { launchChromium } from '../support/chromium.js';
import { makeHttpFixture } from './http-fixture.js';

const fixture = await makeHttpFixture(t);

t.test('swagger-ui shows every operation, offline: nothing is fetched from another origin, no CSP violation', async (t) => {
  const app = fixture.app();
  t.teardown(() => app.close());
  const base = await listen(app, { host: '127.0.0.1', port: 0 });
  const operations = Object.values((await app.inject({ url: '/openapi.json' })).json().paths as Record<string, object>).reduce((n: number, item) => n + Object.keys(item).length, 0);
  const browser = await launchChromium(t);
  if (browser === null) return;
  const page = await browser.newPage();
  const foreign: string[] = [];
  const violations: string[] = [];
  await page.setRequestInterception(true);
  page.on('request', (request) => {
    const url = request.url();
    if (url.startsWith(`${base}/`) || url.startsWith('data:')) return void request.continue();
    foreign.push(url);
    return void request.abort();
  });
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
  });
  await page.goto(`${base}/docs`, { waitUntil: 'networkidle0' });
  await page.waitForSelector('.opblock', { timeout: 20_000 });
  const shown = await page.$$eval('.opblock', (blocks) => blocks.length);
  t.equal(shown, operations, `all ${operations} operations are shown`);
  const ids = await page.$$eval('.opblock-summary-path', (paths) => paths.map((p) => p.textContent?.trim() ?? ''));
  t.ok(ids.some((p) => p.includes('/v1/services/{service}/render')), 'the render route is among them');
  t.same(foreign, [], 'no request to another origin');
  t.same(violations, [], 'no CSP violation');
});
