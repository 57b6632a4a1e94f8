#!/usr/bin/env bash
# Records a spoofed-source SYN flood with real tools, for the arm64 check's "≥ 100k flows, a flood" input:
# hping3 floods from one network namespace to another over a veth pair (nothing leaves the machine), tcpdump
# records it on the receiving side. Every random source is a flow of its own, so the capture holds about as many
# flows as packets. Bounded: a fixed packet count and a time limit.
# Usage: deploy/arm64/make-flood-capture.sh OUT.pcap [PACKETS]     (root; default 130000 packets)
set -euo pipefail
out="$(realpath -m "$1")"
packets="${2:-130000}"
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 1; }
for t in hping3 tcpdump ip; do command -v "$t" >/dev/null || { echo "needs $t" >&2; exit 1; }; done
a=nsof-flood-a b=nsof-flood-b
cleanup() { ip netns del "$a" 2>/dev/null || true; ip netns del "$b" 2>/dev/null || true; }
trap cleanup EXIT
cleanup
ip netns add "$a"; ip netns add "$b"
ip link add nsof-fa netns "$a" type veth peer name nsof-fb netns "$b"
ip -n "$a" addr add 10.242.9.1/24 dev nsof-fa; ip -n "$b" addr add 10.242.9.2/24 dev nsof-fb
for ns in "$a" "$b"; do ip -n "$ns" link set lo up; done
ip -n "$a" link set nsof-fa up; ip -n "$b" link set nsof-fb up
# the victim's replies to spoofed sources go back over the veth too (as on a real link)
ip -n "$b" route add default via 10.242.9.1
# -Z root: tcpdump would otherwise open the file as its own unprivileged user, which cannot write where root asked
ip netns exec "$b" tcpdump -Z root -i nsof-fb -w "$out" -U -B 65536 -s 128 'tcp' 2>/dev/null &
dump=$!
sleep 1
# -i u20: about 50k packets/s asked; tcpdump keeps up with a big buffer and a 128-byte snap length
timeout 120 ip netns exec "$a" hping3 -S --rand-source -p 80 -c "$packets" -i u20 10.242.9.2 >/dev/null 2>&1 || true
sleep 1
kill -INT "$dump"; wait "$dump" 2>/dev/null || true
[ -s "$out" ] || { echo "no capture written to $out" >&2; exit 1; }
echo "$out"
