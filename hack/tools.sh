#!/usr/bin/env bash
# Builds a pinned third-party program from the Go module proxy (or npm, for Azurite) into a
# per-user cache keyed by version, and prints the path of the program. A program already in the
# cache is never rebuilt. The versions live in the tools modules under hack/tools/<name>.
# Usage: hack/tools.sh restic|kopia|versitygw|fake-gcs-server|azurite
set -euo pipefail

AZURITE_VERSION=3.37.0
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${COFFER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/coffer}

name=${1:?usage: hack/tools.sh restic|kopia|versitygw|fake-gcs-server|azurite}
case "$name" in
  restic)          mod=restic;    pkg=github.com/restic/restic/cmd/restic ;;
  kopia)           mod=kopia;     pkg=github.com/kopia/kopia ;;
  versitygw)       mod=versitygw; pkg=github.com/versity/versitygw/cmd/versitygw ;;
  fake-gcs-server) mod=fakegcs;   pkg=github.com/fsouza/fake-gcs-server ;;
  azurite)         mod= ;;
  *) echo "hack/tools.sh: unknown program $name" >&2; exit 2 ;;
esac

if [ -z "$mod" ]; then
  dir=$cache/tools/azurite-$AZURITE_VERSION
  bin=$dir/node_modules/.bin/azurite-blob
else
  module=${pkg%%/cmd/*}
  [ "$name" = kopia ] && module=$pkg
  version=$(cd "$root/hack/tools/$mod" && go list -m -f '{{.Version}}' "$module")
  dir=$cache/tools/$name-$version
  bin=$dir/$name
fi
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
if [ ! -x "$bin" ]; then
  echo "building $name into $dir (first run on this machine only)" >&2
  if [ -z "$mod" ]; then
    command -v npm >/dev/null || { echo "hack/tools.sh: azurite needs Node.js and npm (apt-get install nodejs npm)" >&2; exit 1; }
    npm install --silent --no-audit --no-fund --prefix "$dir" "azurite@$AZURITE_VERSION" >&2
  else
    # restic reports its version from main.version; the module version is the truth here.
    ldflags="-s -w"
    [ "$name" = restic ] && ldflags="$ldflags -X main.version=${version#v}"
    (cd "$root/hack/tools/$mod" && CGO_ENABLED=0 nice -n 10 go build -trimpath -ldflags "$ldflags" -o "$dir/.$name.tmp" "$pkg")
    mv "$dir/.$name.tmp" "$bin"
  fi
fi
echo "$bin"
