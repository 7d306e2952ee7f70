#!/bin/sh
# Find checks in the CLI tests that can never fail.  bats runs each test
# under `set -e`, and errexit ignores
#   - a failing command left of `&&`: `[ a ] && [ b ]` fails the test
#     only when it is the last command of the test or function;
#   - a negated command: `! cmd` never fails a test (use refute, lib.bash).
# Flags `a && b` that is not the last command before a function's closing
# `}` (unless b is continue, break, return or exit), and every `! cmd`
# outside an if/while/until condition.  Quoted text, $( ) and ( )
# subshells (whose status set -e does see), comments and here-documents
# are skipped.  Prints TAP, one line per file.
# Usage: tests/lint-bats.sh [FILE]...   (default: tests/cli/*.bats *.bash)
cd "$(dirname "$0")/.." || exit 2
[ $# -gt 0 ] || set -- tests/cli/*.bats tests/cli/*.bash

echo "1..$#"
n=0 bad=0
for f in "$@"; do
	n=$((n + 1))
	out=$(awk -f - "$f" <<'AWK'
function report(ln, what) {
	printf "%s:%d: %s\n", FILENAME, ln, what
	found++
}
# The && lists of the command that just ended: fine if the next line
# closes the function, so keep them until that line is seen.
function end_command() {
	if (amps != "")
		pending = pending amps
	amps = ""
	cmdstart = 1
}
function flush_pending(closes,    k, m, a) {
	if (!closes && pending != "") {
		m = split(pending, a, " ")
		for (k = 1; k <= m; k++)
			if (a[k] != "")
				report(a[k], "`a && b` is not the last " \
				    "command: a failing `a` is ignored")
	}
	pending = ""
}
BEGIN { cmdstart = 1; sp = 0; sq = 0 }
{
	line = $0
	if (hdoc != "") {
		t = line
		if (hdoc_tabs)
			sub(/^\t+/, "", t)
		if (t == hdoc)
			hdoc = ""
		next
	}
	# a line that starts a new command settles the pending && lists
	if (sp == 0 && !sq && !cont && line !~ /^[ \t]*(#.*)?$/)
		flush_pending(line ~ /^\}/)
	lastop = 0
	len = length(line)
	for (i = 1; i <= len; i++) {
		c = substr(line, i, 1)
		top = sp == 0 && !sq
		if (sq) {
			if (c == "\\" && sq == 2)
				i++	# $'...' has backslash escapes
			else if (c == "'")
				sq = 0
			continue
		}
		if (sp > 0 && st[sp] == "D") {
			if (c == "\\")
				i++
			else if (c == "\"")
				sp--
			else if (c == "$" && substr(line, i + 1, 1) == "(") {
				st[++sp] = "P"
				i++
			}
			continue
		}
		if (c == "\\") {
			if (i == len)
				lastop = 1	# continued on the next line
			i++
			continue
		}
		if (c == "$" && substr(line, i + 1, 1) == "'") {
			sq = 2
			i++
			lastop = 0
			cmdstart = 0
			continue
		}
		if (c == "'") {
			sq = 1
			lastop = 0
			continue
		}
		if (c == "\"") {
			st[++sp] = "D"
			lastop = 0
			cmdstart = 0
			continue
		}
		if (c == "#" && (i == 1 || substr(line, i - 1, 1) ~ /[ \t;]/))
			break
		if (c == "$" && substr(line, i + 1, 1) == "(") {
			st[++sp] = "P"
			i++
			lastop = 0
			cmdstart = 0
			continue
		}
		if (c == "(") {
			st[++sp] = "P"
			continue
		}
		if (c == ")") {
			if (sp > 0)
				sp--
			continue
		}
		if (c == "<" && substr(line, i, 3) ~ /^<<[^<]/) {
			rest = substr(line, i + 2)
			hdoc_tabs = rest ~ /^-/
			sub(/^-?[ \t]*/, "", rest)
			if (match(rest, /^['"]?[A-Za-z_][A-Za-z_0-9]*/)) {
				hdoc = substr(rest, 1, RLENGTH)
				gsub(/['"]/, "", hdoc)
			}
			i++
			continue
		}
		if (!top)
			continue
		if (c ~ /[ \t]/)
			continue
		two = substr(line, i, 2)
		if (two == "&&" || two == "||") {
			if (two == "&&" && !cond) {
				after = substr(line, i + 2)
				if (after !~ /^[ \t]*(continue|break|return|exit)([ \t;]|$)/)
					amps = amps " " NR
			}
			i++
			cmdstart = 1
			lastop = 1
			continue
		}
		if (c == "|") {
			cmdstart = 1
			lastop = 1
			continue
		}
		if (c == "&" && (substr(line, i - 1, 1) ~ /[<>]/ ||
		    substr(line, i + 1, 1) == ">"))
			continue	# a redirection: >&2, &>
		if (c == ";" || c == "&") {
			if (two == ";;")
				i++
			end_command()
			# `a && b; }` on one line is the last command too
			if (substr(line, i + 1) ~ /^[ \t]*\}?[ \t]*$/)
				amps = ""
			else
				flush_pending(0)
			lastop = 0
			continue
		}
		lastop = 0
		if (!cmdstart)
			continue
		word = substr(line, i)
		if (word ~ /^![ \t]/ || word == "!") {
			if (!cond)
				report(NR, "`! cmd` cannot fail a test " \
				    "(set -e ignores it): use refute")
			continue
		}
		if (match(word, /^[A-Za-z_{}]+/)) {
			w = substr(word, 1, RLENGTH)
			if (substr(word, RLENGTH + 1, 1) ~ /^([ \t;]|)$/) {
				if (w ~ /^(if|elif|while|until)$/) {
					cond = 1
					i += RLENGTH - 1
					continue
				}
				if (w ~ /^(then|do|else|\{)$/) {
					cond = 0
					i += RLENGTH - 1
					continue
				}
			}
		}
		cmdstart = 0
	}
	cont = sp > 0 || sq || lastop
	if (!cont)
		end_command()
}
END {
	flush_pending(1)
	exit (found > 0)
}
AWK
	)
	if [ $? = 0 ]; then
		echo "ok $n - $f"
	else
		bad=$((bad + 1))
		echo "not ok $n - $f"
		printf '%s\n' "$out" | sed 's/^/# /'
	fi
done
[ "$bad" = 0 ]
