/**
 * Gateway workers as real `netsensor gateway` processes on a test's Mosquitto and PostgreSQL, and the polling the
 * cluster tests share. A worker is started when its start line shows; `env` adds variables (test hooks).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { Mosquitto, sleep } from './mosquitto.ts';
import { Postgres } from './postgres.ts';

const root = new URL('../..', import.meta.url).pathname;

export interface Worker { id: string; http: number; proc: ChildProcess; out: () => string }

export function startWorker(id: string, http: number, config: string, pg: Postgres, mqttPort: number,
  extra: string[] = [], env: Record<string, string> = {}): Promise<Worker> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'gateway', '--config', config, '--log-level', 'warn', ...extra,
    '--broker', `mqtt://127.0.0.1:${mqttPort}`, '--share-group', 'scl', '--store-url', pg.url, '--store-password-file', pg.passwordFile(),
    '--worker-id', id, '--http-port', String(http)], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  proc.stdout!.on('data', (d) => { out = (out + d).slice(-32_768); });
  proc.stderr!.on('data', (d) => { out = (out + d).slice(-32_768); });
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`worker ${id} did not start: ${out}`)); }, 30_000);
    const check = () => { if (out.includes(`worker ${id} `)) { clearTimeout(t); resolve({ id, http, proc, out: () => out }); } };
    proc.stderr!.on('data', check);
    proc.once('exit', (c) => { clearTimeout(t); reject(new Error(`worker ${id} exited (${c}): ${out}`)); });
  });
}

export async function stopWorker(w: Worker): Promise<void> {
  if (w.proc.exitCode !== null || w.proc.signalCode !== null) return;
  const ended = new Promise((r) => w.proc.once('exit', r));
  w.proc.kill('SIGTERM');
  const t = setTimeout(() => w.proc.kill('SIGKILL'), 10_000);
  await ended;
  clearTimeout(t);
}

export interface ClusterLab {
  dir: string;
  /** The workers' gateway config file (`gatewayConfig` as JSON). */
  config: string;
  mosq: Mosquitto;
  db: Postgres;
  workers: Worker[];
  clients: MqttClient[];
}

/**
 * A cluster test's parts, not started yet: its directory and config file, a Mosquitto and a PostgreSQL on the given
 * ports, and the lists closeCluster() tears down. Start the servers inside the test's try, so a failed start cleans up.
 */
export function newCluster(prefix: string, gatewayConfig: object, mqttPort: number, pgPort: number): ClusterLab {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const config = join(dir, 'gateway.json');
  writeFileSync(config, JSON.stringify(gatewayConfig));
  return { dir, config, mosq: new Mosquitto(mqttPort), db: new Postgres(pgPort), workers: [], clients: [] };
}

/** A cluster test's teardown: sensors' connections, workers, then the broker, the database and the test's directory. */
export async function closeCluster(c: { clients: Array<{ end(force: boolean): unknown }>; workers: Worker[]; mosq: { dispose(): Promise<void> };
  db: { dispose(): Promise<void> }; dir: string }): Promise<void> {
  for (const cl of c.clients) cl.end(true);
  for (const w of c.workers) await stopWorker(w);
  await c.mosq.dispose();
  await c.db.dispose();
  rmSync(c.dir, { recursive: true, force: true });
}

export interface WorkerHealth {
  ingest: { stored: number };
  store: { events: number }; worker: { id: string; leader: boolean; leader_id: string | null };
}

export const health = async (port: number): Promise<WorkerHealth> =>
  (await (await fetch(`http://127.0.0.1:${port}/api/health`, { signal: AbortSignal.timeout(5000) })).json()) as WorkerHealth;

/** Polls `fn` until it returns a value `ok` accepts (bounded). */
export async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  let v = await fn();
  while (!ok(v)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v).slice(0, 400)}`);
    await sleep(200);
    v = await fn();
  }
  return v;
}
