/**
 * Group addresses: a destination that names a group of listeners (multicast, broadcast), not one host.
 *
 * Traffic to many groups is a host joining them (IGMP and MLD membership reports: a set-top box zapping through
 * channels, an OS joining mDNS, SSDP and LLMNR at boot), announcing itself or asking who is there — never a
 * conversation with a host, so never the target of a scan, a brute-force, a beacon or an exfiltration. IPv6
 * solicited-node multicast (ff02::1:ffXX:XXXX, RFC 4291 2.7.1) is the exception: each such group stands for the
 * one host whose address ends in those 24 bits, and neighbour solicitations to many of them are a sweep of a link.
 */

/** Whether `ip` (the wire's text form: dotted IPv4, lower-case compressed IPv6) is a group address. */
export function isGroupAddress(ip: string): boolean {
  if (ip.includes(':')) {
    const v6 = ip.toLowerCase();
    return v6.startsWith('ff') && !v6.startsWith('ff02::1:ff');
  }
  const first = Number(ip.slice(0, ip.indexOf('.')));
  // 224/4 multicast; the limited broadcast; x.x.x.255 as the directed broadcast of the /24 most LANs are
  return (first >= 224 && first <= 239) || ip === '255.255.255.255' || ip.endsWith('.255');
}
