/**
 * Two network namespaces joined by a veth pair, for tests that make real traffic and capture it:
 *   nsflo-a (veth nsflo-va: 10.231.0.1/24, fd00:231::1/64)  ↔  nsflo-b (veth nsflo-vb: 10.231.0.2/24, fd00:231::2/64)
 * Transmit checksum offload is turned off on both ends, otherwise captured TCP/UDP checksums are wrong.
 * Needs root. destroy() removes both namespaces (the veth pair goes with them); call it in a finally block.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';

export const NS_A = 'nsflo-a';
export const NS_B = 'nsflo-b';
export const VETH_A = 'nsflo-va';
export const VETH_B = 'nsflo-vb';
export const IP_A = '10.231.0.1';
export const IP_B = '10.231.0.2';
export const IP6_A = 'fd00:231::1';
export const IP6_B = 'fd00:231::2';

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function deleteNamespaces(): void {
  for (const ns of [NS_A, NS_B]) {
    try { ip('netns', 'del', ns); } catch { /* not there */ }
  }
}

export interface NetnsPair {
  /** run a command inside a namespace to completion (bounded by timeoutMs); throws on a non-zero exit */
  exec(ns: string, cmd: string, args: string[], timeoutMs?: number): string;
  /** start a long-running command inside a namespace (the caller stops it) */
  spawn(ns: string, cmd: string, args: string[]): ChildProcess;
  destroy(): void;
}

export function createNetnsPair(): NetnsPair {
  deleteNamespaces(); // leftovers of an interrupted run
  const children: ChildProcess[] = [];
  try {
    ip('netns', 'add', NS_A);
    ip('netns', 'add', NS_B);
    ip('link', 'add', VETH_A, 'netns', NS_A, 'type', 'veth', 'peer', 'name', VETH_B, 'netns', NS_B);
    for (const [ns, dev, v4, v6] of [[NS_A, VETH_A, IP_A, IP6_A], [NS_B, VETH_B, IP_B, IP6_B]]) {
      ip('-n', ns, 'addr', 'add', `${v4}/24`, 'dev', dev);
      ip('-n', ns, 'addr', 'add', `${v6}/64`, 'dev', dev, 'nodad');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'link', 'set', dev, 'up');
      execFileSync('ip', ['netns', 'exec', ns, 'ethtool', '-K', dev, 'tx', 'off'], { stdio: 'ignore' });
    }
  } catch (e) {
    deleteNamespaces();
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
    destroy() {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      deleteNamespaces();
    },
  };
}
