#!/bin/sh
# Creates (or extends) a Mosquitto password file with one generated password per user and prints
# "user password" lines once. The file stays mode 0600; nothing is written anywhere else.
# usage: make-passwd.sh PASSWORD_FILE USER [USER ...]     e.g. make-passwd.sh netsensor.passwd gateway sensor-1
set -eu
[ $# -ge 2 ] || { echo "usage: $0 PASSWORD_FILE USER [USER ...]" >&2; exit 2; }
file=$1; shift
umask 077
[ -f "$file" ] || : > "$file"
for user in "$@"; do
  case $user in *[!A-Za-z0-9_.-]*|'') echo "invalid user name: $user" >&2; exit 2;; esac
  pass=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
  mosquitto_passwd -b "$file" "$user" "$pass"
  echo "$user $pass"
done
chmod 600 "$file"
