#!/usr/bin/env bash
# Installs, from Debian's packages, the database servers the addon tests start on 127.0.0.1:
# PostgreSQL, MariaDB, Redis and ZooKeeper. Only what is missing is installed, and only as root;
# services are not started (the tests start their own servers with their own data directories).
# Without root, it says what to install and exits non-zero.
set -euo pipefail

declare -A need=(
  [postgresql]="/usr/lib/postgresql/*/bin/postgres"
  [mariadb-server]="/usr/sbin/mariadbd"
  [mariadb-client]="/usr/bin/mariadb-dump"
  [redis-server]="/usr/bin/redis-server"
  [zookeeper]="/usr/share/zookeeper/bin/zkServer.sh"
)
missing=()
for pkg in "${!need[@]}"; do
  # shellcheck disable=SC2086 # the path is a glob
  if ! compgen -G ${need[$pkg]} >/dev/null; then
    missing+=("$pkg")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "dbservers: missing ${missing[*]}; install them with: sudo apt-get install --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
echo "dbservers: installing ${missing[*]}" >&2
# policy-rc.d keeps the packages from starting their services, where the machine has none.
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null \
  || { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
