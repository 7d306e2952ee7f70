# Turns a text file into a C string constant named by -v name=...
BEGIN { printf "/* generated from db/schema.sql; do not edit */\n" }
BEGIN { printf "extern const char %s[];\nconst char %s[] =\n", name, name }
{
	gsub(/\\/, "\\\\"); gsub(/"/, "\\\"");
	printf "\t\"%s\\n\"\n", $0
}
END { printf "\t\"\";\n" }
