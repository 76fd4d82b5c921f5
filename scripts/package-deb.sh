#!/usr/bin/env bash
# Builds the Debian package of armonic with dpkg-deb (docs/packaging.md):
#
#   scripts/package-deb.sh --binary PATH --out DIR [--bridge PATH] [--arch ARCH]
#                          [--compression xz|gzip|zstd|none]
#
# writes DIR/armonic_VERSION_ARCH.deb (its path is printed on stdout), VERSION being the
# workspace's (Cargo.toml), ARCH the machine's (dpkg --print-architecture) unless given. It
# holds:
#   /usr/bin/armonic                        the binary given (stripped)
#   /usr/bin/armonic-xmpp-bridge            the bridge, with --bridge (stripped), and
#   /lib/systemd/system/armonic-xmpp-bridge.service   its unit, not enabled (docs/xmpp.md)
#   /usr/share/armonic/lifecycles/          every file of lifecycles/, as the tree is
#   /usr/share/armonic/examples/            examples/proxy-answers.json
#   /usr/share/doc/armonic/                 docs/*.md and the copyright
#   /lib/systemd/system/armonic-agent.service   enabled and started when systemd runs
#   /etc/armonic/armonic.toml               a conffile (dist/debian/armonic.toml)
#   /etc/armonic/lifecycles/                empty, for the machine's own lifecycles
# and the maintainer scripts of dist/debian/.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
    echo "usage: $0 --binary PATH --out DIR [--bridge PATH] [--arch ARCH] [--compression xz|gzip|zstd|none]" >&2
    exit 2
}

binary= out= bridge= arch= compression=xz
while [ $# -gt 0 ]; do
    case "$1" in
    --binary) binary=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --bridge) bridge=${2:?}; shift 2 ;;
    --arch) arch=${2:?}; shift 2 ;;
    --compression) compression=${2:?}; shift 2 ;;
    -h | --help) usage ;;
    *) echo "unknown argument: $1" >&2; usage ;;
    esac
done
[ -n "$binary" ] && [ -n "$out" ] || usage
[ -x "$binary" ] || { echo "not an executable: $binary" >&2; exit 1; }
[ -z "$bridge" ] || [ -x "$bridge" ] || { echo "not an executable: $bridge" >&2; exit 1; }
command -v dpkg-deb >/dev/null || { echo "dpkg-deb is missing (package dpkg)" >&2; exit 1; }

# The workspace's version; a Cargo pre-release (1.0.0-rc.1) sorts before its release in
# Debian as 1.0.0~rc.1.
version=$(awk '/^\[/ { section = $0 } section == "[workspace.package]" && $1 == "version" {
        gsub(/[" ]/, "", $3); print $3; exit }' "$repo/Cargo.toml")
[ -n "$version" ] || { echo "no version in [workspace.package] of Cargo.toml" >&2; exit 1; }
version=${version//-/\~}
arch=${arch:-$(dpkg --print-architecture)}

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
umask 022
root=$stage/root
mkdir -p "$root/DEBIAN" "$root/usr/bin" "$root/usr/share/armonic/examples" \
    "$root/usr/share/doc/armonic" "$root/lib/systemd/system" "$root/etc/armonic/lifecycles"

# Binaries, stripped when strip is there (a debug build is mostly debug information).
install_binary() {
    install -m 0755 "$1" "$2"
    if command -v strip >/dev/null; then
        strip --strip-unneeded "$2"
    fi
}
install_binary "$binary" "$root/usr/bin/armonic"
if [ -n "$bridge" ]; then
    install_binary "$bridge" "$root/usr/bin/armonic-xmpp-bridge"
    install -m 0644 "$repo/dist/armonic-xmpp-bridge.service" "$root/lib/systemd/system/"
fi

# The shipped lifecycles, sub-directories and all, as they are in the tree.
cp -R --no-preserve=mode,ownership "$repo/lifecycles" "$root/usr/share/armonic/lifecycles"
find "$root/usr/share/armonic/lifecycles" -type d -exec chmod 0755 {} +
find "$root/usr/share/armonic/lifecycles" -type f -exec chmod 0644 {} +
# Keep what was executable so (scripts among the application files).
(cd "$repo/lifecycles" && find . -type f -perm -u+x -print0) |
    (cd "$root/usr/share/armonic/lifecycles" && xargs -0 -r chmod 0755)
install -m 0644 "$repo/examples/proxy-answers.json" "$root/usr/share/armonic/examples/"
install -m 0644 "$repo"/docs/*.md "$root/usr/share/doc/armonic/"
install -m 0644 "$repo/dist/debian/copyright" "$root/usr/share/doc/armonic/"
install -m 0644 "$repo/dist/armonic-agent.service" "$root/lib/systemd/system/"
install -m 0644 "$repo/dist/debian/armonic.toml" "$root/etc/armonic/"

for script in postinst prerm postrm; do
    install -m 0755 "$repo/dist/debian/$script" "$root/DEBIAN/"
done
install -m 0644 "$repo/dist/debian/conffiles" "$root/DEBIAN/"

# libc6, at least the version whose symbols the binaries use.
depends=libc6
if command -v objdump >/dev/null; then
    glibc=$(objdump -T "$root"/usr/bin/* 2>/dev/null | grep -o 'GLIBC_[0-9.]*' |
        sed 's/GLIBC_//' | sort -uV | tail -1)
    [ -z "$glibc" ] || depends="libc6 (>= $glibc)"
fi
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@INSTALLED_SIZE@/$size/" \
    -e "s/@DEPENDS@/$depends/" "$repo/dist/debian/control.in" >"$root/DEBIAN/control"

mkdir -p "$out"
deb=$out/armonic_${version}_${arch}.deb
dpkg-deb --root-owner-group -Z"$compression" --build "$root" "$deb.tmp" >/dev/null
mv "$deb.tmp" "$deb"
echo "$deb"
