#!/usr/bin/env bats
# `baton add --from FILE` (SPEC §6): YAML, JSON Lines and CSV task files,
# added in one transaction (one bad record adds nothing, reported as
# file:line), idempotent with `key:`.

load lib

count() {
	sql "SELECT count(*) FROM tasks"
}

# The number of tasks `status --json` lists.
status_count() {
	"$BATON" status --json | jq length
}

@test "add --from a YAML file adds every task with its options" {
	mkdir wd
	cat > tasks.yaml <<-'EOF'
	# three tasks
	- prompt: first task
	  title: one
	  agent: shell
	  timeout: 15m
	  max_iterations: 2
	  check: "true"
	  key: y-1
	- prompt: |
	    second task,
	    two lines
	  workdir: wd
	  new_session: yes
	- {prompt: third, milestone: m1, model: small}
	EOF
	run "$BATON" add --from tasks.yaml
	assert_status 0
	assert_contains "added 3 tasks from tasks.yaml"
	[ "$(status_count)" = 3 ]
	[ "$(count)" = 3 ]
	[ "$(sql "SELECT title || '|' || agent || '|' || timeout_ms || '|' ||
		max_iterations || '|' || check_cmd || '|' || key
		FROM tasks WHERE prompt = 'first task'")" \
		= "one|shell|900000|2|true|y-1" ]
	[ "$(sql "SELECT prompt FROM tasks WHERE new_session = 1")" \
		= "$(printf 'second task,\ntwo lines')" ]
	# a relative workdir is relative to the task file
	[ "$(sql "SELECT workdir FROM tasks WHERE new_session = 1")" \
		= "$(cd wd && pwd -P)" ]
	[ "$(sql "SELECT m.name || '|' || t.model FROM tasks t
		JOIN milestones m ON m.id = t.milestone_id")" = "m1|small" ]
}

@test "add --from a JSON Lines file" {
	cat > tasks.jsonl <<-'EOF'
	{"prompt": "a", "timeout": 90, "title": "with \"quotes\""}

	{"prompt": "b", "max_iterations": 3, "check": "true", "force_agent": true}
	{"prompt": "c", "agent": "shell", "model": null}
	EOF
	run "$BATON" add --from tasks.jsonl
	assert_status 0
	assert_contains "added 3 tasks"
	[ "$(status_count)" = 3 ]
	[ "$(count)" = 3 ]
	[ "$(sql "SELECT timeout_ms FROM tasks WHERE prompt = 'a'")" = 90000 ]
	[ "$(sql "SELECT title FROM tasks WHERE prompt = 'a'")" \
		= 'with "quotes"' ]
	[ "$(sql "SELECT CAST(max_iterations AS TEXT) || CAST(force_agent AS TEXT) FROM tasks
		WHERE prompt = 'b'")" = 31 ]
}

@test "add --from a CSV file, quoted fields spanning lines" {
	printf '%s\r\n' 'prompt,title,new_session,timeout' \
		'"fix it, please",plain,true,' \
		'"say ""hi""",,0,2h' \
		'"line one' 'line two",multi,,' > tasks.csv
	run "$BATON" add --from tasks.csv
	assert_status 0
	[ "$(status_count)" = 3 ]
	[ "$(count)" = 3 ]
	[ "$(sql "SELECT title FROM tasks WHERE prompt = 'fix it, please'")" \
		= plain ]
	[ "$(sql "SELECT new_session FROM tasks WHERE title = 'plain'")" = 1 ]
	[ "$(sql "SELECT timeout_ms FROM tasks
		WHERE prompt = 'say \"hi\"'")" = 7200000 ]
	[ "$(sql "SELECT prompt FROM tasks WHERE title = 'multi'")" \
		= "$(printf 'line one\r\nline two')" ]
}

@test "a file without a known extension is sniffed, - reads stdin" {
	printf -- '- prompt: y1\n- prompt: y2\n' > yaml-tasks
	printf '{"prompt": "j1"}\n' > json-tasks
	printf 'prompt\nc1\nc2\nc3\n' > csv-tasks
	run "$BATON" add --from yaml-tasks
	assert_status 0
	run "$BATON" add --from json-tasks
	assert_status 0
	run "$BATON" add --from csv-tasks
	assert_status 0
	[ "$(count)" = 6 ]
	run "$BATON" add --from - < json-tasks
	assert_status 0
	[ "$(count)" = 7 ]
	printf '{"prompt": "j1"}\n{"prompt": "x", "agent": "nope"}\n' > bad
	run "$BATON" add --from - < bad
	assert_status 2
	assert_contains "<stdin>:2: unknown agent 'nope'"
	[ "$(count)" = 7 ]
}

@test "one bad record in the middle adds nothing (loader error)" {
	cat > tasks.yaml <<-'EOF'
	- prompt: one
	- prompt: two
	- prompt: three
	- prompt: four
	  title: t
	  agent: shell
	  agnet: shell
	- prompt: five
	EOF
	run "$BATON" add --from tasks.yaml
	assert_status 2
	assert_contains "tasks.yaml:7: unknown key 'agnet' (did you mean 'agent'?)"
	[ "$(count)" = 0 ]
	[ "$(status_count)" = 0 ]
}

@test "one bad record in the middle adds nothing (resolve error)" {
	cat > tasks.yaml <<-'EOF'
	- prompt: one
	  milestone: created-then-rolled-back
	- prompt: two
	- prompt: three
	- prompt: four

	- prompt: five
	  timeout: soon
	- prompt: six
	EOF
	run "$BATON" add --from tasks.yaml
	assert_status 2
	assert_contains "tasks.yaml:7: timeout: invalid duration 'soon': use e.g. 90s, 15m, 1h30m, 1.5h"
	assert_contains "(nothing was added)"
	[ "$(count)" = 0 ]
	[ "$(sql "SELECT count(*) FROM milestones")" = 0 ]

	printf '{"prompt": "a"}\n{"prompt": "b"}\n{"prompt": "c", "max_iterations": 0}\n' > t.jsonl
	run "$BATON" add --from t.jsonl
	assert_status 2
	assert_contains "t.jsonl:3: invalid --max-iterations '0'"
	[ "$(count)" = 0 ]

	printf 'prompt,workdir\na,\nb,no-such-dir\n' > t.csv
	run "$BATON" add --from t.csv
	assert_status 2
	assert_contains "t.csv:3: workdir no-such-dir: No such file or directory"
	[ "$(count)" = 0 ]
}

@test "malformed files name the file and line, and add nothing" {
	printf '{"prompt": "a"}\n{"prompt": "b"\n' > t.jsonl
	run "$BATON" add --from t.jsonl
	assert_status 2
	assert_contains "t.jsonl:2: not a JSON object: "
	printf 'prompt,title\na,b\nc\n' > t.csv
	run "$BATON" add --from t.csv
	assert_status 2
	assert_contains "t.csv:3: expected 2 fields, got 1"
	printf -- '- prompt: a\n- prompt: "b\n' > t.yaml
	run "$BATON" add --from t.yaml
	assert_status 2
	assert_contains "t.yaml:3:1: "
	printf -- '- &x {prompt: a}\n- *x\n' > bomb.yaml
	run "$BATON" add --from bomb.yaml
	assert_status 2
	assert_contains "bomb.yaml:1: YAML anchors and aliases are not supported"
	: > empty.yaml
	run "$BATON" add --from empty.yaml
	assert_status 2
	assert_contains "empty.yaml: no tasks in file"
	run "$BATON" add --from missing.yaml
	assert_status 2
	assert_contains "cannot read task file missing.yaml: No such file"
	# binary garbage: the start of baton's own executable
	head -c 4096 "$BATON" > garbage
	run "$BATON" add --from garbage
	assert_status 2
	assert_contains "garbage"
	[ "$(count)" = 0 ]
}

@test "key: makes add --from idempotent" {
	cat > tasks.yaml <<-'EOF'
	- {prompt: one, key: k1}
	- {prompt: two, key: k2}
	- {prompt: three, key: k3}
	EOF
	run "$BATON" --json add --from tasks.yaml
	assert_status 0
	[ "$(echo "$output" | jq -c '[.added, .existing]')" = "[3,0]" ]
	first=$(echo "$output" | jq -c .ids)
	[ "$(echo "$first" | jq length)" = 3 ]
	[ "$(count)" = 3 ]

	run "$BATON" --json add --from tasks.yaml
	assert_status 0
	[ "$(echo "$output" | jq -c '[.added, .existing]')" = "[0,3]" ]
	[ "$(echo "$output" | jq -c .ids)" = "$first" ]
	[ "$(count)" = 3 ]

	# without --json: says what happened; a new key is added
	echo '- {prompt: four, key: k4}' >> tasks.yaml
	run "$BATON" add --from tasks.yaml
	assert_status 0
	assert_contains "added 1 task from tasks.yaml"
	assert_contains "3 tasks were already there"
	[ "$(count)" = 4 ]
}

@test "an unknown agent in a record names the file and line" {
	cat > tasks.jsonl <<-'EOF'
	{"prompt": "a", "agent": "shell"}

	{"prompt": "b", "agent": "no-such-agent"}
	EOF
	run "$BATON" add --from tasks.jsonl
	assert_status 2
	assert_contains "tasks.jsonl:3: unknown agent 'no-such-agent'"
	[ "$(count)" = 0 ]
}

@test "add --from takes no prompt or task options" {
	printf -- '- prompt: a\n' > tasks.yaml
	run "$BATON" add --from tasks.yaml "a prompt"
	assert_status 2
	assert_contains "--from takes no prompt"
	run "$BATON" add --agent shell --from tasks.yaml
	assert_status 2
	[ "$(count)" = 0 ]
}

@test "a 100k-line JSON Lines file adds 100k tasks" {
	seq 100000 | awk '{ printf "{\"prompt\": \"task %d\", \"key\": \"k%d\"}\n", $1, $1 }' > big.jsonl
	run "$BATON" add --from big.jsonl
	assert_status 0
	assert_contains "added 100000 tasks"
	[ "$(count)" = 100000 ]
	[ "$(sql "SELECT count(DISTINCT key) FROM tasks")" = 100000 ]
}

# Past one statement's worth of rows (db/postgres/task-many.c: 500): ids
# in the file's order, a key known already or repeated in the file adds
# nothing and answers with that task's id, and text that an array
# literal must quote comes back as it went in.
@test "add --from past a batch: ids in order, repeated and known keys, quoted text" {
	"$BATON" add -q --key k7 "known already"
	awk 'BEGIN {
		for (i = 1; i <= 1200; i++) {
			k = i <= 1000 ? i : i - 990   # 1001.. repeat 11..
			printf "{\"prompt\": \"p%d \\\"q\\\" \\\\ {a,b} NULL é\", \"key\": \"k%d\"%s}\n",
				i, k, i % 3 ? "" : ", \"milestone\": \"m" i % 2 "\""
		}
	}' > many.jsonl
	run "$BATON" --json add --from many.jsonl
	assert_status 0
	[ "$(echo "$output" | jq -c '[.added, .existing]')" = "[999,201]" ]
	# k7 is task 1; the file's new keys take 2, 3… in order
	[ "$(echo "$output" | jq -c '.ids[0:8]')" = "[2,3,4,5,6,7,1,8]" ]
	[ "$(echo "$output" | jq -c '.ids[999]')" = 1000 ]
	# line 1001 repeats k11 (line 11: task 11), line 1200 k210
	[ "$(echo "$output" | jq -c '[.ids[1000], .ids[1199]]')" = "[11,210]" ]
	[ "$(count)" = 1000 ]
	[ "$(sql "SELECT prompt FROM tasks WHERE id = 1000")" = 'p1000 "q" \ {a,b} NULL é' ]
	[ "$(sql "SELECT key FROM tasks WHERE id = 1000")" = k1000 ]
	[ "$(sql "SELECT count(*) FROM tasks WHERE milestone_id IS NOT NULL")" = 333 ]
	[ "$(sql "SELECT group_concat(name, ' ') FROM
		(SELECT name FROM milestones ORDER BY id) AS q")" = "m1 m0" ]
	# the next task's id follows on
	run "$BATON" --json add hello
	[ "$(echo "$output" | jq .id)" = 1001 ]
}

# A bad record after the first batch: nothing is added, not even the
# rows of the batches before it, and no id was used up (on PostgreSQL
# too, whose sequences do not roll back).
@test "a bad record past the first batch adds nothing and uses up no id" {
	awk 'BEGIN {
		for (i = 1; i <= 1200; i++)
			printf "{\"prompt\": \"p%d\", \"milestone\": \"m\"%s}\n", i,
				i == 1100 ? ", \"timeout\": \"soon\"" : ""
	}' > bad.jsonl
	run "$BATON" add --from bad.jsonl
	assert_status 2
	assert_contains "bad.jsonl:1100: timeout: invalid duration 'soon'"
	assert_contains "(nothing was added)"
	[ "$(count)" = 0 ]
	[ "$(sql "SELECT count(*) FROM milestones")" = 0 ]
	run "$BATON" --json add hello
	[ "$(echo "$output" | jq .id)" = 1 ]
}
