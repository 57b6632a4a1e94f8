import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveKeyPair } from '../common/keys.ts';
import { chromium, type Browser, type Page } from 'playwright-core';
import { topics } from '../protocol/topics.ts';
import { withTools } from './helpers/tools.ts';
import { connect, makeBatch, makeEvent, startGateway, waitFor } from './helpers/gateway-fixtures.ts';

const MQTT = 20520;
const HTTP = 20521;
const ARTIFACTS = new URL('./artifacts/', import.meta.url).pathname;
const DAY = 86_400_000;

const rows = '#alerts tbody tr[data-alert]';
const column = (page: Page, n: number) => page.$$eval(`${rows} td:nth-child(${n})`, (tds) => tds.map((t) => t.textContent ?? ''));
const rowCount = (page: Page) => page.$$eval(rows, (r) => r.length);

withTools(test, ['chromium'])('dashboard triage: zone, time range, destination filter, merged toggle, fan-in title, per-sensor view, acknowledge/close with a note', async () => {
  const g = await startGateway({ mqtt: { port: MQTT }, http: { port: HTTP } });
  const c = await connect(`mqtt://127.0.0.1:${MQTT}`);
  let browser: Browser | undefined;
  try {
    for (const s of ['edge-a', 'edge-b', 'edge-old']) {
      await c.publishAsync(topics.status(s), JSON.stringify({ state: 'online', ts: Date.now(), model: 'netsensor-mlp-1', counters: { packets: 1234 } }), { qos: 1, retain: true });
    }
    const now = Date.now();
    const brute = Array.from({ length: 5 }, (_, i) => makeEvent({ sensor: 'edge-a', src: '10.9.9.9', dst: '10.0.0.22', dport: 22, cls: 'bruteforce', severity: 1, t: now - 60_000 + i }));
    const scan = Array.from({ length: 30 }, (_, i) => makeEvent({ sensor: 'edge-b', src: '192.0.2.66', dst: '10.0.0.20', dport: 20 + i, cls: 'scan', severity: 2, t: now - 50_000 + i }));
    // Twelve one-shot sources against one web server: a fan-in; the nine alerts opened before the threshold merge into it.
    const flood = Array.from({ length: 12 }, (_, i) => makeEvent({ sensor: 'edge-a', src: `198.51.100.${i + 1}`, dst: '10.0.0.80', dport: 80, cls: 'dos', severity: 2, t: now - 40_000 + i }));
    const old = [0, 1].map((i) => makeEvent({ sensor: 'edge-old', src: '10.7.7.7', dst: '10.0.0.23', dport: 22, cls: 'bruteforce', severity: 3, t: now - 3 * DAY + i }));
    await c.publishAsync(topics.events('edge-a'), makeBatch('edge-a', brute, 1), { qos: 1 });
    await c.publishAsync(topics.events('edge-b'), makeBatch('edge-b', scan, 1), { qos: 1 });
    await c.publishAsync(topics.events('edge-a'), makeBatch('edge-a', flood.slice(0, 9), 2), { qos: 1 });
    await c.publishAsync(topics.events('edge-a'), makeBatch('edge-a', flood.slice(9), 3), { qos: 1 });
    await c.publishAsync(topics.events('edge-old'), makeBatch('edge-old', old, 1), { qos: 1 });
    await waitFor(() => g.gw.store.countEvents() === 49, 5000, 'events stored');

    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
    });
    // A zone with a half-hour offset: every time on the page must carry it.
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 1100 }, timezoneId: 'Asia/Kolkata' });
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.goto(`http://127.0.0.1:${HTTP}/`);
    await page.waitForSelector(rows, { timeout: 10_000 });

    // Last 24 h, merged alerts hidden: brute force, the scan's class and port-scan alerts, the fan-in.
    assert.is(await rowCount(page), 4);
    assert.equal((await column(page, 2)).sort(), ['bruteforce', 'dos', 'scan', 'scan']);
    const label = await page.textContent('#range-label') ?? '';
    assert.match(label, /the last 24 hours · flow time .* Asia\/(Kolkata|Calcutta) \(GMT\+5:30\)/, label);
    for (const t of await column(page, 8)) assert.match(t, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d GMT\+5:30$/);

    // The fan-in is named by its target, not by one of its sources.
    const fanRow = `${rows}:has(td:text-is("fan_in"))`;
    assert.is(await page.textContent(`${fanRow} td:nth-child(4)`), '12 sources');
    assert.is(await page.textContent(`${fanRow} td:nth-child(5)`), '10.0.0.80');
    await page.click(fanRow);
    await page.waitForFunction(() => /against 10\.0\.0\.80 from 12 sources/.test(document.querySelector('#detail-title')?.textContent ?? ''));
    assert.match(await page.textContent('#destinations tbody') ?? '', /10\.0\.0\.80/);
    assert.not.match(await page.textContent('#sources tbody') ?? '', /198\.51\.100/, 'spoofed sources are not top sources');

    // Merged alerts on demand.
    await page.check('#filters input[name=merged]');
    await page.waitForFunction(() => document.querySelectorAll('#alerts tbody tr[data-alert]').length === 13);
    assert.is((await column(page, 9)).filter((s) => s === 'merged').length, 9);
    await page.uncheck('#filters input[name=merged]');
    await page.waitForFunction(() => document.querySelectorAll('#alerts tbody tr[data-alert]').length === 4);

    // Destination filter.
    await page.fill('#filters input[name=dest_ip]', '10.0.0.22');
    await page.click('#filters button[type=submit]');
    await page.waitForFunction(() => document.querySelectorAll('#alerts tbody tr[data-alert]').length === 1);
    assert.equal(await column(page, 5), ['10.0.0.22']);
    await page.click('#filters button[type=reset]');
    await page.waitForFunction(() => document.querySelectorAll('#alerts tbody tr[data-alert]').length === 4);

    // Time range: 7 days brings the old alert in; a custom range around it shows only it.
    await page.selectOption('#range', '7d');
    await page.waitForFunction(() => document.querySelectorAll('#alerts tbody tr[data-alert]').length === 5);
    assert.ok((await column(page, 4)).includes('10.7.7.7'));
    await page.selectOption('#range', 'custom');
    await page.fill('#from', await page.evaluate((t) => { const d = new Date(t); d.setMinutes(d.getMinutes() - d.getTimezoneOffset()); return d.toISOString().slice(0, 16); }, now - 3 * DAY - 3_600_000));
    await page.fill('#to', await page.evaluate((t) => { const d = new Date(t); d.setMinutes(d.getMinutes() - d.getTimezoneOffset()); return d.toISOString().slice(0, 16); }, now - 3 * DAY + 3_600_000));
    await page.click('#custom-range button[type=submit]');
    await page.waitForFunction(() => document.querySelectorAll('#alerts tbody tr[data-alert]').length === 1);
    assert.equal(await column(page, 4), ['10.7.7.7']);
    await page.waitForSelector('#timeline rect.bar-3 > title', { state: 'attached' });
    await page.selectOption('#range', '24h');
    await page.waitForFunction(() => document.querySelectorAll('#alerts tbody tr[data-alert]').length === 4);

    // UTC instead of the browser's zone.
    await page.selectOption('#zone', 'UTC');
    await page.waitForFunction(() => [...document.querySelectorAll('#alerts tbody tr[data-alert] td:nth-child(8)')].every((t) => / UTC$/.test(t.textContent ?? '')));
    assert.match(await page.textContent('#range-label') ?? '', /times in UTC/);

    // Readable chart: drawn at its real size (not stretched), y axis labelled with its unit, ticks ≥ 10 px.
    const chart = await page.$eval('#timeline', (svg) => ({
      width: svg.getBoundingClientRect().width, viewBox: svg.getAttribute('viewBox'),
      texts: [...svg.querySelectorAll('text')].map((t) => t.textContent),
      font: Math.min(...[...svg.querySelectorAll('text.tick')].map((t) => parseFloat(getComputedStyle(t).fontSize))),
    }));
    assert.is(chart.viewBox, `0 0 ${Math.round(chart.width)} 190`);
    assert.ok(chart.texts.includes('alerts / hour'), `y axis: ${chart.texts.join('|')}`);
    assert.ok(chart.texts.some((t) => /^first seen \(flow time, UTC\)$/.test(t ?? '')));
    assert.ok(chart.texts.includes('high') && chart.texts.includes('low'), 'legend');
    assert.ok(chart.font >= 10, `tick font ${chart.font}px`);

    // Acknowledge, then close, with a note; both in the history, persisted in SQLite.
    const bruteRow = `${rows}:has(td:text-is("bruteforce"))`;
    await page.click(bruteRow);
    await page.waitForFunction(() => /bruteforce from 10\.9\.9\.9 against 10\.0\.0\.22/.test(document.querySelector('#detail-title')?.textContent ?? ''));
    await page.fill('#triage-form textarea[name=note]', 'checking the ssh logs on 10.0.0.22');
    await page.fill('#triage-form input[name=actor]', 'alice');
    await page.click('#triage-form button[data-action=acknowledge]');
    await page.waitForSelector('#detail-history tbody tr[data-kind=acknowledged]');
    assert.match(await page.textContent('#detail-history tbody') ?? '', /acknowledged\s*alice\s*checking the ssh logs on 10\.0\.0\.22/);
    await page.waitForFunction(() => /acknowledged by alice/.test(document.querySelector('#alerts tbody tr.selected td:nth-child(10)')?.textContent ?? ''));
    await page.fill('#triage-form textarea[name=note]', 'password spray from the lab scanner; expected');
    await page.click('#triage-form button[data-action=close]');
    await page.waitForSelector('#detail-history tbody tr[data-kind=closed]');
    assert.match(await page.textContent('#triage-state') ?? '', /^closed · .* · alice$/);
    const id = await page.getAttribute('#detail', 'data-alert');
    assert.equal(g.gw.store.history.list(id!).map((h) => [h.kind, h.actor, h.note]), [
      ['acknowledged', 'alice', 'checking the ssh logs on 10.0.0.22'], ['closed', 'alice', 'password spray from the lab scanner; expected']]);

    // It fires again: the list and the detail show it reopened, with the gateway's entry in the history.
    await c.publishAsync(topics.events('edge-a'), makeBatch('edge-a', [makeEvent({ sensor: 'edge-a', src: '10.9.9.9', dst: '10.0.0.22', dport: 22, cls: 'bruteforce', severity: 1, t: Date.now() })], 4), { qos: 1 });
    await page.waitForSelector('#detail-history tbody tr[data-kind=reopened]', { timeout: 8000 });
    assert.match(await page.textContent('#alerts tbody tr.selected td:nth-child(10)') ?? '', /reopened by gateway/);

    // Per-sensor view: every panel narrows to the sensor.
    await page.click('#sensors tbody a:text-is("edge-b")');
    await page.waitForSelector('#sensor-view:not([hidden])');
    assert.is(await page.textContent('#sensor-view-title'), 'edge-b');
    assert.match(await page.textContent('#sensor-view-fields') ?? '', /packets\s*1234/);
    await page.waitForFunction(() => [...document.querySelectorAll('#alerts tbody tr[data-alert] td:nth-child(7)')].every((t) => t.textContent === 'edge-b'));
    assert.equal((await column(page, 3)).sort(), ['class', 'port_scan']);
    assert.equal(await page.$$eval('#sources tbody td:first-child', (t) => t.map((x) => x.textContent)), ['192.0.2.66']);
    // A sensor whose alerts all lie outside the range says so, and "all time" shows them.
    await page.goto(`http://127.0.0.1:${HTTP}/#sensor=edge-old`);
    await page.waitForSelector('#range-note:not([hidden])');
    assert.match(await page.textContent('#range-note') ?? '', /No alerts were active in the last 24 hours; 1 is outside it/);
    await page.click('#show-all');
    await page.waitForFunction(() => document.querySelectorAll('#alerts tbody tr[data-alert]').length === 1);
    assert.equal(await column(page, 4), ['10.7.7.7']);
    await page.click('#all-sensors');
    await page.waitForSelector('#sensor-view', { state: 'hidden' });
    await page.waitForFunction(() => document.querySelectorAll('#alerts tbody tr[data-alert]').length === 5);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}gateway-triage.png`, fullPage: true });
    assert.equal(errors, []);
  } finally {
    await browser?.close();
    await c.endAsync();
    await g.stop();
  }
});

withTools(test, ['chromium'])('dashboard response: a pending action is approved, then undone, from the alert detail; both steps in its history', async () => {
  const keyDir = mkdtempSync(join(tmpdir(), 'nsdash-resp-key-'));
  const keyFile = saveKeyPair(keyDir, generateKeyPairSync('ed25519')).privatePath;
  const g = await startGateway({
    mqtt: { port: MQTT + 20 }, http: { port: HTTP + 20 },
    response: { mode: 'approve', keyFile, playbooks: [{ name: 'ssh-guessers', match: ['bruteforce'], action: 'block_source', ttlS: 600 }] },
  });
  const c = await connect(`mqtt://127.0.0.1:${MQTT + 20}`);
  let browser: Browser | undefined;
  try {
    const now = Date.now();
    const brute = Array.from({ length: 5 }, (_, i) => makeEvent({ sensor: 'edge-a', src: '10.9.9.9', dst: '10.0.0.22', dport: 22, cls: 'bruteforce', severity: 2, t: now - 60_000 + i }));
    await c.publishAsync(topics.events('edge-a'), makeBatch('edge-a', brute, 1), { qos: 1 });
    await waitFor(() => g.gw.store.countEvents() === 5, 5000, 'events stored');
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
    const page = await (await browser.newContext({ viewport: { width: 1400, height: 1100 } })).newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${HTTP + 20}/`);
    await page.waitForSelector(rows, { timeout: 10_000 });
    await page.click(`${rows}:has(td:text-is("bruteforce"))`);
    await page.waitForSelector('#detail-response tr[data-state=pending] button[data-op=approve]');
    assert.match(await page.textContent('#detail-response tbody') ?? '', /block source.*10\.9\.9\.9.*edge-a.*approve.*pending/s);
    await page.click('#detail-response button[data-op=approve]');
    await page.waitForSelector('#detail-response tr[data-state=active] button[data-op=undo]');
    await page.click('#detail-response button[data-op=undo]');
    await page.waitForSelector('#detail-response tr[data-state=undone]');
    await page.waitForFunction(() => /response_undone/.test(document.querySelector('#detail-history')?.textContent ?? ''));
    const kinds = await page.$$eval('#detail-history tbody tr', (r) => r.map((x) => x.getAttribute('data-kind')));
    for (const k of ['response_awaiting_approval', 'response_approved', 'response_sent', 'response_undone']) assert.ok(kinds.includes(k), `${k} in ${kinds}`);
    assert.equal(errors, []);
  } finally {
    await browser?.close();
    await c.endAsync();
    await g.stop();
    rmSync(keyDir, { recursive: true, force: true });
  }
});

test.run();
