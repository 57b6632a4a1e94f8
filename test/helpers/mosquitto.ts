/**
 * A real Mosquitto broker for tests: temp config on 127.0.0.1:<port>, persistence on (so a subscriber's
 * persistent session and its queued QoS 1 messages survive a broker restart), stop/start on the same port.
 * Started as root, Mosquitto drops to its own user: the directory is handed to that user, or persistence fails
 * ("Permission denied") and every restart silently loses the sessions. A start that logs an error fails.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class Mosquitto {
  readonly port: number;
  readonly dir: string;
  private child?: ChildProcess;
  log = '';

  readonly host: string;

  constructor(port: number, extraConfig = '', host = '127.0.0.1') {
    this.port = port;
    this.host = host;
    this.dir = mkdtempSync(join(tmpdir(), 'nssen-mosq-'));
    writeFileSync(join(this.dir, 'mosquitto.conf'), [
      `listener ${port} ${host}`,
      'allow_anonymous true',
      'persistence true',
      `persistence_location ${this.dir}/`,
      'autosave_interval 1',
      'max_queued_messages 100000',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      extraConfig,
    ].join('\n') + '\n');
    const uid = process.getuid?.() === 0 ? mosquittoUid() : undefined;
    if (uid !== undefined) chownSync(this.dir, uid, -1);
  }

  get url(): string { return `mqtt://${this.host}:${this.port}`; }

  async start(): Promise<void> {
    this.log = '';
    const child = spawn('mosquitto', ['-c', join(this.dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    child.stderr!.on('data', (d) => { this.log = (this.log + d).slice(-8192); });
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`mosquitto exited: ${this.log}`);
      if (await canConnect(this.port, this.host)) {
        if (/Error:/.test(this.log)) { await this.stop(); throw new Error(`mosquitto reported an error at start: ${this.log}`); }
        return;
      }
      await sleep(50);
    }
    throw new Error(`mosquitto did not listen on ${this.port}: ${this.log}`);
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const closed = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    await closed;
    clearTimeout(t);
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The uid Mosquitto switches to when started as root (its default `user mosquitto`), if that user exists. */
function mosquittoUid(): number | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', 'mosquitto'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return Number.isInteger(uid) ? uid : undefined;
  } catch {
    return undefined;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function canConnect(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}
