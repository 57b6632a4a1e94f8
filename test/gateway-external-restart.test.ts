/**
 * A single gateway on an external broker (Mosquitto) killed with kill -9 and started again: its client id is
 * stable (netsensor-gateway-<gatewayId>), so it resumes its persistent session and stores the batches sensors
 * published while it was down, each event once. Own Mosquitto; ports 20340–20349.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { topics } from '../protocol/topics.ts';
import { connect, getJson, makeBatch, makeEvent, waitFor } from './helpers/gateway-fixtures.ts';
import { startChildGateway, type ChildGateway } from './helpers/gateway-process.ts';
import { Mosquitto, sleep } from './helpers/mosquitto.ts';

const [MQTT_PORT, HTTP_PORT] = [20340, 20341];

test('a gateway killed with kill -9 resumes its broker session: what sensors sent meanwhile is stored once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nss2-restart-'));
  const mosq = new Mosquitto(MQTT_PORT);
  const flags = { mqtt: { broker: mosq.url }, http: { port: HTTP_PORT }, store: { path: join(dir, 'gw.db') }, gatewayId: 'nss2-gw' };
  let gw: ChildGateway | undefined;
  const sensor = { c: undefined as Awaited<ReturnType<typeof connect>> | undefined };
  try {
    await mosq.start();
    gw = await startChildGateway(flags);
    sensor.c = await connect(mosq.url, { protocolVersion: 5, clientId: 'netsensor-nss2-r1' });
    const send = (seq: number) => sensor.c!.publishAsync(topics.events('nss2-r1'),
      makeBatch('nss2-r1', Array.from({ length: 5 }, (_, i) => makeEvent({ sensor: 'nss2-r1', sport: 44000 + seq * 10 + i })), seq), { qos: 1 });
    const stored = async () => (await getJson(`http://127.0.0.1:${HTTP_PORT}/api/health`).catch(() => ({ body: undefined }))).body?.store?.events as number | undefined;
    await send(1);
    await waitFor(async () => (await stored()) === 5, 10_000, 'the first batch stored');
    gw.proc.kill('SIGKILL');
    await waitFor(() => gw!.exited() !== undefined, 10_000, 'the gateway to die');
    assert.is(gw.exited(), 'SIGKILL');
    for (let seq = 2; seq <= 4; seq++) await send(seq); // the broker queues them in the gateway's session
    gw = await startChildGateway(flags);
    await waitFor(async () => (await stored()) === 20, 15_000, 'every batch stored after the restart');
    await sleep(300);
    assert.is(await stored(), 20, 'each event once');
  } finally {
    sensor.c?.end(true);
    await gw?.stop().catch(() => {});
    await mosq.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
