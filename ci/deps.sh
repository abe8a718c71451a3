#!/usr/bin/env bash
# Installs every Debian 12 package the build and the test suite need.
# Idempotent and quick when everything is already there.
set -euo pipefail

BUILD_PKGS=(cmake make g++ clang-14 libclang-rt-14-dev libgtest-dev libgmock-dev googletest
            librapidcheck-dev libseccomp-dev libbenchmark-dev pkg-config)
TEST_PKGS=(iproute2 util-linux procps iputils-ping iperf3 socat busybox isc-dhcp-client ndisc6 tshark
           qemu-system-x86 kmod cpio gzip python3 xxd)
BUILD_PKGS+=(clang-tidy-14)  # ci/tidy.sh (the clang-tidy gate)

missing=()
for p in "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all packages present"
  exit 0
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections || true
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
