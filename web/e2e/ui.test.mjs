// Browser end-to-end tests: Debian's Chromium (headless) driven by
// playwright-core against a real `tenantatlas serve --demo`.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { axeViolations, cli, csrf, PASSWORD, pickTenant, shot, signIn, startStack, users } from './harness.mjs';

let stack;
let capturedRun; // a Contoso run, opened later by a Fabrikam-only user

before(async () => {
  stack = await startStack();
});

after(async () => {
  await stack?.stop();
});

const runIdFromUrl = (url) => Number(new URL(url).pathname.split('/').pop());

// How long a run in these tests may take: the simulator throttles like Intune
// (100 writes per 20 s per tenant), and a throttled run waits out Retry-After
// (up to 20 s) in the queue, so a restore can take a throttle window or two.
const RUN_WAIT = 120_000;

// Polls a run until it ends (RUN_WAIT at most).
async function waitForRun(page, tenant, id) {
  for (let i = 0; i < RUN_WAIT / 100; i++) {
    const r = await (await page.request.get(`/api/v1/tenants/${tenant}/runs/${id}`)).json();
    if (!r.active) return r;
    await page.waitForTimeout(100);
  }
  throw new Error(`run ${id} did not end in ${RUN_WAIT / 1000} s`);
}

// Waits (bounded) for `locator`. A timeout says what was awaited (`what`, a
// string or an async function read at the time), and what the page showed (its
// main text, toasts included) and the tail of the server's log, so that a
// failure on a loaded CI machine explains itself.
async function waitOrExplain(page, locator, what, timeout = 10_000) {
  try {
    await locator.waitFor({ timeout });
  } catch (e) {
    const shown = (await page.locator('body').innerText().catch(() => '')).replace(/\s+/g, ' ').slice(0, 2000);
    if (typeof what === 'function') what = await what();
    if (process.env.TA_E2E_LOG_FILE) writeFileSync(process.env.TA_E2E_LOG_FILE, stack.serverLog());
    throw new Error(`${what}: ${e.message.split('\n')[0]}\npage: ${shown}\nserver log: ${stack.serverLog().slice(-3000)}`);
  }
}

async function apiJson(page, path) {
  const r = await page.request.get(path);
  assert.equal(r.status(), 200, `${path}: ${await r.text()}`);
  return r.json();
}

test('sign in, capture a snapshot, watch it finish live, open it from the notification', async () => {
  const page = await stack.newPage();
  await signIn(page, stack.email, stack.password);
  // The tenant picker lists exactly the user's tenants (and the All tenants scope).
  await page.getByTestId('tenant-picker').click();
  const options = await page.getByRole('dialog', { name: 'Switch tenant' }).getByRole('option').allTextContents();
  assert.deepEqual(options.map((o) => o.replace(/current.*$/, '').replace(/(owner|operator|readonly).*$/, '').trim()).sort(), ['All tenants', 'Contoso', 'Fabrikam']);
  await page.keyboard.press('Escape');
  await pickTenant(page, 'Contoso');

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
    .filter({ hasText: `Run #${capturedRun}: 1 succeeded` })
    .first();
  await note.waitFor();
  // A sentence that names the object and the tenant; one entry for the run.
  assert.match(await note.textContent(), /^Snapshot of “.+” in Contoso succeeded\./);
  assert.equal(await page.getByTestId('notification').filter({ hasText: `Run #${capturedRun}` }).count(), 1);
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
  await pickTenant(page, 'Contoso');
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
    .filter({ hasText: `Run #${[...ids][0]} is waiting for a worker.` })
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
  await pickTenant(page, 'Fabrikam');
  assert.equal((await captureByName(page, stack.fabrikam, 'Win - BitLocker')).status, 'succeeded');
  await pickTenant(page, 'Contoso');
  await page.getByRole('link', { name: 'Restore', exact: true }).click();

  const set = page.getByLabel('Backup set');
  // The sets load after the page: wait (bounded) for the option before reading the list.
  await set.locator('option', { hasText: 'Contoso baseline' }).first().waitFor({ state: 'attached' });
  const label = (await set.locator('option').allTextContents()).find((t) => t.startsWith('Contoso baseline'));
  await set.selectOption({ label });
  await page.getByRole('group', { name: 'Items to restore' }).waitFor();
  // Nothing starts selected; the type filter and search narrow, "select shown" picks.
  assert.match(await page.getByTestId('items-selected').textContent(), /^0 of \d+ items selected/);
  assert.equal(await page.getByRole('button', { name: 'Next: target tenant' }).isDisabled(), true);
  await page.getByLabel('Search items').fill('bitlocker');
  await waitOrExplain(
    page,
    page.getByTestId('items-selected').filter({ hasText: '· 1 shown' }),
    async () => `searching "bitlocker" (the box holds "${await page.getByLabel('Search items').inputValue().catch(() => '?')}")`,
  );
  await page.getByRole('button', { name: /^Select the 1 shown$/ }).click();
  assert.match(await page.getByTestId('items-selected').textContent(), /^1 of \d+ items selected/);
  await page.getByLabel('Search items').fill('');
  await page.getByRole('button', { name: /^Select the \d+ shown$/ }).click();
  const total = Number((await page.getByTestId('items-selected').textContent()).match(/of (\d+) items/)[1]);
  assert.match(await page.getByTestId('items-selected').textContent(), new RegExp(`^${total} of ${total} items selected`));
  await page.getByRole('button', { name: 'Next: target tenant' }).click();
  // Focus moves to the new step's heading, which names it.
  // (focus moves in an effect after the render: wait for it, bounded)
  await page.waitForFunction(() => document.activeElement?.dataset.testid === 'step-heading', null, { timeout: 5_000 });
  assert.match(await page.getByTestId('step-heading').textContent(), /Step 2 of 5: Target tenant/);
  await page.getByRole('combobox', { name: 'Target tenant' }).fill('fabri');
  await page.getByTestId('target-search').getByRole('option', { name: /Fabrikam/ }).click();
  await page.getByTestId('chosen-target').filter({ hasText: 'Fabrikam' }).waitFor();
  await page.getByRole('button', { name: 'Next: mapping' }).click();

  // Both source groups, the scope tag, and the conditional access policy's
  // break-glass user and named location have a same-named counterpart in
  // Fabrikam: pre-filled and marked.
  // (the rows and their suggestions render as the mapping loads: wait, bounded, for the fifth)
  await page.getByTestId('mapping-row').nth(4).waitFor();
  await page.getByTestId('suggested').nth(4).waitFor();
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
  await waitOrExplain(page, page.getByTestId('preview-summary'), 'the preview run', RUN_WAIT);
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
  await waitOrExplain(page, page.getByTestId('preview-summary'), 'the preview run', RUN_WAIT);
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

  assert.match(await page.getByTestId('preview-what').textContent(), /Contoso.*into Fabrikam/);
  // Sorted: what changes comes before what does not; a chip filters by outcome.
  const order = ['failed', 'conflict', 'would_create', 'would_update', 'skipped', 'unchanged'];
  const ranks = outcomes.map((o) => order.indexOf(o));
  assert.deepEqual(ranks, [...ranks].sort((a, b) => a - b), `preview rows are sorted by outcome: ${outcomes}`);
  await page.getByTestId('preview-summary').getByRole('button', { name: /would update/ }).click();
  assert.ok((await page.getByTestId('item-row').evaluateAll((rows) => rows.map((r) => r.dataset.outcome))).every((o) => o === 'would_update'));
  await page.getByTestId('preview-summary').getByRole('button', { name: /would update/ }).click();

  await page.getByRole('button', { name: 'Next: execute' }).click();
  const count = (o) => outcomes.filter((x) => x === o).length;
  assert.match(
    await page.getByTestId('execute-consequences').textContent(),
    new RegExp(`creates ${count('would_create')} objects?, overwrites ${count('would_update')} objects? and leaves ${count('unchanged')} objects? unchanged in Fabrikam`),
  );
  const execute = page.getByRole('button', { name: 'Execute restore' });
  assert.equal(await execute.isDisabled(), true);
  await page.getByLabel(/to confirm/).fill('Contoso');
  assert.equal(await execute.isDisabled(), true, 'the wrong tenant name must not enable execute');
  await page.getByLabel(/to confirm/).fill('Fabrikam');
  await execute.click();
  await page.waitForURL(/\/runs\/\d+\?tenant=/);
  await waitOrExplain(page, page.locator('.run-summary').getByText('succeeded'), 'the restore run', RUN_WAIT);
  await page.getByTestId('item-row').first().waitFor();
  const executed = await page.getByTestId('item-row').evaluateAll((rows) => rows.map((r) => r.dataset.outcome));
  assert.equal(executed.length, outcomes.length);
  assert.equal(executed.filter((o) => o === 'updated').length, 2, `outcomes: ${executed}`);
  assert.equal(executed.filter((o) => o === 'unchanged').length, 1, `outcomes: ${executed}`);
  assert.equal(executed.filter((o) => o === 'created').length, executed.length - 3, `outcomes: ${executed}`);
  // The run belongs to Fabrikam; the picker stays on Contoso and the page says so.
  await page.getByTestId('tenant-picker').filter({ hasText: 'Contoso' }).waitFor();
  await page.getByTestId('other-tenant').filter({ hasText: 'Fabrikam' }).waitFor();
  assert.equal(await page.getByTestId('run-source').textContent(), 'Contoso');
  assert.match(await page.getByTestId('run-backup-set').textContent(), /Contoso baseline/);
  assert.ok((await page.getByTestId('run-mapping-row').count()) >= 1, 'the mapping is on the run page');
  await page.getByTestId('inventory-notice').waitFor();
  await shot(page, 'restore-run');
  // A preview right after the restore: every item unchanged.
  const restoreRun = await apiJson(page, `/api/v1/tenants/${stack.fabrikam}/runs/${runIdFromUrl(page.url())}`);
  const again = await page.request.post(`/api/v1/tenants/${stack.fabrikam}/restores/preview`, {
    headers: { 'X-CSRF-Token': await csrf(page) },
    data: {
      source_tenant_id: restoreRun.params.source_tenant_id,
      backup_set_id: restoreRun.params.backup_set_id,
      item_ids: restoreRun.params.item_ids ?? undefined,
      group_mapping: restoreRun.params.group_mapping,
    },
  });
  assert.equal(again.status(), 202, await again.text());
  const previewId = (await again.json()).run.id;
  const previewRun = await waitForRun(page, stack.fabrikam, previewId);
  assert.equal(previewRun.status, 'succeeded');
  const after = await apiJson(page, `/api/v1/tenants/${stack.fabrikam}/runs/${previewId}/items?limit=200`);
  assert.equal(after.items.length, executed.length);
  assert.deepEqual([...new Set(after.items.map((i) => i.outcome))], ['unchanged'], JSON.stringify(after.items.filter((i) => i.outcome !== 'unchanged').map((i) => [i.details?.name, i.outcome, i.details?.diff])));
  await pickTenant(page, 'Fabrikam');

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
  await pickTenant(page, 'Contoso');
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
  await pickTenant(page, 'Contoso');
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
  await pickTenant(page, 'Contoso');
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
  await pickTenant(page, 'Contoso');
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
  await pickTenant(page, 'Contoso');

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

test('tenant administration: connection check, tags; your account: an API token shown once', async () => {
  const page = await stack.newPage();
  await signIn(page, stack.email, stack.password);
  await pickTenant(page, 'Fabrikam');
  await page.getByRole('link', { name: 'Tenant', exact: true }).click();
  await page.getByRole('button', { name: 'Check the connection' }).click();
  await page.getByText('TenantAtlas gets a token and can read every object type.').waitFor({ timeout: 60_000 });
  // The check read when the client secret ends from the app registration.
  await page.getByTestId('secret-expiry').filter({ hasText: '(read from Entra)' }).waitFor({ timeout: 10_000 });
  // A date entered with the secret (the simulator's secret; not a real credential):
  // a past one shows as expired, a later one as the date.
  const creds = page.getByRole('form', { name: 'App credentials' });
  for (const [day, shown] of [
    ['2026-01-31', 'expired on 2026-01-31: set a new secret (as entered)'],
    ['2099-01-31', '2099-01-31 (as entered)'],
  ]) {
    await creds.getByLabel(/Client secret/).fill('fabrikam-secret-Qx8~');
    await creds.getByLabel(/Secret expires/).fill(day);
    await creds.getByRole('button', { name: 'Save credentials' }).click();
    await page.getByTestId('secret-expiry').filter({ hasText: shown }).waitFor();
  }
  // The cloud is saved with the credentials and shown (then set back).
  for (const [cloud, shown] of [['usgov', 'GCC High'], ['global', 'Global (commercial, GCC)']]) {
    await creds.getByLabel(/Client secret/).fill('fabrikam-secret-Qx8~');
    await creds.getByLabel('Cloud').selectOption(cloud);
    await creds.getByRole('button', { name: 'Save credentials' }).click();
    await page.getByTestId('tenant-cloud').filter({ hasText: shown }).waitFor();
  }
  // The secret is never shown back: the field is empty, the page says one is stored.
  assert.equal(await page.getByLabel(/Client secret/).inputValue(), '');
  await page.getByText('stored, sealed; never shown').waitFor();
  await page.getByLabel('Tags, separated by commas').fill('platinum, eu');
  await page.getByRole('button', { name: 'Save tags' }).click();
  await page.getByTestId('toast').filter({ hasText: 'Tags saved.' }).waitFor();
  // Its own retention rule over every backup set; a bad time zone names the field.
  const retention = page.getByRole('form', { name: 'Retention' });
  await retention.getByLabel('Keep the newest').fill('30');
  await retention.getByLabel('Time zone').fill('Mars/Olympus');
  await retention.getByRole('button', { name: 'Save retention' }).click();
  await retention.getByText(/retention\.time_zone/).first().waitFor();
  await retention.getByLabel('Time zone').fill('Europe/Berlin');
  await retention.getByRole('button', { name: 'Save retention' }).click();
  await page.getByTestId('tenant-retention').getByText('Keeps the newest 30 (Europe/Berlin).').waitFor();
  await retention.getByRole('button', { name: 'Apply now' }).click();
  await page.getByTestId('toast').filter({ hasText: 'Retention queued' }).waitFor();
  // The picker finds the tenant by its new tag.
  await page.getByTestId('tenant-picker').click();
  await page.getByRole('combobox', { name: 'Find a tenant' }).fill('platinum');
  await page.getByRole('dialog', { name: 'Switch tenant' }).getByRole('option', { name: /Fabrikam/ }).waitFor();
  await page.keyboard.press('Escape');
  // A readonly member sees the roles but no control to change them.
  const reader = await stack.newPage();
  await signIn(reader, users.reader, PASSWORD);
  await reader.getByRole('link', { name: 'Tenant', exact: true }).click();
  await reader.getByTestId('members-table').waitFor();
  assert.equal(await reader.getByRole('button', { name: 'Save credentials' }).count(), 0);
  assert.equal(await reader.getByRole('button', { name: /^Remove / }).count(), 0);
  assert.equal(await reader.getByRole('button', { name: 'Check the connection' }).count(), 0);
  await reader.context().close();

  await page.getByRole('link', { name: /Demo|@/ }).first().click();
  await page.getByRole('heading', { name: 'Your account' }).waitFor();
  await page.getByLabel('Token name').fill('nightly export');
  await page.getByRole('button', { name: 'Create token' }).click();
  const secret = (await page.getByTestId('token-secret').textContent()).trim();
  assert.match(secret, /^tat_/);
  const me = await fetch(`${stack.base}/api/v1/me`, { headers: { Authorization: `Bearer ${secret}` } });
  assert.equal(me.status, 200);
  await page.getByRole('button', { name: 'Done' }).click();
  assert.equal(await page.getByTestId('token-secret').count(), 0, 'the secret is shown once');
  page.once('dialog', (d) => d.accept());
  await page.getByRole('button', { name: 'Revoke nightly export' }).click();
  await page.getByTestId('tokens-table').getByText('revoked').waitFor();
  const after = await fetch(`${stack.base}/api/v1/me`, { headers: { Authorization: `Bearer ${secret}` } });
  assert.equal(after.status, 401);
  await page.context().close();
});

test('schedules: the next fire times while typing, a field-named error, retention, switch off; a pinned backup set', async () => {
  const page = await stack.newPage();
  await signIn(page, stack.email, stack.password);
  await page.getByRole('link', { name: 'Schedules', exact: true }).click();
  await page.getByRole('heading', { name: 'Schedules' }).waitFor();
  await page.getByRole('button', { name: 'New schedule' }).click();
  const form = page.getByRole('article', { name: 'New schedule' });
  await form.getByLabel('Name').fill('Contoso nightly');
  await form.getByLabel(/^When/).fill('30 2 * *');
  await form.getByTestId('preview').getByText('cron: needs 5 fields').waitFor();
  await form.getByLabel(/^When/).fill('30 2 * * *');
  await form.getByLabel('Time zone').fill('Europe/Berlin');
  await form.getByTestId('preview').getByText(/Next: .*02:30 CE/).waitFor();
  await form.getByLabel('These tenants').check();
  await form.getByLabel('Contoso', { exact: true }).check();
  await form.getByLabel(/Spread the tenants/).fill('10');
  await form.getByLabel('Days kept', { exact: true }).fill('7');
  await form.getByLabel('Weeks kept', { exact: true }).fill('4');
  await form.getByLabel('Months kept', { exact: true }).fill('12');
  await form.getByRole('button', { name: 'Create schedule' }).click();
  await page.getByTestId('toast').filter({ hasText: 'Schedule “Contoso nightly” saved.' }).waitFor();
  const row = page.getByTestId('schedules-table').getByRole('row', { name: /Contoso nightly/ });
  await row.getByText('keeps GFS 7 daily, 4 weekly, 12 monthly').waitFor();
  await row.getByText('spread over 10 min').waitFor();
  // Its next 5 fire times, in the schedule's zone.
  await row.getByRole('button', { name: 'Contoso nightly', exact: true }).click();
  const next = page.getByTestId('next-fire-times').getByRole('listitem');
  await next.nth(4).waitFor();
  assert.equal(await next.count(), 5);
  assert.match(await next.first().textContent(), /02:30 CE/);
  await page.getByTestId('schedule-detail').getByText('No slot has fired yet.').waitFor();
  const saved = (await apiJson(page, '/api/v1/schedules')).items.find((x) => x.name === 'Contoso nightly');
  assert.deepEqual(saved.tenant_ids, [stack.contoso]);
  assert.equal(saved.retention.gfs_monthly, 12);
  assert.equal(saved.jitter_seconds, 600);
  // A second schedule with the same name: the error names the field.
  await page.getByRole('button', { name: 'New schedule' }).click();
  const again = page.getByRole('article', { name: 'New schedule' });
  await again.getByLabel('Name').fill('Contoso nightly');
  await again.getByRole('button', { name: 'Create schedule' }).click();
  assert.equal(await again.getByTestId('problem-field').textContent(), 'name');
  await again.getByRole('button', { name: 'Cancel' }).click();
  // Switched off: no next fire time.
  // A click, not uncheck(): the switch shows the server's state, which follows the answer.
  await row.getByRole('switch', { name: 'Contoso nightly on' }).click();
  await page.getByTestId('toast').filter({ hasText: '“Contoso nightly” switched off.' }).waitFor();
  await row.getByRole('cell', { name: 'off', exact: true }).waitFor();
  // Legal hold on a backup set (owners).
  await pickTenant(page, 'Contoso');
  await page.getByRole('link', { name: 'Backup sets', exact: true }).click();
  const first = page.getByTestId('backup-sets-table').getByRole('row').nth(1);
  const pinButton = first.getByRole('button', { name: /^Pin / });
  const setName = (await pinButton.textContent()).replace(/^Pin /, '');
  await pinButton.click();
  await page.getByTestId('toast').filter({ hasText: `“${setName}” pinned: retention keeps it.` }).waitFor();
  await first.getByText('pinned', { exact: true }).waitFor();
  const sets = (await apiJson(page, `/api/v1/tenants/${stack.contoso}/backup-sets?limit=50`)).items;
  assert.equal(sets.find((x) => x.name === setName).pinned, true);
  await first.getByRole('button', { name: `Unpin ${setName}` }).click();
  await page.getByTestId('toast').filter({ hasText: 'unpinned' }).waitFor();
  // Deleted.
  await page.getByRole('link', { name: 'Schedules', exact: true }).click();
  page.once('dialog', (d) => d.accept());
  await page.getByRole('button', { name: 'Delete Contoso nightly' }).click();
  await page.getByTestId('toast').filter({ hasText: 'Schedule “Contoso nightly” deleted.' }).waitFor();
  await page.context().close();
});

test('portfolio: every tenant with its last backup, next backup and what needs attention; search and sort', async () => {
  const page = await stack.newPage();
  await signIn(page, stack.email, stack.password);
  await page.getByRole('link', { name: 'Portfolio', exact: true }).click();
  await page.getByRole('heading', { name: 'Portfolio' }).waitFor();
  const api = await apiJson(page, '/api/v1/portfolio?limit=200');
  const contoso = api.items.find((r) => r.name === 'Contoso');
  assert.ok(contoso.last_backup, 'the demo backed Contoso up');
  const row = page.getByTestId('portfolio-table').getByRole('row', { name: /^Contoso/ });
  await row.getByText(/old\)/).waitFor();
  assert.equal(await page.getByTestId('portfolio-row').count(), Math.min(50, api.total));
  // A search narrows it; sorting by backup age puts the never-backed-up last.
  await page.getByLabel('Find tenants').fill('Fabrikam');
  await page.getByTestId('portfolio-total').getByText(/^1 tenant$/).waitFor();
  await page.getByLabel('Find tenants').fill('');
  await page.getByRole('button', { name: /^Sort by Last successful backup/ }).click();
  await page.getByRole('button', { name: 'Sort by Last successful backup, ascending' }).waitFor();
  const sorted = (await apiJson(page, '/api/v1/portfolio?sort=last_backup&order=asc&limit=50')).items.map((r) => r.name);
  await page.getByTestId('portfolio-row').first().getByText(sorted[0], { exact: true }).waitFor();
  // Only what needs attention (the demo's tenants have no schedule).
  await page.getByLabel('Only tenants that need attention').check();
  await page.getByTestId('portfolio-row').first().getByText('no schedule backs it up', { exact: false }).waitFor();
  // A platform admin configures the MSP's app (a certificate is made without a secret) and gets an admin-consent link.
  await page.getByText('Add a tenant', { exact: true }).click();
  await page.getByLabel('MSP app client id').fill('msp-multi-tenant-app');
  await page.getByRole('button', { name: 'Save the MSP app' }).click();
  await page.getByRole('button', { name: 'Get an admin-consent link' }).click();
  await page.getByTestId('consent-link').getByRole('link', { name: /adminconsent\?client_id=msp-multi-tenant-app&/ }).waitFor();
  // A platform admin imports tenants from a CSV file: the good row is created, the bad one names its column.
  await page.getByText('Import tenants from CSV').click();
  await page.getByLabel('CSV file').setInputFiles({
    name: 'tenants.csv',
    mimeType: 'text/csv',
    buffer: Buffer.from('name,entra_tenant_id,cloud,tags\nImported Dental,dental.onmicrosoft.com,global,dental;eu\nImported Mars,mars.onmicrosoft.com,mars,\n'),
  });
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  const result = page.getByTestId('import-result');
  await result.getByText('1 created, 0 already there, 1 failed.').waitFor();
  await result.getByText(/^cloud: must be global, usgov, usgovdod or china/).waitFor();
  await page.getByLabel('Only tenants that need attention').uncheck();
  await page.getByLabel('Find tenants').fill('Imported');
  await page.getByTestId('portfolio-total').getByText(/^1 tenant$/).waitFor();
  await page.context().close();
});

test('drift: an admin change in Intune is found with its actor and diff; accept moves the baseline; revert opens the restore', async () => {
  const page = await stack.newPage();
  await signIn(page, stack.email, stack.password);
  await pickTenant(page, 'Contoso');
  const tenant = await apiJson(page, `/api/v1/tenants/${stack.contoso}`);
  const policies = (await apiJson(page, `/api/v1/tenants/${stack.contoso}/policies?type=deviceConfiguration&limit=50`)).items;
  const byName = (n) => policies.find((p) => p.display_name === n);
  // An admin edits two policies in the Intune portal (recorded in its audit log).
  const change = async (name, patch) => {
    const r = await page.request.post(`${stack.sim}/_sim/admin-change`, {
      data: { tenant: tenant.entra_tenant_id, collection: 'deviceConfigurations', id: byName(name).graph_id, patch, user: 'alex@contoso.example' },
    });
    assert.equal(r.status(), 204, await r.text());
  };
  await change('Win - Finance restrictions', { cameraBlocked: false });
  await change('Win - BitLocker', { description: 'edited in the portal' });
  await page.getByRole('link', { name: 'Drift', exact: true }).click();
  await page.getByRole('heading', { name: /^Drift/ }).waitFor();
  await page.getByRole('button', { name: 'Detect drift now' }).click();
  const toast = page.getByTestId('toast').filter({ hasText: /Drift detection queued as run #\d+/ });
  await toast.waitFor();
  const run = Number((await toast.textContent()).match(/run #(\d+)/)[1]);
  assert.equal((await waitForRun(page, stack.contoso, run)).status, 'succeeded');
  await page.reload();
  const table = page.getByTestId('drift-table');
  const finance = table.getByRole('row', { name: /Win - Finance restrictions/ });
  await finance.waitFor();
  await finance.getByText('alex@contoso.example', { exact: true }).waitFor();
  await finance.getByText('(1 field)').waitFor();
  await finance.getByRole('button', { name: 'Win - Finance restrictions', exact: true }).click();
  const detail = page.getByTestId('finding-detail');
  await detail.getByTestId('diff').getByRole('cell', { name: 'cameraBlocked', exact: true }).waitFor();
  await detail.getByText(/Patch deviceConfigurations at/).first().waitFor();
  // Accept: the live policy is part of the baseline now.
  page.once('dialog', (d) => d.accept());
  await finance.getByRole('button', { name: 'Accept Win - Finance restrictions' }).click();
  await page.getByTestId('toast').filter({ hasText: 'is part of the baseline now' }).waitFor();
  await table.getByRole('row', { name: /Win - Finance restrictions/ }).waitFor({ state: 'detached' });
  const accepted = (await apiJson(page, `/api/v1/tenants/${stack.contoso}/drift-findings?status=accepted`)).items;
  const finding = accepted.find((f) => f.display_name === 'Win - Finance restrictions');
  assert.ok(finding?.accepted_set_id, 'the accept made a new baseline');
  const baseline = await apiJson(page, `/api/v1/tenants/${stack.contoso}/backup-sets/${finding.accepted_set_id}`);
  assert.equal(baseline.status, 'complete');
  assert.notEqual(baseline.derived_from, null);
  // Revert: the restore preview of the policy from the baseline, then the wizard on it.
  const bitlocker = table.getByRole('row', { name: /Win - BitLocker/ });
  await bitlocker.getByRole('button', { name: 'Revert Win - BitLocker…' }).click();
  await page.getByTestId('toast').filter({ hasText: /Restore preview of “Win - BitLocker” queued as run #\d+/ }).waitFor();
  await page.waitForURL(/\/restore\?set=\d+&items=\d+/);
  await page.getByTestId('step-heading').getByText('Step 1 of 5').waitFor();
  const open = (await apiJson(page, `/api/v1/tenants/${stack.contoso}/drift-findings`)).items;
  const reverting = open.find((f) => f.display_name === 'Win - BitLocker');
  assert.ok(reverting.revert_run_id, 'the revert is recorded on the finding');
  assert.equal((await waitForRun(page, stack.contoso, reverting.revert_run_id)).status, 'succeeded');
  await page.context().close();
});

test('alerts: a webhook shows its signing secret once; a test to a dead receiver is retried and logged', async () => {
  const page = await stack.newPage();
  await signIn(page, stack.email, stack.password);
  await page.getByRole('link', { name: 'Alerts', exact: true }).click();
  await page.getByRole('heading', { name: 'Alerts' }).waitFor();
  await page.getByRole('button', { name: 'New alert channel' }).click();
  let form = page.getByRole('article', { name: 'New alert channel' });
  await form.getByLabel('Name').fill('SIEM');
  await form.getByLabel('URL').fill('https://siem.example.com/hooks/secret-path-123');
  await form.getByRole('button', { name: 'Create channel' }).click();
  const secret = (await page.getByTestId('signing-secret').textContent()).trim();
  assert.match(secret, /^whsec_[A-Za-z0-9+/=]+$/);
  await page.getByRole('button', { name: 'Done' }).click();
  const row = page.getByTestId('channels-table').getByRole('row', { name: /SIEM/ });
  await row.getByText('https://siem.example.com/…').waitFor();
  assert.equal(await page.getByText('secret-path-123').count(), 0, 'the URL path is not shown back');
  assert.equal(await page.getByText(secret).count(), 0, 'the secret is shown once');
  // A chat channel whose receiver is down: the test is tried 4 times, then logged as failed.
  await page.getByRole('button', { name: 'New alert channel' }).click();
  form = page.getByRole('article', { name: 'New alert channel' });
  await form.getByLabel('Name').fill('Old PSA');
  await form.getByLabel('For').selectOption({ label: 'Contoso' });
  await form.getByLabel('Kind').selectOption({ label: 'Teams or Slack' });
  await form.getByLabel('URL').fill('http://127.0.0.1:9/hook');
  await form.getByRole('button', { name: 'Create channel' }).click();
  const psa = page.getByTestId('channels-table').getByRole('row', { name: /Old PSA/ });
  await psa.getByRole('button', { name: 'Send a test to Old PSA' }).click();
  await page.getByTestId('toast').filter({ hasText: 'A test alert is on its way to “Old PSA”.' }).waitFor();
  const channel = (await apiJson(page, '/api/v1/alert-channels')).items.find((c) => c.name === 'Old PSA');
  const deadline = Date.now() + 90_000;
  let deliveries;
  while (Date.now() < deadline) {
    deliveries = (await apiJson(page, `/api/v1/alert-channels/${channel.id}/deliveries`)).items;
    if (deliveries[0]?.status === 'failed') break;
    await new Promise((r) => setTimeout(r, 500)); // polling with a deadline: retries back off
  }
  assert.equal(deliveries[0].status, 'failed', JSON.stringify(deliveries));
  assert.equal(deliveries[0].attempts, 4);
  await psa.getByRole('button', { name: 'Old PSA', exact: true }).click();
  const log = page.getByTestId('deliveries-table');
  await log.getByText('failed', { exact: true }).waitFor();
  await log.getByText(/could not be reached/).waitFor();
  // Edited: a new name and target, the kind kept; the target is shown masked again.
  await psa.getByRole('button', { name: 'Edit Old PSA' }).click();
  const edit = page.getByRole('article', { name: 'Edit Old PSA' });
  await edit.getByLabel('Name').fill('New PSA');
  await edit.getByLabel('URL').fill('https://psa.example.com/hook/secret-path-456');
  await edit.getByRole('button', { name: 'Save channel' }).click();
  const renamed = page.getByTestId('channels-table').getByRole('row', { name: /New PSA/ });
  await renamed.getByText('https://psa.example.com/…').waitFor();
  const saved = (await apiJson(page, '/api/v1/alert-channels')).items.find((c) => c.id === channel.id);
  assert.equal(saved.name, 'New PSA');
  assert.equal(saved.kind, 'chat');
  await page.context().close();
});

// ---- At MSP scale: 500 more tenants, 1,000 runs, one person who looks after them ----

const night = 'night@msp.example'; // operator in every tenant; created by the scale test
const PLACES = ['Alpine', 'Bayside', 'Cedar', 'Delta', 'Evergreen', 'Foxglove', 'Granite', 'Harbor', 'Ironwood', 'Juniper', 'Kestrel'];
const TRADES = ['Legal', 'Logistics', 'Clinic', 'Bakery', 'Architects', 'Motors', 'Pharmacy', 'Realty', 'Foods', 'Insurance', 'Studios', 'Outfitters'];
const scaleName = (i) => (i === 250 ? 'Northwind Dental Care' : `${PLACES[i % PLACES.length]} ${TRADES[i % TRADES.length]} ${String(i).padStart(3, '0')}`);
let scaleTenants = []; // [{ id, name }]

// Runs `fn` over `items`, `width` at a time.
async function inBatches(items, width, fn) {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(fn));
}

async function waitForNoActiveRuns(page, timeoutMs = 180_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const active = await apiJson(page, '/api/v1/runs/active');
    if (active.items.length === 0) return;
    if (Date.now() > end) throw new Error(`${active.items.length} runs still active`);
    await page.waitForTimeout(250);
  }
}

async function unread(page) {
  return (await apiJson(page, '/api/v1/notifications?limit=1')).unread_count;
}

test('at MSP scale: the picker finds any of 502 tenants, runs of every tenant filter, notifications stay one per run', { timeout: 900_000 }, async () => {
  const admin = await stack.newPage();
  await signIn(admin, stack.email, stack.password);
  const headers = { 'X-CSRF-Token': await csrf(admin) };
  cli(stack.db, ['user', 'add', '--email', night, '--name', 'Night Shift'], PASSWORD);
  // 500 tenants, each tagged by region (every 50th also "gold"), each with
  // the night operator as a member.
  const indexes = Array.from({ length: 500 }, (_, i) => i + 1);
  await inBatches(indexes, 25, async (i) => {
    const r = await admin.request.post('/api/v1/tenants', { headers, data: { name: scaleName(i) } });
    assert.equal(r.status(), 201, await r.text());
    const t = await r.json();
    scaleTenants.push({ id: t.id, name: t.name, i });
    const tags = await admin.request.put(`/api/v1/tenants/${t.id}/tags`, {
      headers,
      data: { tags: [i % 2 ? 'eu' : 'us', ...(i % 50 === 0 ? ['gold'] : [])] },
    });
    assert.equal(tags.status(), 200, await tags.text());
  });
  scaleTenants.sort((a, b) => a.i - b.i);
  const all = [...scaleTenants.map((t) => t.id), stack.contoso, stack.fabrikam];
  await inBatches(all, 25, async (id) => {
    const r = await admin.request.post(`/api/v1/tenants/${id}/members`, { headers, data: { email: night, role: 'operator' } });
    assert.equal(r.status(), 200, await r.text());
  });
  await admin.context().close();

  const page = await stack.newPage();
  await signIn(page, night, PASSWORD);
  const nh = { 'X-CSRF-Token': await csrf(page) };
  const start = async (tenant, what) => {
    const r = await page.request.post(`/api/v1/tenants/${tenant}/${what}`, { headers: nh });
    assert.ok(r.status() === 202, `${what}: ${r.status()} ${await r.text()}`);
    return (await r.json()).run.id;
  };
  // 110 runs (a sync and a connection check in 55 tenants; none has
  // credentials, so each fails): at most 110 notifications, one per run.
  const first = [];
  await inBatches(scaleTenants.slice(0, 55), 11, async (t) => {
    first.push(await start(t.id, 'policies/sync'), await start(t.id, 'connection-check'));
  });
  assert.equal(new Set(first).size, 110);
  await waitForNoActiveRuns(page);
  const notes = await apiJson(page, '/api/v1/notifications?limit=200');
  assert.equal(notes.items.length, 110, 'one notification per run, not one per status');
  assert.equal(notes.unread_count, 110);
  assert.deepEqual(new Set(notes.items.map((n) => n.run_id)), new Set(first));
  assert.ok(notes.items.every((n) => / failed/.test(n.title) && (n.title.startsWith('Inventory sync of ') || n.title.startsWith('Connection check of '))), notes.items[0].title);
  // The other 890 runs: 1,000 in all.
  await inBatches(scaleTenants.slice(55), 15, async (t) => {
    await start(t.id, 'policies/sync');
    await start(t.id, 'connection-check');
  });
  await waitForNoActiveRuns(page);
  assert.equal((await apiJson(page, `/api/v1/runs?tenant=${scaleTenants[499].id}`)).items.length, 2);

  // "Failures only": 200 successful runs (snapshots in Contoso) make no unread notification.
  await page.goto('/account');
  await page.getByLabel('Notify me about').selectOption('failures');
  await page.waitForResponse((r) => r.url().endsWith('/api/v1/me/preferences') && r.status() === 200).catch(() => {});
  await page.getByRole('button', { name: /Notifications, \d+ unread/ }).click();
  await page.getByRole('button', { name: 'Mark all read' }).click();
  await page.getByTestId('unread-count').filter({ hasText: /^0$/ }).waitFor();
  await page.keyboard.press('Escape');
  assert.equal((await apiJson(page, '/api/v1/me')).preferences.notify, 'failures');
  const policies = (await apiJson(page, `/api/v1/tenants/${stack.contoso}/policies?limit=200`)).items.map((p) => p.id);
  const successes = new Set();
  while (successes.size < 200) {
    const batch = policies.slice(0, Math.min(policies.length, 200 - successes.size));
    await inBatches(batch, 10, async (id) => successes.add(await start(stack.contoso, `policies/${id}/capture`)));
    await waitForNoActiveRuns(page);
  }
  assert.equal(successes.size, 200);
  const statuses = new Set();
  for (const id of [...successes].slice(0, 20)) statuses.add((await apiJson(page, `/api/v1/tenants/${stack.contoso}/runs/${id}`)).status);
  assert.deepEqual([...statuses], ['succeeded']);
  assert.equal(await unread(page), 0, '200 successful runs, failures only: nothing unread');
  // ... and a failure still reaches them.
  await start(scaleTenants[0].id, 'policies/sync');
  await waitForNoActiveRuns(page);
  assert.equal(await unread(page), 1);

  // The picker: "/" opens it from anywhere; "Dental" and "004" find their tenant.
  await page.goto('/runs');
  await page.locator('main h1').waitFor();
  await page.keyboard.press('/');
  const search = page.getByRole('combobox', { name: 'Find a tenant' });
  await search.waitFor();
  await page.waitForFunction(() => document.activeElement?.getAttribute('aria-label') === 'Find a tenant', null, { timeout: 5_000 });
  const options = page.getByRole('dialog', { name: 'Switch tenant' }).getByRole('option');
  assert.ok((await options.count()) <= 60, 'the picker lists a page of tenants, not 502');
  await search.fill('Dental');
  await page.getByTestId('tenant-count').filter({ hasText: '1 of 502 tenants match' }).waitFor();
  assert.deepEqual((await options.allTextContents()).map((t) => t.split(/current|operator/)[0].trim()), ['Northwind Dental Care']);
  await shot(page, 'tenant-picker');
  await search.fill('004');
  await page.getByTestId('tenant-count').filter({ hasText: /^1 of 502/ }).waitFor();
  assert.match(await options.first().textContent(), /004/);
  await search.fill('gold');
  await page.getByTestId('tenant-count').filter({ hasText: '10 of 502 tenants match' }).waitFor();
  await search.fill('dental');
  await search.press('Enter');
  await page.getByTestId('tenant-picker').filter({ hasText: 'Northwind Dental Care' }).waitFor();
  // Recent tenants come first next time.
  await pickTenant(page, 'Contoso');
  await page.keyboard.press('Control+k');
  await page.getByRole('group', { name: 'Recent' }).getByRole('option', { name: /Northwind Dental Care/ }).waitFor();
  await page.keyboard.press('Escape');

  // The restore's target step: a search with a page of results, not 502 radio buttons.
  await page.goto('/restore');
  const set = page.getByLabel('Backup set');
  await set.locator('option', { hasText: 'Contoso baseline' }).first().waitFor({ state: 'attached' });
  const label = (await set.locator('option').allTextContents()).find((t) => t.startsWith('Contoso baseline'));
  await set.selectOption({ label });
  await page.getByRole('button', { name: /^Select the \d+ shown$/ }).click();
  await page.getByRole('button', { name: 'Next: target tenant' }).click();
  const targets = page.getByTestId('target-search').getByRole('option');
  await targets.first().waitFor();
  assert.equal(await page.locator('input[type=radio]').count(), 0);
  assert.ok((await targets.count()) <= 50, `${await targets.count()} target options shown`);
  assert.match(await page.getByTestId('target-search').getByTestId('tenant-count').textContent(), /502 tenants · showing 50/);
  await page.getByRole('combobox', { name: 'Target tenant' }).fill('fabrikam');
  assert.equal(await targets.count(), 1);
  await shot(page, 'restore-target');

  // Every tenant's runs: filtered by tenant, type, status and time.
  await page.goto('/runs?tenant=all');
  await page.getByTestId('run-row').first().waitFor();
  assert.equal(await page.getByTestId('run-row').count(), 25);
  const tenantsShown = new Set(await page.locator('[data-testid=run-row] td:nth-child(3)').allTextContents());
  assert.ok(tenantsShown.size > 1, 'runs of several tenants on one page');
  await shot(page, 'runs-all-tenants');
  const one = scaleTenants[3];
  await page.getByLabel('Filter by tenant').selectOption(String(one.id));
  await page.waitForURL(new RegExp(`tenant=${one.id}`));
  await page.getByTestId('run-row').filter({ hasText: one.name }).first().waitFor();
  assert.deepEqual([...new Set(await page.locator('[data-testid=run-row] td:nth-child(3)').allTextContents())], [one.name]);
  await page.getByLabel('Type').selectOption('tenant.connection_check');
  await page.waitForURL(/type=tenant.connection_check/);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=run-row]').length === 1);
  assert.match(await page.getByTestId('run-row').textContent(), /Connection check.*failed/);
  await page.getByLabel('Filter by tenant').selectOption('all');
  await page.getByLabel('Status').selectOption('succeeded');
  // Only tenants with credentials pass a connection check (Fabrikam, checked earlier).
  await page.waitForURL(/status=succeeded/);
  await page.getByTestId('run-row').first().waitFor();
  assert.deepEqual([...new Set(await page.locator('[data-testid=run-row] td:nth-child(3)').allTextContents())], ['Fabrikam']);
  await page.getByLabel('Status').selectOption('cancelled');
  await page.getByText('No runs match these filters.').waitFor();
  await page.getByLabel('Status').selectOption('succeeded');
  await page.getByLabel('Type').selectOption('policy.capture_snapshot');
  await page.getByLabel('Started within').selectOption('1h');
  await page.getByTestId('run-row').first().waitFor();
  assert.ok((await page.locator('[data-testid=run-row] td:nth-child(3)').allTextContents()).every((t) => t === 'Contoso'));

  // More active runs than the widget shows: its "more" line leads to every tenant's runs.
  await stack.simLatency(300);
  await inBatches(policies.slice(0, 10), 10, (id) => start(stack.contoso, `policies/${id}/capture`));
  await page.getByTestId('more-active-runs').click();
  await page.waitForURL(/\/runs\?tenant=all/);
  await stack.simLatency(0);
  await waitForNoActiveRuns(page);
  await page.context().close();
});

// Every page, at desktop and phone width: axe-core finds no serious or
// critical violation; nothing is wider than the phone; screenshots of both.
test('axe-core: no serious or critical violation on any page at 1280 and 390 px', { timeout: 600_000 }, async () => {
  const failures = [];
  for (const [width, height] of [[1280, 800], [390, 844]]) {
    const page = await stack.newPage({ width, height }, { bypassCSP: true });
    await page.goto('/');
    await page.getByLabel('Email').waitFor();
    failures.push(...(await axeViolations(page)).map((v) => `${width}px /login: ${v}`));
    await signIn(page, stack.email, stack.password);
    await pickTenant(page, 'Contoso');
    const policy = (await apiJson(page, `/api/v1/tenants/${stack.contoso}/policies?limit=1`)).items[0].id;
    const set = (await apiJson(page, `/api/v1/tenants/${stack.contoso}/backup-sets?limit=1`)).items[0].id;
    const run = (await apiJson(page, `/api/v1/tenants/${stack.contoso}/runs?type=backup_set.create&limit=1`)).items[0].id;
    const pages = ['/policies', `/policies/${policy}`, '/backup-sets', `/backup-sets/${set}`, '/restore', '/runs', '/runs?tenant=all', `/runs/${run}`, '/audit', '/tenant', '/account', '/schedules', '/portfolio', '/alerts', '/drift'];
    for (const path of pages) {
      await page.goto(path);
      await page.locator('main h1').first().waitFor();
      await page.waitForLoadState('networkidle').catch(() => {});
      await page.locator('[aria-busy=true]').first().waitFor({ state: 'detached', timeout: 10_000 }).catch(() => {});
      failures.push(...(await axeViolations(page)).map((v) => `${width}px ${path}: ${v}`));
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (overflow > 0) failures.push(`${width}px ${path}: the page is ${overflow}px wider than the screen`);
      const name = { '/policies': 'policies', '/runs?tenant=all': 'runs-all', '/tenant': 'tenant', '/account': 'account' }[path];
      if (name) await shot(page, `${name}-${width}`);
    }
    // The restore wizard's later steps, and the open picker and bell.
    await page.goto('/restore');
    const setSelect = page.getByLabel('Backup set');
    await setSelect.locator('option', { hasText: 'Contoso baseline' }).first().waitFor({ state: 'attached' });
    await setSelect.selectOption({ label: (await setSelect.locator('option').allTextContents()).find((t) => t.startsWith('Contoso baseline')) });
    await page.getByRole('button', { name: /^Select the \d+ shown$/ }).click();
    failures.push(...(await axeViolations(page)).map((v) => `${width}px restore step 1: ${v}`));
    await page.getByRole('button', { name: 'Next: target tenant' }).click();
    await page.getByRole('combobox', { name: 'Target tenant' }).fill('Fabrikam');
    await page.getByTestId('target-search').getByRole('option', { name: /Fabrikam/ }).click();
    failures.push(...(await axeViolations(page)).map((v) => `${width}px restore step 2: ${v}`));
    await page.getByRole('button', { name: 'Next: mapping' }).click();
    await page.getByTestId('mapping-row').first().waitFor();
    failures.push(...(await axeViolations(page)).map((v) => `${width}px restore mapping: ${v}`));
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (overflow > 0) failures.push(`${width}px restore mapping: ${overflow}px too wide`);
    // The mapping's dropdowns show whole names at both widths.
    const cut = await page.evaluate(() =>
      [...document.querySelectorAll('[data-testid=mapping-row] select')].filter((s) => s.clientWidth < 120).length,
    );
    if (cut > 0) failures.push(`${width}px restore mapping: ${cut} dropdowns narrower than 120px`);
    await shot(page, `restore-mapping-${width}`);
    await page.getByTestId('tenant-picker').click();
    await page.getByRole('dialog', { name: 'Switch tenant' }).waitFor();
    failures.push(...(await axeViolations(page)).map((v) => `${width}px picker: ${v}`));
    await page.keyboard.press('Escape');
    await page.getByRole('button', { name: /Notifications, \d+ unread/ }).click();
    const panel = page.getByRole('dialog', { name: 'Notifications' });
    await panel.waitFor();
    failures.push(...(await axeViolations(page)).map((v) => `${width}px notifications: ${v}`));
    const box = await panel.boundingBox();
    if (box.x < 0 || box.x + box.width > width) failures.push(`${width}px notifications panel off screen: x ${box.x}, width ${box.width}`);
    await shot(page, `notifications-${width}`);
    // The header leaves most of a phone's height to the page.
    if (width === 390) {
      const header = await page.locator('header.app-header').boundingBox();
      if (header.height > 0.2 * height) failures.push(`390px header takes ${Math.round((100 * header.height) / height)}% of the height`);
    }
    await page.context().close();
  }
  assert.deepEqual(failures, []);
});
