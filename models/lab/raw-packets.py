"""Lab traffic that needs raw sockets, which Node does not offer. Run inside a lab namespace (root):
    python3 models/lab/raw-packets.py <kind> '<json params>'
kinds:
  dhcp        DHCPDISCOVERs from 0.0.0.0:68 to 255.255.255.255:67 in Ethernet frames, each from a random
              (flood) or the interface's own (benign client) MAC; `count`, `gapMs`, `dev`.
  icmp-client echo requests carrying high-entropy payloads (an ICMP tunnel's upstream); `host`, `count`,
              `gapMs`, `sizeMin`, `sizeMax`.
  icmp-server answers echo requests with its own high-entropy payloads (the tunnel's downstream); the
              kernel's own echo replies are switched off in this namespace while it runs; ends when idle.
Every kind is bounded by `count` and `maxMs`, and seeded.
"""
import json, os, random, socket, struct, sys, time

kind, params = sys.argv[1], json.loads(sys.argv[2] if len(sys.argv) > 2 else '{}')
rng = random.Random(params.get('seed', 1))
deadline = time.time() + params.get('maxMs', 40000) / 1000
count = params.get('count', 100)


def checksum(b: bytes) -> int:
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff


def entropy_bytes(n: int) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(n))


def dhcp_discover(mac: bytes, xid: int) -> bytes:
    bootp = struct.pack('!BBBBIHH4s4s4s4s16s64s128s', 1, 1, 6, 0, xid, 0, 0x8000, b'\0' * 4, b'\0' * 4, b'\0' * 4, b'\0' * 4,
                        mac + b'\0' * 10, b'\0' * 64, b'\0' * 128)
    options = b'\x63\x82\x53\x63' + b'\x35\x01\x01' + b'\x3d\x07\x01' + mac + b'\x37\x04\x01\x03\x06\x0f' + b'\x0c\x06lab-' + mac[-1:].hex().encode() + b'\xff'
    payload = bootp + options + b'\0' * max(0, 300 - len(bootp) - len(options))
    udp = struct.pack('!HHHH', 68, 67, 8 + len(payload), 0) + payload
    src, dst = socket.inet_aton('0.0.0.0'), socket.inet_aton('255.255.255.255')
    pseudo = src + dst + struct.pack('!BBH', 0, 17, len(udp))
    udp = udp[:6] + struct.pack('!H', checksum(pseudo + udp) or 0xffff) + udp[8:]
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0x10, 20 + len(udp), rng.getrandbits(16), 0, 64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack('!H', checksum(ip)) + ip[12:]
    return b'\xff' * 6 + mac + b'\x08\x00' + ip + udp


def dhcp() -> None:
    dev = params['dev']
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((dev, 0))
    own = open(f'/sys/class/net/{dev}/address').read().strip()
    for i in range(count):
        if time.time() > deadline:
            break
        mac = bytes([0x02] + [rng.getrandbits(8) for _ in range(5)]) if params.get('randomMac', True) else bytes.fromhex(own.replace(':', ''))
        s.send(dhcp_discover(mac, rng.getrandbits(32)))
        time.sleep(params.get('gapMs', 5) / 1000 * (0.5 + rng.random()))


def icmp_socket() -> socket.socket:
    return socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)


def echo(type_: int, ident: int, seq: int, payload: bytes) -> bytes:
    head = struct.pack('!BBHHH', type_, 0, 0, ident, seq)
    return head[:2] + struct.pack('!H', checksum(head + payload)) + head[4:] + payload


def icmp_client() -> None:
    s = icmp_socket()
    s.settimeout(0.5)
    lo, hi = params.get('sizeMin', 200), params.get('sizeMax', 900)
    # Each session is a new tunnel connection with its own echo identifier; `count` requests in all.
    sessions = max(1, params.get('sessions', 1))
    for session in range(sessions):
        ident = rng.getrandbits(16)
        for seq in range(count // sessions):
            if time.time() > deadline:
                return
            s.sendto(echo(8, ident, seq, entropy_bytes(rng.randint(lo, hi))), (params['host'], 0))
            try:
                s.recv(4096)
            except socket.timeout:
                pass
            time.sleep(params.get('gapMs', 50) / 1000 * (0.5 + rng.random()))
        time.sleep(0.5 + rng.random())


def icmp_server() -> None:
    flag = '/proc/sys/net/ipv4/icmp_echo_ignore_all'
    open(flag, 'w').write('1')
    try:
        s = icmp_socket()
        s.settimeout(0.5)
        lo, hi = params.get('sizeMin', 200), params.get('sizeMax', 1200)
        last = None
        # Ends when the client has been silent for `idleMs` after its first request (or at the deadline).
        while time.time() < deadline and (last is None or time.time() - last < params.get('idleMs', 3000) / 1000):
            try:
                pkt, addr = s.recvfrom(65535)
            except socket.timeout:
                continue
            ihl = (pkt[0] & 0x0f) * 4
            if len(pkt) < ihl + 8 or pkt[ihl] != 8:
                continue
            last = time.time()
            ident, seq = struct.unpack('!HH', pkt[ihl + 4:ihl + 8])
            # A tunnel endpoint answers with the data queued for the client, not with the request's bytes.
            s.sendto(echo(0, ident, seq, entropy_bytes(rng.randint(lo, hi))), (addr[0], 0))
    finally:
        open(flag, 'w').write('0')


{'dhcp': dhcp, 'icmp-client': icmp_client, 'icmp-server': icmp_server}[kind]()
