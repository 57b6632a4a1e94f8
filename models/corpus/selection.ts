/**
 * Which public captures form the benign corpus, and why. A capture is in the corpus when a rule below matches
 * its path (relative to the pcaps root), LABELS.tsv does not label it, and the flow core finds at least one
 * IP flow in it. Anything not matched stays out: decoder and evasion tests, malformed or fuzzed packets,
 * tunnels and exotic link layers, industrial protocols, and everything whose name or nDPI's risk notes say
 * attack, malware, exploit, covert channel or fingerprinting (README.md lists them).
 */

export interface Rule {
  /** Anchored regular expression on the path relative to the pcaps root. */
  match: RegExp;
  /** Why these captures are ordinary traffic worth learning as normal. */
  why: string;
  /** Split unit: defaults to the capture itself (its path without extension). */
  group?: (rel: string) => string;
}

const capture = (rel: string): string => rel.replace(/\.(pcap|pcapng|cap)(\.gz)?$/i, '').replace(/[^A-Za-z0-9._-]+/g, '_');

export const RULES: Rule[] = [
  {
    match: /^iot-sentinel\/[^/]+\/Setup-[^/]+\.pcap$/,
    why: 'smart-home device being set up (DHCP, DNS, mDNS, SSDP, NTP, HTTP/TLS to its cloud); IoT Sentinel',
    group: (rel) => `iot-${rel.split('/')[1]!}`,
  },
  // nDPI: home and IoT protocol samples; their result/*.out risk notes hold no attack (only unsafe/clear-text
  // protocol, unidirectional, non-standard port, obsolete cipher notes).
  { match: /^ndpi\/(mqtt|coap_mqtt)\.pcap$/, why: 'MQTT / CoAP IoT telemetry (nDPI sample)' },
  { match: /^ndpi\/NTPv[234]\.pcap$/, why: 'NTP time sync (nDPI sample)' },
  { match: /^ndpi\/ssdp-m-search-ua\.pcap$/, why: 'SSDP/UPnP discovery (nDPI sample)' },
  { match: /^ndpi\/(dns|dns_doh|dns_dot|dns_long_domainname|dns_fragmented)\.pcap$/, why: 'DNS, DoH, DoT, long and large answers (nDPI sample)' },
  { match: /^ndpi\/(http_ipv6|crawler_false_positive)\.pcapn?g?$/, why: 'web browsing over HTTP/TLS (nDPI sample; crawler_false_positive is ordinary traffic nDPI once misread)' },
  { match: /^ndpi\/(ftp|ftp_failed|http_auth|ssh|telnet|rdp)\.pcap$/, why: 'one interactive or login session (FTP, HTTP auth, SSH, telnet, RDP) (nDPI sample)' },
  { match: /^ndpi\/(netbios|smbv1|smb_deletefile|snmp|bacnet)\.pcap$/, why: 'LAN services: NetBIOS, SMB file sharing, SNMP, BACnet building automation (nDPI sample)' },
  { match: /^ndpi\/tls_1\.2_unidirectional_client\.pcapng$/, why: 'TLS 1.2 client seen one way (nDPI sample)' },
  // chrissanders/packets: the Practical Packet Analysis protocol examples.
  { match: /^chrissanders-packets\/(dhcp6_outlease_acquisition|dhcp_inlease_renewal|dhcp_nolease_initialization)\.pcapng$/, why: 'DHCP / DHCPv6 lease (Practical Packet Analysis example)' },
  { match: /^chrissanders-packets\/(dns\.pcap|dns_axfr|dns_lab|dns_query_nonexistent|dns_query_response|dns_recursivequery_client|dns_recursivequery_server|dns_reverse_lookup|dns_tcp|udp_dnsrequest)(\.pcapng)?$/, why: 'DNS lookups, recursion, reverse, TCP, zone transfer (Practical Packet Analysis example)' },
  { match: /^chrissanders-packets\/(http_espn|http_espn_fail|http_google|http_ip4and6|http_post|http_dvwa_clearlogin|weather_broken|weather_working|nowebaccess[123]|stranded_branchdns|stranded_clientside|tickedoffdeveloper|inconsistent_printer|wrongdissector)\.pcapng$/, why: 'web browsing and everyday troubleshooting traffic (Practical Packet Analysis example)' },
  { match: /^chrissanders-packets\/(icmp_echo|icmp_traceroute|icmpv6_neighbor_solicitation|ip_ttl_dest|ip_ttl_source|ip_frag_source|ipv6_fragments)\.pcapng$/, why: 'ping, traceroute, neighbour discovery, fragments (Practical Packet Analysis example)' },
  { match: /^chrissanders-packets\/(tcp_dupack|tcp_handshake|tcp_refuseconnection|tcp_retransmissions|tcp_teardown|tcp_zerowindowdead|tcp_zerowindowrecovery|latency[1-4])\.pcapng$/, why: 'ordinary TCP behaviour: refusals, retransmissions, zero windows, latency (Practical Packet Analysis example)' },
  { match: /^chrissanders-packets\/(mail_receiver_server_3|mail_sender_attachment|mail_sender_client_1|mail_sender_server_2|passiveosfingerprinting)\.pcapng$/, why: 'mail and ordinary browsing (Practical Packet Analysis example)' },
  { match: /^chrissanders-packets\/ppa1e\/(ftp|telnet)\.pcap$/, why: 'FTP / telnet session (Practical Packet Analysis 1st ed.)' },
  // zeek btest traces: the benign protocol ones (not decoder, checksum, truncation or tunnel tests).
  { match: /^zeek\/Traces\/(dns53|dns\/mdns|dns\/mdns-no-assoc|dhcp\/dhcp)\.pcap$/, why: 'DNS, mDNS, DHCP (Zeek test trace)' },
  { match: /^zeek\/Traces\/ntp\/(ntp|ntp2|NTP_sync|NTP-digest|ntp-no-extensions-mac|misordered-ntp)\.pcap$/, why: 'NTP time sync (Zeek test trace)' },
  { match: /^zeek\/Traces\/igmp\/(igmp|home-multicast-short|multicast-igmp-version-membership-query-and-report)\.pcap$/, why: 'IGMP multicast membership (Zeek test trace)' },
  { match: /^zeek\/Traces\/icmp\/(5-pings|icmp-ping|icmp6-ping|icmp6-neighbor-advert|icmp6-neighbor-solicit|icmp6-router-solicit|icmp6-router-advert|icmp6-mldv1|icmp6-mldv2|icmp6-mld-query|icmp-timeexceeded|icmp-destunreach-udp)\.pcap$/, why: 'ping, IPv6 neighbour/router discovery, MLD, ICMP errors (Zeek test trace)' },
  { match: /^zeek\/Traces\/(http\/get|http-vlan-0|http-qinq-0|nflog-http|wikipedia-filtered-plus-udp|tcp\/qi_internet_SYNACK_curl_jsonip)\.pcap$/, why: 'web browsing over HTTP (Zeek test trace)' },
  { match: /^zeek\/Traces\/tls\/(tls1\.2|tls13_wolfssl)\.pcap$/, why: 'TLS 1.2 / 1.3 sessions (Zeek test trace)' },
  { match: /^zeek\/Traces\/(ssh\/single-conn|smtp|snmp\/snmpv1_get|ftp\/ipv4|communityid\/(tcp|udp|icmp|icmp6|ipv6))\.pcap$/, why: 'one SSH, SMTP, SNMP or FTP session; small mixed samples (Zeek test trace)' },
  // suricata-verify: the ordinary protocol samples (not the events/malformed/evasion tests).
  { match: /^suricata-verify\/tests\/(mqtt5?|mqtt31|mqtt311)-(pub|sub|unsub)-[a-z0-9-]+\/input\.pcap$/, why: 'MQTT 3.1 / 3.1.1 / 5 publish, subscribe, login (Suricata test sample)' },
  { match: /^suricata-verify\/tests\/(mqtt-ping\/input|mqtt-pub-rules\/mqtt5_pub_jpeg|mqtt-connect-rules\/mqtt5_pub_jpeg|mqtt-connect-rules-2\/mqtt5_pub_jpeg_connack134|mqtt-midstream-split\/mqtt-midstream-split)\.pcap$/, why: 'MQTT keepalive, publish, refused connect, mid-stream (Suricata test sample)' },
  { match: /^suricata-verify\/tests\/(quic-ietf|quic-frag|quic-frag-wait|quic-frag-unordered|quic-frag-middle-gap)\/input\.pcap$/, why: 'QUIC (Suricata test sample)' },
  { match: /^suricata-verify\/tests\/(dns\/dns-eve|dns\/v2\/dns-eve|dhcp-eve-extended|ntp-keywords|ja4-tls|ssh-hassh|ssh-banner-only)\/input\.pcap$/, why: 'DNS, DHCP, NTP, TLS, SSH (Suricata test sample)' },
  { match: /^suricata-verify\/tests\/sip-ssdp-pm\/ssdp\.pcap$/, why: 'SSDP discovery (Suricata test sample)' },
  { match: /^esnet-curated-pcaps\/protocols\/whois\/whois\.pcap$/, why: 'WHOIS lookup (ESnet curated sample)' },
];

export function ruleFor(rel: string): { rule: Rule; group: string } | undefined {
  const rule = RULES.find((r) => r.match.test(rel));
  return rule ? { rule, group: rule.group ? rule.group(rel) : capture(rel) } : undefined;
}
