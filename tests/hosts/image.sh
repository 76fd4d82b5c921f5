#!/usr/bin/env bash
# The base image of the multi-host tests (tests/common/hosts.rs), built once and cached:
#
#   tests/hosts/image.sh [CACHE_DIR]        (default /var/cache/armonic-tests)
#
# prints the directory of the image on stdout, after building it if needed:
#
#   CACHE_DIR/image-HASH/root   Debian bookworm (debootstrap minbase) with systemd, dbus,
#                               iproute2 and ca-certificates, booted by systemd-nspawn as a
#                               read-only lower layer under each host's own overlay;
#   CACHE_DIR/image-HASH/repo   a local apt repository (the .debs and their Packages index)
#                               holding the packages of tests/hosts/packages and everything
#                               they need that the image lacks. The image's only apt source
#                               is `deb [trusted=yes] file:/srv/armonic-repo ./`, and its
#                               lists were fetched from it: a host that has this directory
#                               bound at /srv/armonic-repo installs them with no network.
#
# HASH covers this script and tests/hosts/packages: changing either builds a new image. The
# packages are fetched from the Debian mirror of the machine's own apt sources
# (/etc/apt/sources.list, /etc/apt/sources.list.d/*.list and *.sources), or
# ARMONIC_TEST_MIRROR. Needs root, debootstrap, systemd-nspawn and dpkg-scanpackages; about
# 2-3 minutes and 1 GB. Concurrent callers build it once (a lock); a build that fails or is
# killed leaves no image (it is made in a temporary directory and renamed when complete;
# the leftovers of a killed build are removed by the next one). Progress goes to stderr.
set -euo pipefail

suite=bookworm
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
packages_file=$here/packages
cache=${1:-/var/cache/armonic-tests}

say() { echo "armonic test image: $*" >&2; }
die() {
    say "$*"
    exit 1
}

[ "$(id -u)" = 0 ] || die "needs root"
for tool in debootstrap systemd-nspawn dpkg-scanpackages flock; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is missing"
done

hash=$(cat "${BASH_SOURCE[0]}" "$packages_file" | sha256sum | cut -c1-16)
image=$cache/image-$hash
if [ -d "$image" ]; then
    echo "$image"
    exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/.lock"
if ! flock -n 9; then
    say "another process is building an image: waiting for it"
    flock -w 1800 9 || die "another build held $cache/.lock for 30 minutes"
fi
if [ -d "$image" ]; then # built by another process meanwhile
    echo "$image"
    exit 0
fi

# Unmounts whatever is mounted below directory $1, deepest first.
unmount_below() {
    local dir
    dir=$(realpath -m "$1")
    awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

# Removes a build directory: never across a mount point.
remove_build() {
    unmount_below "$1"
    rm -rf --one-file-system "$1"
}

# Leftovers of builds whose process is gone (killed before they could clean up).
for old in "$cache"/.build-*; do
    [ -e "$old" ] || continue
    pid=${old##*-}
    if ! kill -0 "$pid" 2>/dev/null; then
        say "removing $old, left by a build that did not finish"
        remove_build "$old"
    fi
done

# The machine's Debian mirror: the URI serving $suite (and the one serving its security
# updates), from the one-line and deb822 sources apt reads.
sources() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk '$1 == "deb" {
                i = 2
                if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                print $i, $(i + 1)
            }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk 'function flush(   i, j, nu, ns, u, s) {
                if (types ~ /(^| )deb( |$)/ && tolower(enabled) != "no") {
                    nu = split(uris, u, " "); ns = split(suites, s, " ")
                    for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++) print u[i], s[j]
                }
                types = uris = suites = enabled = ""
            }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { flush(); next }
            { key = tolower($1); sub(/^[^:]*:[ \t]*/, "") }
            key == "types:" { types = $0 } key == "uris:" { uris = $0 }
            key == "suites:" { suites = $0 } key == "enabled:" { enabled = $0 }
            END { flush() }' "$f"
    done
}
mirror=${ARMONIC_TEST_MIRROR:-$(sources | awk -v s="$suite" '$2 == s { print $1; exit }')}
[ -n "$mirror" ] || die "no Debian mirror serving $suite in the machine's apt sources: set ARMONIC_TEST_MIRROR"
security=$(sources | awk -v s="$suite-security" '$2 == s { print $1; exit }')
updates=$(sources | awk -v s="$suite-updates" -v m="$mirror" '$2 == s && $1 == m { print $1; exit }')

build=$cache/.build-$hash-$$
trap 'remove_build "$build"' EXIT
trap 'exit 1' INT TERM HUP
mkdir -p "$build/repo"
root=$build/root
start=$SECONDS

# Runs a command in the image being built (with the machine's network, to fetch packages);
# its output goes to the build's log, shown if it fails.
in_image() {
    systemd-nspawn --register=no --keep-unit --quiet --console=pipe -D "$root" \
        --machine="armonic-image-$$" --setenv=DEBIAN_FRONTEND=noninteractive "$@" \
        </dev/null >"$build/log" 2>&1 || {
        tail -n 30 "$build/log" >&2
        return 1
    }
}

say "debootstrap $suite from $mirror into $root (about 2 minutes)"
debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,iproute2,ca-certificates \
    "$suite" "$root" "$mirror" >"$build/log" 2>&1 || {
    tail -n 30 "$build/log" >&2
    die "debootstrap failed"
}
say "debootstrap done in $((SECONDS - start)) s"

# Nothing starts while the image is made; no recommends, there or in the hosts.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
    >"$root/etc/apt/apt.conf.d/90armonic-tests"

{
    echo "deb $mirror $suite main"
    [ -z "$updates" ] || echo "deb $updates $suite-updates main"
    [ -z "$security" ] || echo "deb $security $suite-security main"
} >"$root/etc/apt/sources.list"
mapfile -t packages < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$packages_file" | tr -d ' \t')
say "fetching ${packages[*]} and what they need"
in_image apt-get update -qq || die "apt-get update failed in the image"
in_image apt-get clean # the base system's packages, left by debootstrap
in_image apt-get install -y -qq --download-only "${packages[@]}" ||
    die "cannot fetch the packages"
cp "$root"/var/cache/apt/archives/*.deb "$build/repo/"
(cd "$build/repo" && dpkg-scanpackages --multiversion . /dev/null >Packages 2>/dev/null) ||
    die "dpkg-scanpackages failed"
say "local repository: $(ls "$build/repo" | grep -c '\.deb$') packages, $(du -sh "$build/repo" | cut -f1)"
in_image apt-get clean

# From now on the image knows only the local repository, and checks that it holds them all.
echo "deb [trusted=yes] file:/srv/armonic-repo ./" >"$root/etc/apt/sources.list"
rm -rf "$root"/var/lib/apt/lists/*
in_image --private-network --bind-ro="$build/repo:/srv/armonic-repo" apt-get update -qq ||
    die "apt-get update from the local repository failed"
in_image --private-network --bind-ro="$build/repo:/srv/armonic-repo" \
    apt-get install -s -qq "${packages[@]}" ||
    die "the local repository lacks packages"

# A host's own: its name (nspawn --hostname), its machine id (made at boot), no services
# that only cost time in a test (timers, the console's getty).
rm -f "$root/usr/sbin/policy-rc.d" "$root/etc/hostname" "$root/var/lib/dbus/machine-id"
: >"$root/etc/machine-id"
systemctl --root="$root" mask --quiet apt-daily.timer apt-daily-upgrade.timer \
    console-getty.service e2scrub_all.timer e2scrub_reap.service fstrim.timer ||
    true
rm -f "$root/etc/resolv.conf"
: >"$root/etc/resolv.conf"

rm -f "$build/log"
mv "$build" "$image"
trap - EXIT
say "built $image in $((SECONDS - start)) s ($(du -sh "$image" | cut -f1))"
echo "$image"
