#!/usr/bin/env bash
# Install the system packages the browser tests need: Debian's headless-capable `chromium` and a
# font, so the leaderboard HTML can be rendered and screenshotted. Idempotent: does nothing when
# chromium and the font are already installed. Needs root (or passwordless sudo) and the Debian
# package registry; otherwise it prints the command to run and exits 1.
set -euo pipefail

have_chromium() {
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 ||
    [ -x /usr/bin/chromium ]
}
have_fonts() {  # without dpkg there is nothing to check: assume the system has fonts
  ! command -v dpkg-query >/dev/null 2>&1 ||
    dpkg-query -W -f='${Status}' fonts-dejavu-core 2>/dev/null | grep -q "install ok installed"
}

if have_chromium && have_fonts; then
  echo "chromium already installed: $(command -v chromium || command -v chromium-browser || echo /usr/bin/chromium)"
  exit 0
fi

PACKAGES=(chromium fonts-dejavu-core)
INSTALL="apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${PACKAGES[*]}"

if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: apt-get not found; install Chromium with your system's package manager" >&2
  echo "(the browser tests skip without it)" >&2
  exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=(sudo)
else
  echo "error: installing chromium needs root. Run as root (or with sudo):" >&2
  echo "  $INSTALL" >&2
  echo "(the browser tests skip until chromium is installed)" >&2
  exit 1
fi

echo "installing ${PACKAGES[*]} with apt-get ..."
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"
echo "chromium installed: $(command -v chromium || echo /usr/bin/chromium)"
