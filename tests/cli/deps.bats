#!/usr/bin/env bats
# make deps (tests/deps.sh): installs what is missing as root, otherwise
# prints the exact apt-get line and fails.

load lib

@test "nothing missing: deps succeeds quietly" {
	run sh "$REPO/tests/deps.sh"
	assert_status 0
	[ -z "$output" ]
}

@test "a missing package, not root: prints the exact line and fails" {
	command -v setpriv >/dev/null || skip "setpriv is not installed"
	[ "$(id -u)" = 0 ] || skip "needs root to drop to another user"
	run setpriv --reuid=65534 --regid=65534 --clear-groups env \
		BATON_DEPS_EXTRA=baton-test-no-such-package sh "$REPO/tests/deps.sh"
	assert_status 1
	assert_contains "sudo apt-get install -y baton-test-no-such-package"
}

@test "a missing -dev package: make says run make deps, not a compiler error" {
	run env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s -C "$REPO" \
		B="$BATS_TEST_TMPDIR/build" PKGS="sqlite3 baton-test-no-such-package"
	assert_status 2
	assert_contains "missing build dependencies (pkg-config: baton-test-no-such-package); run make deps"
	[[ "$output" != *"No such file"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/build/cmd" ]
}

@test "make demo's tour: every command in it works on its throw-away database" {
	run sh "$REPO/docs/demo.sh"
	assert_status 0
	# its database is one a user names (BATON_DB), in a directory it made
	assert_not_contains "cannot open database"
	assert_contains "18 completed, 3 failed"
	assert_contains "22 tests, 3 failures"
	assert_contains "ok: no problems found"
}
