/**
 * Addresses a response action may never name (guard rail, docs/response.md): the configured critical hosts
 * (addresses or CIDR prefixes), the box's own addresses (its management address among them), its default
 * routes' next hops, its DNS servers and the gateway (broker) it reports to. Read afresh for every command:
 * a DHCP lease or a route may have changed since the last one.
 */
import { execFile } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import { BlockList, isIP } from 'node:net';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export interface Allowlist {
  /** The reason an address is protected, or undefined. */
  protects(ip: string): string | undefined;
}

async function ipJson(args: string[]): Promise<Array<Record<string, unknown>>> {
  try {
    return JSON.parse((await exec('ip', ['-j', ...args], { timeout: 5000 })).stdout || '[]') as Array<Record<string, unknown>>;
  } catch {
    return [];
  }
}

async function systemAddresses(brokerHost: string | undefined): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const [addrs, r4, r6, resolv] = await Promise.all([
    ipJson(['addr', 'show']), ipJson(['-4', 'route', 'show', 'default']), ipJson(['-6', 'route', 'show', 'default']),
    readFile('/etc/resolv.conf', 'utf8').catch(() => ''),
  ]);
  for (const link of addrs) for (const a of (link.addr_info as Array<{ local?: string }> | undefined) ?? []) if (a.local) found.set(a.local, 'own address');
  for (const r of [...r4, ...r6]) if (typeof r.gateway === 'string') found.set(r.gateway, 'default route');
  for (const m of resolv.matchAll(/^\s*nameserver\s+(\S+)/gm)) found.set(m[1].replace(/%.*$/, ''), 'DNS server');
  if (brokerHost) {
    const host = brokerHost.replace(/^\[|\]$/g, '');
    try {
      for (const r of isIP(host) ? [{ address: host }] : await lookup(host, { all: true })) found.set(r.address, 'gateway');
    } catch { /* unresolvable now: the configured list still applies */ }
  }
  return found;
}

/** `configured`: addresses and CIDR prefixes from response.allowlist (checked at start-up by parseAllowEntry). */
export async function currentAllowlist(configured: readonly string[], brokerUrl: string): Promise<Allowlist> {
  const list = new BlockList();
  for (const entry of configured) addEntry(list, entry);
  let brokerHost: string | undefined;
  try { brokerHost = new URL(brokerUrl).hostname; } catch { /* checked at start-up */ }
  const system = await systemAddresses(brokerHost);
  return {
    protects(ip) {
      // compared as addresses, not text: fd00::1 and fd00:0::1 are one host
      for (const [a, why] of system) if (isIP(a) && isIP(a) === isIP(ip) && sameAddress(a, ip)) return why;
      return list.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4') ? 'configured critical host' : undefined;
    },
  };
}

function sameAddress(a: string, b: string): boolean {
  const l = new BlockList();
  l.addAddress(a, isIP(a) === 6 ? 'ipv6' : 'ipv4');
  return l.check(b, isIP(b) === 6 ? 'ipv6' : 'ipv4');
}

function addEntry(list: BlockList, entry: string): void {
  const [addr, prefix] = entry.split('/');
  const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
  if (prefix === undefined) list.addAddress(addr, type);
  else list.addSubnet(addr, Number(prefix), type);
}

/** Start-up check of one response.allowlist entry: an address or address/prefix; the problem, or undefined. */
export function parseAllowEntry(entry: string): string | undefined {
  const [addr, prefix, extra] = entry.split('/');
  const v = isIP(addr);
  if (!v || extra !== undefined) return `${entry} is not an IP address or address/prefix`;
  if (prefix !== undefined && !(/^\d+$/.test(prefix) && Number(prefix) <= (v === 6 ? 128 : 32))) return `${entry}: bad prefix length`;
  return undefined;
}
