#!/usr/bin/env bash
# Installs what the tests need: Python packages (requirements-dev.txt), and Chromium, CJK fonts, poppler-utils
# and GRASS GIS from Debian's packages for the real-browser, printed-map and r.viewshed tests. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "noto.*cjk" \
   || ! command -v pdftoppm >/dev/null 2>&1 || ! command -v grass >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    # poppler-utils: pdftoppm / pdftotext read the printed maps back in tests/test_print_layout.py
    # grass-core: GRASS GIS r.viewshed, the independent reference of tests/test_viewshed_grass.py
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-noto-cjk poppler-utils \
      grass-core >/dev/null
  else
    echo "warning: no apt-get; the browser test needs Chromium at /usr/bin/chromium" >&2
  fi
fi
python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
# PostgreSQL + PostGIS for tests/test_postgis.py (role/database gis, see tests/pg_setup.sh).
bash tests/pg_setup.sh
