/**
 * Addresses a response action may never name (guard rail, docs/response.md): the configured critical hosts
 * (addresses or prefixes), the box's own addresses (its management address among them), its default routes'
 * next hops, its DNS servers and the gateway (broker) it reports to. Read afresh for every command: a DHCP
 * lease or a route may have changed since the last one.
 */
import { execFile } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { promisify } from 'node:util';
import { addressList } from '../../common/address-list.js';

const exec = promisify(execFile);

export interface Allowlist {
  /** Why an address is protected, or undefined. */
  protects(ip: string): string | undefined;
}

async function ipJson(args: string[]): Promise<Array<Record<string, unknown>>> {
  try {
    return JSON.parse((await exec('ip', ['-j', ...args], { timeout: 5000 })).stdout || '[]') as Array<Record<string, unknown>>;
  } catch {
    return [];
  }
}

/** address → why it is protected, as the box sees it now. */
async function systemAddresses(brokerUrl: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const [addrs, r4, r6, resolv] = await Promise.all([
    ipJson(['addr', 'show']), ipJson(['-4', 'route', 'show', 'default']), ipJson(['-6', 'route', 'show', 'default']),
    readFile('/etc/resolv.conf', 'utf8').catch(() => ''),
  ]);
  for (const link of addrs) for (const a of (link.addr_info as Array<{ local?: string }> | undefined) ?? []) if (a.local) found.set(a.local, 'own address');
  for (const r of [...r4, ...r6]) if (typeof r.gateway === 'string') found.set(r.gateway, 'default route');
  for (const m of resolv.matchAll(/^\s*nameserver\s+(\S+)/gm)) found.set(m[1].replace(/%.*$/, ''), 'DNS server');
  let host = '';
  try { host = new URL(brokerUrl).hostname.replace(/^\[|\]$/g, ''); } catch { /* checked at start-up */ }
  if (host) {
    try {
      for (const r of isIP(host) ? [{ address: host }] : await lookup(host, { all: true })) found.set(r.address, 'gateway');
    } catch { /* unresolvable now: the rest still applies */ }
  }
  for (const a of found.keys()) if (!isIP(a)) found.delete(a);
  return found;
}

/** `configured`: response.allowlist (checked at start-up). */
export async function currentAllowlist(configured: readonly string[], brokerUrl: string): Promise<Allowlist> {
  const critical = addressList(configured);
  const system = [...(await systemAddresses(brokerUrl))].map(([a, why]) => ({ list: addressList([a]), why }));
  return {
    protects(ip) {
      for (const s of system) if (s.list.has(ip)) return s.why;
      return critical.has(ip) ? 'configured critical host' : undefined;
    },
  };
}
