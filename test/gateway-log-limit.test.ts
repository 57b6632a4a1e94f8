/**
 * What a remote party sends cannot flood the gateway's log: 200 malformed status messages and 200 unreadable OTA
 * reports over MQTT give one warning line each (still counted), and the next warning after the interval says how
 * many were suppressed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Writable } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { topics } from '../protocol/topics.ts';
import { loadConfig } from '../gateway/config.ts';
import { Gateway } from '../gateway/index.ts';
import { limitWarnings } from '../gateway/log-limit.ts';
import { connect, waitFor } from './helpers/gateway-fixtures.ts';

const MQTT = 18885;
const HTTP = 18186;

/** A pino logger whose JSON lines land in `lines`. */
function capture(): { log: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write(chunk, _enc, cb) { for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l)); cb(); } });
  return { log: pino({ level: 'info' }, sink), lines };
}

test('malformed status and OTA messages: one warning each per interval, every one counted', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nsgw-loglimit-'));
  const { log, lines } = capture();
  const gw = await Gateway.start(loadConfig({ flags: { mqtt: { port: MQTT }, http: { port: HTTP }, store: { path: join(dir, 'gw.db') } } }), log);
  const c = await connect(`mqtt://127.0.0.1:${MQTT}`, { clientId: 'noisy' });
  try {
    for (let i = 0; i < 200; i++) {
      await c.publishAsync(topics.status(`noisy-${i % 7}`), i % 2 ? '{not json' : '{"state":"sideways"}', { qos: 1 });
      await c.publishAsync(topics.ota(`noisy-${i % 7}`), '{truncated', { qos: 1 });
    }
    await waitFor(() => gw.registry.badStatus === 200, 5000, 'every malformed status counted');
    await gw.models.idle();
    const warned = (msg: string) => lines.filter((l) => l.level === 40 && l.msg === msg).length;
    assert.is(warned('ignored malformed status payload'), 1);
    assert.is(warned('unreadable OTA report'), 1);
  } finally {
    await c.endAsync();
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('limitWarnings: once per interval per message, then the suppressed count; children limited; other levels untouched', () => {
  let now = 0;
  const { log, lines } = capture();
  const limited = limitWarnings(log, 1000, () => now).child({ component: 'x' });
  for (let i = 0; i < 5; i++) limited.warn({ sensor: 's' }, 'bad thing');
  limited.warn('other thing');
  limited.info('info passes');
  limited.info('info passes');
  now = 1000;
  limited.warn({ sensor: 's' }, 'bad thing');
  const warns = lines.filter((l) => l.level === 40);
  assert.equal(warns.map((l) => [l.msg, l.suppressed, l.component]), [['bad thing', undefined, 'x'], ['other thing', undefined, 'x'], ['bad thing', 4, 'x']]);
  assert.is(lines.filter((l) => l.level === 30).length, 2);
});

test.run();
