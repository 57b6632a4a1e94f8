/**
 * `netsensor demo` (what `npm start` runs): the whole product on one machine, on embedded defaults.
 * Starts `netsensor gateway` (embedded broker on 127.0.0.1, API + dashboard), subscribes to the public alert
 * topics and prints each alert, then runs `netsensor sensor` replaying a bundled capture that contains attacks.
 * The gateway keeps running after the replay so the dashboard can be explored; Ctrl-C stops everything.
 *
 * Child processes, not in-process calls: the demo runs the same commands an operator runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { NetsensorError } from '../../common/errors.js';
import { packagePath } from '../../common/paths.js';
import { TOPIC_ROOT } from '../../protocol/topics.js';

export const summary = 'embedded broker + gateway + a sensor replaying a bundled capture';

/** The bundled capture: lab traffic with scans, floods, brute force and DNS tunnelling among benign flows. */
export const DEMO_CAPTURE = 'models/demo/demo.pcap';

const HELP = `usage: netsensor demo [options]

Starts the gateway (embedded MQTT broker + API + dashboard), prints every alert published on
${TOPIC_ROOT}/alerts/#, and runs a sensor replaying a bundled capture with attacks in it.
Ctrl-C stops everything cleanly.

options:
  --capture FILE     capture to replay (default: the bundled ${DEMO_CAPTURE})
  --replay MODE      realtime | fast (default fast)
  --mqtt-port N      embedded broker port (default 1883)
  --http-port N      dashboard/API port (default 8080)
  --dir DIR          where the databases go (default: a new temporary directory)
  --exit-after-replay  stop once the replay is delivered and alerts have settled (for scripts and tests)
  -h, --help         this help
`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      capture: { type: 'string' },
      replay: { type: 'string', default: 'fast' },
      'mqtt-port': { type: 'string', default: '1883' },
      'http-port': { type: 'string', default: '8080' },
      dir: { type: 'string' },
      'exit-after-replay': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) { process.stdout.write(HELP); return 0; }
  const capture = values.capture ?? packagePath(DEMO_CAPTURE);
  if (!existsSync(capture)) throw new NetsensorError('ERR_CAPTURE_NOT_FOUND', `demo capture not found: ${capture}`);
  if (values.replay !== 'fast' && values.replay !== 'realtime') throw new NetsensorError('ERR_USAGE', '--replay must be realtime or fast');
  const mqttPort = Number(values['mqtt-port']);
  const httpPort = Number(values['http-port']);
  for (const [k, v] of [['mqtt-port', mqttPort], ['http-port', httpPort]] as const) {
    if (!Number.isInteger(v) || v < 1 || v > 65535) throw new NetsensorError('ERR_USAGE', `--${k} must be a port number`);
  }
  const dir = values.dir ?? mkdtempSync(join(tmpdir(), 'netsensor-demo-'));
  const cli = fileURLToPath(new URL('../main.js', import.meta.url));
  const children: ChildProcess[] = [];
  const say = (s: string) => process.stdout.write(`${s}\n`);

  const start = (args: string[], name: string): ChildProcess => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'inherit', 'pipe'] });
    // Children log JSON lines on stderr; the demo shows only warnings and errors.
    let rest = '';
    child.stderr!.on('data', (d: Buffer) => {
      rest += d.toString();
      let i: number;
      while ((i = rest.indexOf('\n')) >= 0) {
        const line = rest.slice(0, i);
        rest = rest.slice(i + 1);
        try {
          const rec = JSON.parse(line) as { level?: number; msg?: string };
          if ((rec.level ?? 30) >= 40) say(`[${name}] ${rec.msg ?? line}`);
        } catch {
          if (line.trim()) say(`[${name}] ${line}`);
        }
      }
    });
    children.push(child);
    return child;
  };

  const stopAll = async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
  };

  let interrupted = false;
  const onSignal = () => { interrupted = true; say('\nstopping…'); void stopAll(); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const gateway = start(['gateway', '--mqtt-port', String(mqttPort), '--http-port', String(httpPort), '--db', join(dir, 'gateway.db')], 'gateway');
  const gatewayExit = new Promise<number>((r) => gateway.once('exit', (code) => r(code ?? 1)));

  const { connectAsync } = await import('mqtt');
  let client: Awaited<ReturnType<typeof connectAsync>> | undefined;
  for (let i = 0; i < 100 && !client && gateway.exitCode === null; i++) {
    try {
      client = await connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 1000, clientId: `demo-watch-${process.pid}` });
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  if (!client) {
    await stopAll();
    throw new NetsensorError('ERR_CONFIG', `the gateway did not start (is port ${mqttPort} or ${httpPort} in use? try --mqtt-port/--http-port)`, { exitCode: 1 });
  }
  let alerts = 0;
  let lastAlertAt = Date.now();
  client.on('message', (topic, payload) => {
    alerts++;
    lastAlertAt = Date.now();
    try {
      const a = JSON.parse(payload.toString()) as { src_ip?: string; dest_ip?: string; alert?: { signature?: string }; netsensor?: { event_count?: number; reason?: string } };
      say(`ALERT [${topic.split('/').slice(3).join('/')}] ${a.alert?.signature ?? '?'}  ${a.src_ip ?? '?'} → ${a.dest_ip ?? '?'}  (${a.netsensor?.reason ?? 'update'}, ${a.netsensor?.event_count ?? '?'} events)`);
    } catch {
      say(`ALERT ${topic} (unparsable payload)`);
    }
  });
  await client.subscribeAsync(`${TOPIC_ROOT}/alerts/#`, { qos: 1 });

  say(`netsensor demo
  dashboard:  http://127.0.0.1:${httpPort}/
  broker:     mqtt://127.0.0.1:${mqttPort}   (alerts on ${TOPIC_ROOT}/alerts/#)
  replaying:  ${capture} (${values.replay})
  data:       ${dir}
Ctrl-C stops everything.`);

  const sensor = start(['sensor', '--id', 'demo-sensor', '--pcap', capture, '--replay', values.replay!,
    '--broker', `mqtt://127.0.0.1:${mqttPort}`, '--db', join(dir, 'sensor.db')], 'sensor');
  const sensorCode = await new Promise<number>((r) => sensor.once('exit', (code) => r(code ?? 1)));
  if (!interrupted) say(`sensor finished the replay (exit ${sensorCode}); ${alerts} alert message(s) so far. The dashboard stays up: Ctrl-C to stop.`);

  if (values['exit-after-replay'] && !interrupted) {
    // Let correlation settle: wait until no alert has arrived for 2 s (at most 20 s).
    const t0 = Date.now();
    while (Date.now() - t0 < 20_000 && Date.now() - lastAlertAt < 2000) await new Promise((r) => setTimeout(r, 200));
    say(`demo done: ${alerts} alert message(s)`);
    await client.endAsync();
    await stopAll();
    return sensorCode === 0 && alerts > 0 ? 0 : 1;
  }
  const gwCode = await gatewayExit;
  await client.endAsync(true);
  await stopAll();
  return interrupted ? 0 : gwCode;
}
