/**
 * A single gateway on an external broker (Mosquitto) killed with kill -9 and started again: its client id is
 * stable (netsensor-gateway-<gatewayId>), so it resumes its persistent session and stores the batches sensors
 * published while it was down, each event once; killed while events stream in, it loses none (it acknowledges an
 * event message to the broker only once it is committed). Own Mosquitto; ports 20340–20349.
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

const [MQTT_PORT, HTTP_PORT, MQTT_PORT2, HTTP_PORT2] = [20340, 20341, 20342, 20343];

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

test('a gateway killed with kill -9 three times while events stream in loses none of what the broker acknowledged', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nss2-stream-'));
  const mosq = new Mosquitto(MQTT_PORT2);
  const flags = { mqtt: { broker: mosq.url }, http: { port: HTTP_PORT2 }, store: { path: join(dir, 'gw.db') }, gatewayId: 'nss2-gw2' };
  const BATCHES = 1500, PER = 4;
  let gw: ChildGateway | undefined;
  let c: Awaited<ReturnType<typeof connect>> | undefined;
  const stored = async () => (await getJson(`http://127.0.0.1:${HTTP_PORT2}/api/health`).catch(() => ({ body: undefined }))).body?.store?.events as number | undefined;
  try {
    await mosq.start();
    gw = await startChildGateway(flags);
    c = await connect(mosq.url, { protocolVersion: 5, clientId: 'netsensor-nss2-s1' });
    // A sensor's stream: batches one after another, each acknowledged by the broker (what the sensor's outbox deletes on).
    // 16 in flight, as fast as the broker takes them: the gateway always has messages in its hands.
    let acked = 0, next = 1;
    const publishing = Promise.all(Array.from({ length: 16 }, async () => {
      for (let seq = next++; seq <= BATCHES; seq = next++) {
        await c!.publishAsync(topics.events('nss2-s1'),
          makeBatch('nss2-s1', Array.from({ length: PER }, (_, i) => makeEvent({ sensor: 'nss2-s1', sport: 10000 + seq * PER + i })), seq), { qos: 1 });
        acked += 1;
      }
    }));
    for (const at of [200, 600, 1000]) {
      // kill it while it is storing: once it has stored some of the stream and the sensor is still sending
      await waitFor(async () => ((await stored()) ?? 0) >= at * PER, 20_000, `${at * PER} events stored`);
      gw.proc.kill('SIGKILL');
      await waitFor(() => gw!.exited() !== undefined, 10_000, 'the gateway to die');
      gw = await startChildGateway(flags);
    }
    await publishing;
    assert.is(acked, BATCHES);
    await waitFor(async () => (await stored()) === BATCHES * PER, 30_000, 'every acknowledged event stored',
    ).catch(async (e) => { throw new Error(`${(e as Error).message}: ${await stored()} of ${BATCHES * PER} stored`); });
    await sleep(300);
    assert.is(await stored(), BATCHES * PER, 'each event once');
  } finally {
    c?.end(true);
    await gw?.stop().catch(() => {});
    await mosq.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
