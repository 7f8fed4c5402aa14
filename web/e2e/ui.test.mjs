// Browser end-to-end tests: Debian's Chromium (headless) driven by
// playwright-core against a real `tenantatlas serve --demo`.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { csrf, PASSWORD, shot, signIn, startStack, users } from './harness.mjs';

let stack;
let capturedRun; // a Contoso run, opened later by a Fabrikam-only user

before(async () => {
  stack = await startStack();
});

after(async () => {
  await stack?.stop();
});

const runIdFromUrl = (url) => Number(new URL(url).pathname.split('/').pop());

async function apiJson(page, path) {
  const r = await page.request.get(path);
  assert.equal(r.status(), 200, `${path}: ${await r.text()}`);
  return r.json();
}

test('sign in, capture a snapshot, watch it finish live, open it from the notification', async () => {
  const page = await stack.newPage();
  await signIn(page, stack.email, stack.password);
  // The tenant switcher lists exactly the user's tenants.
  const options = await page.getByLabel('Tenant').locator('option').allTextContents();
  assert.deepEqual(options.map((o) => o.replace(/ \(.*\)$/, '')).sort(), ['Contoso', 'Fabrikam']);
  await page.getByLabel('Tenant').selectOption({ label: 'Contoso (owner)' });

  // Slow Graph down so the run is visibly queued/running before it ends.
  await stack.simLatency(400);
  await page.getByTestId('policy-row').first().waitFor();
  await page.getByRole('button', { name: /^Capture snapshot of / }).first().click();
  const toast = page.getByTestId('toast').filter({ hasText: 'queued as run' });
  await toast.waitFor();
  const link = toast.getByRole('link', { name: /View run #\d+/ });
  await link.click();
  await page.waitForURL(/\/runs\/\d+/);
  capturedRun = runIdFromUrl(page.url());

  // A marker on window survives only if the page is never reloaded.
  await page.evaluate(() => {
    window.__noReload = true;
  });
  const status = page.locator('.run-summary').getByTestId('status');
  const seen = new Set([await status.textContent()]);
  // The global progress widget shows the active run while it works.
  await page.getByTestId('active-run').filter({ hasText: `#${capturedRun}` }).waitFor({ timeout: 10_000 });
  while (!seen.has('succeeded')) {
    await page.waitForTimeout(100);
    seen.add(await status.textContent());
    assert.ok(seen.size < 10);
  }
  assert.ok(seen.has('queued') || seen.has('running'), `states seen: ${[...seen]}`);
  assert.equal(await page.evaluate(() => window.__noReload), true, 'the page reloaded');
  await page.getByTestId('item-row').first().waitFor();
  // A capture of an unchanged policy records "unchanged"; a changed one "captured".
  const outcome = await page.getByTestId('item-row').first().getAttribute('data-outcome');
  assert.ok(['unchanged', 'captured'].includes(outcome), `outcome ${outcome}`);
  await page.getByTestId('run-audit').getByText('run.finished').waitFor();
  await stack.simLatency(0);

  // The bell: the finished run's notification, with its "View run" link.
  await page.goto('/policies');
  const bell = page.getByRole('button', { name: /Notifications, \d+ unread/ });
  await bell.click();
  const note = page
    .getByTestId('notification')
    .filter({ hasText: `Run #${capturedRun} succeeded` })
    .first();
  await note.waitFor();
  await shot(page, 'notifications-panel');
  await note.getByRole('link', { name: 'View run' }).click();
  await page.waitForURL(new RegExp(`/runs/${capturedRun}\\?tenant=${stack.contoso}$`));
  await page.locator('.run-summary').getByText('succeeded').waitFor();
  await shot(page, 'run-detail');

  // Mark it read: the unread count goes down.
  await page.getByRole('button', { name: /Notifications, \d+ unread/ }).click();
  const before = Number(await page.getByTestId('unread-count').textContent());
  assert.ok(before > 0);
  await page.getByTestId('notification').filter({ hasText: 'unread' }).count();
  await page.locator('li.unread').first().getByRole('button', { name: 'Mark read' }).click();
  await page.getByTestId('unread-count').filter({ hasText: String(before - 1) }).waitFor();
  await page.context().close();
});

test('a double-clicked capture makes one run, and both answers name it', async () => {
  const page = await stack.newPage();
  await signIn(page, stack.email, stack.password);
  await page.getByLabel('Tenant').selectOption({ label: 'Contoso (owner)' });
  await stack.simLatency(300); // keep the first run queued/running during the second click
  const runsPath = `/api/v1/tenants/${stack.contoso}/runs?type=policy.capture_snapshot&limit=200`;
  const before = (await apiJson(page, runsPath)).items.length;
  // Keep the bell's panel open: the new run's notification must arrive live.
  await page.getByRole('button', { name: /Notifications, \d+ unread/ }).click();
  const shown = await page.getByTestId('notification').count();
  const button = page.getByRole('button', { name: /^Capture snapshot of / }).nth(1);
  await button.dblclick();
  const toasts = page.getByTestId('toast').filter({ hasText: /run #\d+/ });
  await toasts.nth(1).waitFor();
  const texts = await toasts.allTextContents();
  const ids = new Set(texts.map((t) => t.match(/run #(\d+)/)[1]));
  assert.equal(ids.size, 1, `toasts: ${texts}`);
  assert.ok(texts.some((t) => t.includes('already queued or running')), `toasts: ${texts}`);
  const afterList = (await apiJson(page, runsPath)).items;
  assert.equal(afterList.length, before + 1);
  assert.equal(String(afterList[0].id), [...ids][0]);
  await page
    .getByTestId('notification')
    .filter({ hasText: `Run #${[...ids][0]} was queued.` })
    .waitFor();
  assert.ok((await page.getByTestId('notification').count()) > shown);
  await stack.simLatency(0);
  await page.context().close();
});

// Captures a policy through the UI and waits until the run ends.
async function captureByName(page, tenant, name) {
  await page.goto('/policies');
  await page.getByRole('button', { name: `Capture snapshot of ${name}` }).click();
  const link = page.getByTestId('toast').getByRole('link', { name: /View run #\d+/ }).last();
  const id = Number((await link.textContent()).match(/#(\d+)/)[1]);
  for (let i = 0; i < 300; i++) {
    const run = await apiJson(page, `/api/v1/tenants/${tenant}/runs/${id}`);
    if (!run.active) return run;
    await page.waitForTimeout(100);
  }
  throw new Error(`capture run ${id} did not end`);
}

test('restore wizard: suggestions, preview with diffs, execute with typed confirmation', async () => {
  const page = await stack.newPage();
  await signIn(page, stack.email, stack.password);
  // Fabrikam's own BitLocker policy before the restore: version 1.
  await page.getByLabel('Tenant').selectOption({ label: 'Fabrikam (owner)' });
  assert.equal((await captureByName(page, stack.fabrikam, 'Win - BitLocker')).status, 'succeeded');
  await page.getByLabel('Tenant').selectOption({ label: 'Contoso (owner)' });
  await page.getByRole('link', { name: 'Restore', exact: true }).click();

  const set = page.getByLabel('Backup set');
  const label = (await set.locator('option').allTextContents()).find((t) => t.startsWith('Contoso baseline'));
  await set.selectOption({ label });
  await page.getByRole('group', { name: 'Items to restore' }).waitFor();
  await page.getByRole('button', { name: 'Next: target tenant' }).click();
  await page.getByLabel(/Fabrikam/).check();
  await page.getByRole('button', { name: 'Next: mapping' }).click();

  // Both source groups, the scope tag, and the conditional access policy's
  // break-glass user and named location have a same-named counterpart in
  // Fabrikam: pre-filled and marked.
  await page.getByTestId('mapping-row').first().waitFor();
  assert.equal(await page.getByTestId('mapping-row').count(), 5);
  assert.equal(await page.getByTestId('suggested').count(), 5);
  await page.locator('[data-testid="mapping-row"][data-kind="user"]').waitFor();
  await page.locator('[data-testid="mapping-row"][data-kind="namedLocation"]').waitFor();
  assert.equal(await page.getByLabel('Target user for Break Glass 1').inputValue(), 'f-user-bg');
  assert.equal(await page.getByLabel('Target named location for Head office').inputValue(), 'f-loc-hq');
  const tagRow = page.locator('[data-testid="mapping-row"][data-kind="scopeTag"]');
  assert.match(await tagRow.textContent(), /Scope tag.*Europe/);
  assert.equal(await page.getByLabel('Target scope tag for Europe').inputValue(), 'f-tag-eu');
  const target = page.getByLabel('Target group for Finance Users');
  assert.equal(await target.inputValue(), 'f-0102');
  // Unmapping one flags it.
  await target.selectOption('');
  await page.getByTestId('unmapped').waitFor();
  assert.match(await page.getByTestId('unmapped-count').textContent(), /1 reference unmapped/);

  await page.getByRole('button', { name: 'Next: preview' }).click();
  await page.getByRole('button', { name: 'Run preview' }).click();
  await page.getByTestId('preview-summary').waitFor({ timeout: 30_000 });
  await page.getByTestId('preview-unmapped').waitFor();
  const unmappedItem = page.getByTestId('item-row').filter({ hasText: 'Win - Finance restrictions' });
  await unmappedItem.getByTestId('unmapped').waitFor();

  // Map it again and preview once more: nothing unmapped.
  await page.getByRole('button', { name: 'Back', exact: true }).click();
  await page.getByLabel('Target group for Finance Users').selectOption('f-0102');
  await page.getByRole('button', { name: 'Next: preview' }).click();
  // Conditional access is created in report-only state unless chosen otherwise.
  assert.equal(await page.getByLabel(/report-only state/).isChecked(), true);
  await page.getByRole('button', { name: 'Run preview' }).click();
  await page.getByTestId('preview-summary').waitFor({ timeout: 30_000 });
  assert.equal(await page.getByTestId('preview-unmapped').count(), 0);
  const ca = page.getByTestId('item-row').filter({ hasText: 'Require MFA for Finance' });
  assert.match(await ca.getByTestId('item-warnings').textContent(), /report-only state/);
  const outcomes = await page.getByTestId('item-row').evaluateAll((rows) => rows.map((r) => r.dataset.outcome));
  // Fabrikam has its own, drifted "Win - BitLocker" and "Head office" location:
  // updates with a field diff; and its own scope tag "Europe", the same as
  // Contoso's: unchanged.
  assert.equal(outcomes.filter((o) => o === 'would_update').length, 2, `outcomes: ${outcomes}`);
  assert.equal(outcomes.filter((o) => o === 'unchanged').length, 1, `outcomes: ${outcomes}`);
  assert.ok(
    outcomes.filter((o) => o !== 'would_update' && o !== 'unchanged').every((o) => o === 'would_create'),
    `outcomes: ${outcomes}`,
  );
  // The mapped scope tag is shown with the id it will be written as.
  const finance = page.getByTestId('item-row').filter({ hasText: 'Win - Finance restrictions' });
  await finance.getByTestId('item-references').locator('summary').click();
  assert.match(await finance.getByTestId('item-references').textContent(), /scopeTag c-tag-eu → f-tag-eu/);
  const drifted = page.getByTestId('item-row').filter({ hasText: 'Win - BitLocker' });
  await drifted.getByText(/field change/).click();
  const diff = drifted.getByTestId('diff');
  const row = diff.locator('tbody tr').filter({ hasText: 'encryptionRequired' });
  await row.waitFor();
  assert.deepEqual(await row.locator('td').allTextContents(), ['encryptionRequired', 'false', 'true']);
  await shot(page, 'restore-preview');

  await page.getByRole('button', { name: 'Next: execute' }).click();
  const execute = page.getByRole('button', { name: 'Execute restore' });
  assert.equal(await execute.isDisabled(), true);
  await page.getByLabel(/to confirm/).fill('Contoso');
  assert.equal(await execute.isDisabled(), true, 'the wrong tenant name must not enable execute');
  await page.getByLabel(/to confirm/).fill('Fabrikam');
  await execute.click();
  await page.waitForURL(/\/runs\/\d+\?tenant=/);
  await page.locator('.run-summary').getByText('succeeded').waitFor({ timeout: 60_000 });
  await page.getByTestId('item-row').first().waitFor();
  const executed = await page.getByTestId('item-row').evaluateAll((rows) => rows.map((r) => r.dataset.outcome));
  assert.equal(executed.length, outcomes.length);
  assert.equal(executed.filter((o) => o === 'updated').length, 2, `outcomes: ${executed}`);
  assert.equal(executed.filter((o) => o === 'unchanged').length, 1, `outcomes: ${executed}`);
  assert.equal(executed.filter((o) => o === 'created').length, executed.length - 3, `outcomes: ${executed}`);
  // The run belongs to Fabrikam, and the switcher followed it.
  assert.match(await page.getByLabel('Tenant').inputValue(), new RegExp(`^${stack.fabrikam}$`));

  // Fabrikam's BitLocker after the restore: version 2, and the side-by-side
  // diff of the two versions shows the restored setting.
  assert.equal((await captureByName(page, stack.fabrikam, 'Win - BitLocker')).status, 'succeeded');
  await page.getByRole('link', { name: 'Win - BitLocker' }).click();
  const versionDiff = page.getByTestId('version-diff');
  await versionDiff.waitFor();
  const changed = versionDiff.locator('tbody tr').filter({ hasText: 'payload.encryptionRequired' });
  assert.deepEqual(await changed.locator('td').allTextContents(), ['payload.encryptionRequired', 'false', 'true']);
  // Comparing a version with itself: no differences.
  await page.getByLabel('Compare from v2').check();
  await page.getByText('Pick two different versions to compare.').waitFor();
  await page.context().close();
});

test('the policy list filters every type by search, type and platform', async () => {
  const page = await stack.newPage();
  await signIn(page, stack.email, stack.password);
  await page.getByLabel('Tenant').selectOption({ label: 'Contoso (owner)' });
  await page.goto('/policies');
  await page.getByTestId('policy-row').first().waitFor();
  const names = () => page.getByTestId('policy-row').locator('td:first-child a').allTextContents();
  // The list reloads after each change (search waits for typing to pause):
  // wait until it shows exactly `want`.
  const rowsAre = async (want) => {
    const deadline = Date.now() + 10_000;
    let got = [];
    while (Date.now() < deadline) {
      got = (await names()).sort();
      if (JSON.stringify(got) === JSON.stringify(want)) return;
      await page.waitForTimeout(100);
    }
    assert.deepEqual(got, want);
  };
  // Any part of the name, any case.
  await page.getByLabel('Search').fill('mfa for FIN');
  await rowsAre(['Require MFA for Finance']);
  await page.getByLabel('Search').fill('');
  // Every catalog type is offered, not only those on the first page.
  const types = await page.getByLabel('Type').locator('option').allTextContents();
  assert.ok(types.length >= 36, `types: ${types}`);
  await page.getByLabel('Type').selectOption('macOSShellScript');
  await rowsAre(['Synthetic deviceShellScripts 12']);
  await page.getByLabel('Type').selectOption('');
  await page.getByLabel('Platform').selectOption('macOS');
  await rowsAre(['Synthetic deviceCustomAttributeShellScripts 13', 'Synthetic deviceShellScripts 12']);
  await page.getByLabel('Search').fill('no such policy');
  await page.getByText('No policy matches these filters.').waitFor();
  await page.context().close();
});

test('runs list filters by status and type', async () => {
  const page = await stack.newPage();
  await signIn(page, stack.email, stack.password);
  await page.getByLabel('Tenant').selectOption({ label: 'Contoso (owner)' });
  await page.getByRole('link', { name: 'Runs', exact: true }).click();
  await page.getByTestId('run-row').first().waitFor();
  await page.getByLabel('Type').selectOption('policy.capture_snapshot');
  await page.waitForURL(/type=policy.capture_snapshot/);
  // The list refetches after the URL changes: wait (bounded) for the filtered
  // rows, not for whichever rows are on screen at that instant.
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('[data-testid="run-row"]')];
    return rows.length >= 2 && rows.every((r) => r.textContent.includes('Capture snapshot'));
  }, null, { timeout: 10000 }).catch(() => {});
  const rows = await page.getByTestId('run-row').allTextContents();
  assert.ok(rows.length >= 2 && rows.every((r) => r.includes('Capture snapshot')), rows.join('\n'));
  await page.getByLabel('Type').selectOption('');
  await page.getByTestId('run-row').first().waitFor();
  await page.getByLabel('Status').selectOption('cancelled');
  await page.getByText('No runs match these filters.').waitFor();

  // A backup set's items.
  await page.getByRole('link', { name: 'Backup sets' }).click();
  await page.getByRole('link', { name: 'Contoso baseline' }).click();
  await page.getByTestId('backup-items-table').waitFor();
  const title = await page.locator('main h1').textContent();
  const count = Number(title.match(/(\d+) items/)[1]);
  assert.equal(await page.getByTestId('backup-items-table').locator('tbody tr').count(), count);
  // Its documentation downloads as one HTML file naming every object.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: /documentation of Contoso baseline as HTML/ }).click(),
  ]);
  assert.match(download.suggestedFilename(), /^backup-set-\d+\.html$/);
  const html = await (await page.request.get(
    await page.getByRole('button', { name: /as HTML/ }).getAttribute('href'),
  )).text();
  assert.ok(html.startsWith('<!doctype html>'), html.slice(0, 80));
  for (const name of ['Win - BitLocker', 'Require MFA for Finance', 'Break Glass 1']) assert.ok(html.includes(name), name);

  // The audit log filtered by action.
  await page.getByRole('link', { name: 'Audit log' }).click();
  await page.getByLabel('Action').fill('run.finished');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL(/action=run.finished/);
  await page.getByTestId('audit-table').waitFor();
  const actions = await page.getByTestId('audit-table').locator('tbody tr td:nth-child(4)').allTextContents();
  assert.ok(actions.length > 0 && actions.every((a) => a === 'run.finished'), actions.join(','));
  await page.context().close();
});

test('a backup set with Graph failures: "failed only" shows exactly the failed items', async () => {
  const page = await stack.newPage();
  await signIn(page, stack.email, stack.password);
  await page.getByLabel('Tenant').selectOption({ label: 'Contoso (owner)' });
  await page.getByRole('link', { name: 'Backup sets' }).click();
  await page.getByRole('button', { name: 'New backup set' }).click();
  await page.getByLabel('Name').fill('With failures');
  // The next three Graph reads answer 400 (not retried): three items fail.
  await stack.simConfig({ fail_next: 3, fail_status: 400 });
  await page.getByRole('button', { name: 'Create backup set' }).click();
  await page.getByTestId('toast').getByRole('link', { name: /View run/ }).click();
  await page.locator('.run-summary').getByText('partially succeeded').waitFor({ timeout: 60_000 });
  const run = await apiJson(page, `/api/v1/tenants/${stack.contoso}/runs/${runIdFromUrl(page.url())}`);
  assert.ok(run.counts.failed > 0 && run.counts.succeeded > 0, JSON.stringify(run.counts));
  await page.getByTestId('item-row').first().waitFor();
  await page.getByLabel('Failed only').check();
  await page.waitForFunction(
    (n) => document.querySelectorAll('[data-testid=item-row]').length === n,
    run.counts.failed,
  );
  const outcomes = await page.getByTestId('item-row').evaluateAll((rows) => rows.map((r) => r.dataset.outcome));
  assert.ok(outcomes.every((o) => o === 'failed'), `outcomes: ${outcomes}`);
  assert.match(await page.getByTestId('item-row').first().textContent(), /400|Bad Request|bad_request/i);
  await page.context().close();
});

test('an operator cancels a running run from its page', async () => {
  const page = await stack.newPage();
  await signIn(page, stack.email, stack.password);
  await page.getByLabel('Tenant').selectOption({ label: 'Contoso (owner)' });
  await stack.simLatency(500);
  await page.getByRole('link', { name: 'Backup sets' }).click();
  await page.getByRole('button', { name: 'New backup set' }).click();
  await page.getByLabel('Name').fill('Cancelled one');
  await page.getByRole('button', { name: 'Create backup set' }).click();
  await page.getByTestId('toast').getByRole('link', { name: /View run/ }).click();
  await page.getByRole('button', { name: 'Cancel run' }).click();
  await page.locator('.run-summary').getByText('cancelled').waitFor({ timeout: 60_000 });
  await stack.simLatency(0);
  const run = await apiJson(page, `/api/v1/tenants/${stack.contoso}/runs/${runIdFromUrl(page.url())}`);
  assert.equal(run.status, 'cancelled');
  // Items not reached when the cancel landed are recorded as skipped.
  assert.ok(run.counts.skipped > 0 && run.counts.succeeded < run.counts.total, JSON.stringify(run.counts));
  await page.getByTestId('item-row').filter({ hasText: 'skipped' }).first().waitFor();

  // The runs list, now with succeeded, partially succeeded and cancelled runs.
  await page.getByRole('link', { name: 'Runs', exact: true }).click();
  await page.getByTestId('run-row').filter({ hasText: 'cancelled' }).waitFor();
  await shot(page, 'runs-list');
  await page.context().close();
});

test('a readonly user sees no start or execute controls, and the API refuses them anyway', async () => {
  const page = await stack.newPage();
  await signIn(page, users.reader, PASSWORD);
  await page.getByTestId('policy-row').first().waitFor();
  assert.equal(await page.getByRole('button', { name: /Capture snapshot/ }).count(), 0);
  assert.equal(await page.getByRole('button', { name: 'Sync inventory' }).count(), 0);
  assert.equal(await page.getByRole('link', { name: 'Restore', exact: true }).count(), 0);
  await page.getByRole('link', { name: 'Backup sets' }).click();
  await page.getByTestId('backup-sets-table').waitFor();
  assert.equal(await page.getByRole('button', { name: 'New backup set' }).count(), 0);
  assert.equal(await page.getByRole('link', { name: 'Restore…' }).count(), 0);
  await page.goto('/restore');
  await page.getByText('you have read-only access').waitFor();

  const token = await csrf(page);
  const policy = (await apiJson(page, `/api/v1/tenants/${stack.contoso}/policies?limit=1`)).items[0];
  const capture = await page.request.post(`/api/v1/tenants/${stack.contoso}/policies/${policy.id}/capture`, {
    headers: { 'X-CSRF-Token': token },
  });
  assert.equal(capture.status(), 403);
  assert.match((await capture.json()).detail, /operator/);
  const execute = await page.request.post(`/api/v1/tenants/${stack.contoso}/restores/execute`, {
    headers: { 'X-CSRF-Token': token },
    data: { backup_set_id: 1 },
  });
  assert.equal(execute.status(), 403);
  await page.context().close();
});

test("a user of Fabrikam who opens Contoso's run URL sees a 403 page", async () => {
  assert.ok(capturedRun, 'the first test recorded a Contoso run');
  const page = await stack.newPage();
  await signIn(page, users.fabrikam, PASSWORD);
  await page.goto(`/runs/${capturedRun}?tenant=${stack.contoso}`);
  await page.getByTestId('error-403').waitFor();
  assert.match(await page.getByTestId('error-403').textContent(), /403/);
  // Without the tenant in the link, too.
  await page.goto(`/runs/${capturedRun}`);
  await page.getByTestId('error-403').waitFor();
  await page.context().close();
});

test('problem details name the field; tablet width; keyboard; labelled controls', async () => {
  const page = await stack.newPage({ width: 768, height: 1024 });
  // Sign in with the keyboard only.
  await page.goto('/');
  await page.getByLabel('Email').focus();
  await page.keyboard.type(stack.email);
  await page.keyboard.press('Tab');
  await page.keyboard.type(stack.password);
  await page.keyboard.press('Enter');
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  await page.getByLabel('Tenant').selectOption({ label: 'Contoso (owner)' });

  // A value the server rejects: its problem is shown with the field to fix.
  await page.getByRole('link', { name: 'Audit log' }).click();
  await page.getByLabel('Run id').fill('abc');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.getByRole('alert').waitFor();
  assert.equal(await page.getByTestId('problem-field').textContent(), 'run_id');
  await page.goto(`/policies/999999`);
  await page.getByTestId('error-404').waitFor();

  // Nothing wider than the viewport at tablet width, on every list page.
  for (const path of ['/policies', '/backup-sets', '/runs', '/audit', '/restore']) {
    await page.goto(path);
    await page.locator('main h1').first().waitFor();
    await page.waitForLoadState('networkidle').catch(() => {});
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${path} overflows by ${overflow}px at 768px`);
    // Every control has an accessible name.
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll('input, select, button')]
        .filter((el) => {
          if (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')) return false;
          if (el.tagName === 'BUTTON') return el.textContent.trim() === '';
          return !(el.labels && el.labels.length > 0);
        })
        .map((el) => el.outerHTML.slice(0, 80)),
    );
    assert.deepEqual(unlabelled, [], `${path}: unlabelled controls`);
  }

  // The bell opens and closes with the keyboard.
  const bell = page.getByRole('button', { name: /Notifications/ });
  await bell.focus();
  await page.keyboard.press('Enter');
  await page.getByRole('dialog', { name: 'Notifications' }).waitFor();
  await page.keyboard.press('Escape');
  await page.getByRole('dialog', { name: 'Notifications' }).waitFor({ state: 'detached' });
  await page.context().close();
});

test('browser-facing headers: a CSP without inline scripts holds on every page, no framing, no referrer', async () => {
  const page = await stack.newPage();
  const response = await page.goto('/');
  const headers = response.headers();
  const csp = headers['content-security-policy'];
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(headers['x-frame-options'], 'DENY');
  assert.equal(headers['referrer-policy'], 'no-referrer');
  // An injected inline script does not run.
  const ran = await page.evaluate(() => {
    const s = document.createElement('script');
    s.textContent = 'window.__injected = true';
    document.body.appendChild(s);
    return window.__injected === true;
  });
  assert.equal(ran, false, 'an inline script ran despite the CSP');
  await page.waitForTimeout(200); // the violation report is asynchronous
  const injected = stack.cspViolations.filter((v) => /inline/i.test(v));
  assert.ok(injected.length >= 1, 'the refused inline script was reported');
  // Nothing the app itself does (every page the earlier tests visited) violated it.
  assert.deepEqual(stack.cspViolations.length, injected.length, stack.cspViolations.join('\n'));
});

test('sign-in rotates the session: a cookie sent with it stops working', async () => {
  const page = await stack.newPage();
  await signIn(page, stack.email, stack.password);
  const before = (await page.context().cookies()).find((c) => c.name === 'ta_session');
  assert.ok(before, 'signed in with a session cookie');
  // Sign in again in the same browser: the old session is revoked, a new one issued.
  const r = await page.request.post('/api/v1/auth/login', {
    data: { email: stack.email, password: stack.password },
  });
  assert.equal(r.status(), 200);
  const after = (await page.context().cookies()).find((c) => c.name === 'ta_session');
  assert.notEqual(after.value, before.value);
  const old = await fetch(`${stack.base}/api/v1/me`, { headers: { Cookie: `ta_session=${before.value}` } });
  assert.equal(old.status, 401);
});
