#!/usr/bin/env bash
# Installs everything sealpost needs to build and test on a fresh Debian machine.
# Idempotent and quiet when there is nothing to do:
#   - Debian packages (Emscripten, libsodium-dev, nlohmann-json, clang, Chromium, ...)
#   - Debian source lists (deb-src) and libsodium's Debian source package in build/deps/
#   - npm packages from the lock file
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# Browsers: Chromium (playwright-core), Firefox ESR (puppeteer-core over WebDriver BiDi) and WebKitGTK
# (WebKitWebDriver, under Xvfb: MiniBrowser has no headless mode). openssl makes the test push services'
# throwaway certificates.
APT_PACKAGES=(emscripten nlohmann-json3-dev libsodium-dev libgtest-dev dpkg-dev clang libclang-rt-14-dev
              cmake g++ make pkg-config chromium firefox-esr webkit2gtk-driver xvfb xauth redis-server openssl)
SOURCES=/etc/apt/sources.list.d/debian.sources
apt_updated=0

apt_update_once() {
  if [ "$apt_updated" = 0 ]; then
    echo "setup: apt-get update"
    $SUDO apt-get update -qq
    apt_updated=1
  fi
}

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt_update_once
  echo "setup: apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# libsodium's source, from Debian's source package (1.0.18 with Debian's security patches).
DEPS="$ROOT/build/deps"
if [ ! -f "$DEPS/libsodium/src/libsodium/include/sodium.h" ]; then
  if [ -f "$SOURCES" ] && ! grep -q '^Types: deb deb-src' "$SOURCES"; then
    echo "setup: enabling deb-src in $SOURCES"
    $SUDO sed -i 's/^Types: deb$/Types: deb deb-src/' "$SOURCES"
    apt_updated=0
  fi
  apt_update_once
  mkdir -p "$DEPS"
  rm -rf "$DEPS"/libsodium "$DEPS"/libsodium-[0-9]* "$DEPS"/libsodium_*
  echo "setup: apt-get source libsodium"
  (cd "$DEPS" && apt-get source -qq libsodium >/dev/null 2>&1)
  src=$(find "$DEPS" -maxdepth 1 -type d -name 'libsodium-[0-9]*' | head -n1)
  if [ -z "$src" ]; then echo "setup: apt-get source libsodium produced no source tree" >&2; exit 1; fi
  ln -sfn "$(basename "$src")" "$DEPS/libsodium"
fi

# npm packages, exactly as locked. A node_modules that is a symlink (a worktree sharing another checkout's
# packages) is left alone: `npm ci` would empty the folder it points to.
if [ -L node_modules ]; then
  :
elif [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
fi
