/**
 * Two network namespaces joined by a veth pair, for tests that make real traffic and capture it:
 *   nsflo-a (veth nsflo-va: 10.231.0.1/24, fd00:231::1/64)  ↔  nsflo-b (veth nsflo-vb: 10.231.0.2/24, fd00:231::2/64)
 * Transmit checksum offload is turned off on both ends, otherwise captured TCP/UDP checksums are wrong.
 * Needs root. destroy() removes both namespaces (the veth pair goes with them); call it in a finally block.
 * A test that may run beside another one passes its own names (netnsNames(prefix, octet)): same shape, its own
 * namespaces and subnets (10.<octet>.0.0/24, fd00:<octet>::/64).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { waitForOutput } from './child-output.ts';

export const NS_A = 'nsflo-a';
export const NS_B = 'nsflo-b';
export const VETH_A = 'nsflo-va';
export const VETH_B = 'nsflo-vb';
export const IP_A = '10.231.0.1';
export const IP_B = '10.231.0.2';
export const IP6_A = 'fd00:231::1';
export const IP6_B = 'fd00:231::2';

export interface NetnsNames {
  nsA: string; nsB: string; vethA: string; vethB: string; ipA: string; ipB: string; ip6A: string; ip6B: string;
}

/** Names and addresses for a pair of its own: `<prefix>-a`, `<prefix>-va`, 10.<octet>.0.1, fd00:<octet>::1, … */
export function netnsNames(prefix: string, octet: number): NetnsNames {
  return {
    nsA: `${prefix}-a`, nsB: `${prefix}-b`, vethA: `${prefix}-va`, vethB: `${prefix}-vb`,
    ipA: `10.${octet}.0.1`, ipB: `10.${octet}.0.2`, ip6A: `fd00:${octet}::1`, ip6B: `fd00:${octet}::2`,
  };
}

const DEFAULT_NAMES: NetnsNames = { nsA: NS_A, nsB: NS_B, vethA: VETH_A, vethB: VETH_B, ipA: IP_A, ipB: IP_B, ip6A: IP6_A, ip6B: IP6_B };

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function deleteNamespaces(n: NetnsNames): void {
  for (const ns of [n.nsA, n.nsB]) {
    try { ip('netns', 'del', ns); } catch { /* not there */ }
  }
}

export interface NetnsPair {
  /** run a command inside a namespace to completion (bounded by timeoutMs); throws on a non-zero exit */
  exec(ns: string, cmd: string, args: string[], timeoutMs?: number): string;
  /** start a long-running command inside a namespace (the caller stops it) */
  spawn(ns: string, cmd: string, args: string[]): ChildProcess;
  /**
   * tcpdump on `dev` inside `ns` into `pcap`, resolved once it listens; the returned function stops it (SIGINT, then
   * waits up to 5 s for it to write its counts) and gives its report (stderr: "N packets dropped by kernel", …)
   */
  capture(ns: string, dev: string, pcap: string): Promise<() => Promise<string>>;
  destroy(): void;
}

export function createNetnsPair(n: NetnsNames = DEFAULT_NAMES): NetnsPair {
  deleteNamespaces(n); // leftovers of an interrupted run
  const children: ChildProcess[] = [];
  try {
    ip('netns', 'add', n.nsA);
    ip('netns', 'add', n.nsB);
    ip('link', 'add', n.vethA, 'netns', n.nsA, 'type', 'veth', 'peer', 'name', n.vethB, 'netns', n.nsB);
    for (const [ns, dev, v4, v6] of [[n.nsA, n.vethA, n.ipA, n.ip6A], [n.nsB, n.vethB, n.ipB, n.ip6B]]) {
      ip('-n', ns, 'addr', 'add', `${v4}/24`, 'dev', dev);
      ip('-n', ns, 'addr', 'add', `${v6}/64`, 'dev', dev, 'nodad');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'link', 'set', dev, 'up');
      execFileSync('ip', ['netns', 'exec', ns, 'ethtool', '-K', dev, 'tx', 'off'], { stdio: 'ignore' });
    }
  } catch (e) {
    deleteNamespaces(n);
    throw e;
  }
  return {
    exec(ns, cmd, args, timeoutMs = 60_000) {
      return execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
    },
    spawn(ns, cmd, args) {
      const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      return child;
    },
    async capture(ns, dev, pcap) {
      const dump = this.spawn(ns, 'tcpdump', ['-i', dev, '-n', '-U', '--immediate-mode', '-B', '32768', '-s', '0', '-w', pcap]);
      let report = '';
      dump.stderr!.on('data', (d) => { report += d; });
      await waitForOutput(dump, /listening on/, 10_000);
      return async () => {
        dump.kill('SIGINT');
        if (dump.exitCode === null) await Promise.race([once(dump, 'exit'), new Promise((r) => setTimeout(r, 5000))]);
        return report;
      };
    },
    destroy() {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      deleteNamespaces(n);
    },
  };
}
