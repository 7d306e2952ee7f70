#!/bin/sh
# List the functions of baton's C sources longer than a limit (default 80
# lines), with the reason written above each: a comment line holding
# "Long:" somewhere in the comment just before the function.  Exit 1 if
# a long function has no reason, so that `make long-functions` fails.
#
#   sh tests/long-functions.sh [LIMIT]
#
# A function, in the house style (Linux braces), is a line at column 0
# that names it and opens with "(", then its body from a "{" at column
# 0 to the next "}" at column 0.
limit=${1:-80}
cd "$(dirname "$0")/.." || exit 2
files=$(ls cmd/*.c core/*.c agents/*.c db/*.c db/*/*.c lib/*.c 2>/dev/null)
out=$(mktemp) || exit 2
trap 'rm -f "$out"' EXIT
awk -v limit="$limit" '
FNR == 1 { name = ""; body = 0; reason = ""; incomment = 0; cmt = "" }
/^\/\*/ { incomment = 1; cmt = "" }
incomment { cmt = cmt " " $0; if ($0 ~ /\*\//) { incomment = 0; last_cmt = cmt; cmt_end = FNR } ; next }
!body && /^[A-Za-z_][A-Za-z0-9_]*\(/ {
	name = $0; sub(/\(.*/, "", name); at = FNR
	reason = ""
	# the comment must end right above the type line(s) of the function
	if (cmt_end >= FNR - 3 && last_cmt ~ /Long:/) {
		reason = last_cmt; sub(/.*Long:[ \t]*/, "", reason)
		sub(/\*\/.*/, "", reason); gsub(/[ \t]*\*[ \t]*/, " ", reason)
		gsub(/[ \t]+/, " ", reason); sub(/ $/, "", reason)
	}
	next
}
name != "" && /^\{/ { body = 1; start = FNR; next }
body && /^\}/ {
	n = FNR - start - 1
	if (n > limit) {
		printf "%-5d %-34s %s:%d  %s\n", n, name, FILENAME, at, \
			(reason == "" ? "(no reason given)" : reason)
		if (reason == "") missing++
	}
	body = 0; name = ""
}
END { if (missing) { printf "%d long functions give no reason\n", missing; exit 1 } }
' $files >"$out"
rc=$?
grep -v 'give no reason' "$out" | sort -rn
grep 'give no reason' "$out"
exit $rc
