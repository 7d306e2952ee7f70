#!/bin/sh
# Print the path of a promtool, fetching it on first use into
# .cache/promtool/: Debian ships promtool only inside the `prometheus`
# server package, so the package is downloaded (apt-get download) and
# only its promtool is unpacked (dpkg-deb -x): nothing is installed and
# no server starts.  Exit 77 (and say why) when that cannot be done.
cd "$(dirname "$0")/.." || exit 1
dir=$PWD/.cache/promtool
bin=$dir/usr/bin/promtool
if [ -x "$bin" ] && "$bin" --version >/dev/null 2>&1; then
	echo "$bin"
	exit 0
fi
command -v promtool >/dev/null 2>&1 && { command -v promtool; exit 0; }
command -v apt-get >/dev/null 2>&1 || { echo "no apt-get"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/promtool.XXXXXX") || exit 77
trap 'rm -rf "$tmp"' EXIT
if ! (cd "$tmp" && apt-get download prometheus >out 2>&1); then
	echo "apt-get download prometheus failed: $(tail -n 1 "$tmp/out")"
	exit 77
fi
mkdir -p "$dir" && dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x" &&
	mkdir -p "$dir/usr/bin" && cp "$tmp/x/usr/bin/promtool" "$bin" ||
	{ echo "cannot unpack promtool"; exit 77; }
echo "$bin"
