#ifndef BATON_LIB_ID_H
#define BATON_LIB_ID_H

/* A fresh time-ordered (v7) lower-case UUID into buf (>= 37 bytes). */
void id_uuid_new(char *buf);
/* Non-zero if s is a UUID in canonical 8-4-4-4-12 hex form (either case). */
int id_is_uuid(const char *s);
/* Lower-case copy of a UUID or of a prefix of one; caller frees. */
char *id_uuid_lower(const char *s);

#endif
