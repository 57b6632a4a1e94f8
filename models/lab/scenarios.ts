/**
 * The lab's scenarios. A scenario run is a set of actors (commands started in lab namespaces, in parallel,
 * each bounded by count and a timeout) and a label rule: flows touching one of `attackers` get the run's
 * class; with `spoofedVictim`, flows to that victim from addresses outside the lab hosts get it too; every
 * other flow of the run is benign background. Parameters are drawn from the run's seed, so a run reproduces.
 */
import { createRng, type Rng } from '../train/rng.js';
import { BENIGN_CLIENTS, HOSTS } from './netns.js';

export const CLASSES = ['benign', 'scan', 'dos', 'bruteforce', 'dns_tunnel', 'exfil', 'c2'] as const;
export type LabClass = (typeof CLASSES)[number];

export interface Actor {
  host: string;
  /** 'client:<kind>' runs models/lab/clients.ts; anything else is an executable. */
  cmd: string;
  args: string[] | Record<string, unknown>;
  delayMs?: number;
  timeoutMs: number;
}

export interface RunSpec {
  id: string;
  scenario: string;
  cls: LabClass;
  seed: number;
  attackers: string[];
  spoofedVictim?: string;
  actors: Actor[];
  params: Record<string, unknown>;
}

const srv = HOSTS.srv!.ip, ext = HOSTS.ext!.ip;
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.int(xs.length)]!;
const client = (kind: string, host: string, params: Record<string, unknown>, timeoutMs = 30_000, delayMs = 0): Actor =>
  ({ host, cmd: `client:${kind}`, args: params, timeoutMs, delayMs });

export interface LabFiles { sshKey: string; words: string; blob: string; sink: string; }

const sshOpts = (f: LabFiles): string[] => ['-i', f.sshKey, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR'];

/** A light benign mix, used alone (benign runs) and as background in some attack runs. */
function benignMix(rng: Rng, f: LabFiles, intensity: 'light' | 'full'): Actor[] {
  const a: Actor[] = [];
  const n = intensity === 'full' ? 3 : 1;
  for (const c of BENIGN_CLIENTS.slice(0, n)) {
    const seed = rng.int(1e9);
    a.push(client('dns', c.name, { seed, count: 30 + rng.int(60), gapMs: 30 + rng.int(80), perQuerySocket: rng.next() < 0.8 }));
    a.push(client('fetches', c.name, { seed: seed + 1, https: rng.next() < 0.5, count: 20 + rng.int(40), gapMs: 40 + rng.int(80) }, 30_000, rng.int(500)));
    a.push(client('browse', c.name, { seed, https: rng.next() < 0.5, pages: 2 + rng.int(3), thinkMs: 300 + rng.int(900) }, 30_000, rng.int(1000)));
  }
  if (intensity === 'full' || rng.next() < 0.5) {
    const c = pick(rng, BENIGN_CLIENTS).name;
    a.push({ host: c, cmd: 'ping', args: ['-c', String(3 + rng.int(10)), '-i', '0.2', '-s', String(pick(rng, [56, 56, 120, 1000])), srv], timeoutMs: 10_000 });
    a.push(client('ntp', pick(rng, BENIGN_CLIENTS).name, { seed: rng.int(1e9), count: 2 + rng.int(4), gapMs: 800, port123: rng.next() < 0.5 }));
    a.push(client('ssdp', pick(rng, BENIGN_CLIENTS).name, { seed: rng.int(1e9), count: 2 + rng.int(6), gapMs: 400 }));
  }
  void f;
  return a;
}

type Builder = (rng: Rng, f: LabFiles, variant: number) => Omit<RunSpec, 'id' | 'scenario' | 'seed'>;

const benign = (build: (rng: Rng, f: LabFiles, v: number) => Actor[]): Builder => (rng, f, v) =>
  ({ cls: 'benign', attackers: [], actors: build(rng, f, v), params: {} });

/**
 * Variant order per scenario. Runs v = 2, 5, 8, 11 are held out (test/validation, see planRuns), so the orders
 * put every kind into at least one training run and repeat kinds in the held-out slots.
 */
const NMAP_TYPES = ['-sS', '-sT', '-sU', '-sA', '-sF', '-sS', '-sN', '-sX', '-sA', '-sV', '-sU', '-sX'] as const;
const DOS_KINDS = ['syn80', 'udp', 'udp', 'icmp', 'synspoof', 'syn80', 'synclosed', 'udpspoof', 'synspoof'] as const;
const BRUTE_KINDS = ['hydra-ssh', 'hydra-ftp', 'hydra-http', 'hydra-http', 'script-http', 'hydra-ssh', 'script-ftp', 'script-http-ka', 'hydra-ftp'] as const;
const DNS_QTYPES = [16, 10, 16, 5, 1, 10, 28, 16, 5] as const;
const C2_MODES = ['tcp', 'https', 'http', 'http', 'https', 'tcp'] as const;

export const SCENARIOS: Record<string, { runs: number; build: Builder }> = {
  web: { runs: 4, build: benign((rng, f) => [
    ...BENIGN_CLIENTS.map((c, i) => client('browse', c.name, { seed: rng.int(1e9), https: i % 2 === 1, pages: 3 + rng.int(4), thinkMs: 300 + rng.int(700) })),
    client('download', pick(rng, BENIGN_CLIENTS).name, { https: rng.next() < 0.5, sizes: [rng.int(2_000_000), rng.int(200_000), 5_000 + rng.int(50_000)] }),
    client('upload', pick(rng, BENIGN_CLIENTS).name, { seed: rng.int(1e9), host: srv, port: 80, count: 2 + rng.int(3), sizeMin: 200, sizeMax: 4000, periodMs: 700 }),
    ...BENIGN_CLIENTS.map((c) => client('fetches', c.name, { seed: rng.int(1e9), https: rng.next() < 0.5, count: 60 + rng.int(80), gapMs: 20 + rng.int(60) })),
  ]) },
  dns: { runs: 4, build: benign((rng) => BENIGN_CLIENTS.map((c) => client('dns', c.name, { seed: rng.int(1e9), count: 120 + rng.int(120), gapMs: 10 + rng.int(40), perQuerySocket: rng.next() < 0.85 }))) },
  iot: { runs: 4, build: benign((rng) => [
    client('mqtt', 'c3', { seed: rng.int(1e9), role: 'sub', durationMs: 7000 }),
    client('mqtt', 'c1', { seed: rng.int(1e9), role: 'pub', sensor: 'temp1', count: 15 + rng.int(15), periodMs: 150 + rng.int(250) }, 30_000, 300),
    client('mqtt', 'c2', { seed: rng.int(1e9), role: 'pub', sensor: 'hum2', count: 10 + rng.int(15), periodMs: 200 + rng.int(300) }, 30_000, 400),
    ...BENIGN_CLIENTS.map((c) => client('ntp', c.name, { seed: rng.int(1e9), count: 2 + rng.int(4), gapMs: 1000 + rng.int(500), port123: rng.next() < 0.5 })),
    client('ssdp', 'c1', { seed: rng.int(1e9), count: 4 + rng.int(6), gapMs: 500 }),
    client('ssdp', 'c2', { seed: rng.int(1e9), count: 2 + rng.int(4), gapMs: 900 }),
    { host: 'c3', cmd: 'ping', args: ['-c', String(5 + rng.int(10)), '-i', '0.3', srv], timeoutMs: 10_000 },
  ]) },
  ssh: { runs: 4, build: benign((rng, f) => [
    { host: 'c1', cmd: 'ssh', args: [...sshOpts(f), '-tt', `root@${srv}`, `for i in $(seq 1 ${4 + rng.int(8)}); do ls -la /etc | head -${5 + rng.int(20)}; sleep 0.${2 + rng.int(6)}; done`], timeoutMs: 20_000 },
    { host: 'c2', cmd: 'scp', args: [...sshOpts(f), f.blob, `root@${srv}:${f.sink}/upload-${rng.int(1e6)}`], timeoutMs: 20_000, delayMs: 300 },
    { host: 'c3', cmd: 'scp', args: [...sshOpts(f), `root@${srv}:${f.blob}`, '/dev/null'], timeoutMs: 20_000, delayMs: 600 },
    { host: 'c1', cmd: 'ssh', args: [...sshOpts(f), `root@${srv}`, 'uptime'], timeoutMs: 10_000, delayMs: 1500 },
  ]) },
  office: { runs: 4, build: benign((rng, f) => benignMix(rng, f, 'full')) },
  chatter: { runs: 6, build: benign((rng, f) => [
    ...BENIGN_CLIENTS.map((c) => client('chatter', c.name, { seed: rng.int(1e9), count: 10 + rng.int(15), gapMs: 300 + rng.int(500) })),
    ...BENIGN_CLIENTS.map((c, i): Actor => ({ host: c.name, cmd: 'ping', args: ['-c', String(2 + rng.int(14)), '-i', String(pick(rng, [0.2, 0.5, 1])), '-s', String(pick(rng, [56, 64, 120, 1000, 1400])), i === 2 ? HOSTS.ext!.ip : srv], timeoutMs: 20_000, delayMs: rng.int(3000) })),
    ...benignMix(rng, f, 'light'),
  ]) },

  scan: { runs: 12, build: (rng, f, v) => {
    const type = NMAP_TYPES[v % NMAP_TYPES.length]!;
    const udp = type === '-sU', version = type === '-sV';
    const ports = udp ? pick(rng, ['--top-ports=40', '-p53,67,69,123,161,500,1900,5353']) : version ? '-p21,22,80,443,1883,8080' : pick(rng, ['--top-ports=300', '-p1-1200', '-p20-25,53,80,110,143,443,445,3389,8080', '--top-ports=1000']);
    const timing = pick(rng, udp || version ? ['-T4', '-T5'] : ['-T3', '-T4', '-T5']);
    const args = ['-n', '-Pn', type, ports, timing, '--max-retries', '1', '--host-timeout', '25s', srv];
    if (version) args.splice(3, 0, '--version-light');
    const actors: Actor[] = [{ host: 'atk', cmd: 'nmap', args, timeoutMs: 30_000 }];
    if (rng.next() < 0.5) actors.push({ host: 'atk', cmd: 'nmap', args: ['-n', '-sn', `${HOSTS.srv!.ip.replace(/\.\d+$/, '')}.0/27`, '-T4'], timeoutMs: 15_000 });
    if (rng.next() < 0.6) actors.push(...benignMix(rng, f, 'light'));
    return { cls: 'scan', attackers: [HOSTS.atk!.ip], actors, params: { nmap: args.join(' ') } };
  } },
  masscan: { runs: 2, build: (rng) => {
    const args = [srv, '--interface', 'vatk', '--adapter-ip', HOSTS.atk!.ip, '--router-mac', '$SRV_MAC', `-p${pick(rng, ['1-2000', '1-1000,3000-3500', '20-30,80,443,8000-8100'])}`, '--rate', String(pick(rng, [500, 1000, 3000])), '--wait', '1', '--seed', String(rng.int(1e6))];
    return { cls: 'scan', attackers: [HOSTS.atk!.ip], actors: [{ host: 'atk', cmd: 'masscan', args, timeoutMs: 20_000 }], params: { masscan: args.join(' ') } };
  } },
  dos: { runs: 9, build: (rng, f, v) => {
    const kind = DOS_KINDS[v % DOS_KINDS.length]!;
    const count = String(1500 + rng.int(3000));
    const interval = `u${pick(rng, [100, 200, 400])}`;
    const base = ['-q', '-c', count, '-i', interval];
    const args = kind === 'syn80' ? [...base, '-S', '-p', '80', srv]
      : kind === 'synclosed' ? [...base, '-S', '-p', String(pick(rng, [25, 3306, 9999])), srv]
      : kind === 'udp' ? [...base, '--udp', '-p', pick(rng, ['53', '123', '5000']), '-d', String(pick(rng, [0, 64, 512])), srv]
      : kind === 'icmp' ? [...base, '--icmp', '-d', String(pick(rng, [0, 56, 1000])), srv]
      : kind === 'synspoof' ? [...base, '-S', '-p', '80', '--rand-source', srv]
      : [...base, '--udp', '-p', '53', '--rand-source', srv];
    const actors: Actor[] = [{ host: 'atk', cmd: 'hping3', args, timeoutMs: 20_000 }];
    if (rng.next() < 0.6) actors.push(...benignMix(rng, f, 'light'));
    return { cls: 'dos', attackers: [HOSTS.atk!.ip], spoofedVictim: kind.endsWith('spoof') ? srv : undefined, actors, params: { hping3: args.join(' ') } };
  } },
  bruteforce: { runs: 9, build: (rng, f, v) => {
    const kind = BRUTE_KINDS[v % BRUTE_KINDS.length]!;
    const tasks = String(pick(rng, [2, 4, 8]));
    let actor: Actor;
    if (kind === 'hydra-ssh') actor = { host: 'atk', cmd: 'hydra', args: ['-l', 'root', '-P', f.words, '-t', tasks, '-I', '-q', `ssh://${srv}`], timeoutMs: 25_000 };
    else if (kind === 'hydra-ftp') actor = { host: 'atk', cmd: 'hydra', args: ['-L', f.words, '-p', 'secret', '-t', tasks, '-I', '-q', `ftp://${srv}`], timeoutMs: 25_000 };
    else if (kind === 'hydra-http') actor = { host: 'atk', cmd: 'hydra', args: ['-l', 'admin', '-P', f.words, '-t', tasks, '-I', '-q', '-s', '8080', srv, 'http-get', '/admin'], timeoutMs: 25_000 };
    else if (kind === 'script-ftp') actor = client('ftpbrute', 'atk', { seed: rng.int(1e9), count: 40 + rng.int(60), gapMs: 20 + rng.int(100) });
    else actor = client('httpbrute', 'atk', { seed: rng.int(1e9), count: 60 + rng.int(100), gapMs: 10 + rng.int(60), keepAlive: kind.endsWith('-ka') });
    const actors = [actor];
    if (rng.next() < 0.6) actors.push(...benignMix(rng, f, 'light'));
    return { cls: 'bruteforce', attackers: [HOSTS.atk!.ip], actors, params: { kind, tasks } };
  } },
  dns_tunnel: { runs: 9, build: (rng, f, v) => {
    const qtype = DNS_QTYPES[v % DNS_QTYPES.length]!;
    const params = { seed: rng.int(1e9), qtype, count: 80 + rng.int(200), gapMs: 5 + rng.int(40), labelLen: 30 + rng.int(34), labels: 1 + rng.int(3), perQuerySocket: rng.next() < 0.4, domain: pick(rng, ['t.lab-tunnel.example', 'x.cdn-sync.example', 'a.b']) };
    const actors = [client('dnstunnel', 'atk', params)];
    if (rng.next() < 0.6) actors.push(...benignMix(rng, f, 'light'));
    return { cls: 'dns_tunnel', attackers: [HOSTS.atk!.ip], actors, params };
  } },
  exfil: { runs: 6, build: (rng, f, v) => {
    const https = v % 2 === 1;
    const params = { seed: rng.int(1e9), host: ext, https, count: 4 + rng.int(6), sizeMin: 30_000 + rng.int(100_000), sizeMax: 200_000 + rng.int(600_000), periodMs: 600 + rng.int(1500), jitter: 0.1 + 0.4 * rng.next() };
    const actors = [client('upload', 'atk', params)];
    if (rng.next() < 0.6) actors.push(...benignMix(rng, f, 'light'));
    return { cls: 'exfil', attackers: [HOSTS.atk!.ip], actors, params };
  } },
  c2: { runs: 6, build: (rng, f, v) => {
    const mode = C2_MODES[v % C2_MODES.length]!;
    const params = { seed: rng.int(1e9), host: ext, mode, count: 10 + rng.int(16), periodMs: 200 + rng.int(500), jitter: 0.05 + 0.35 * rng.next(), sizeMin: 30 + rng.int(60), sizeMax: 120 + rng.int(300) };
    const actors = [client('beacon', 'atk', params)];
    if (rng.next() < 0.6) actors.push(...benignMix(rng, f, 'light'));
    return { cls: 'c2', attackers: [HOSTS.atk!.ip], actors, params };
  } },
};

/** All runs of the lab, in a fixed order; `split` is assigned per run (never per flow). */
export function planRuns(baseSeed: number, files: LabFiles, runsScale = 1): (RunSpec & { split: 'train' | 'val' | 'test' })[] {
  const out: (RunSpec & { split: 'train' | 'val' | 'test' })[] = [];
  for (const [scenario, def] of Object.entries(SCENARIOS)) {
    const runs = Math.max(1, Math.round(def.runs * runsScale));
    for (let v = 0; v < runs; v++) {
      const seed = (baseSeed * 1_000_003 + v * 7919 + scenario.length * 104_729) >>> 0;
      const rng = createRng(seed);
      const spec = def.build(rng, files, v);
      // Every third run goes to test or validation, alternating, so both see several variants.
      const split = runs >= 3 && v % 3 === 2 ? (Math.floor(v / 3) % 2 === 0 ? 'test' : 'val') : runs >= 3 && v === runs - 1 ? 'val' : 'train';
      out.push({ ...spec, id: `${scenario}-${String(v).padStart(2, '0')}`, scenario, seed, split });
    }
  }
  return out;
}
