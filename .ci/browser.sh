#!/usr/bin/env bash
# The browser test: drives the web viewer in Debian's headless chromium
# against a real sidecar (internal/api/viewer/browsertest/). Installs chromium when missing
# (needs root and apt-get); fails, rather than skipping, when it cannot.
# TRAILCAR_SCREENSHOTS=docs also saves the screenshots of docs/viewer.md
# (docs/screenshot.png, docs/viewer-cluster.png, docs/viewer-filters.png).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

chromium="${TRAILCAR_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
	fi
fi
if [ ! -x "$chromium" ]; then
	echo "browser.sh: $chromium is missing and could not be installed (apt-get install chromium)" >&2
	exit 1
fi
"$chromium" --version

# -count=1: the test talks to a browser, never cache it. -v: its log has
# the rendering times of the 10,000-row check.
TRAILCAR_CHROMIUM="$chromium" go test -count=1 -v -run '^TestViewer(Cluster)?$' ./internal/api/viewer/browsertest
