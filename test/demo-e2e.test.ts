/**
 * `npm start` end to end: the real `netsensor demo` (gateway with embedded broker + a real sensor process replaying
 * the bundled capture through the WASM core and the shipped int8 model) → alerts on the public MQTT topic → the
 * dashboard in a real browser shows them, filtering works → Ctrl-C stops everything cleanly.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { chromium, type Browser } from 'playwright-core';
import { withTools } from './helpers/tools.ts';

const MQTT = 18870;
const HTTP = 18071;
const CLI = new URL('../dist/cli/main.js', import.meta.url).pathname;
const ARTIFACTS = new URL('./artifacts/', import.meta.url).pathname;

interface EveAlert { src_ip: string; dest_ip: string; alert: { category: string; severity: number }; netsensor: { class: string; event_count: number } }

withTools(test, ['chromium'])('npm start: a real sensor run raises alerts on MQTT and in the dashboard; Ctrl-C stops cleanly', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ns-demo-test-'));
  const demo = spawn(process.execPath, [CLI, 'demo', '--mqtt-port', String(MQTT), '--http-port', String(HTTP), '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  demo.stdout.on('data', (d) => { out += d; });
  demo.stderr.on('data', (d) => { out += d; });
  const exited = new Promise<number | null>((r) => demo.once('exit', (code) => r(code)));
  let browser: Browser | undefined;
  const alerts: EveAlert[] = [];
  try {
    // Subscribe as "anyone" would, as soon as the broker is up.
    let client: Awaited<ReturnType<typeof connectAsync>> | undefined;
    for (let i = 0; i < 150 && !client; i++) {
      try { client = await connectAsync(`mqtt://127.0.0.1:${MQTT}`, { reconnectPeriod: 0, connectTimeout: 1000 }); } catch { await new Promise((r) => setTimeout(r, 100)); }
    }
    assert.ok(client, `broker came up\n${out}`);
    client!.on('message', (_t, p) => alerts.push(JSON.parse(p.toString()) as EveAlert));
    await client!.subscribeAsync('netsensor/v1/alerts/#', { qos: 1 });
    const t0 = Date.now();
    while (alerts.length === 0 && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 200));
    assert.ok(alerts.length > 0, `an alert within 60 s\n${out}`);
    assert.match(out, /dashboard:\s+http:\/\/127\.0\.0\.1:18071\//);
    // Let the replay finish so the dashboard has everything.
    const t1 = Date.now();
    while (!/sensor finished the replay/.test(out) && Date.now() - t1 < 60_000) await new Promise((r) => setTimeout(r, 200));
    assert.match(out, /sensor finished the replay \(exit 0\)/);
    await client!.endAsync();

    const first = alerts[0]!;
    assert.ok(first.src_ip && first.alert.category && first.netsensor.event_count >= 1, JSON.stringify(first));

    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
    });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(`http://127.0.0.1:${HTTP}/`);
    await page.waitForSelector('#alerts tbody tr[data-alert]', { timeout: 15_000 });
    assert.ok((await page.$$('#alerts tbody tr[data-alert]')).length > 0, 'the alert list is not empty');
    assert.match(await page.textContent('#sensors tbody') ?? '', /demo-sensor/);
    // Filter by a source the list shows (the first alert on MQTT may since have merged into a fan-in, hidden by default).
    const shownSources = await page.$$eval('#alerts tbody tr[data-alert] td:nth-child(4)', (t) => t.map((x) => x.textContent ?? ''));
    const ip = shownSources.find((t) => /^[0-9a-f.:]+$/i.test(t));
    assert.ok(ip, `a source address in the list: ${shownSources}`);
    await page.fill('#filters input[name=src_ip]', ip!);
    await page.click('#filters button[type=submit]');
    await page.waitForFunction((ip) => {
      const cells = [...document.querySelectorAll('#alerts tbody tr[data-alert] td:nth-child(4)')];
      return cells.length > 0 && cells.every((t) => t.textContent === ip);
    }, ip, { timeout: 10_000 });
    await page.click('#alerts tbody tr[data-alert]');
    await page.waitForSelector('#detail:not([hidden]) #detail-events tbody tr td:not(.empty)', { timeout: 10_000 });
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}demo-dashboard.png`, fullPage: true });
  } finally {
    await browser?.close();
    demo.kill('SIGINT');
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 20_000))]);
    if (code === 'timeout') demo.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    assert.is(code, 0, `demo stops cleanly on Ctrl-C\n${out.slice(-2000)}`);
  }
});

test.run();
