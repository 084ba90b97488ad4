#!/usr/bin/env bash
# Install everything the project needs on a Debian/Ubuntu machine; idempotent and fast when
# everything is already there (it is the first step of `make run` and `make test`).
#
#   * system packages: rabbitmq-server, postgresql (+ python3-venv, make when missing), and
#     for the console's browser tests Debian's chromium (driven by Playwright; Playwright's
#     own browser download is never used) with a CJK font (fonts-wqy-microhei) so Chinese
#     pages render as text, not boxes, in the screenshots.
#     apt-get runs only if one is missing. The system services are NOT started: the project
#     runs its own broker and database as plain processes (devtools/broker.py,
#     postgres.py) with all their state under var/ or a temporary directory.
#   * .venv with `pip install -e '.[dev]'`, redone when pyproject.toml is newer than the stamp.
#   * the documents' subset CJK font, built once into ~/.cache/xueji/fonts (XUEJI_DOCUMENTS_FONT_DIR).
#
# Environment: PYTHON (interpreter for the venv, default python3), XUEJI_SKIP_APT=1 (skip the
# system packages, e.g. where they come from elsewhere).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf 'bootstrap: %s\n' "$*" >&2; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    fi
fi

PYTHON="${PYTHON:-python3}"

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

listening() { # port -> 0 if something accepts TCP connections on 127.0.0.1:port
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

stop_system_services() {
    # Debian's postinst scripts may start the packaged services; we want none of them.
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        $SUDO systemctl disable --now rabbitmq-server.service postgresql.service \
            >/dev/null 2>&1 || true
    else
        if command -v pg_lsclusters >/dev/null 2>&1; then
            pg_lsclusters --no-header 2>/dev/null | while read -r version cluster _port status _; do
                if [ "$status" = "online" ]; then
                    $SUDO pg_ctlcluster "$version" "$cluster" stop || true
                fi
            done
        fi
        if [ -x /etc/init.d/rabbitmq-server ] && listening 5672; then
            $SUDO /etc/init.d/rabbitmq-server stop >/dev/null 2>&1 || true
        fi
    fi
}

install_system_packages() {
    # prometheus: its promtool checks and unit-tests the alert rules (tests/ops)
    local wanted=(rabbitmq-server postgresql kubectl chromium fonts-wqy-microhei prometheus)
    # documents (components/documents): WeasyPrint's Pango, a second CJK font, and poppler's
    # pdftotext / pdffonts / pdftoppm the document tests read the PDFs back with
    wanted+=(libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk poppler-utils)
    command -v make >/dev/null 2>&1 || wanted+=(make)
    if ! command -v "$PYTHON" >/dev/null 2>&1; then
        wanted+=(python3 python3-venv)
    elif ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
        wanted+=(python3-venv)
    fi
    local missing=()
    for package in "${wanted[@]}"; do
        installed "$package" || missing+=("$package")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0

    if ! command -v apt-get >/dev/null 2>&1; then
        log "missing ${missing[*]} and no apt-get here: install them by hand"
        exit 1
    fi
    if [ "$(id -u)" -ne 0 ] && [ -z "$SUDO" ]; then
        log "missing ${missing[*]}: run as root or install sudo"
        exit 1
    fi
    log "installing ${missing[*]}"
    # keep the packages' postinst scripts from starting the system services
    local policy=/usr/sbin/policy-rc.d created_policy=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\n# written by xueji scripts/bootstrap.sh during apt-get install\nexit 101\n' \
            | $SUDO tee "$policy" >/dev/null
        $SUDO chmod 755 "$policy"
        created_policy=1
    fi
    local status=0
    {
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
            $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
                --no-install-recommends -o Dpkg::Options::=--force-confold "${missing[@]}"
    } || status=$?
    if [ -n "$created_policy" ]; then
        $SUDO rm -f "$policy"
    fi
    [ "$status" -eq 0 ] || { log "apt-get failed ($status)"; exit "$status"; }
    stop_system_services
}

check_system_ports() {
    local port
    for port in 5672 5432; do
        if listening "$port"; then
            log "note: something listens on 127.0.0.1:$port (a system broker/database?);" \
                "the project does not use it"
        fi
    done
}

setup_venv() {
    local stamp=.venv/.xueji-installed
    if [ ! -x .venv/bin/python ]; then
        "$PYTHON" - <<'EOF' || { log "Python >= 3.11 is required ($PYTHON)"; exit 1; }
import sys
sys.exit(sys.version_info < (3, 11))
EOF
        log "creating .venv with $("$PYTHON" --version 2>&1)"
        rm -rf .venv
        "$PYTHON" -m venv .venv
        rm -f "$stamp"
    fi
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        log "pip install -e '.[dev]'"
        .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
        .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
        touch "$stamp"
    fi
}

if [ "${XUEJI_SKIP_APT:-0}" != 1 ]; then
    install_system_packages
    check_system_ports
fi
setup_venv
# the documents' font, cut once to GB 2312 and cached (components/documents/fonts.py)
.venv/bin/python -m components.documents.fonts >/dev/null
