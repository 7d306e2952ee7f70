/* Durations and times (lib/clock.c): parse; what parses formats back to
 * a string that parses to the same value. */
#include "lib/clock.h"
#include "tests/fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_string(data, size);
	char buf[64];
	int64_t ms, again;

	if (duration_parse(s, &ms) == 0) {
		char *f = duration_format(ms);

		if (duration_parse(f, &again) != 0 || again != ms) {
			fprintf(stderr, "'%s' -> %lld -> '%s' -> %lld\n", s,
				(long long)ms, f, (long long)again);
			abort();
		}
		free(f);
	} else {
		free(duration_error(s));
	}
	if (time_parse(s, &ms) == 0) {
		time_rfc3339(ms, buf, sizeof buf);
		time_local(ms, buf, sizeof buf);
		time_ago(ms, buf, sizeof buf);
	}
	free(s);
	return 0;
}
