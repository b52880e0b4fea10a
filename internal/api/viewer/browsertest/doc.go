// Package browsertest drives the web viewer in a real headless Chromium
// (Debian's /usr/bin/chromium, through chromedp) against a real sidecar.
// It has only tests; they skip when Chromium is not installed. See
// .ci/browser.sh.
package browsertest
