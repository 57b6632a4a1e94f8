/** Starts test/helpers/gateway-process-main.ts and follows it: ready ports, exit code, what it logged. */
import { spawn, type ChildProcess } from 'node:child_process';
import type { DeepPartial, GatewayConfig } from '../../gateway/config.ts';

const root = new URL('../..', import.meta.url).pathname;

export interface ChildGateway {
  proc: ChildProcess;
  /** NaN with an external broker. */
  mqttPort: number;
  httpPort: number;
  /** Exit code (or signal name) once it ended; undefined while it runs. */
  exited(): number | string | undefined;
  output(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | string>;
}

export async function startChildGateway(flags: DeepPartial<GatewayConfig>, env: NodeJS.ProcessEnv = {}): Promise<ChildGateway> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/gateway-process-main.ts', JSON.stringify(flags)], {
    cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let code: number | string | undefined;
  const ended = new Promise<number | string>((resolve) => proc.once('exit', (c, s) => { code = c ?? s ?? 'unknown'; resolve(code); }));
  proc.stdout!.on('data', (d) => { out += d; });
  proc.stderr!.on('data', (d) => { out = (out + d).slice(-64 * 1024); });
  const ready = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const t = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`gateway did not start: ${out.slice(-2000)}`)); }, 30_000);
    const check = () => {
      const m = /ready (\d+|undefined) (\d+) \d+/.exec(out); // no MQTT port with an external broker
      if (m) { clearTimeout(t); proc.stdout!.off('data', check); resolve(m); }
    };
    proc.stdout!.on('data', check);
    void ended.then((c) => { clearTimeout(t); reject(new Error(`gateway exited (${c}) before it was ready: ${out.slice(-2000)}`)); });
  });
  return {
    proc, mqttPort: Number(ready[1]), httpPort: Number(ready[2]),
    exited: () => code,
    output: () => out,
    stop: async () => { if (code === undefined) proc.kill('SIGTERM'); return ended; },
  };
}
