import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { topics } from '../protocol/topics.ts';
import { withTools } from './helpers/tools.ts';
import { connect, makeBatch, makeEvent, startGateway, waitFor } from './helpers/gateway-fixtures.ts';

const MQTT = 18838;
const HTTP = 18088;
const TOKEN = 'browser-token-0123456789';
const ARTIFACTS = new URL('./artifacts/', import.meta.url).pathname;

function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
}

withTools(test, ['chromium'])('dashboard shows alerts produced from CBOR events, filters them, shows detail', async () => {
  const g = await startGateway({ mqtt: { port: MQTT }, http: { port: HTTP }, suppress: [{ name: 'lab-spray', class: 'bruteforce', src: '10.9.9.9', reason: 'the lab\'s password spray test' }] as never });
  const c = await connect(`mqtt://127.0.0.1:${MQTT}`);
  let browser: Browser | undefined;
  try {
    await c.publishAsync(topics.status('edge-lab'), JSON.stringify({ state: 'online', ts: Date.now(), model: 'netsensor-mlp-1', counters: {} }), { qos: 1, retain: true });
    await c.publishAsync(topics.status('edge-gone'), JSON.stringify({ state: 'offline' }), { qos: 1, retain: true });
    const now = Date.now();
    const scan = Array.from({ length: 30 }, (_, i) => makeEvent({ sensor: 'edge-lab', src: '192.0.2.66', dst: '10.0.0.20', dport: 20 + i, cls: 'scan', severity: 2, t: now - 5000 + i }));
    const brute = Array.from({ length: 5 }, (_, i) => makeEvent({ sensor: 'edge-lab', src: '10.9.9.9', dst: '10.0.0.22', dport: 22, cls: 'bruteforce', severity: 1, t: now - 3000 + i }));
    await c.publishAsync(topics.events('edge-lab'), makeBatch('edge-lab', scan, 1), { qos: 1 });
    await c.publishAsync(topics.events('edge-lab'), makeBatch('edge-lab', brute, 2), { qos: 1 });
    await waitFor(() => g.gw.store.countEvents() === 35, 5000, 'events stored');

    browser = await launch();
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.goto(`http://127.0.0.1:${HTTP}/`);
    await page.waitForSelector('#alerts tbody tr[data-alert]', { timeout: 10_000 });
    const sources = await page.$$eval('#alerts tbody tr[data-alert] td:nth-child(4)', (tds) => tds.map((t) => t.textContent));
    assert.ok(sources.includes('192.0.2.66'), 'the scan source is listed');
    assert.ok(sources.includes('10.9.9.9'));
    const kinds = await page.$$eval('#alerts tbody tr[data-alert] td:nth-child(3)', (tds) => tds.map((t) => t.textContent));
    assert.ok(kinds.includes('port_scan'), 'correlation made a port-scan alert');
    const activity = await page.$$eval('#alerts tbody tr[data-alert]', (trs) => trs.map((tr) => [tr.children[3].textContent, tr.children[8].textContent, tr.className]));
    assert.ok(activity.some(([src, act, cls]) => src === '10.9.9.9' && act === 'suppressed (lab-spray)' && cls.includes('suppressed')), JSON.stringify(activity));
    assert.ok(activity.every(([src, act]) => src === '10.9.9.9' || !act!.startsWith('suppressed')), 'only the suppressed source is marked');
    assert.match(await page.textContent('#sensors tbody') ?? '', /edge-lab\s*online/);
    assert.match(await page.textContent('#sensors tbody') ?? '', /edge-gone\s*offline/);
    assert.match(await page.textContent('#health') ?? '', /sensors 1\/2 online/);
    await page.waitForSelector('#timeline rect', { timeout: 5000 });
    assert.match(await page.textContent('#sources tbody') ?? '', /192\.0\.2\.66/);

    // Filter by source.
    await page.fill('#filters input[name=src_ip]', '10.9.9.9');
    await page.click('#filters button[type=submit]');
    await page.waitForFunction(() => [...document.querySelectorAll('#alerts tbody tr[data-alert] td:nth-child(4)')].every((t) => t.textContent === '10.9.9.9'));
    assert.is((await page.$$('#alerts tbody tr[data-alert]')).length, 1);
    // Filter by severity (high only → just the brute force), then clear.
    await page.fill('#filters input[name=src_ip]', '');
    await page.selectOption('#filters select[name=severity]', '1');
    await page.click('#filters button[type=submit]');
    await page.waitForFunction(() => document.querySelectorAll('#alerts tbody tr[data-alert]').length === 1);
    assert.is(await page.textContent('#alerts tbody tr[data-alert] td:nth-child(2)'), 'bruteforce');
    await page.selectOption('#filters select[name=severity]', '');
    await page.fill('#filters input[name=class]', 'nothing');
    await page.click('#filters button[type=submit]');
    await page.waitForSelector('#alerts tbody td.empty');
    await page.click('#filters button[type=reset]');
    await page.waitForFunction(() => document.querySelectorAll('#alerts tbody tr[data-alert]').length === 3);

    // Detail of the port scan: fields, contributing features, its events.
    await page.click('#alerts tbody tr[data-alert]:has(td:text-is("port_scan"))');
    await page.waitForSelector('#detail:not([hidden]) #detail-events tbody tr td:not(.empty)');
    assert.match(await page.textContent('#detail-title') ?? '', /scan \(port_scan\) from 192\.0\.2\.66/);
    assert.match(await page.textContent('#detail-top') ?? '', /bidirectional_syn_packets/);
    assert.is((await page.$$('#detail-events tbody tr')).length, 30);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}gateway-dashboard.png`, fullPage: true });
    assert.equal(errors, []);
  } finally {
    await browser?.close();
    await c.endAsync();
    await g.stop();
  }
});

withTools(test, ['chromium'])('dashboard asks for a token when the API requires one', async () => {
  const g = await startGateway({ mqtt: { port: MQTT }, http: { port: HTTP, token: TOKEN, loopbackExempt: false } });
  let browser: Browser | undefined;
  try {
    browser = await launch();
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${HTTP}/`);
    await page.waitForSelector('#token-form:not([hidden])', { timeout: 10_000 });
    assert.ok(await page.isHidden('#main'));
    await page.fill('#token', 'wrong-token-xxxxxxxxxxxx');
    await page.click('#token-form button');
    await page.waitForSelector('#token-form:not([hidden])');
    assert.match(await page.textContent('#token-error') ?? '', /rejected/);
    await page.fill('#token', TOKEN);
    await page.click('#token-form button');
    await page.waitForFunction(() => /sensors 0\/0 online/.test(document.querySelector('#health')?.textContent ?? ''));
    assert.ok(await page.isVisible('#main'));
  } finally {
    await browser?.close();
    await g.stop();
  }
});

test.run();
