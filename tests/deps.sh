#!/bin/sh
# Install the Debian packages baton needs to build and test, if missing.
# As root: apt-get install.  Otherwise: print the exact line and fail.
# BATON_DEPS_EXTRA names more packages (the tests use it to see the
# "missing" path without uninstalling anything).
pkgs="gcc make pkg-config libsqlite3-dev uuid-dev libyaml-dev libjansson-dev
libcmocka-dev bats sqlite3 jq python3-jsonschema zsh fish
python3-prometheus-client libxml2-utils python3-junitparser clang libclang-rt-dev
libpq-dev postgresql
${BATON_DEPS_EXTRA:-}"
missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
	echo "baton: missing packages:$missing (no apt-get here; install them by hand)" >&2
	exit 1
fi
if [ "$(id -u)" = 0 ]; then
	echo "baton: installing:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2 && apt-get install -y -qq $missing >&2 && exit 0
	echo "baton: apt-get failed; run: apt-get install -y$missing" >&2
	exit 1
fi
echo "baton: missing packages; run:" >&2
echo "    sudo apt-get install -y$missing" >&2
exit 1
