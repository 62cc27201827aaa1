#!/usr/bin/env bash
# Makes WebGPU (Dawn, npm `webgpu`) work on a Debian/Ubuntu machine without a GPU.
#
# Dawn rejects the lavapipe of Debian 12's own Mesa 22.3, so this script unpacks Mesa >= 25 lavapipe from the
# distribution's backports suite into a private folder and writes a Vulkan ICD file for it there. The runtime
# (@mriseg/tensor-wgsl) points the Vulkan loader at that ICD when no VK_ICD_FILENAMES is set.
#
# Idempotent; changes nothing when an adapter already works. Needs root (or sudo) only for apt-get.
# Folder: $MRISEG_VULKAN_DIR, default ~/.cache/mriseg/vulkan.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${MRISEG_VULKAN_DIR:-$HOME/.cache/mriseg/vulkan}
icd="$dir/lvp_icd.json"

log() { echo "setup-webgpu: $*" >&2; }

probe() { # prints the adapter when WebGPU works in this project, exit 0; else exit 1
  [ -d "$root/node_modules" ] || return 1
  (cd "$root" && node scripts/probe-adapter.mjs) 2>/dev/null
}

if probe; then log "a WebGPU adapter already works; nothing to do"; exit 0; fi

SUDO=
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { log "need root or sudo to install the Vulkan loader"; exit 1; }
  SUDO=sudo
fi
command -v apt-get >/dev/null || { log "this script knows Debian/Ubuntu only; install a Vulkan driver (Mesa >= 25 lavapipe) by hand"; exit 1; }

# 1. The Vulkan loader and the system's Mesa drivers (they bring the LLVM runtime lavapipe links against).
need=()
for p in libvulkan1 mesa-vulkan-drivers; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if probe; then log "the system's Vulkan driver works"; exit 0; fi

# 2. A newer lavapipe from <codename>-backports, unpacked privately (the system's packages stay as they are).
if [ ! -f "$icd" ]; then
  . /etc/os-release
  codename=${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}
  # The mirror of the machine's own main suite, read from its apt sources (deb822 or one-line format).
  mirror=$(awk -v s="$codename" '
      /^URIs:/ {u=$2} /^Suites:/ {for (i=2;i<=NF;i++) if ($i==s && u!="") {print u; exit}}
      /^deb / && $0 !~ /^deb-src/ {for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {url=$i; if ($(i+1)==s) {print url; exit}}}
    ' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -n 1)
  [ -n "$mirror" ] || { log "could not find the apt mirror of suite $codename"; exit 1; }
  keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  [ "${ID:-}" = ubuntu ] && keyring=/usr/share/keyrings/ubuntu-archive-keyring.gpg
  component=main; [ "${ID:-}" = ubuntu ] && component=universe
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/lists/partial"
  echo "deb [signed-by=$keyring] $mirror $codename-backports $component" > "$work/sources.list"
  aptopts=(-o "Dir::Etc::sourcelist=$work/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$work/lists"
           -o APT::Sandbox::User=root)
  log "downloading mesa-vulkan-drivers from $codename-backports"
  $SUDO apt-get -qq "${aptopts[@]}" update
  (cd "$work" && $SUDO apt-get -qq "${aptopts[@]}" download mesa-vulkan-drivers)
  deb=$(ls "$work"/mesa-vulkan-drivers_*.deb)
  mkdir -p "$dir"
  rm -rf "$dir/root" && dpkg-deb -x "$deb" "$dir/root"
  lib=$(find "$dir/root" -name libvulkan_lvp.so | head -n 1)
  [ -n "$lib" ] || { log "no libvulkan_lvp.so in $deb"; exit 1; }
  printf '{\n  "file_format_version": "1.0.1",\n  "ICD": { "library_path": "%s", "api_version": "1.4.0" }\n}\n' "$lib" > "$icd.tmp"
  mv "$icd.tmp" "$icd"
  log "lavapipe $(basename "$deb") unpacked in $dir"
fi
if probe; then exit 0; fi
log "WebGPU still finds no adapter with $icd; run 'node scripts/probe-adapter.mjs' for the error"
exit 1
