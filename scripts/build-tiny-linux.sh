#!/usr/bin/env bash
# Builds the `tiny-linux` VM image for the qemu driver, offline from Debian packages:
#   <outdir>/tiny-linux/vmlinuz      Debian's cloud kernel (virtio, serial console and ext4 built in)
#   <outdir>/tiny-linux/initrd.img   busybox-static + an init that mounts proc/sys/dev, handles the
#                                    ACPI power button (so system_powerdown is a clean shutdown),
#                                    prints HYPERPLANE-GUEST-READY on ttyS0 and stays up
#   <outdir>/tiny-linux/base.qcow2   a small empty qcow2 the instance overlays back onto
#   <outdir>/tiny-linux/manifest.json
# Usage: scripts/build-tiny-linux.sh [outdir]   (default: $HYPERPLANE_IMAGE_DIR or <repo>/.data/images)
# Needs: apt-get (with package lists: run `apt-get update` once), dpkg-deb, tar, gzip, qemu-img
# (Debian: qemu-utils). Idempotent: exits at once when the image is already built.
set -euo pipefail

KERNEL_META=${HYPERPLANE_KERNEL_PACKAGE:-linux-image-cloud-amd64}
MARKER=HYPERPLANE-GUEST-READY
APPEND='console=ttyS0 quiet'
FORMAT=2 # bump when the layout of the output changes, to force a rebuild

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
outdir=${1:-${HYPERPLANE_IMAGE_DIR:-$repo/.data/images}}
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
dest=$outdir/tiny-linux

log() { printf 'build-tiny-linux: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

if [[ -f $dest/manifest.json && -f $dest/vmlinuz && -f $dest/initrd.img && -f $dest/base.qcow2 ]] &&
  grep -q "\"format\": $FORMAT," "$dest/manifest.json"; then
  log "already built in $dest"
  exit 0
fi

for tool in apt-get apt-cache dpkg-deb tar gzip qemu-img sha256sum; do
  command -v "$tool" >/dev/null || die "$tool is missing (Debian: apt-get install -y qemu-utils apt dpkg tar gzip)"
done

work=$(mktemp -d "$outdir/.tiny-linux.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

# The meta package depends on the versioned kernel package that holds the files.
kernel_pkg=$(apt-cache depends "$KERNEL_META" 2>/dev/null | awk '/Depends: linux-image-/ { print $2; exit }')
[[ -n $kernel_pkg ]] || die "cannot resolve $KERNEL_META (run apt-get update first)"

log "downloading $kernel_pkg and busybox-static"
apt-get -q -o APT::Sandbox::User=root download "$kernel_pkg" busybox-static >/dev/null ||
  die "apt-get download failed (run apt-get update first)"

# Only the kernel and the two modules the power button needs; the rest of the package is skipped.
dpkg-deb --fsys-tarfile "$kernel_pkg"_*.deb |
  tar -x --wildcards './boot/vmlinuz-*' '*/kernel/drivers/acpi/button.ko' '*/kernel/drivers/input/evdev.ko'
kernel_file=$(ls boot/vmlinuz-*)
kernel_release=${kernel_file#boot/vmlinuz-}
dpkg-deb -x busybox-static_*.deb bb
[[ -x bb/bin/busybox ]] || die "busybox-static has no bin/busybox"

root=$work/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc/acpi/PWRF,lib/modules}
cp bb/bin/busybox "$root/bin/busybox"
find lib/modules -name '*.ko' -exec cp {} "$root/lib/modules/" \;

# busybox acpid maps the power button (KEY_POWER) to the handler PWRF/00000080 under -c DIR.
cat >"$root/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
echo "tiny-linux: power button pressed, powering off" >/dev/console
sync
poweroff -f
EOF

cat >"$root/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
for m in /lib/modules/*.ko; do insmod "\$m" 2>/dev/null; done
acpid -c /etc/acpi -l /dev/null
echo "tiny-linux: kernel \$(uname -r), \$(grep MemTotal /proc/meminfo | tr -s ' ')"
echo "$MARKER"
# PID 1 must never exit; the VM stays up until powered off.
while :; do sleep 3600; done
EOF
chmod 0755 "$root/init" "$root/etc/acpi/PWRF/00000080"

# A newc cpio archive: prefer the host's cpio, otherwise busybox's (x86_64 hosts only).
if command -v cpio >/dev/null; then
  cpio_cmd=(cpio --quiet -o -H newc)
else
  cpio_cmd=("$work/bb/bin/busybox" cpio -o -H newc)
fi
(cd "$root" && find . -print | LC_ALL=C sort | "${cpio_cmd[@]}" 2>/dev/null) | gzip -9 >initrd.img

staged=$work/tiny-linux
mkdir -p "$staged"
cp "$kernel_file" "$staged/vmlinuz"
cp initrd.img "$staged/initrd.img"
qemu-img create -q -f qcow2 "$staged/base.qcow2" 1G

sum() { sha256sum "$staged/$1" | awk '{ print $1 }'; }
busybox_version=$(dpkg-deb -f busybox-static_*.deb Version)
kernel_version=$(dpkg-deb -f "$kernel_pkg"_*.deb Version)
cat >"$staged/manifest.json" <<EOF
{
  "name": "tiny-linux",
  "format": $FORMAT,
  "version": "1",
  "arch": "x86_64",
  "builtAt": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "kernel": { "package": "$kernel_pkg", "version": "$kernel_version", "release": "$kernel_release" },
  "busybox": { "package": "busybox-static", "version": "$busybox_version" },
  "qemu": {
    "kernel": "tiny-linux/vmlinuz",
    "initrd": "tiny-linux/initrd.img",
    "disk": "tiny-linux/base.qcow2",
    "append": "$APPEND",
    "readyMarker": "$MARKER"
  },
  "sha256": {
    "vmlinuz": "$(sum vmlinuz)",
    "initrd.img": "$(sum initrd.img)",
    "base.qcow2": "$(sum base.qcow2)"
  }
}
EOF

# Swap in atomically; a concurrent build that finished first wins and ours is dropped.
if [[ -e $dest ]]; then
  rm -rf "$dest.old.$$"
  mv "$dest" "$dest.old.$$"
  rm -rf "$dest.old.$$"
fi
mv -T "$staged" "$dest" 2>/dev/null || log "another build finished first; keeping it"
log "built $dest (kernel $kernel_release, busybox $busybox_version)"
