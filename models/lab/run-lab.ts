/**
 * Runs the traffic lab (root needed): builds the nslab- namespaces, starts the servers, then for each planned
 * scenario run captures the bridge with tcpdump while the run's actors play, and writes
 * <out>/pcaps/<run>.pcap plus <out>/manifest.json (class, label rule, split, seed, parameters per run).
 *
 *   node --import tsx models/lab/run-lab.ts [--out models/lab/work] [--seed 1] [--scale 1] [--only scan,dos] [--split test]
 *
 * --split re-captures only the runs of one split (e.g. the held-out test runs, to measure a new build on them).
 *
 * Namespaces are always removed at the end, also on error or Ctrl-C.
 */
import type { ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createRng } from '../train/rng.js';
import { createTopology, destroyTopology, HOSTS, namespaceOf, sh, signalGroup, sleep, spawnInNs, startCapture, stopProcess } from './netns.js';
import { planRuns, type Actor, type LabFiles, type RunSpec } from './scenarios.js';

const { values } = parseArgs({ options: {
  out: { type: 'string', default: 'models/lab/work' },
  seed: { type: 'string', default: '1' },
  scale: { type: 'string', default: '1' },
  only: { type: 'string' },
  split: { type: 'string' },
} });
const out = resolve(values.out!);
const labDir = resolve(new URL('.', import.meta.url).pathname);
const clientsScript = join(labDir, 'clients.ts');
const serversScript = join(labDir, 'servers.ts');
mkdirSync(join(out, 'pcaps'), { recursive: true });
mkdirSync(join(out, 'sink'), { recursive: true });

/** Request payloads that a reflector answers with more bytes (see servers.ts), written once into the work dir. */
function reflectPayloads(): LabFiles['reflectPayloads'] {
  const dnsAny = Buffer.concat([Buffer.from([0x13, 0x37, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.from('\x03lab\x07example\x00', 'latin1'), Buffer.from([0, 0xff, 0, 1])]);
  const ntpMonlist = Buffer.concat([Buffer.from([0x17, 0x00, 0x03, 0x2a]), Buffer.alloc(44)]); // mode 7, MON_GETLIST_1
  const snmpGetBulk = Buffer.from('302602010104067075626c6963a51902040000abcd020100020164300b300906052b060102010500', 'hex'); // v2c public, max-repetitions 100
  const ssdp = Buffer.from('M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n');
  const entries = { dns: dnsAny, ntp: ntpMonlist, snmp: snmpGetBulk, ssdp } as const;
  return Object.fromEntries(Object.entries(entries).map(([k, b]) => {
    const file = join(out, `reflect-${k}.bin`);
    writeFileSync(file, b);
    return [k, { file, bytes: b.length }];
  })) as LabFiles['reflectPayloads'];
}

function prepareFiles(): LabFiles {
  const askpassWrong = join(out, 'askpass-wrong.sh');
  writeFileSync(askpassWrong, '#!/bin/sh\necho not-the-password\n');
  chmodSync(askpassWrong, 0o755);
  const f: LabFiles = { sshKey: join(out, 'client_key'), words: join(out, 'words.txt'), blob: join(out, 'blob.bin'), sink: join(out, 'sink'), askpassWrong, reflectPayloads: reflectPayloads() };
  if (!existsSync(join(out, 'cert.pem'))) {
    sh('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '30', '-subj', '/CN=lab.example', '-keyout', join(out, 'key.pem'), '-out', join(out, 'cert.pem')]);
  }
  if (!existsSync(join(out, 'host_key'))) sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(out, 'host_key')]);
  if (!existsSync(f.sshKey)) sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', f.sshKey]);
  sh('cp', [`${f.sshKey}.pub`, join(out, 'authorized_keys')]);
  const rng = createRng(4242);
  const words = Array.from({ length: 60 }, () => Array.from({ length: 5 + rng.int(7) }, () => 'abcdefghijklmnopqrstuvwxyz0123456789'[rng.int(36)]).join(''));
  writeFileSync(f.words, words.join('\n') + '\n');
  writeFileSync(f.blob, Buffer.alloc(1_500_000, 'lab-bulk-copy '));
  writeFileSync(join(out, 'sshd_config'), [
    `Port 22`, `ListenAddress ${HOSTS.srv!.ip}`, `HostKey ${join(out, 'host_key')}`, `PidFile ${join(out, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(out, 'authorized_keys')}`, 'StrictModes no', 'UsePAM yes', // PAM's failure delay, as on a real server
    'PasswordAuthentication yes',
    'PermitRootLogin yes', 'MaxAuthTries 6', 'MaxStartups 200:30:400', 'LoginGraceTime 10', 'UseDNS no', 'Subsystem sftp internal-sftp',
  ].join('\n') + '\n');
  return f;
}

const macs = new Map<string, string>();
/** `$SRV_MAC`, `$EXT_MAC` … → that host's MAC: tools with their own stack (masscan, tcpreplay) need the peer's MAC, as there is no router in the lab. */
function withMacs(x: unknown): unknown {
  const host = typeof x === 'string' ? /^\$([A-Z0-9]+)_MAC$/.exec(x)?.[1]?.toLowerCase() : undefined;
  if (!host) return x;
  if (!macs.has(host)) macs.set(host, /link\/ether ([0-9a-f:]+)/.exec(sh('ip', ['-n', namespaceOf(host), 'link', 'show', `v${host}`]))![1]!);
  return macs.get(host);
}

function startActor(a: Actor): ChildProcess {
  const ns = namespaceOf(a.host);
  if (a.cmd.startsWith('client:')) {
    const params = Object.fromEntries(Object.entries(a.args as object).map(([k, v]) => [k, withMacs(v)]));
    return spawnInNs(ns, process.execPath, ['--import', 'tsx', clientsScript, a.cmd.slice(7), JSON.stringify({ ...params, maxMs: a.timeoutMs - 500 })]);
  }
  return spawnInNs(ns, a.cmd, (a.args as string[]).map((x) => String(withMacs(x))));
}

async function play(run: RunSpec): Promise<{ actor: string; code: number | null; stderr: string }[]> {
  return Promise.all(run.actors.map(async (a) => {
    await sleep(a.delayMs ?? 0);
    const p = startActor(a);
    running.add(p);
    p.once('exit', () => running.delete(p));
    let stderr = '';
    p.stderr?.on('data', (d: Buffer) => { if (stderr.length < 2000) stderr += d.toString(); });
    const timer = setTimeout(() => signalGroup(p, 'SIGKILL'), a.timeoutMs);
    const code = await new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
    clearTimeout(timer);
    signalGroup(p, 'SIGKILL'); // anything the actor forked and left behind
    return { actor: `${a.host}:${a.cmd}`, code, stderr: stderr.trim().slice(0, 300) };
  }));
}

const background: ChildProcess[] = [];
let capture: ChildProcess | undefined;
const running = new Set<ChildProcess>();
async function cleanup(): Promise<void> {
  for (const p of running) signalGroup(p, 'SIGKILL');
  if (capture) await stopProcess(capture, 'SIGINT');
  for (const p of background) await stopProcess(p);
  destroyTopology();
}
process.on('SIGINT', () => { void cleanup().then(() => process.exit(130)); });

try {
  const files = prepareFiles();
  createTopology();
  mkdirSync('/run/sshd', { recursive: true });
  background.push(spawnInNs(HOSTS.srv!.ns, process.execPath, ['--import', 'tsx', serversScript, 'srv', out]));
  background.push(spawnInNs(HOSTS.ext!.ns, process.execPath, ['--import', 'tsx', serversScript, 'ext', out]));
  background.push(spawnInNs(HOSTS.srv!.ns, '/usr/sbin/sshd', ['-D', '-e', '-f', join(out, 'sshd_config')]));
  // Mosquitto 2 without a config file listens on loopback only.
  writeFileSync(join(out, 'mosquitto.conf'), 'listener 1883 0.0.0.0\nallow_anonymous true\n');
  background.push(spawnInNs(HOSTS.srv!.ns, 'mosquitto', ['-c', join(out, 'mosquitto.conf')]));
  for (const p of background) p.stderr?.on('data', () => {});
  await sleep(4000);
  const only = values.only?.split(',');
  const runs = planRuns(Number(values.seed), files, Number(values.scale))
    .filter((r) => (!only || only.includes(r.scenario)) && (!values.split || r.split === values.split));
  const manifestPath = join(out, 'manifest.json');
  // With --only or --split, the other earlier runs stay in the manifest.
  const manifest: Record<string, unknown>[] = (only || values.split) && existsSync(manifestPath)
    ? (JSON.parse(readFileSync(manifestPath, 'utf8')).runs as Record<string, unknown>[]).filter((r) => !runs.some((x) => x.id === r.id))
    : [];
  const t0 = Date.now();
  for (const run of runs) {
    const pcap = join(out, 'pcaps', `${run.id}.pcap`);
    const cap = (capture = startCapture(pcap));
    await sleep(600);
    const started = Date.now();
    const results = await play(run);
    await sleep(800);
    await stopProcess(cap, 'SIGINT');
    capture = undefined;
    const { actors: _a, ...rest } = run;
    manifest.push({ ...rest, pcap: `pcaps/${run.id}.pcap`, startedMs: started, durationMs: Date.now() - started, actors: results });
    const failed = results.filter((r) => r.code !== 0 && r.code !== null);
    process.stderr.write(`[lab] ${run.id} ${run.cls} ${run.split} ${((Date.now() - started) / 1000).toFixed(1)}s${failed.length ? ` (non-zero: ${failed.map((f) => `${f.actor}=${f.code}`).join(', ')})` : ''}\n`);
    writeFileSync(manifestPath, JSON.stringify({ seed: Number(values.seed), hosts: HOSTS, runs: manifest }, null, 1));
  }
  process.stderr.write(`[lab] ${runs.length} runs in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
} finally {
  await cleanup();
}
process.exit(0);
