#!/usr/bin/env bash
# Install the Debian 12 packages coversnap needs to build, run and test.
# Idempotent: only missing packages are installed.  Needs root (or sudo).
set -euo pipefail

PKGS=(
  meson ninja-build pkg-config gcc
  libglib2.0-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  libgstrtspserver-1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  gstreamer1.0-rtsp gstreamer1.0-x
  libturbojpeg0-dev libjpeg62-turbo-dev
  libsoup-3.0-dev libjson-glib-dev libpng-dev
  clang-format python3 curl ffmpeg
  nginx-light libnginx-mod-rtmp
  redis-server libhiredis-dev
  valgrind gdb
)
if [ "${COVERSNAP_EXTRA_PKGS:-}" ]; then
  # shellcheck disable=SC2206
  PKGS+=(${COVERSNAP_EXTRA_PKGS})
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
echo "coversnap: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
