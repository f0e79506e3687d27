// `npm run screenshots`: screenshots of the admin page (/ui/) for the README, taken with the system's
// Chromium (puppeteer-core, no browser download) against `coffre serve` on the demo repo (examples/infra)
// with a throw-away admin token. Writes docs/img/ui-matrix.png, ui-file.png and ui-phone.png.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const chromium = process.env.COFFRE_CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(chromium)) {
  console.error(`screenshots: no Chromium at ${chromium} (apt-get install -y chromium, or set COFFRE_CHROMIUM)`);
  process.exit(1);
}
const out = path.join(root, 'docs', 'img');
mkdirSync(out, { recursive: true });

const temp = mkdtempSync(path.join(os.tmpdir(), 'coffre-shots-'));
const token = `coffre_${randomBytes(24).toString('base64url')}`;
const tokens = path.join(temp, 'tokens.yaml');
writeFileSync(tokens, `tokens:\n  - { id: ops, sha256: ${createHash('sha256').update(token).digest('hex')}, role: admin, services: ["**"] }\n`, { mode: 0o600 });

const serve = spawn(process.execPath, [path.join(root, 'bin', 'coffre.js'), '-C', path.join(root, 'examples', 'infra'), 'serve', '--listen', '127.0.0.1:0', '--tokens', tokens], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
let browser;
try {
  const url = await new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error('serve did not start')), 20_000);
    serve.stdout.on('data', (chunk) => {
      text += chunk;
      const match = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(text);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
  });
  browser = await puppeteer.launch({ executablePath: chromium, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  const page = await browser.newPage();
  await page.setViewport({ width: 1100, height: 640, deviceScaleFactor: 1 });
  await page.goto(`${url}/ui/`);
  await page.waitForSelector('#token', { visible: true });
  await page.type('#token', token);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#matrix tbody tr');
  await page.screenshot({ path: path.join(out, 'ui-matrix.png'), fullPage: true });
  await page.click('#matrix tbody tr[data-service="etherpad"] button.cell');
  await page.waitForSelector('#keys tbody tr');
  await page.click('#render-plan');
  await page.waitForSelector('#render-result p');
  await page.screenshot({ path: path.join(out, 'ui-file.png'), fullPage: true });
  await page.setViewport({ width: 390, height: 760, deviceScaleFactor: 1 });
  await page.goto(`${url}/ui/#/`);
  await page.reload();
  // A reload forgets the token (memory only): sign in again.
  await page.waitForSelector('#token', { visible: true });
  await page.type('#token', token);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#matrix tbody tr');
  await page.screenshot({ path: path.join(out, 'ui-phone.png'), fullPage: false });
  console.log(`screenshots written to ${path.relative(root, out)}/ (ui-matrix.png, ui-file.png, ui-phone.png)`);
} finally {
  await browser?.close();
  serve.kill('SIGTERM');
  rmSync(temp, { recursive: true, force: true });
}
