/* Session names (core/session-name.c) and ids (lib/id.c): a name is
 * never a UUID, and a UUID lower-cased is still one. */
#include "core/session.h"
#include "lib/id.h"
#include <strings.h>

#include "tests/fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_string(data, size);
	int name = session_name_valid(s);
	int uuid = id_is_uuid(s);

	if (name && uuid)
		abort();
	if (uuid) {
		char *l = id_uuid_lower(s);

		if (!id_is_uuid(l) || strcasecmp(l, s) != 0)
			abort();
		free(l);
	}
	free(s);
	return 0;
}
