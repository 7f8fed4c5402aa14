// Starts a real `tenantatlas serve --demo` (with its Graph simulator) serving
// the built UI, adds the test users with the admin CLI, and launches Debian's
// Chromium through playwright-core. Used by the browser end-to-end tests.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const webDir = path.resolve(here, '..');
export const repoDir = path.resolve(webDir, '..');
const bin = process.env.TA_BIN ?? path.join(repoDir, 'build', 'tenantatlas');
const browserPath = process.env.TA_CHROMIUM ?? '/usr/bin/chromium';
export const screenshotDir = process.env.TA_SCREENSHOT_DIR ?? path.join(repoDir, 'docs', 'screenshots');

export const PASSWORD = 'correct horse battery staple';
export const users = {
  reader: 'reader@contoso.example', // readonly in Contoso
  fabrikam: 'ops@fabrikam.example', // operator in Fabrikam only
};

export function cli(db, args, stdin) {
  const r = spawnSync(bin, [...args, '--db', db], { input: stdin, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tenantatlas ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

// Reads the server's stdout until the demo block (with the sign-in) appears.
function waitForDemo(proc, timeoutMs) {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`serve did not finish the demo setup in time:\n${out}`)), timeoutMs);
    proc.stdout.on('data', (chunk) => {
      out += chunk;
      const base = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      const signin = out.match(/sign-in: (\S+) \/ (\S+)/);
      const sim = out.match(/Graph simulator at (http:\/\/127\.0\.0\.1:\d+)/);
      const ids = out.match(/tenants Contoso \(id (\d+)\) and Fabrikam \(id (\d+)\)/);
      if (base && signin && sim && ids && out.includes('curl -sN')) {
        clearTimeout(timer);
        resolve({
          base: base[1],
          email: signin[1],
          password: signin[2],
          sim: sim[1],
          contoso: Number(ids[1]),
          fabrikam: Number(ids[2]),
          ready: out.includes('first backup set taken'),
        });
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}:\n${out}`));
    });
  });
}

// The server takes its settings from TA_* variables; the test sets its own.
function cleanEnv() {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TA_')));
}

export async function startStack() {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: build first (scripts/build)`);
  if (!existsSync(path.join(webDir, 'dist', 'index.html')))
    throw new Error('web/dist is missing: build the UI first (scripts/build runs npm ci and npm run build)');
  if (!existsSync(browserPath)) throw new Error(`${browserPath} is missing: install Debian's chromium (scripts/bootstrap --browser)`);
  const dir = mkdtempSync(path.join(tmpdir(), 'ta-web-e2e-'));
  const db = path.join(dir, 'ta.db');
  const log = [];
  const proc = spawn(
    bin,
    ['serve', '--demo', '--port', '0', '--db', db, '--web-root', path.join(webDir, 'dist'), '--log-level', process.env.TA_E2E_LOG_LEVEL ?? 'warn'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv() },
  );
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => log.push(d));
  const demo = await waitForDemo(proc, 120_000);
  if (!demo.ready) throw new Error('the demo setup did not finish (inventory sync or first backup set)');

  cli(db, ['user', 'add', '--email', users.reader, '--name', 'Rita Reader'], PASSWORD);
  cli(db, ['member', 'add', '--tenant', 'Contoso', '--email', users.reader, '--role', 'readonly']);
  cli(db, ['user', 'add', '--email', users.fabrikam, '--name', 'Fabrikam Ops'], PASSWORD);
  cli(db, ['member', 'add', '--tenant', 'Fabrikam', '--email', users.fabrikam, '--role', 'operator']);

  const browser = await chromium.launch({
    executablePath: browserPath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  mkdirSync(screenshotDir, { recursive: true });
  // Every Content-Security-Policy violation any page reports (the last test
  // asserts there were none).
  const cspViolations = [];

  return {
    ...demo,
    db,
    browser,
    serverLog: () => log.join(''),
    cspViolations,
    // The simulator's runtime knobs (latency_ms, fail_next, fail_status, ...).
    async simConfig(knobs) {
      const r = await fetch(`${demo.sim}/_sim/config`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(knobs),
      });
      if (!r.ok) throw new Error(`simulator config: ${r.status}`);
    },
    // Makes every Graph request slow, so runs can be watched while they work.
    simLatency(ms) {
      return this.simConfig({ latency_ms: ms });
    },
    // bypassCSP: only for pages that get axe-core injected (an inline script
    // the CSP would refuse); the CSP itself is tested on ordinary pages.
    async newPage(viewport = { width: 1280, height: 860 }, { bypassCSP = false } = {}) {
      const context = await browser.newContext({ viewport, baseURL: demo.base, bypassCSP });
      const page = await context.newPage();
      page.on('pageerror', (e) => console.error('page error:', e.message));
      page.on('console', (m) => {
        if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
      });
      return page;
    },
    async stop() {
      await browser.close().catch(() => {});
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function signIn(page, email, password) {
  await page.goto('/');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

// The session's CSRF token, read the way the UI reads it.
export async function csrf(page) {
  const me = await (await page.request.get('/api/v1/me')).json();
  return me.csrf_token;
}

export async function shot(page, name) {
  await page.screenshot({ path: path.join(screenshotDir, `${name}.png`), fullPage: false });
}

// Switches tenant with the picker: "/" opens it, the name is typed, Enter
// picks the best match.
export async function pickTenant(page, name) {
  await page.getByTestId('tenant-picker').click();
  const search = page.getByRole('combobox', { name: 'Find a tenant' });
  await search.fill(name);
  await page.getByRole('dialog', { name: 'Switch tenant' }).getByRole('option').filter({ hasText: name }).first().waitFor();
  await search.press('Enter');
  await page.getByRole('dialog', { name: 'Switch tenant' }).waitFor({ state: 'detached' });
  await page.getByTestId('tenant-picker').filter({ hasText: name }).waitFor();
}

const axeSource = path.join(webDir, 'node_modules', 'axe-core', 'axe.min.js');

// axe-core on the page as it is now: the serious and critical violations
// (WCAG 2 A and AA rules), each as "rule: target (summary)".
export async function axeViolations(page) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.addScriptTag({ path: axeSource });
  const result = await page.evaluate(async () =>
    window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } }),
  );
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .flatMap((v) => v.nodes.map((n) => `${v.id} (${v.impact}): ${n.target.join(' ')}: ${n.failureSummary?.split('\n')[1] ?? ''}`));
}
