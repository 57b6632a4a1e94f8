/**
 * Labelled public captures (LABELS.tsv) → the netsensor family each should alert as, or `out_of_scope` when
 * the label is not an attack the sensor claims to detect. The first matching entry wins; `judgement` marks a
 * mapping that is a call, not a reading of the label. make-attacks.ts expands LABELS.tsv with this table.
 */

export type Family = 'scan' | 'dos' | 'bruteforce' | 'dns_tunnel' | 'exfil' | 'c2' | 'tunnel' | 'out_of_scope';

export interface FamilyRule { match: RegExp; family: Family; note: string; judgement?: boolean }

export const FAMILY_RULES: FamilyRule[] = [
  { match: /^esnet-curated-pcaps\/tcp\/control\//, family: 'out_of_scope', note: 'synthetic decoder test (every TCP flag combination, one packet each), not an attack' },
  { match: /^markofu-pcaps\/.*\/FTP_BOUNCE_SCAN\//, family: 'scan', note: 'nmap FTP bounce scan: the probes go through the FTP server, so the sensor sees one FTP control flow with many PORT commands; only a scan if that flow reads as one', judgement: true },
  { match: /^markofu-pcaps\/.*\/IP_PROTOCOL_SCAN\//, family: 'scan', note: 'nmap IP-protocol scan: one packet per IP protocol number, no ports' },
  { match: /^markofu-pcaps\/.*\/NMAP_SCAN_ANALYSIS\//, family: 'scan', note: 'nmap port scan, one scan type per file' },
  { match: /^markofu-pcaps\/.*\/xprobe_pcaps\//, family: 'scan', note: 'xprobe2 OS fingerprinting: a handful of ICMP/TCP/UDP probes; called scan because it is reconnaissance, though it touches few ports', judgement: true },
  { match: /^chrissanders-packets\/ppa1e\/portscan\.pcap$/, family: 'scan', note: 'small port scan' },
  { match: /^chrissanders-packets\/synscan\.pcapng$/, family: 'scan', note: 'nmap SYN scan' },
  { match: /^chrissanders-packets\/tcp_ports\.pcapng$/, family: 'out_of_scope', note: 'labelled "portscan?" (with the question mark): read packet by packet it is ordinary browsing — eight HTTP connections from one client to port 80 of two web servers, every one completed with its pages; nothing probes a port. Counted as a scan until model 1.5.0', judgement: true },
  { match: /^ndpi\/(synscan\.pcap|tcp_scan\.pcapng)$/, family: 'scan', note: 'nmap SYN / small TCP scan' },
  { match: /^chrissanders-packets\/ppa1e\/dosattack\.pcap$/, family: 'dos', note: 'SYN flood, 100 packets' },
  { match: /^StopDDoS-packet-captures\/pkt\./, family: 'dos', note: 'SYN flood (spoofed sources / ECN+CWR)' },
  { match: /^StopDDoS-packet-captures\/amp\./, family: 'dos', note: 'reflection/amplification: the capture holds the reflected traffic towards the victim' },
  { match: /^suricata-verify\/tests\/firewall\/tcp-session-syn-flood-drop-precedence\//, family: 'dos', note: '200-packet SYN flood' },
  { match: /^suricata-verify\/tests\/ipv6-evasion\/ipv6-rsmurf\//, family: 'dos', note: 'THC rsmurf6: 1,000 spoofed ICMPv6 echo requests to ff02::1 (smurf amplification)' },
  { match: /^suricata-verify\/tests\/ipv6-evasion\/ipv6-dos-with-ext-headers-5\//, family: 'dos', note: 'THC denial6 test 5: ~35k packets with large extension headers' },
  { match: /^suricata-verify\/tests\/ipv6-evasion\/ipv6-covert-dstopts\//, family: 'tunnel', note: 'THC covert_send6: data hidden in IPv6 destination options of ICMPv6 echo (37 packets); a covert channel, so the ICMP/other tunnel family', judgement: true },
  { match: /^suricata-verify\/tests\/ipv6-evasion\/ipv6-kill-router-gateway\//, family: 'out_of_scope', note: 'THC kill_router6: spoofed router withdrawal (a LAN redirection attack, like ARP poisoning), 21 packets' },
  { match: /^suricata-verify\/tests\/ipv6-evasion\/ipv6-atomic-fragments-toobig\//, family: 'out_of_scope', note: 'spoofed Packet Too Big forcing atomic fragments (5 packets): an evasion set-up, not a flow behaviour' },
  { match: /^suricata-verify\/tests\/ipv6-evasion\/ipv6-malformed-fragments-/, family: 'out_of_scope', note: 'THC fragment evasion: malformed / overlapping IPv6 fragments of one ping, a reassembly test' },
  { match: /^zeek\/Traces\/ssh\/sshguess\.pcap$/, family: 'bruteforce', note: 'SSH password guessing' },
  { match: /^dmachard-datasets-malicious-dns\//, family: 'dns_tunnel', note: 'iodine / dnscat2 DNS tunnel' },
  { match: /^zeek\/Traces\/quic\/merlinc2_Zeek_example\.pcapng$/, family: 'c2', note: 'Merlin C2 over QUIC/HTTP3' },
  { match: /^suricata-verify\/tests\/bug-5713-01\//, family: 'c2', note: 'one TLSv1 client hello to a known C2 server: one flow, no beaconing; only a reputation signature can call it, so expect a miss', judgement: true },
  { match: /^chrissanders-packets\/arppoison\.pcapng$/, family: 'out_of_scope', note: 'ARP cache poisoning: layer 2, no IP flow carries it' },
  { match: /^chrissanders-packets\/(http_dvwa_|sessionhijacking)/, family: 'out_of_scope', note: 'web attack inside ordinary HTTP flows (needs payload inspection)' },
  { match: /^ndpi\/(WebattackRCE|WebattackSQLinj|sql_injection|xss|log4j-webapp-exploit)\.pcap$/, family: 'out_of_scope', note: 'web attack / exploit inside ordinary HTTP flows (needs payload inspection)' },
  { match: /^ndpi\/bot\.pcap$/, family: 'out_of_scope', note: 'HTTP crawler / bot: ordinary-looking HTTP requests; a crawler is not one of the families' },
  { match: /^(ndpi\/tor\.pcap|suricata-verify\/tests\/tls\/tls-bypass-missing-event\/tor_bl\.pcap)$/, family: 'out_of_scope', note: 'Tor: an anonymizer whose flows are TLS; not an attack family (only an IP reputation list names it)' },
  { match: /^zeek\/Traces\/tls\/heartbleed/, family: 'out_of_scope', note: 'Heartbleed exploit inside one TLS flow (needs payload inspection)' },
  { match: /^suricata-verify\/tests\/issue-3341-tcphdr-01\//, family: 'out_of_scope', note: 'URGENT/11 malformed TCP header exploit: one crafted packet, a decoder matter' },
];

export function familyOf(rel: string): FamilyRule | undefined {
  return FAMILY_RULES.find((r) => r.match.test(rel));
}
