#!/bin/sh
# Install an agent CLI published on npm (Claude Code, Codex) into a cache
# directory on first use, and print the path of its binary.
#
#   tests/npm-agent/install.sh NAME PACKAGE VERSION [SIGNATURE]
#   tests/npm-agent/install.sh claude @anthropic-ai/claude-code 2.1.197 'Claude Code'
#   tests/npm-agent/install.sh codex @openai/codex 0.169.0 '^codex-cli '
#
# NAME is the binary the package installs, VERSION the one the adapter
# and its tests were checked against, SIGNATURE an extended regular
# expression its `--version` prints (default: anything).
#
# Exits 77 (the "skipped" status of automake and friends) with the reason
# on stdout when it cannot: no node or npm, the registry unreachable, the
# package broken.  The tests then report themselves skipped, never passed.
#
# Environment, with NAME in upper case (BATON_CLAUDE_BIN, ...):
#   BATON_<NAME>_CACHE    the cache directory (default
#                         $REPO/.cache/<package without its scope>)
#   BATON_<NAME>_VERSION  the npm version or tag (default VERSION;
#                         "latest" for the newest)
#   BATON_<NAME>_BIN      use this binary instead of installing one
set -u

[ $# -ge 3 ] || {
	echo "usage: $0 NAME PACKAGE VERSION [SIGNATURE]" >&2
	exit 2
}
name=$1 package=$2 pinned=$3 signature=${4:-.}
var=BATON_$(printf '%s' "$name" | tr 'a-z-' 'A-Z_')

repo=$(cd "$(dirname "$0")/../.." && pwd)
eval "cache=\${${var}_CACHE:-\$repo/.cache/\${package##*/}}"
eval "version=\${${var}_VERSION:-\$pinned}"
eval "given=\${${var}_BIN:-}"

skip() {
	echo "$*"
	exit 77
}

works() {
	[ -x "$1" ] && "$1" --version 2>/dev/null | grep -q -E "$signature"
}

if [ -n "$given" ]; then
	works "$given" || skip "${var}_BIN=$given does not run"
	echo "$given"
	exit 0
fi

command -v node >/dev/null 2>&1 || skip "node is not installed"
command -v npm >/dev/null 2>&1 || skip "npm is not installed"

dest=$cache/$version
bin=$dest/node_modules/.bin/$name
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
# A package with a native binary (codex) pulls it in as an optional
# dependency for this platform (@openai/codex-linux-x64 and the like).
if ! timeout 600 npm install --prefix "$dest.tmp" --no-audit --no-fund \
	--no-save --fetch-retries=1 --fetch-timeout=60000 \
	"$package@$version" >"$log" 2>&1; then
	rm -rf "$dest.tmp"
	why=$(grep -E '^npm (error|ERR!) ' "$log" |
		grep -v -E ' (code|errno|syscall|A complete log|Log files)' |
		head -n 1 | sed 's/^npm [^ ]* *//')
	skip "npm install $package@$version failed:" "${why:-see $log}"
fi
rm -rf "$dest"
mv "$dest.tmp" "$dest" || skip "cannot move the install into $dest"
works "$bin" || skip "the installed $name does not run (see $log)"
echo "$bin"
