// The admin page (/ui/) driven in a real headless Chromium (puppeteer-core + Debian's chromium): sign in with
// a token kept in memory only, read the completeness matrix, filter it, open a file's keys, rotate a key with
// an admin token and see the Vault version change (then roll it back), plan and run a render with a render
// token, see no action with a check token (and the API refuse one), against a temp repo on the real OpenBao
// and the demo repo served by the `coffre serve` binary. No CSP violation, no script error, and no planted
// value (nor the rotated one) in anything the page received.
import { writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import t from 'tap';
import { openWorkspace } from '../../src/use-cases/workspace.js';
import { launchChromium } from '../support/chromium.js';
import { startServeProcess } from '../support/serve-process.js';
import { projectRoot } from '../support/tools.js';
import { makeHttpFixture } from './http-fixture.js';

interface Watched {
  page: Page;
  /** Every answer body of this origin the page received. */
  bodies(): Promise<string[]>;
  consoleErrors: string[];
  pageErrors: string[];
  violations(): Promise<string[]>;
}

async function watch(browser: Browser, origin: string): Promise<Watched> {
  const page = await browser.newPage();
  page.setDefaultTimeout(60_000);
  await page.setViewport({ width: 1100, height: 800 });
  const pending: Array<Promise<string>> = [];
  const consoleErrors: string[] = [];
  const pageErrors: string[] = [];
  page.on('response', (response) => {
    if (response.url().startsWith(origin)) pending.push(response.text().catch(() => ''));
  });
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  // Runs before the page's own script (and outside its CSP): records every CSP / Trusted Types violation.
  await page.evaluateOnNewDocument(() => {
    const w = window as unknown as { cspViolations: string[] };
    w.cspViolations = [];
    document.addEventListener('securitypolicyviolation', (event) => w.cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`));
  });
  return {
    page,
    bodies: () => Promise.all(pending),
    consoleErrors,
    pageErrors,
    violations: () => page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations),
  };
}

async function signIn(page: Page, token: string): Promise<void> {
  await page.waitForSelector('#token', { visible: true });
  await page.type('#token', token);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#matrix tbody tr', { visible: true });
}

async function matrix(page: Page): Promise<Record<string, Record<string, string>>> {
  return page.$$eval('#matrix tbody tr', (rows) =>
    Object.fromEntries(
      rows
        .filter((row) => !(row as HTMLElement).hidden)
        .map((row) => [
          (row as HTMLElement).dataset.service as string,
          Object.fromEntries([...row.querySelectorAll('td[data-status]')].map((cell) => [(cell as HTMLElement).dataset.file as string, (cell as HTMLElement).dataset.status as string])),
        ]),
    ),
  );
}

async function openCell(page: Page, service: string): Promise<void> {
  await page.click(`#matrix tbody tr[data-service="${service}"] button.cell`);
  await page.waitForSelector('#keys tbody tr', { visible: true });
}

async function confirmDialog(page: Page, titleStart: string): Promise<void> {
  await page.waitForFunction((start) => (document.getElementById('confirm') as HTMLDialogElement).open && (document.getElementById('confirm-title')?.textContent ?? '').startsWith(start), {}, titleStart);
  await page.click('#confirm-ok');
  await page.waitForFunction(() => !(document.getElementById('confirm') as HTMLDialogElement).open);
}

const statusText = (page: Page): Promise<string> => page.$eval('#status', (el) => el.textContent ?? '');

const fixture = await makeHttpFixture(t);
// The example asks for hex:48 values: the rotate form must be prefilled with it.
await writeFile(path.join(fixture.dir, 'chat', 'secrets', 'db.secrets.example'), 'DB_USER=\n# @generate=hex:48\nDB_PASS=changeme\n');

async function vaultDb(): Promise<{ version: number; data: Record<string, string> }> {
  const read = await fixture.bao.vaultHttp('GET', `secret/data/${fixture.bao.prefix}/chat/db`);
  return { version: read.body.data.metadata.version, data: read.body.data.data };
}

const browser = await launchChromium(t);
const skip = browser === null ? 'Chromium is missing and COFFRE_SKIP_BROWSER_TESTS=1' : false;

t.test('Vault-backed repo: matrix, key list, rotate and rollback (admin), render (render token), no action (check token)', { skip }, async (t) => {
  // serve's own Vault token may write (rotate, rollback): the admin policy, as a host running admin actions has.
  const env = { ...fixture.env, VAULT_TOKEN: await fixture.bao.tokenWithPolicies(['coffre-admin']) };
  const app = fixture.app({ openWorkspace: (scope) => openWorkspace({ root: fixture.dir, env, ...(scope?.services ? { services: scope.services } : {}) }) });
  t.teardown(() => app.close());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address() as { port: number };
  const origin = `http://127.0.0.1:${address.port}`;
  const w = await watch(browser as Browser, origin);
  const { page } = w;
  const secretsSeen: string[] = [];

  const landing = await page.goto(`${origin}/ui/`);
  t.equal(landing?.status(), 200);
  const csp = landing?.headers()['content-security-policy'] ?? '';
  for (const directive of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "require-trusted-types-for 'script'"]) {
    t.ok(csp.includes(directive), `CSP has ${directive}`);
  }
  t.notMatch(csp, /unsafe-inline|unsafe-eval/, 'no unsafe-* source');

  await t.test('a wrong token is refused and the form stays', async (t) => {
    await page.waitForSelector('#token', { visible: true });
    await page.type('#token', 'coffre_not_a_token');
    await page.click('#login-form button[type=submit]');
    await page.waitForFunction(() => !(document.getElementById('alert') as HTMLElement).hidden);
    t.match(await page.$eval('#alert', (el) => el.textContent), /not accepted.*COFFRE_UNAUTHENTICATED/);
    t.ok(await page.$eval('#login', (el) => !(el as HTMLElement).hidden), 'still asking for a token');
  });

  await t.test('admin: the matrix, its counts and filter; the token kept in memory only', async (t) => {
    await signIn(page, fixture.tokens.admin);
    t.match(await page.$eval('#who', (el) => el.textContent), /Token ops · role admin/);
    t.same(await matrix(page), { chat: { db: 'complete' }, pad: { pad: 'complete' }, wiki: { wiki: 'incomplete' } });
    t.match(await page.$eval('#counts', (el) => el.textContent), /^3 of 3 services, 3 files: 2 complete, 1 incomplete, 0 source missing, 0 errors$/);
    t.match(await page.$eval('#matrix tr[data-service="wiki"] button.cell', (el) => `${el.textContent} | ${el.getAttribute('aria-label')}`), /! incomplete.*1\/2 keys set \| wiki wiki: incomplete, 1\/2 keys set/, 'status told by text, not colour only');
    await page.type('#filter', 'wik');
    t.same(Object.keys(await matrix(page)), ['wiki'], 'the filter keeps the matching row');
    t.match(await page.$eval('#counts', (el) => el.textContent), /^1 of 3 services, 1 files: 0 complete, 1 incomplete/);
    await page.$eval('#filter', (el) => ((el as HTMLInputElement).value = ''));
    await page.type('#filter', ' ');
    t.same(Object.keys(await matrix(page)).sort(), ['chat', 'pad', 'wiki']);
    const storage = await page.evaluate(() => ({ local: localStorage.length, session: sessionStorage.length, cookie: document.cookie, input: (document.getElementById('token') as HTMLInputElement).value }));
    t.same(storage, { local: 0, session: 0, cookie: '', input: '' }, 'no token in storage, cookies or the input');
    const unlabelled = await page.$$eval('input, select', (els) => els.filter((el) => (el as HTMLInputElement).labels?.length === 0 && !el.getAttribute('aria-label')).map((el) => el.id));
    t.same(unlabelled, [], 'every input has a label');
  });

  await t.test('admin: a file opened with the keyboard lists its keys with status, example line and annotations', async (t) => {
    await page.focus('#matrix tr[data-service="chat"] button.cell');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#keys tbody tr[data-key="DB_PASS"]', { visible: true });
    const keys = await page.$$eval('#keys tbody tr', (rows) => rows.map((row) => [...row.children].slice(0, 6).map((cell) => cell.textContent)));
    t.same(keys, [
      ['DB_USER', 'ok', 'db.secrets.example:1', 'no', 'no', '—'],
      ['DB_PASS', 'ok', 'db.secrets.example:3', 'no', 'no', 'hex:48'],
    ]);
    t.equal(await page.$eval('#versions-table tr[data-current="true"]', (el) => (el as HTMLElement).dataset.version), '1');
    t.equal(await page.evaluate(() => document.activeElement?.id), 'file-title', 'focus moves to the opened file');
  });

  await t.test('admin: rotate DB_PASS through two confirmation steps; the Vault version changes', async (t) => {
    const before = await vaultDb();
    await page.click('#keys tr[data-key="DB_PASS"] button[data-action="rotate"]');
    await page.waitForSelector('#rotate-length', { visible: true });
    t.same(await page.evaluate(() => [(document.getElementById('rotate-charset') as HTMLSelectElement).value, (document.getElementById('rotate-length') as HTMLInputElement).value]), ['hex', '48'], 'prefilled from @generate');
    await page.$eval('#rotate-length', (el) => ((el as HTMLInputElement).value = '40'));
    await page.click('#confirm-ok');
    await page.waitForFunction(() => (document.getElementById('confirm-title')?.textContent ?? '').startsWith('Confirm: rotate'));
    t.equal((await vaultDb()).version, before.version, 'nothing written before the confirmation');
    await confirmDialog(page, 'Confirm: rotate DB_PASS');
    await page.waitForSelector('#versions-table tr[data-version="2"][data-current="true"]');
    t.match(await statusText(page), /Rotated DB_PASS: version 1 → 2/);
    const after = await vaultDb();
    t.equal(after.version, 2);
    t.match(after.data.DB_PASS, /^[0-9a-f]{40}$/, 'a new hex:40 value');
    t.equal(after.data.DB_USER, before.data.DB_USER, 'the other key kept');
    secretsSeen.push(after.data.DB_PASS as string);
    t.match(await page.$eval('#versions-table tr[data-version="2"]', (el) => el.textContent), /ops \(rotate\)/, 'who, from the audit trail');
    t.match(await page.$eval('#history-table tbody', (el) => el.textContent), /rotate db.*written.*DB_PASS.*1 → 2.*ops/);
  });

  await t.test('admin: cancelling a rollback writes nothing; confirming makes version 1 current again as version 3', async (t) => {
    await page.click('#versions-table tr[data-version="1"] button[data-action="rollback"]');
    await page.waitForSelector('#confirm-cancel', { visible: true });
    await page.click('#confirm-cancel');
    await page.waitForFunction(() => !(document.getElementById('confirm') as HTMLDialogElement).open);
    t.equal((await vaultDb()).version, 2, 'cancel writes nothing');
    await page.click('#versions-table tr[data-version="1"] button[data-action="rollback"]');
    await confirmDialog(page, 'Confirm: roll back to version 1');
    await page.waitForSelector('#versions-table tr[data-version="3"][data-current="true"]');
    const now = await vaultDb();
    t.equal(now.version, 3);
    t.equal(now.data.DB_PASS, fixture.canaries[1], 'the old value is back');
  });

  await t.test('render token: no rotate or rollback; plan first, then render after confirming', async (t) => {
    await page.click('#signout');
    await signIn(page, fixture.tokens.render);
    await openCell(page, 'chat');
    t.equal(await page.$$eval('button[data-action]', (els) => els.length), 0, 'no rotate/rollback button');
    t.ok(await page.$eval('#render-now', (el) => (el as HTMLButtonElement).disabled), 'render waits for a plan');
    await page.click('#render-plan');
    await page.waitForFunction(() => (document.getElementById('render-result')?.textContent ?? '').includes('planned'));
    t.match(await page.$eval('#render-result', (el) => el.textContent), /chat\/secrets\/db\.secrets: create \(added DB_USER, DB_PASS\)/);
    t.notOk(existsSync(path.join(fixture.dir, 'chat', 'secrets', 'db.secrets')), 'a plan writes nothing');
    await page.click('#render-now');
    await confirmDialog(page, 'Confirm: render chat');
    await page.waitForFunction(() => /Rendered chat: written/.test(document.getElementById('status')?.textContent ?? ''));
    t.ok(existsSync(path.join(fixture.dir, 'chat', 'secrets', 'db.secrets')), 'rendered');
    t.match(await page.$eval('#history-table tbody', (el) => el.textContent), /render.*written.*deployer/);
    t.match(await page.$eval('#history-table tbody', (el) => el.textContent), /render \(dry run\).*planned/);
    await page.click('#back');
    // The matrix is redrawn once the fresh check and history arrive.
    await page.waitForFunction(() => /written/.test(document.querySelector('#matrix tbody tr[data-service="chat"] td.last-render')?.textContent ?? ''));
    t.match(await page.$eval('#matrix tbody tr[data-service="chat"] td.last-render', (el) => el.textContent), /written by deployer/, 'the matrix shows each service\'s last render');
    t.equal(await page.$eval('#matrix tbody tr[data-service="wiki"] td.last-render', (el) => el.textContent), '—');
  });

  await t.test('check token: no action at all, and the API refuses one', async (t) => {
    await page.click('#signout');
    await signIn(page, fixture.tokens.check);
    await openCell(page, 'chat');
    t.equal(await page.$$eval('button[data-action], #render-plan, #render-now', (els) => els.length), 0, 'no action button');
    t.equal(await page.$eval('#keys thead', (el) => el.textContent?.includes('Action')), false);
    const refused = await page.evaluate(async (token) => {
      const response = await fetch('/v1/services/chat/secrets/db/keys/DB_PASS', { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ generate: {} }) });
      return [response.status, (await response.json()).error.code];
    }, fixture.tokens.check);
    t.same(refused, [403, 'COFFRE_FORBIDDEN']);
    t.equal((await vaultDb()).version, 3, 'nothing written');
  });

  await t.test('no CSP violation, no script error; only expected refusals in the console', async (t) => {
    t.same(await w.violations(), [], 'no CSP violation');
    t.same(w.pageErrors, [], 'no uncaught error');
    t.equal(w.consoleErrors.filter((m) => /status of 401/.test(m)).length, 1, 'one 401: the wrong token (the page does not probe the API before sign-in)');
    t.same(w.consoleErrors.filter((m) => !/status of (401|403)/.test(m)), [], 'console errors are the expected 401/403 only');
    // The watcher is live: an inline style is blocked and reported.
    await page.evaluate(() => {
      const style = document.createElement('style');
      style.textContent = 'body { color: red }';
      document.head.append(style);
    });
    await page.waitForFunction(() => (window as unknown as { cspViolations: string[] }).cspViolations.length > 0);
    t.match((await w.violations())[0], /^style-src/, 'an inline style would be refused and seen');
  });

  await t.test('no planted value, rotated value or token in any answer the page received', async (t) => {
    const bodies = await w.bodies();
    t.ok(bodies.length > 20, `${bodies.length} answers seen`);
    t.ok(bodies.some((b) => b.includes('"DB_PASS"')), 'key names do travel');
    const all = bodies.join('\n');
    for (const value of [...fixture.canaries, ...secretsSeen, ...Object.values(fixture.tokens), fixture.env.VAULT_TOKEN as string, env.VAULT_TOKEN]) {
      t.notOk(all.includes(value), `no ${value.slice(0, 12)}… in the answers`);
    }
    for (const value of [...fixture.canaries, ...secretsSeen]) t.notOk(fixture.logs().includes(value), 'nor in the logs');
  });
});

t.test('demo repo through `coffre serve --insecure-no-auth`: read-only matrix and key list without a sign-in', { skip }, async (t) => {
  const serve = await startServeProcess(t, ['-C', path.join(projectRoot, 'examples', 'infra'), '--insecure-no-auth', '--listen', '127.0.0.1:0'], {});
  t.teardown(() => serve.stop());
  const w = await watch(browser as Browser, serve.url);
  await w.page.goto(`${serve.url}/ui/`);
  await w.page.waitForSelector('#matrix tbody tr', { visible: true });
  t.match(await w.page.$eval('#who', (el) => el.textContent), /No authentication \(read-only\)/);
  t.same(await matrix(w.page), { etherpad: { etherpad: 'incomplete' }, mattermost: { app: 'complete', db: 'complete' }, website: { deploy: 'complete' } });
  await openCell(w.page, 'etherpad');
  const statuses = await w.page.$$eval('#keys tbody tr', (rows) => rows.map((row) => `${(row as HTMLElement).dataset.key}=${row.children[1]?.textContent}`));
  t.same(statuses, ['ADMIN_PASSWORD=placeholder', 'SESSION_KEY=ok', 'DB_PASS=missing', 'DEFAULT_PAD_TEXT=ok', 'OLD_API_KEY=extra']);
  t.equal(await w.page.$$eval('button[data-action], #render-plan', (els) => els.length), 0, 'read-only: no action');
  t.match(await w.page.$eval('#versions', (el) => el.textContent), /sops file etherpad\/secrets\/etherpad\.secrets\.sops\.env/);
  t.same(await w.violations(), []);
  t.same(w.pageErrors, []);
  t.same(w.consoleErrors, [], 'no console error at all');
});
