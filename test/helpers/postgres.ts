/**
 * A throw-away PostgreSQL cluster for tests: initdb in a temp directory as the `postgres` OS user (the server
 * refuses to run as root; Debian's package creates that user), its own Unix socket directory, listening on 127.0.0.1:<port> with password login.
 * `dispose()` stops it (fast shutdown) and removes the directory. A missing server is a failure, never a skip.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';

/** Debian's server binaries (/usr/lib/postgresql/<major>/bin), newest major first. */
const BIN = (() => {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root) ? readdirSync(root).filter((d) => existsSync(join(root, d, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a)) : [];
  return join(root, majors[0] ?? '15', 'bin');
})();
export const PG_PASSWORD = 'test-password-not-secret';

export class Postgres {
  readonly dir: string;
  private child?: ChildProcess;
  log = '';

  /** `tls`: serve TLS too, with this certificate and key (copied into the cluster's directory for the server's user). */
  constructor(readonly port: number, private readonly tls?: { cert: string; key: string }) {
    if (!existsSync(join(BIN, 'initdb'))) throw new Error(`PostgreSQL is not installed (${BIN}/initdb): apt-get install postgresql`);
    this.dir = mkdtempSync(join(tmpdir(), 'nsscl-pg-'));
  }

  /** postgres://netsensor@127.0.0.1:<port>/netsensor (password from `passwordFile()`, never in the URL). */
  get url(): string { return `postgres://netsensor@127.0.0.1:${this.port}/netsensor`; }

  /** A mode-0600 file with the password, as store.passwordFile wants it. */
  passwordFile(): string {
    const f = join(this.dir, 'pgpass');
    writeFileSync(f, PG_PASSWORD + '\n', { mode: 0o600 });
    return f;
  }

  async start(): Promise<void> {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(this.dir, uid, gid);
    const pw = join(this.dir, 'initpw');
    writeFileSync(pw, PG_PASSWORD + '\n');
    chownSync(pw, uid, gid);
    const data = join(this.dir, 'data');
    const tlsArgs: string[] = [];
    if (this.tls) {
      for (const [from, name] of [[this.tls.cert, 'server.crt'], [this.tls.key, 'server.key']]) {
        copyFileSync(from, join(this.dir, name));
        chownSync(join(this.dir, name), uid, gid);
        chmodSync(join(this.dir, name), 0o600);
      }
      tlsArgs.push('-c', 'ssl=on', '-c', `ssl_cert_file=${join(this.dir, 'server.crt')}`, '-c', `ssl_key_file=${join(this.dir, 'server.key')}`);
    }
    // Started with the postgres user's ids directly (no runuser in between), so signals reach the server itself.
    const asPg = (cmd: string, args: string[]) => execFileSync(join(BIN, cmd), args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: this.dir, uid, gid, env: { PGPASSWORD: PG_PASSWORD } });
    asPg('initdb', ['-D', data, '-U', 'netsensor', '--pwfile', pw, '-A', 'scram-sha-256', '--no-sync', '-E', 'UTF8']);
    // Throw-away data: no fsync, small shared memory; the socket in the cluster's own directory.
    const child = spawn(join(BIN, 'postgres'), ['-D', data, '-p', String(this.port), '-k', this.dir,
      '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
      '-c', 'max_connections=60', '-c', 'shared_buffers=32MB', ...tlsArgs], { stdio: ['ignore', 'ignore', 'pipe'], cwd: this.dir, uid, gid });
    this.child = child;
    child.stderr!.on('data', (d) => { this.log = (this.log + d).slice(-8192); });
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`postgres exited: ${this.log}`);
      if (/ready to accept connections/.test(this.log) && await canConnect(this.port)) {
        asPg('createdb', ['-h', this.dir, '-p', String(this.port), '-U', 'netsensor', 'netsensor']);
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`postgres did not start on ${this.port}: ${this.log}`);
  }

  async dispose(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null) {
      const closed = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT'); // fast shutdown
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await closed;
      clearTimeout(t);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}
