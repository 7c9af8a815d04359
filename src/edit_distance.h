/* edit_distance.h — Levenshtein distance of two short strings, for "did you
 * mean" suggestions on unknown config keys and theme roles. */
#ifndef FW_EDIT_DISTANCE_H
#define FW_EDIT_DISTANCE_H

/* Insertions, deletions and substitutions turning a into b (bytes). Strings
 * over 64 bytes count as far apart (1000). */
int fw_edit_distance(const char *a, const char *b);

#endif
