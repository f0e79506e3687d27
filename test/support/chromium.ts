// Launches the system's Chromium (Debian's `chromium` package) through puppeteer-core for the admin page's
// browser tests: no browser download. Missing Chromium FAILS the test with how to install it; the only skip
// is COFFRE_SKIP_BROWSER_TESTS=1, which .ci/run sets (loudly) when Chromium cannot be installed there.
import { accessSync, constants, existsSync } from 'node:fs';
import puppeteer, { type Browser } from 'puppeteer-core';

/** Where Chromium is looked for: COFFRE_CHROMIUM, else Debian's /usr/bin/chromium (or Ubuntu's chromium-browser). */
export const chromiumPath = process.env.COFFRE_CHROMIUM ?? (['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((file) => existsSync(file)) ?? '/usr/bin/chromium');

interface TestLike {
  teardown(fn: () => unknown): void;
  comment(message: string): void;
}

/**
 * A headless Chromium closed at teardown; null (after a loud comment: the caller skips its tests) only when COFFRE_SKIP_BROWSER_TESTS=1 and
 * Chromium is missing. Throws otherwise when it is missing.
 */
export async function launchChromium(t: TestLike, executable: string = chromiumPath): Promise<Browser | null> {
  try {
    accessSync(executable, constants.X_OK);
  } catch {
    const message = `Chromium is missing at ${executable}: the admin page's browser tests need it (apt-get install -y chromium, or set COFFRE_CHROMIUM)`;
    if (process.env.COFFRE_SKIP_BROWSER_TESTS === '1') {
      t.comment(`!!!!!!!! SKIPPED: ${message}. COFFRE_SKIP_BROWSER_TESTS=1 says it cannot be installed here. !!!!!!!!`);
      process.stderr.write(`\n!!!!!!!! BROWSER TESTS SKIPPED: ${message} !!!!!!!!\n\n`);
      return null;
    }
    throw new Error(message);
  }
  // --no-sandbox: the tests run as root in a container, where Chromium's sandbox cannot start.
  const browser = await puppeteer.launch({
    executablePath: executable,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--no-first-run', '--disable-extensions'],
    protocolTimeout: 120_000,
  });
  t.teardown(() => browser.close());
  return browser;
}
