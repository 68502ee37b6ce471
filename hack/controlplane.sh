#!/usr/bin/env bash
# Builds the Kubernetes control-plane binaries from the Go module proxy (release downloads are not
# reachable here) into a per-user cache keyed by version, and prints the directory that holds them.
# A binary already in the cache is never rebuilt, so only the first run on a machine pays the
# ~10 minute build. Usage: hack/controlplane.sh [binary ...]   (default: kube-apiserver etcd)
set -euo pipefail

K8S_VERSION=v1.36.3
ETCD_VERSION=v3.6.16
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${COFFER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/coffer}
dir=$cache/controlplane/k8s-$K8S_VERSION-etcd-$ETCD_VERSION
mkdir -p "$dir"

wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(kube-apiserver etcd)

# One builder at a time per cache: parallel test runs wait rather than build twice.
exec 9>"$dir/.lock"
flock 9

minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
kube_ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"

for bin in "${wanted[@]}"; do
  [ -x "$dir/$bin" ] && continue
  echo "building $bin into $dir (first run on this machine only)" >&2
  case "$bin" in
    etcd)
      (cd "$root/hack/tools/etcd" && nice -n 10 go build -ldflags "-s -w" -o "$dir/.$bin.tmp" ./cmd/etcd) ;;
    kube-apiserver|kube-controller-manager|kube-scheduler|kube-proxy|kubelet|kubectl)
      (cd "$root/hack/tools/kube" && nice -n 10 go build -ldflags "$kube_ldflags" -o "$dir/.$bin.tmp" "k8s.io/kubernetes/cmd/$bin") ;;
    *) echo "hack/controlplane.sh: unknown binary $bin" >&2; exit 2 ;;
  esac
  mv "$dir/.$bin.tmp" "$dir/$bin"
done
echo "$dir"
