#!/usr/bin/env bash
# build-guest.sh [CACHE]: a tiny Linux guest for test_qemu_guest.sh, built
# from Debian 12 packages (downloaded with `apt-get download`, never
# installed):
#
#   linux-image-cloud-amd64  -> vmlinuz, and virtio_pci + virtio_net (with
#                               their module dependencies, found by modinfo)
#   busybox-static           -> /bin/busybox and its applets (sh, udhcpc, ip)
#   isc-dhcp-client, libc6   -> dhclient (DHCPv6) and the C library it needs
#
# plus integration/guest/init as /init.  Output in CACHE (default
# $PASST_GUEST_CACHE or ~/.cache/passt-cpp-guest): vmlinuz, initramfs.gz.
# Rebuilt only when the package versions or these scripts change (a stamp);
# the .debs stay in CACHE/debs.
#
# Exit status: 0 built or up to date; 2 cannot be built here (no package
# lists, no candidate, download failed): the test skips; 1 anything else.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${1:-${PASST_GUEST_CACHE:-$HOME/.cache/passt-cpp-guest}}
KERNEL_META=linux-image-cloud-amd64
MODULES="virtio_pci virtio_net"
ARCH_LIBDIR=lib/x86_64-linux-gnu

say() { echo "build-guest: $*" >&2; }
cannot() { say "cannot build the guest: $*"; exit 2; }
die() { say "error: $*"; exit 1; }

for t in apt-cache apt-get dpkg-deb cpio gzip modinfo sha256sum flock; do
  command -v "$t" >/dev/null || cannot "missing tool $t"
done
mkdir -p "$CACHE/debs"
exec 9>"$CACHE/.lock"
flock -w 600 9 || die "cannot lock $CACHE/.lock"

# Fast path: same scripts and unchanged package lists give the same versions.
quick=$( { cat "$0" "$HERE/init"; ls -l --time-style=+%s /var/lib/apt/lists/ 2>/dev/null; } |
         sha256sum | cut -d' ' -f1)
if [ -s "$CACHE/vmlinuz" ] && [ -s "$CACHE/initramfs.gz" ] &&
   [ "$(cat "$CACHE/quickstamp" 2>/dev/null)" = "$quick" ]; then
  exit 0
fi

# --- package versions (candidates from the local package lists) ---------------
kpkg=$(apt-cache depends "$KERNEL_META" 2>/dev/null |
       awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }') || true
[ -n "$kpkg" ] || cannot "no $KERNEL_META in the package lists (apt-get update?)"
PKGS=("$kpkg" busybox-static isc-dhcp-client libc6)
declare -A VER
while read -r p v; do VER[$p]=$v; done < <(apt-cache policy "${PKGS[@]}" 2>/dev/null |
  awk '/^[^ ].*:$/ { p = $0; sub(/:$/, "", p); sub(/:amd64$/, "", p) } /^  Candidate:/ { print p, $2 }')
for p in "${PKGS[@]}"; do
  [ -n "${VER[$p]:-}" ] && [ "${VER[$p]}" != "(none)" ] || cannot "no installable candidate for $p"
done

stamp=$( { cat "$0" "$HERE/init"; for p in "${PKGS[@]}"; do echo "$p=${VER[$p]}"; done; } |
         sha256sum | cut -d' ' -f1)
if [ -s "$CACHE/vmlinuz" ] && [ -s "$CACHE/initramfs.gz" ] &&
   [ "$(cat "$CACHE/stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "$quick" >"$CACHE/quickstamp"
  exit 0
fi

# --- download -------------------------------------------------------------------
debfile() { ls "$CACHE/debs/${1}_${2//:/%3a}_"*.deb 2>/dev/null | head -n 1; }
missing=()
for p in "${PKGS[@]}"; do
  [ -n "$(debfile "$p" "${VER[$p]}")" ] || missing+=("$p=${VER[$p]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "downloading ${missing[*]}"
  (cd "$CACHE/debs" && timeout 600 apt-get download -q -o APT::Sandbox::User=root "${missing[@]}") >&2 ||
    cannot "apt-get download failed"
fi

# --- unpack and assemble -----------------------------------------------------------
B=$(mktemp -d "$CACHE/build.XXXXXX")
trap 'rm -rf "$B"' EXIT
X=$B/x R=$B/root K=$B/k
mkdir -p "$X" "$K" "$R"
for p in "${PKGS[@]}"; do
  f=$(debfile "$p" "${VER[$p]}")
  [ -n "$f" ] || die "no .deb for $p"
  if [ "$p" = "$kpkg" ]; then dpkg-deb -x "$f" "$K"; else dpkg-deb -x "$f" "$X"; fi
done
kver=$(ls "$K/lib/modules")
[ "$(echo "$kver" | wc -l)" = 1 ] || die "expected one kernel in $kpkg"
[ -f "$K/boot/vmlinuz-$kver" ] || die "no vmlinuz in $kpkg"

mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,tmp,var/lib/dhcp,lib64,$ARCH_LIBDIR,lib/modules}
cp "$X/bin/busybox" "$R/bin/busybox"
for a in $("$X/bin/busybox" --list-full); do
  [ -e "$R/$a" ] || ln -s /bin/busybox "$R/$a"
done
cp "$X/sbin/dhclient" "$R/sbin/dhclient"
cp -L "$X/$ARCH_LIBDIR/libc.so.6" "$R/$ARCH_LIBDIR/"
cp -L "$X/$ARCH_LIBDIR/ld-linux-x86-64.so.2" "$R/lib64/"

# Modules after their dependencies (modinfo reads the .ko files directly).
declare -A KO MOD_DONE
while read -r f; do n=${f##*/}; KO[${n%%.ko*}]=$f; done < <(find "$K/lib/modules/$kver" -name '*.ko*')
: >"$R/etc/modules"
add_module() {   # add_module NAME DEPTH
  local n=$1 d
  [ "$2" -lt 16 ] || die "module dependency loop at $n"
  [ -z "${MOD_DONE[$n]:-}" ] || return 0
  MOD_DONE[$n]=1
  [ -n "${KO[$n]:-}" ] || die "module $n not in $kpkg"
  for d in $(modinfo -F depends "${KO[$n]}" | tr ',' ' '); do add_module "$d" $(($2 + 1)); done
  case ${KO[$n]} in
  *.ko) cp "${KO[$n]}" "$R/lib/modules/$n.ko" ;;
  *.ko.xz) xz -dc "${KO[$n]}" >"$R/lib/modules/$n.ko" ;;
  *) die "unsupported module format ${KO[$n]}" ;;
  esac
  echo "$n" >>"$R/etc/modules"
}
for m in $MODULES; do add_module "$m" 0; done

install -m 755 "$HERE/init" "$R/init"
{ for p in "${PKGS[@]}"; do echo "$p=${VER[$p]}"; done; echo "kernel $kver"; } >"$R/etc/guest-manifest"

(cd "$R" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -6 -n \
  >"$CACHE/initramfs.gz.tmp"
cp "$K/boot/vmlinuz-$kver" "$CACHE/vmlinuz.tmp"
mv "$CACHE/initramfs.gz.tmp" "$CACHE/initramfs.gz"
mv "$CACHE/vmlinuz.tmp" "$CACHE/vmlinuz"
cp "$R/etc/guest-manifest" "$CACHE/manifest"
echo "$stamp" >"$CACHE/stamp"
echo "$quick" >"$CACHE/quickstamp"
say "built $CACHE/vmlinuz, $CACHE/initramfs.gz ($(du -h "$CACHE/initramfs.gz" | cut -f1)): $(paste -sd' ' "$CACHE/manifest")"
