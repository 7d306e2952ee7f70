# Check a text exposition (`baton stats --openmetrics`) line by line, as
# node_exporter's textfile collector and promtool would read it:
#   - every line is "# HELP name text", "# TYPE name type", a sample
#     "name{label="value",...} number", or the "# EOF" that ends it;
#   - names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names
#     [a-zA-Z_][a-zA-Z0-9_]*, label values escape only \\ \" \n;
#   - each family has one HELP and one TYPE, both before its samples,
#     and its samples are together (summary: name, name_sum, name_count);
#   - "# EOF" comes once, last.
# Usage: awk -f tests/openmetrics-lint.awk FILE; exit 0 if it is fine,
# else 1 with "line N: what: the line" on stderr.
function fail(what) {
	printf "line %d: %s: %s\n", NR, what, $0 > "/dev/stderr"
	bad = 1
	exit 1
}
BEGIN {
	NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*"
	LNAME = "[a-zA-Z_][a-zA-Z0-9_]*"
	LVALUE = "\"([^\"\\\\\n]|\\\\[\\\\\"n])*\""
	LABEL = LNAME "=" LVALUE
	LABELS = "\\{(" LABEL "(," LABEL ")*)?\\}"
	NUM = "[-+]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][-+]?[0-9]+)?"
	VALUE = "(" NUM "|[-+]?Inf|NaN)"
	TYPES = "^(counter|gauge|summary|histogram|untyped|unknown)$"
}
eof { fail("a line after # EOF") }
$0 == "# EOF" { eof = 1; next }
/^# (HELP|TYPE) / {
	if ($3 !~ "^" NAME "$")
		fail("bad metric name")
	if ($3 in samples)
		fail($2 " after the family's samples")
	if ($2 == "HELP" && ($3 in help))
		fail("a second HELP")
	if ($2 == "TYPE" && ($3 in type))
		fail("a second TYPE")
	if ($2 == "TYPE" && ($4 !~ TYPES || NF != 4))
		fail("bad type")
	if ($2 == "HELP")
		help[$3] = 1
	else
		type[$3] = $4
	next
}
/^#/ { fail("a comment that is not HELP, TYPE or EOF") }
{
	if (!match($0, "^" NAME))
		fail("bad metric name")
	name = substr($0, 1, RLENGTH)
	rest = substr($0, RLENGTH + 1)
	fam = name
	if (!(fam in type)) {
		sub(/_(sum|count)$/, "", fam)
		if (type[fam] != "summary" && type[fam] != "histogram")
			fam = name
	}
	if (!(fam in type) || !(fam in help))
		fail("a sample before its family's HELP and TYPE")
	if (fam != last && (fam in samples))
		fail("the family's samples are not together")
	samples[fam] = 1
	last = fam
	if (substr(rest, 1, 1) == "{") {
		if (!match(rest, "^" LABELS))
			fail("bad labels")
		rest = substr(rest, RLENGTH + 1)
	}
	if (rest !~ "^ " VALUE "$")
		fail("bad value")
}
END {
	if (!bad && !eof) {
		print "no # EOF at the end" > "/dev/stderr"
		exit 1
	}
}
