#!/bin/sh
# Install the real Claude Code CLI from the npm registry into a cache
# directory on first use, and print the path of its `claude` binary.
#
#   tests/claude/install.sh            # prints /…/.cache/claude-code/…/claude
#
# Exits 77 (the "skipped" status of automake and friends) with the reason
# on stdout when it cannot: no node or npm, the registry unreachable, the
# package broken.  The tests then report themselves skipped, never passed.
#
# Environment:
#   BATON_CLAUDE_CACHE    the cache directory (default $REPO/.cache/claude-code)
#   BATON_CLAUDE_VERSION  the npm version or tag (default: the one the
#                         tests were written against; "latest" for the newest)
#   BATON_CLAUDE_BIN      use this claude binary instead of installing one
set -u

# The version the adapter and its tests were checked against.
PINNED=2.1.197

repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${BATON_CLAUDE_CACHE:-$repo/.cache/claude-code}
version=${BATON_CLAUDE_VERSION:-$PINNED}

skip() {
	echo "$*"
	exit 77
}

works() {
	[ -x "$1" ] && "$1" --version 2>/dev/null | grep -q 'Claude Code'
}

if [ -n "${BATON_CLAUDE_BIN:-}" ]; then
	works "$BATON_CLAUDE_BIN" ||
		skip "BATON_CLAUDE_BIN=$BATON_CLAUDE_BIN does not run"
	echo "$BATON_CLAUDE_BIN"
	exit 0
fi

command -v node >/dev/null 2>&1 || skip "node is not installed"
command -v npm >/dev/null 2>&1 || skip "npm is not installed"

dest=$cache/$version
bin=$dest/node_modules/.bin/claude
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
if ! timeout 600 npm install --prefix "$dest.tmp" --no-audit --no-fund \
	--no-save --fetch-retries=1 --fetch-timeout=60000 \
	"@anthropic-ai/claude-code@$version" >"$log" 2>&1; then
	rm -rf "$dest.tmp"
	why=$(grep -E '^npm (error|ERR!) ' "$log" |
		grep -v -E ' (code|errno|syscall|A complete log|Log files)' |
		head -n 1 | sed 's/^npm [^ ]* *//')
	skip "npm install @anthropic-ai/claude-code@$version failed:" \
		"${why:-see $log}"
fi
rm -rf "$dest"
mv "$dest.tmp" "$dest" || skip "cannot move the install into $dest"
works "$bin" || skip "the installed claude does not run (see $log)"
echo "$bin"
