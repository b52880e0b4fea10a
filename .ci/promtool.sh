#!/usr/bin/env bash
# .ci/promtool.sh — checks the example alert rules with promtool and runs
# their unit tests (alert-tests.yml: each alert fires when it should).
# promtool comes from Debian's prometheus package, installed here when
# missing and we are root (its service is kept from starting).
#
# Only the rules: Debian builds Prometheus without Kubernetes service
# discovery, so its `promtool check config` rejects the kubernetes_sd_configs
# job of examples/prometheus/prometheus.yml; examples_test.go parses that
# file instead.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v promtool >/dev/null; then
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
		echo "promtool not found; install Debian's prometheus package (or Prometheus' release) to check the rules" >&2
		exit 1
	fi
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

promtool check rules examples/prometheus/alert-rules.yml
promtool test rules examples/prometheus/alert-tests.yml
