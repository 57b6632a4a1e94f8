/** Helpers for the gateway tests: valid risk events/batches, a gateway on test ports, MQTT clients. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import mqtt, { type MqttClient, type IClientOptions } from 'mqtt';
import { encodeBatch, type EventBatch, type RiskEvent } from '../../protocol/event.ts';
import { createLogger } from '../../common/log.ts';
import { loadConfig, type DeepPartial, type GatewayConfig } from '../../gateway/config.ts';
import { Gateway } from '../../gateway/index.ts';

export interface EventSpec {
  sensor?: string;
  src?: string;
  dst?: string;
  sport?: number;
  dport?: number;
  cls?: string;
  severity?: 1 | 2 | 3;
  t?: number;
  score?: number;
}

export function makeEvent(s: EventSpec = {}): RiskEvent {
  const t = s.t ?? Date.now();
  return {
    v: 1, id: uuidv7(), sensor: s.sensor ?? 's1', ts: t,
    flow: {
      src_ip: s.src ?? '10.0.0.5', src_port: s.sport ?? 40000, dst_ip: s.dst ?? '10.0.0.9', dst_port: s.dport ?? 22, proto: 6, vlan: 0,
      first_seen_ms: t - 1000, last_seen_ms: t, end_reason: 'fin',
      src2dst_packets: 10, src2dst_bytes: 1200, dst2src_packets: 8, dst2src_bytes: 900,
    },
    class: s.cls ?? 'bruteforce', score: s.score ?? 0.93, anomaly: 1.7, severity: s.severity ?? 2, model: 'test-model-1',
    features: { duration_ms: 1000, src2dst_packets: 10 },
    top: [['bidirectional_syn_packets', 0.41], ['src2dst_mean_ps', 0.22]],
  };
}

export function makeBatch(sensor: string, events: RiskEvent[], seq = 1): Buffer {
  const b: EventBatch = { v: 1, sensor, seq, events };
  return encodeBatch(b);
}

export async function startGateway(over: DeepPartial<GatewayConfig> = {}): Promise<{ gw: Gateway; dir: string; stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'nsgw-test-'));
  const config = loadConfig({ flags: { store: { path: join(dir, 'gw.db') }, ...over, ...(over.store ? { store: { path: join(dir, 'gw.db'), ...over.store } } : {}) } });
  const gw = await Gateway.start(config, createLogger(process.env.TEST_LOG_LEVEL ?? 'warn'));
  return { gw, dir, stop: async () => { await gw.stop(); rmSync(dir, { recursive: true, force: true }); } };
}

export function connect(url: string, opts: IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    const timer = setTimeout(() => { c.end(true); reject(new Error('connect timed out')); }, (opts.connectTimeout ?? 5000) + 1000);
    c.once('connect', () => { clearTimeout(timer); resolve(c); });
    c.once('error', (e) => { clearTimeout(timer); c.end(true); reject(e); });
    // A server that drops the connection without a CONNACK (e.g. plain MQTT to a TLS port) only emits 'close'.
    c.once('close', () => { clearTimeout(timer); if (!c.connected) { c.end(true); reject(new Error('connection closed before CONNACK')); } });
  });
}

export async function waitFor<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const r = await fetch(url, { headers });
  const text = await r.text();
  let body: unknown = text;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, body };
}

/** A client collecting every alert message on netsensor/v1/alerts/#, parsed (`T`: the fields a test reads). */
export async function alertSubscriber<T = Record<string, any>>(url: string, opts: IClientOptions = {}): Promise<{ messages: T[]; client: MqttClient }> {
  const client = await connect(url, { clientId: `ns-alert-sub-${process.pid}-${Math.random().toString(36).slice(2, 8)}`, ...opts });
  const messages: T[] = [];
  client.on('message', (_t, payload) => messages.push(JSON.parse(payload.toString()) as T));
  await client.subscribeAsync('netsensor/v1/alerts/#', { qos: 1 });
  return { messages, client };
}
