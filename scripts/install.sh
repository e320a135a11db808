#!/usr/bin/env bash
# Install what broadcaster needs on Debian/Ubuntu: system packages, then a
# virtual environment in .venv with the package (and with --dev, the test tools).
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

SYSTEM_PACKAGES=(
  python3 python3-venv python3-pip
  espeak-ng             # offline speech, Mandarin and Cantonese
  ffmpeg                # mp3/ogg/m4a clips and mp3 output
  libportaudio2         # sound output through sounddevice
  pulseaudio pulseaudio-utils libasound2-plugins   # sound server (and the test audio lab)
  locales               # the zh_CN.UTF-8 locale, below
)

# With --dev: a browser for the web page's tests (Playwright drives Debian's chromium;
# it cannot download its own here), a font that shows Chinese in its screenshots, and the
# MQTT broker the fleet tests start on a port of their own.
[ "${1:-}" = "--dev" ] && SYSTEM_PACKAGES+=(chromium fonts-wqy-microhei mosquitto)

missing=()
for pkg in "${SYSTEM_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing system packages: ${missing[*]}"
  # Another apt (unattended upgrades, a software centre) may hold the lock: wait for it.
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${missing[@]}"
fi

# A village PC runs in Chinese, and programs such as pactl then translate what
# they print; the tests check that the station still understands them.
if ! locale -a 2>/dev/null | grep -ix 'zh_CN\.utf-\?8' >/dev/null; then   # not -q: pipefail
  echo "Generating the zh_CN.UTF-8 locale"
  if [ -f /etc/locale.gen ]; then   # Debian
    grep -q '^zh_CN.UTF-8 UTF-8' /etc/locale.gen \
      || $sudo sed -i 's/^# *\(zh_CN\.UTF-8 UTF-8\)/\1/' /etc/locale.gen
    grep -q '^zh_CN.UTF-8 UTF-8' /etc/locale.gen \
      || echo 'zh_CN.UTF-8 UTF-8' | $sudo tee -a /etc/locale.gen >/dev/null
    $sudo locale-gen --keep-existing >/dev/null
  else                              # Ubuntu
    $sudo locale-gen zh_CN.UTF-8 >/dev/null
  fi
fi

python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "broadcaster needs Python 3.11 or newer" >&2; exit 1; }
[ -x .venv/bin/python ] || python3 -m venv .venv
extra=""
[ "${1:-}" = "--dev" ] && extra="[dev]"
# Installed already, from this very pyproject.toml (with the test tools, if asked)? Then
# there is nothing to do: start-station.sh runs this at every start.
hash="$(sha256sum pyproject.toml | cut -c1-16)"
stamp=".venv/.installed$extra-$hash"
if [ -f "$stamp" ] || { [ -z "$extra" ] && [ -f ".venv/.installed[dev]-$hash" ]; }; then
  .venv/bin/python -m compileall -q broadcaster
  exit 0
fi
.venv/bin/python -m pip install -q --upgrade pip
# "compat" editable mode puts the folder on sys.path through a .pth file; the default
# mode installs an import hook whose start-up costs ~25 ms on every command, and
# `broadcaster send --priority emergency` is a command a person waits on.
# ("compat" is marked transitional by setuptools: if it goes away, the default mode is used.)
.venv/bin/python -m pip install -q -e ".${extra}" --config-settings editable_mode=compat 2>/dev/null \
  || .venv/bin/python -m pip install -q -e ".${extra}"
# Bytecode now, as pip does for a normal install: commands start faster, also where
# PYTHONDONTWRITEBYTECODE is set (Python then never writes it itself).
.venv/bin/python -m compileall -q broadcaster
rm -f .venv/.installed*
touch "$stamp"
