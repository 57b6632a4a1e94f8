/**
 * The lab's network: a bridge namespace and one namespace per host, all prefixed `nslab-`, on 10.232.1.0/24.
 * Nothing is routed anywhere else (no default route), so lab traffic cannot leave the namespaces.
 * Transmit checksum offload is turned off on every veth: otherwise captured TCP/UDP checksums are wrong.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';

export const PREFIX = 'nslab-';
export const SUBNET = '10.232.1';
export const BRIDGE_NS = `${PREFIX}br`;

export interface LabHost { name: string; ns: string; ip: string; }

export const HOSTS: Record<string, LabHost> = Object.fromEntries(
  ([
    ['srv', 10], // servers: HTTP(S), DNS, NTP, MQTT, SSH, FTP, basic-auth web
    ['ext', 99], // "outside" server: exfil sink, C2
    ['c1', 21], ['c2', 22], ['c3', 23], // benign clients
    ['atk', 66], // attacker / infected host
  ] as const).map(([name, last]) => [name, { name, ns: `${PREFIX}${name}`, ip: `${SUBNET}.${last}` }]),
);

export const BENIGN_CLIENTS = ['c1', 'c2', 'c3'].map((h) => HOSTS[h]!);

/**
 * A host on the link with no IPv4 address, as a DHCP client before its lease: what it broadcasts leaves with
 * source 0.0.0.0 (see dhcp-discover.ts). IPv6 is off there, so it adds no neighbour discovery of its own to runs
 * that do not use it.
 */
export const UNADDRESSED = { name: 'dhcpc', ns: `${PREFIX}dhcpc` } as const;

/** The namespace of a lab host, the unaddressed one included. */
export function namespaceOf(host: string): string {
  if (host === UNADDRESSED.name) return UNADDRESSED.ns;
  const h = HOSTS[host];
  if (!h) throw new Error(`unknown lab host ${host}`);
  return h.ns;
}

export function sh(cmd: string, args: string[], opts: { ignoreError?: boolean; timeoutMs?: number } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: opts.timeoutMs ?? 30_000 });
  } catch (e) {
    if (opts.ignoreError) return '';
    throw e;
  }
}

export function inNs(ns: string, cmd: string, args: string[], opts: { ignoreError?: boolean; timeoutMs?: number } = {}): string {
  return sh('ip', ['netns', 'exec', ns, cmd, ...args], opts);
}

/**
 * Starts a process inside a namespace in its own process group, so stopping it also stops whatever it forked
 * (hydra's workers, sshd's sessions); the caller must stop it with stopProcess.
 */
export function spawnInNs(ns: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env }, detached: true });
}

/** Signals a process's whole group (it was spawned detached, as a group leader). */
export function signalGroup(p: ChildProcess, signal: NodeJS.Signals): void {
  if (p.pid === undefined) return;
  try { process.kill(-p.pid, signal); } catch { try { p.kill(signal); } catch { /* already gone */ } }
}

export function listLabNamespaces(): string[] {
  return sh('ip', ['netns', 'list'], { ignoreError: true })
    .split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(PREFIX));
}

export function destroyTopology(): void {
  for (const ns of listLabNamespaces()) sh('ip', ['netns', 'del', ns], { ignoreError: true });
}

export function createTopology(): void {
  destroyTopology();
  sh('ip', ['netns', 'add', BRIDGE_NS]);
  inNs(BRIDGE_NS, 'ip', ['link', 'add', 'br0', 'type', 'bridge']);
  inNs(BRIDGE_NS, 'ip', ['link', 'set', 'br0', 'up']);
  inNs(BRIDGE_NS, 'ip', ['link', 'set', 'lo', 'up']);
  // IPv6 stays on: link-local neighbour discovery and MLD reports are part of a real network's benign chatter
  // (labelled benign, or with the run's class when they come from the attacker's address).
  for (const host of [...Object.values(HOSTS), UNADDRESSED]) {
    sh('ip', ['netns', 'add', host.ns]);
    const a = `v${host.name}`, b = `b${host.name}`;
    sh('ip', ['link', 'add', a, 'netns', host.ns, 'type', 'veth', 'peer', 'name', b, 'netns', BRIDGE_NS]);
    inNs(host.ns, 'sysctl', ['-qw', 'net.ipv4.icmp_ratelimit=0']);
    inNs(host.ns, 'ip', ['link', 'set', 'lo', 'up']);
    if ('ip' in host) inNs(host.ns, 'ip', ['addr', 'add', `${host.ip}/24`, 'dev', a]);
    else inNs(host.ns, 'sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
    inNs(host.ns, 'ip', ['link', 'set', a, 'up']);
    inNs(host.ns, 'ip', ['route', 'add', '224.0.0.0/4', 'dev', a]);
    // Limited broadcast (DHCP, some discovery protocols) needs a route when there is no default route.
    inNs(host.ns, 'ip', ['route', 'add', '255.255.255.255/32', 'dev', a]);
    inNs(host.ns, 'ethtool', ['-K', a, 'tx', 'off'], { ignoreError: true });
    inNs(BRIDGE_NS, 'ip', ['link', 'set', b, 'master', 'br0']);
    inNs(BRIDGE_NS, 'ip', ['link', 'set', b, 'up']);
    inNs(BRIDGE_NS, 'ethtool', ['-K', b, 'tx', 'off'], { ignoreError: true });
  }
  inNs(BRIDGE_NS, 'sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1']); // the bridge itself stays silent
  addPhantomNeighbours(HOSTS.atk!);
}

/**
 * The attacker's neighbour table gets a permanent entry, with a MAC nobody owns, for every unused address of the
 * lab /24. Without it, the kernel never emits a probe to an absent host on the link (ARP fails first), so a sweep
 * would show only its hits; with it, probes to absent hosts go out unanswered, as they do behind a router.
 */
function addPhantomNeighbours(host: LabHost): void {
  const used = new Set(Object.values(HOSTS).map((h) => h.ip));
  const batch: string[] = [];
  for (let i = 1; i < 255; i++) {
    const ip = `${SUBNET}.${i}`;
    if (!used.has(ip)) batch.push(`neigh replace ${ip} lladdr 02:00:5e:00:01:${i.toString(16).padStart(2, '0')} dev v${host.name} nud permanent`);
  }
  execFileSync('ip', ['-n', host.ns, '-batch', '-'], { input: batch.join('\n') + '\n', stdio: ['pipe', 'ignore', 'pipe'] });
}

/** tcpdump on the bridge: sees every packet between lab hosts exactly once. */
export function startCapture(file: string): ChildProcess {
  return spawn('ip', ['netns', 'exec', BRIDGE_NS, 'tcpdump', '-i', 'br0', '-U', '-n', '-s', '600', '-w', file, 'ip or ip6'], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
}

export async function stopProcess(p: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', waitMs = 5000): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) { signalGroup(p, 'SIGKILL'); return; }
  const done = new Promise<void>((resolve) => p.once('exit', () => resolve()));
  signalGroup(p, signal);
  const timer = setTimeout(() => signalGroup(p, 'SIGKILL'), waitMs);
  await done;
  clearTimeout(timer);
  signalGroup(p, 'SIGKILL'); // forked helpers that outlived the leader
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
