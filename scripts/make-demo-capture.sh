#!/usr/bin/env bash
# Builds the capture `npm start` replays (models/demo/demo.pcap): the lab's small labelled fixtures merged into one
# file — benign traffic plus a scan, floods, SSH/FTP/HTTP brute force, DNS tunnelling, beaconing and exfiltration.
# Needs mergecap (Debian: wireshark-common, installed with tshark).
set -euo pipefail
cd "$(dirname "$0")/.."
mergecap -F pcap -w models/demo/demo.pcap test/fixtures/lab/*.pcap
capinfos -c -u models/demo/demo.pcap | sed 1d
