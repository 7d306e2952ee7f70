#!/bin/sh
# Install the real Codex CLI (OpenAI) from the npm registry into a cache
# directory on first use, and print the path of its `codex` binary.
#
#   tests/codex/install.sh             # prints /…/.cache/codex/…/codex
#
# Exits 77 (the "skipped" status of automake and friends) with the reason
# on stdout when it cannot: no node or npm, the registry unreachable, the
# package broken.  The tests then report themselves skipped, never passed.
#
# Environment:
#   BATON_CODEX_CACHE    the cache directory (default $REPO/.cache/codex)
#   BATON_CODEX_VERSION  the npm version or tag (default: the one the
#                        tests were written against; "latest" for the newest)
#   BATON_CODEX_BIN      use this codex binary instead of installing one
set -u

# The version the adapter and its tests were checked against.
PINNED=0.169.0

repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${BATON_CODEX_CACHE:-$repo/.cache/codex}
version=${BATON_CODEX_VERSION:-$PINNED}

skip() {
	echo "$*"
	exit 77
}

works() {
	[ -x "$1" ] && "$1" --version 2>/dev/null | grep -q '^codex-cli '
}

if [ -n "${BATON_CODEX_BIN:-}" ]; then
	works "$BATON_CODEX_BIN" ||
		skip "BATON_CODEX_BIN=$BATON_CODEX_BIN does not run"
	echo "$BATON_CODEX_BIN"
	exit 0
fi

command -v node >/dev/null 2>&1 || skip "node is not installed"
command -v npm >/dev/null 2>&1 || skip "npm is not installed"

dest=$cache/$version
bin=$dest/node_modules/.bin/codex
if works "$bin"; then
	echo "$bin"
	exit 0
fi

mkdir -p "$cache" || skip "cannot create $cache"
# One install at a time (two test runs may start together).
exec 9>"$cache/.lock"
if command -v flock >/dev/null 2>&1; then
	flock -w 600 9 || skip "timed out waiting for another install"
fi
if works "$bin"; then
	echo "$bin"
	exit 0
fi

rm -rf "$dest.tmp"
mkdir -p "$dest.tmp"
log=$cache/install.log
# The package pulls its native binary in as an optional dependency for
# this platform (@openai/codex-linux-x64 and the like).
if ! timeout 600 npm install --prefix "$dest.tmp" --no-audit --no-fund \
	--no-save --fetch-retries=1 --fetch-timeout=60000 \
	"@openai/codex@$version" >"$log" 2>&1; then
	rm -rf "$dest.tmp"
	why=$(grep -E '^npm (error|ERR!) ' "$log" |
		grep -v -E ' (code|errno|syscall|A complete log|Log files)' |
		head -n 1 | sed 's/^npm [^ ]* *//')
	skip "npm install @openai/codex@$version failed:" "${why:-see $log}"
fi
rm -rf "$dest"
mv "$dest.tmp" "$dest" || skip "cannot move the install into $dest"
works "$bin" || skip "the installed codex does not run (see $log)"
echo "$bin"
