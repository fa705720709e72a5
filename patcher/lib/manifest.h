/* Manifest internals shared with the package and dry-run modules: the
 * bounds every manifest is held to and the check that keeps file names
 * inside the package directory. The public manifest API is in hotpatch.h. */
#ifndef HP_MANIFEST_H
#define HP_MANIFEST_H

#include <stdbool.h>

#include "hotpatch.h"

/* Bounds on what a manifest may hold; anything larger is HP_E_TOO_BIG. */
#define MANIFEST_MAX_BYTES (1u << 20)   /* the JSON document, bytes */
#define MANIFEST_MAX_STRING 1024        /* any string, bytes */
#define MANIFEST_MAX_COMPONENTS 16
#define MANIFEST_MAX_ITEMS 64           /* paths, functions, versions, builds per component */
#define MANIFEST_MAX_BUILD_ID 64        /* build-id, bytes (hex is twice that) */

/* True if name is a plain relative path that stays below the directory it
 * is resolved in: not empty, not absolute, no "." or ".." component, no
 * empty component. Symlinks are checked when the file is opened. */
bool manifest_name_is_confined(const char *name);

/* True if s is exactly len lowercase hex digits (len 0: any even length
 * from 2 to 2 * MANIFEST_MAX_BUILD_ID). */
bool manifest_is_hex(const char *s, size_t len);

#endif
