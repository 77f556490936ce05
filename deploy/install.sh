#!/usr/bin/env bash
# Installs a built beweis on this host: binary, user, unit, config directory.
# Usage: deploy/install.sh [path/to/beweis]   (default: target/release/beweis)
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:-target/release/beweis}
[ -x "$binary" ] || { echo "install.sh: $binary not found; run cargo build --release" >&2; exit 1; }
install -m 0755 "$binary" /usr/bin/beweis
install -m 0644 deploy/sysusers.conf /usr/lib/sysusers.d/beweis.conf
install -m 0644 deploy/tmpfiles.conf /usr/lib/tmpfiles.d/beweis.conf
install -m 0644 systemd/beweis.service /etc/systemd/system/beweis.service
systemd-sysusers /usr/lib/sysusers.d/beweis.conf
systemd-tmpfiles --create /usr/lib/tmpfiles.d/beweis.conf
if [ ! -e /etc/beweis/beweis.toml ]; then
  install -m 0640 -g beweis config/default.toml /etc/beweis/beweis.toml
fi
/usr/bin/beweis --config /etc/beweis/beweis.toml check-config
systemctl daemon-reload
echo "installed; start with: systemctl enable --now beweis"
