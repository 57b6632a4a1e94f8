/**
 * TLS with certificates made by openssl at test time: mutual TLS on the embedded broker (a client without a
 * certificate, or with one from another CA, is refused at the handshake), and the gateway as a TLS client of an
 * external Mosquitto that requires client certificates (CA, client certificate, verification).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../common/log.ts';
import { loadConfig, type DeepPartial, type GatewayConfig } from '../gateway/config.ts';
import { Gateway } from '../gateway/index.ts';
import { connect, startGateway } from './helpers/gateway-fixtures.ts';
import { Mosquitto } from './helpers/mosquitto.ts';
import { makeTestCerts, type TestCerts } from './helpers/test-certs.ts';
import { withTools } from './helpers/tools.ts';

const MOSQUITTO_TLS_PORT = 20402;
let certs: TestCerts;

test.before(() => { certs = makeTestCerts(); });
test.after(() => certs.dispose());

const refused = async (p: Promise<{ end(force?: boolean): unknown }>): Promise<string> => {
  try {
    const c = await p;
    c.end(true);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('connection was accepted');
};

withTools(test, ['openssl'])('embedded broker with mutual TLS: a client certificate from the CA is required', async () => {
  const g = await startGateway({
    mqtt: { port: 0, tls: { certFile: certs.serverCert, keyFile: certs.serverKey, caFile: certs.ca, requireClientCert: true } }, http: { port: 0 },
  });
  const url = `mqtts://127.0.0.1:${g.gw.mqttPort}`;
  const ca = readFileSync(certs.ca);
  try {
    const ok = await connect(url, { ca, cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) });
    await ok.publishAsync('netsensor/v1/sensors/t1/status', JSON.stringify({ state: 'online' }), { qos: 1 });
    await ok.endAsync();
    const none = await refused(connect(url, { ca, connectTimeout: 3000 }));
    assert.ok(/certificate|closed|socket|reset/i.test(none), `no certificate: ${none}`);
    const rogue = await refused(connect(url, { ca, cert: readFileSync(certs.rogueCert), key: readFileSync(certs.rogueKey), connectTimeout: 3000 }));
    assert.ok(/certificate|unknown ca|closed|socket|reset/i.test(rogue), `certificate from another CA: ${rogue}`);
    assert.is(g.gw.registry.list().find((s) => s.id === 't1')?.state, 'online', 'the admitted client was heard');
  } finally {
    await g.stop();
  }
});

withTools(test, ['openssl'])('mutual TLS without a CA is a configuration error', () => {
  assert.throws(() => loadConfig({ flags: { mqtt: { tls: { certFile: certs.serverCert, keyFile: certs.serverKey, requireClientCert: true } } } }), /requireClientCert needs mqtt\.tls\.caFile/);
  assert.throws(() => loadConfig({ flags: { mqtt: { broker: 'mqtt://127.0.0.1:1883', brokerTls: { caFile: certs.ca } } } }), /mqtts:\/\//);
  assert.throws(() => loadConfig({ flags: { mqtt: { broker: 'mqtts://127.0.0.1:1883', brokerTls: { certFile: certs.clientCert } } } }), /go together/);
});

withTools(test, ['openssl', 'mosquitto'])('gateway to an external broker over TLS: CA, client certificate, verification', async () => {
  const mosq = new Mosquitto(MOSQUITTO_TLS_PORT, [
    `cafile ${certs.ca}`, `certfile ${certs.serverCert}`, `keyfile ${certs.serverKey}`, 'require_certificate true',
  ].join('\n'));
  await mosq.start();
  const dir = mkdtempSync(join(tmpdir(), 'nsops-tls-'));
  const broker = `mqtts://127.0.0.1:${MOSQUITTO_TLS_PORT}`;
  const start = (brokerTls: DeepPartial<GatewayConfig['mqtt']['brokerTls']>, id: string) => Gateway.start(loadConfig({
    flags: { mqtt: { broker, brokerTls, clientId: id }, http: { port: 0 }, store: { path: join(dir, `${id}.db`) } },
  }), createLogger('silent'));
  try {
    const gw = await start({ caFile: certs.ca, certFile: certs.clientCert, keyFile: certs.clientKey }, 'nsops-tls-ok');
    assert.is(gw.bus.kind, 'external');
    // the connection works both ways: a sensor status through Mosquitto reaches the gateway's registry
    const sensor = await connect(broker, { ca: readFileSync(certs.ca), cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey), protocolVersion: 5 });
    await sensor.publishAsync('netsensor/v1/sensors/tls-1/status', JSON.stringify({ state: 'online' }), { qos: 1 });
    await sensor.endAsync();
    for (let i = 0; i < 100 && !gw.registry.list().some((s) => s.id === 'tls-1'); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(gw.registry.list().some((s) => s.id === 'tls-1'), 'status received over TLS');
    await gw.stop();

    const wrongCa = await start({ caFile: certs.rogueCa, certFile: certs.clientCert, keyFile: certs.clientKey }, 'nsops-tls-ca').then(
      (g) => { void g.stop(); return 'started'; }, (e: Error & { code?: string }) => `${e.code}: ${e.message}`);
    assert.match(wrongCa, /^ERR_CONFIG: cannot connect to broker .*certificate/i, 'a broker the CA did not sign is refused');
    const noCert = await start({ caFile: certs.ca }, 'nsops-tls-nc').then(
      (g) => { void g.stop(); return 'started'; }, (e: Error & { code?: string }) => `${e.code}: ${e.message}`);
    assert.match(noCert, /^ERR_CONFIG: cannot connect to broker /, 'without a client certificate the broker refuses the gateway');
    const insecure = await start({ verify: false, certFile: certs.clientCert, keyFile: certs.clientKey }, 'nsops-tls-nv');
    await insecure.stop(); // verification off: the same broker is accepted (testing only)
  } finally {
    await mosq.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
