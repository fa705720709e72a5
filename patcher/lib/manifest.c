/* The manifest: the JSON document at the head of a package that says what
 * the patch is for (components, eligible versions pinned by build-id and
 * SHA-256, function fingerprints, payload hashes). This is the only module
 * of the library that sees jansson: it turns JSON into struct hp_manifest
 * strictly (every field known, present and of its type, within bounds) and
 * writes it back deterministically, so that a package built twice from the
 * same inputs is byte-identical and its signature stays meaningful.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "hotpatch.h"
#include "internal.h"
#include "atomic_file.h"
#include "manifest.h"

/* While parsing: the document's name for messages, and the path of the
 * field being looked at ("components[0].eligible[1]"). */
struct ctx {
	const char *name;        /* file name, for messages */
	enum hp_manifest_kind kind; /* which form is being parsed */
	int format;              /* format version, once read */
	char path[256];          /* JSON path of the current object */
};

bool manifest_is_hex(const char *s, size_t len)
{
	size_t n;

	if (!s)
		return false;
	for (n = 0; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return false;
	if (len)
		return n == len;
	return n >= 2 && n % 2 == 0 && n <= 2 * MANIFEST_MAX_BUILD_ID;
}

bool manifest_name_is_confined(const char *name)
{
	const char *p = name, *slash;
	size_t n;

	if (!name || !*name || *name == '/' || strlen(name) > MANIFEST_MAX_STRING)
		return false;
	for (;;) {
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (!slash)
			return true;
		p = slash + 1;
	}
}

/* Report a problem with field (under the current path) and return err. */
static int fail(const struct ctx *c, const char *field, int err, const char *fmt, ...)
	HP_PRINTF(4, 5);
static int fail(const struct ctx *c, const char *field, int err, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pr_warn("manifest: %s: %s%s%s: %s", c->name, c->path, c->path[0] && field ? "." : "",
		field ? field : "", msg);
	return err;
}

/* Enter a member (".field" or "[i]") for the duration of a nested parse;
 * leave() restores the previous path from the returned length. */
static size_t enter(struct ctx *c, const char *field, long index)
{
	size_t old = strlen(c->path);

	if (index >= 0)
		snprintf(c->path + old, sizeof(c->path) - old, "%s%s[%ld]",
			 old && field ? "." : "", field ? field : "", index);
	else
		snprintf(c->path + old, sizeof(c->path) - old, "%s%s", old ? "." : "", field);
	return old;
}

static void leave(struct ctx *c, size_t old)
{
	c->path[old] = '\0';
}

/* Every member of obj must be in allowed (NULL-terminated); members allowed
 * only from a later format version are named as such, so a manifest written
 * for a newer hotpatch is refused with a reason rather than misread. */
static int check_fields(const struct ctx *c, json_t *obj, const char *const *allowed,
			const char *const *format2)
{
	const char *key;
	json_t *val;
	size_t i;

	json_object_foreach(obj, key, val) {
		bool known = false;

		for (i = 0; allowed[i] && !known; i++)
			known = !strcmp(key, allowed[i]);
		for (i = 0; format2 && format2[i] && !known; i++) {
			if (strcmp(key, format2[i]))
				continue;
			if (c->format < 2)
				return fail(c, key, -HP_E_FORMAT, "field needs format 2 (this is format %d)",
					    c->format);
			known = true;
		}
		if (!known)
			return fail(c, key, -HP_E_FORMAT, "unknown field");
	}
	return 0;
}

static int get_string(const struct ctx *c, json_t *obj, const char *field, bool required, char **out)
{
	json_t *v = json_object_get(obj, field);
	const char *s;

	*out = NULL;
	if (!v)
		return required ? fail(c, field, -HP_E_FORMAT, "missing field") : 0;
	if (!json_is_string(v))
		return fail(c, field, -HP_E_FORMAT, "expected a string");
	s = json_string_value(v);
	if (json_string_length(v) != strlen(s))
		return fail(c, field, -HP_E_FORMAT, "string holds a NUL byte");
	if (!*s)
		return fail(c, field, -HP_E_FORMAT, "empty string");
	if (strlen(s) > MANIFEST_MAX_STRING)
		return fail(c, field, -HP_E_TOO_BIG, "string longer than %u bytes", MANIFEST_MAX_STRING);
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

/* A hex digest of exactly 64 digits (SHA-256). */
static int get_sha256(const struct ctx *c, json_t *obj, const char *field, bool required,
		      char out[65])
{
	char *s = NULL;
	int err = get_string(c, obj, field, required, &s);

	out[0] = '\0';
	if (err || !s)
		return err;
	if (!manifest_is_hex(s, 64))
		err = fail(c, field, -HP_E_FORMAT, "expected 64 lowercase hex digits (SHA-256)");
	else
		memcpy(out, s, 65);
	free(s);
	return err;
}

static int get_size(const struct ctx *c, json_t *obj, const char *field, uint64_t max,
		    uint64_t *out)
{
	json_t *v = json_object_get(obj, field);

	if (!v)
		return fail(c, field, -HP_E_FORMAT, "missing field");
	if (!json_is_integer(v))
		return fail(c, field, -HP_E_FORMAT, "expected an integer");
	if (json_integer_value(v) <= 0)
		return fail(c, field, -HP_E_FORMAT, "must be positive");
	if ((uint64_t)json_integer_value(v) > max)
		return fail(c, field, -HP_E_TOO_BIG, "%lld is beyond the limit %llu",
			    (long long)json_integer_value(v), (unsigned long long)max);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/* A non-empty array of at most MANIFEST_MAX_ITEMS. */
static int get_array(const struct ctx *c, json_t *obj, const char *field, json_t **out)
{
	json_t *v = json_object_get(obj, field);

	*out = NULL;
	if (!v)
		return fail(c, field, -HP_E_FORMAT, "missing field");
	if (!json_is_array(v))
		return fail(c, field, -HP_E_FORMAT, "expected an array");
	if (json_array_size(v) == 0)
		return fail(c, field, -HP_E_FORMAT, "empty array");
	if (json_array_size(v) > MANIFEST_MAX_ITEMS)
		return fail(c, field, -HP_E_TOO_BIG, "more than %u entries", MANIFEST_MAX_ITEMS);
	*out = v;
	return 0;
}

/* An array of distinct strings, each passing ok() if given. */
static int get_strings(struct ctx *c, json_t *obj, const char *field,
		       bool (*ok)(const char *), const char *what, char ***out, size_t *nr)
{
	json_t *arr, *v;
	size_t i, j, old;
	int err = get_array(c, obj, field, &arr);

	if (err)
		return err;
	*out = calloc(json_array_size(arr), sizeof(**out));
	if (!*out)
		return -ENOMEM;
	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);

		old = enter(c, field, (long)i);
		if (!json_is_string(v))
			err = fail(c, NULL, -HP_E_FORMAT, "expected a string");
		else if (!*s || strlen(s) != json_string_length(v))
			err = fail(c, NULL, -HP_E_FORMAT, "empty string or NUL byte");
		else if (strlen(s) > MANIFEST_MAX_STRING)
			err = fail(c, NULL, -HP_E_TOO_BIG, "longer than %u bytes", MANIFEST_MAX_STRING);
		else if (ok && !ok(s))
			err = fail(c, NULL, -HP_E_FORMAT, "'%s' is not %s", s, what);
		for (j = 0; !err && j < i; j++)
			if (!strcmp((*out)[j], s))
				err = fail(c, NULL, -HP_E_FORMAT, "'%s' appears twice", s);
		leave(c, old);
		if (err)
			return err;
		(*out)[i] = strdup(s);
		if (!(*out)[i])
			return -ENOMEM;
		*nr = i + 1;
	}
	return 0;
}

static bool is_symbol(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == '$'))
			return false;
	return true;
}

/* Component names and package ids end up in file names and messages. */
static bool is_name(const char *s)
{
	if (strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.'))
			return false;
	return true;
}

/* Install paths are relative to --root so a staged tree can be checked
 * exactly as the live system would be. */
static bool is_install_path(const char *s)
{
	return manifest_name_is_confined(s);
}

static int parse_func(struct ctx *c, json_t *obj, const char *expected, struct hp_manifest_func *f)
{
	static const char *const fields[] = { "name", "size", "fingerprint", NULL };
	int err;

	if (!json_is_object(obj))
		return fail(c, NULL, -HP_E_FORMAT, "expected an object");
	err = check_fields(c, obj, fields, NULL);
	if (!err)
		err = get_string(c, obj, "name", true, &f->name);
	if (!err && strcmp(f->name, expected))
		err = fail(c, "name", -HP_E_FORMAT, "'%s' where the component's functions list '%s'",
			   f->name, expected);
	if (!err)
		err = get_size(c, obj, "size", 1u << 20, &f->size);
	if (!err)
		err = get_sha256(c, obj, "fingerprint", true, f->fingerprint);
	return err;
}

static int parse_version(struct ctx *c, json_t *v, const struct hp_manifest_component *comp,
			 struct hp_manifest_version *ver)
{
	static const char *const fields[] = { "version", "build_id", "sha256", "functions", NULL };
	static const char *const format2[] = { "patched_sha256", NULL };
	json_t *arr, *f;
	size_t i, old;
	int err;

	if (c->kind == HP_MANIFEST_SOURCE) {
		if (!json_is_string(v) || !*json_string_value(v))
			return fail(c, NULL, -HP_E_FORMAT, "expected a version string");
		if (!is_name(json_string_value(v)))
			return fail(c, NULL, -HP_E_FORMAT, "'%s' is not a version", json_string_value(v));
		ver->version = strdup(json_string_value(v));
		return ver->version ? 0 : -ENOMEM;
	}
	if (!json_is_object(v))
		return fail(c, NULL, -HP_E_FORMAT, "expected an object");
	err = check_fields(c, v, fields, format2);
	if (!err)
		err = get_string(c, v, "version", true, &ver->version);
	if (!err && !is_name(ver->version))
		err = fail(c, "version", -HP_E_FORMAT, "'%s' is not a version", ver->version);
	if (!err)
		err = get_string(c, v, "build_id", true, &ver->build_id);
	if (!err && !manifest_is_hex(ver->build_id, 0))
		err = fail(c, "build_id", -HP_E_FORMAT, "expected an even number of hex digits (at most %u)",
			   2 * MANIFEST_MAX_BUILD_ID);
	if (!err)
		err = get_sha256(c, v, "sha256", true, ver->sha256);
	if (!err)
		err = get_sha256(c, v, "patched_sha256", false, ver->patched_sha256);
	if (!err)
		err = get_array(c, v, "functions", &arr);
	if (err)
		return err;
	if (json_array_size(arr) != comp->nr_functions)
		return fail(c, "functions", -HP_E_FORMAT, "%zu entries for the component's %zu functions",
			    json_array_size(arr), comp->nr_functions);
	ver->funcs = calloc(comp->nr_functions, sizeof(*ver->funcs));
	if (!ver->funcs)
		return -ENOMEM;
	json_array_foreach(arr, i, f) {
		old = enter(c, "functions", (long)i);
		err = parse_func(c, f, comp->functions[i], &ver->funcs[i]);
		leave(c, old);
		ver->nr_funcs = i + 1;
		if (err)
			return err;
	}
	return 0;
}

static int parse_payload(struct ctx *c, json_t *obj, struct hp_manifest_component *comp)
{
	static const char *const src_fields[] = { "file", NULL };
	static const char *const fields[] = { "file", "sha256", "size", NULL };
	json_t *p = json_object_get(obj, "payload");
	size_t old;
	int err;

	if (!p)
		return fail(c, "payload", -HP_E_FORMAT, "missing field");
	old = enter(c, "payload", -1);
	if (!json_is_object(p))
		err = fail(c, NULL, -HP_E_FORMAT, "expected an object");
	else
		err = check_fields(c, p, c->kind == HP_MANIFEST_SOURCE ? src_fields : fields, NULL);
	if (!err)
		err = get_string(c, p, "file", true, &comp->payload);
	if (!err && !manifest_name_is_confined(comp->payload))
		err = fail(c, "file", -HP_E_FORMAT,
			   "'%s' escapes the package directory (absolute, '.' or '..')", comp->payload);
	if (!err && c->kind == HP_MANIFEST_FINAL)
		err = get_sha256(c, p, "sha256", true, comp->payload_sha256);
	if (!err && c->kind == HP_MANIFEST_FINAL)
		err = get_size(c, p, "size", 64u << 20, &comp->payload_size);
	leave(c, old);
	return err;
}

/* A version a full build replaces: a version string in the source form,
 * pinned (version, build_id, sha256) in the final form. */
static int parse_replaced(struct ctx *c, json_t *v, struct hp_manifest_replaced *r)
{
	static const char *const fields[] = { "version", "build_id", "sha256", NULL };
	int err;

	if (c->kind == HP_MANIFEST_SOURCE) {
		if (!json_is_string(v) || !is_name(json_string_value(v)) || !*json_string_value(v))
			return fail(c, NULL, -HP_E_FORMAT, "expected a version string");
		r->version = strdup(json_string_value(v));
		return r->version ? 0 : -ENOMEM;
	}
	if (!json_is_object(v))
		return fail(c, NULL, -HP_E_FORMAT, "expected an object");
	err = check_fields(c, v, fields, NULL);
	if (!err)
		err = get_string(c, v, "version", true, &r->version);
	if (!err && !is_name(r->version))
		err = fail(c, "version", -HP_E_FORMAT, "'%s' is not a version", r->version);
	if (!err)
		err = get_string(c, v, "build_id", true, &r->build_id);
	if (!err && !manifest_is_hex(r->build_id, 0))
		err = fail(c, "build_id", -HP_E_FORMAT, "expected an even number of hex digits (at most %u)",
			   2 * MANIFEST_MAX_BUILD_ID);
	if (!err)
		err = get_sha256(c, v, "sha256", true, r->sha256);
	return err;
}

/* The container holding a full build: its file name, and in the final form
 * its size and SHA-256. */
static int parse_build_container(struct ctx *c, json_t *obj, struct hp_manifest_build *b)
{
	static const char *const fields[] = { "file", "sha256", "size", NULL };
	static const char *const source_fields[] = { "file", NULL };
	json_t *p = json_object_get(obj, "container");
	size_t old;
	int err;

	if (!p)
		return fail(c, "container", -HP_E_FORMAT, "missing field");
	if (!json_is_object(p))
		return fail(c, "container", -HP_E_FORMAT, "expected an object");
	old = enter(c, "container", -1);
	err = check_fields(c, p, c->kind == HP_MANIFEST_FINAL ? fields : source_fields, NULL);
	if (!err)
		err = get_string(c, p, "file", true, &b->file);
	if (!err && !manifest_name_is_confined(b->file))
		err = fail(c, "file", -HP_E_FORMAT, "'%s' escapes the package directory", b->file);
	if (!err && c->kind == HP_MANIFEST_FINAL)
		err = get_sha256(c, p, "sha256", true, b->file_sha256);
	if (!err && c->kind == HP_MANIFEST_FINAL)
		err = get_size(c, p, "size", 1u << 30, &b->file_size);
	leave(c, old);
	return err;
}

static int parse_build(struct ctx *c, json_t *obj, struct hp_manifest_build *b)
{
	static const char *const fields[] = { "version", "build_id", "sha256", "size", "container",
					      "replaces", NULL };
	static const char *const source_fields[] = { "version", "container", "replaces", NULL };
	json_t *arr, *v;
	size_t i, j, old;
	int err;

	if (!json_is_object(obj))
		return fail(c, NULL, -HP_E_FORMAT, "expected an object");
	err = check_fields(c, obj, c->kind == HP_MANIFEST_FINAL ? fields : source_fields, NULL);
	if (!err)
		err = get_string(c, obj, "version", true, &b->version);
	if (!err && !is_name(b->version))
		err = fail(c, "version", -HP_E_FORMAT, "'%s' is not a version", b->version);
	if (!err && c->kind == HP_MANIFEST_FINAL) {
		err = get_string(c, obj, "build_id", true, &b->build_id);
		if (!err && !manifest_is_hex(b->build_id, 0))
			err = fail(c, "build_id", -HP_E_FORMAT,
				   "expected an even number of hex digits (at most %u)",
				   2 * MANIFEST_MAX_BUILD_ID);
		if (!err)
			err = get_sha256(c, obj, "sha256", true, b->sha256);
		if (!err)
			err = get_size(c, obj, "size", 1u << 30, &b->size);
	}
	if (!err)
		err = parse_build_container(c, obj, b);
	if (!err)
		err = get_array(c, obj, "replaces", &arr);
	if (err)
		return err;
	b->replaces = calloc(json_array_size(arr), sizeof(*b->replaces));
	if (!b->replaces)
		return -ENOMEM;
	json_array_foreach(arr, i, v) {
		old = enter(c, "replaces", (long)i);
		err = parse_replaced(c, v, &b->replaces[i]);
		b->nr_replaces = i + 1;
		for (j = 0; !err && j < i; j++)
			if (!strcmp(b->replaces[j].version, b->replaces[i].version))
				err = fail(c, NULL, -HP_E_FORMAT, "version %s appears twice",
					   b->replaces[i].version);
		leave(c, old);
		if (err)
			return err;
	}
	return 0;
}

/* A version is either hotpatched or replaced, by at most one full build:
 * anything else would leave apply two ways to treat the same file. */
static int check_builds(struct ctx *c, const struct hp_manifest_component *comp)
{
	size_t i, j, k, l;

	for (i = 0; i < comp->nr_builds; i++) {
		const struct hp_manifest_build *b = &comp->builds[i];

		if (hp_manifest__find_version(comp, b->version))
			return fail(c, "full_builds", -HP_E_FORMAT,
				    "full build %s is also an eligible version", b->version);
		for (j = 0; j < b->nr_replaces; j++) {
			const char *v = b->replaces[j].version;

			if (hp_manifest__find_version(comp, v))
				return fail(c, "full_builds", -HP_E_FORMAT,
					    "version %s is eligible for the hotpatch and replaced by full build %s",
					    v, b->version);
			if (!strcmp(v, b->version))
				return fail(c, "full_builds", -HP_E_FORMAT,
					    "full build %s replaces itself", v);
			for (k = 0; k < i; k++)
				for (l = 0; l < comp->builds[k].nr_replaces; l++)
					if (!strcmp(comp->builds[k].replaces[l].version, v))
						return fail(c, "full_builds", -HP_E_FORMAT,
							    "version %s is replaced by two full builds (%s and %s)",
							    v, comp->builds[k].version, b->version);
		}
		for (k = 0; k < i; k++)
			if (!strcmp(comp->builds[k].file, b->file))
				return fail(c, "full_builds", -HP_E_FORMAT,
					    "two full builds share the container '%s'", b->file);
	}
	return 0;
}

static int parse_component(struct ctx *c, json_t *obj, struct hp_manifest_component *comp)
{
	static const char *const fields[] = { "name", "package_note", "paths", "functions",
					      "payload", "eligible", NULL };
	static const char *const format2[] = { "full_builds", NULL };
	json_t *arr, *v;
	size_t i, j, old;
	int err;

	if (!json_is_object(obj))
		return fail(c, NULL, -HP_E_FORMAT, "expected an object");
	err = check_fields(c, obj, fields, format2);
	if (!err)
		err = get_string(c, obj, "name", true, &comp->name);
	if (!err && !is_name(comp->name))
		err = fail(c, "name", -HP_E_FORMAT, "'%s' is not a component name", comp->name);
	if (!err)
		err = get_string(c, obj, "package_note", true, &comp->package_note);
	if (!err)
		err = get_strings(c, obj, "paths", is_install_path,
				  "a relative install path without '.' or '..'", &comp->paths, &comp->nr_paths);
	if (!err)
		err = get_strings(c, obj, "functions", is_symbol, "a symbol name", &comp->functions,
				  &comp->nr_functions);
	if (!err)
		err = parse_payload(c, obj, comp);
	if (!err)
		err = get_array(c, obj, "eligible", &arr);
	if (err)
		return err;
	comp->versions = calloc(json_array_size(arr), sizeof(*comp->versions));
	if (!comp->versions)
		return -ENOMEM;
	json_array_foreach(arr, i, v) {
		old = enter(c, "eligible", (long)i);
		err = parse_version(c, v, comp, &comp->versions[i]);
		comp->nr_versions = i + 1;
		for (j = 0; !err && j < i; j++)
			if (!strcmp(comp->versions[j].version, comp->versions[i].version))
				err = fail(c, NULL, -HP_E_FORMAT, "version %s appears twice",
					   comp->versions[i].version);
		leave(c, old);
		if (err)
			return err;
	}
	v = json_object_get(obj, "full_builds");
	if (!v)
		return 0;
	err = get_array(c, obj, "full_builds", &arr);
	if (err)
		return err;
	comp->builds = calloc(json_array_size(arr), sizeof(*comp->builds));
	if (!comp->builds)
		return -ENOMEM;
	json_array_foreach(arr, i, v) {
		old = enter(c, "full_builds", (long)i);
		err = parse_build(c, v, &comp->builds[i]);
		comp->nr_builds = i + 1;
		leave(c, old);
		if (err)
			return err;
	}
	return check_builds(c, comp);
}

static int parse_root(struct ctx *c, json_t *root, struct hp_manifest *m)
{
	static const char *const fields[] = { "format", "id", "title", "components", NULL };
	json_t *fmt, *arr, *v;
	size_t i, j, old;
	int err;

	if (!json_is_object(root))
		return fail(c, NULL, -HP_E_FORMAT, "the document is not a JSON object");
	/* The format version decides which fields exist, so it comes first. */
	fmt = json_object_get(root, "format");
	if (!fmt)
		return fail(c, "format", -HP_E_FORMAT, "missing field");
	if (!json_is_integer(fmt))
		return fail(c, "format", -HP_E_FORMAT, "expected an integer");
	if (json_integer_value(fmt) < HP_MANIFEST_FORMAT_MIN ||
	    json_integer_value(fmt) > HP_MANIFEST_FORMAT_MAX)
		return fail(c, "format", -HP_E_UNSUPPORTED,
			    "format %lld is not supported (this hotpatch reads %d to %d)",
			    (long long)json_integer_value(fmt), HP_MANIFEST_FORMAT_MIN,
			    HP_MANIFEST_FORMAT_MAX);
	c->format = m->format = (int)json_integer_value(fmt);
	err = check_fields(c, root, fields, NULL);
	if (!err)
		err = get_string(c, root, "id", true, &m->id);
	if (!err && !is_name(m->id))
		err = fail(c, "id", -HP_E_FORMAT, "'%s' is not a package id", m->id);
	if (!err)
		err = get_string(c, root, "title", true, &m->title);
	if (!err)
		err = get_array(c, root, "components", &arr);
	if (err)
		return err;
	if (json_array_size(arr) > MANIFEST_MAX_COMPONENTS)
		return fail(c, "components", -HP_E_TOO_BIG, "more than %u components",
			    MANIFEST_MAX_COMPONENTS);
	m->components = calloc(json_array_size(arr), sizeof(*m->components));
	if (!m->components)
		return -ENOMEM;
	json_array_foreach(arr, i, v) {
		old = enter(c, "components", (long)i);
		err = parse_component(c, v, &m->components[i]);
		m->nr_components = i + 1;
		for (j = 0; !err && j < i; j++)
			if (!strcmp(m->components[j].name, m->components[i].name))
				err = fail(c, "name", -HP_E_FORMAT, "component %s appears twice",
					   m->components[i].name);
		leave(c, old);
		if (err)
			return err;
	}
	return 0;
}

struct hp_manifest *hp_manifest__parse(const char *json, size_t len, const char *name,
				       enum hp_manifest_kind kind)
{
	struct ctx c = { .name = name ? name : "(manifest)", .kind = kind };
	struct hp_manifest *m = NULL;
	json_error_t jerr;
	json_t *root = NULL;
	int err;

	if (len > MANIFEST_MAX_BYTES) {
		err = fail(&c, NULL, -HP_E_TOO_BIG, "%zu bytes, more than the limit of %u", len,
			   MANIFEST_MAX_BYTES);
		goto out;
	}
	/* Duplicate keys would let two readers see two different manifests
	 * behind one signature; refuse them. */
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		err = fail(&c, NULL, -HP_E_FORMAT, "invalid JSON at line %d column %d: %s", jerr.line,
			   jerr.column, jerr.text);
		goto out;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		err = -ENOMEM;
		goto out;
	}
	m->kind = kind;
	err = parse_root(&c, root, m);
out:
	json_decref(root);
	if (err) {
		hp_manifest__free(m);
		errno = -err;
		return NULL;
	}
	return m;
}

struct hp_manifest *hp_manifest__load(const char *path, enum hp_manifest_kind kind)
{
	struct hp_manifest *m = NULL;
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		err = -errno;
		pr_warn("manifest: %s: %s", path, strerror(-err));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -HP_E_FORMAT;
		pr_warn("manifest: %s: not a regular file", path);
		goto out;
	}
	if (st.st_size > (off_t)MANIFEST_MAX_BYTES) {
		err = -HP_E_TOO_BIG;
		pr_warn("manifest: %s: %lld bytes, more than the limit of %u", path,
			(long long)st.st_size, MANIFEST_MAX_BYTES);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -HP_E_FORMAT;
			pr_warn("manifest: %s: read: %s", path, n < 0 ? strerror(errno) : "file shrank");
			goto out;
		}
		got += (size_t)n;
	}
	m = hp_manifest__parse(buf, got, path, kind);
	if (!m)
		err = -errno;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	if (err) {
		errno = -err;
		return NULL;
	}
	return m;
}

/* ---- writing ------------------------------------------------------------ */

/* json_object_set_new with a NULL check folded in: a NULL value (allocation
 * failure) marks the object as failed through *ok. */
static void put(json_t *obj, const char *key, json_t *val, bool *ok)
{
	if (!val || json_object_set_new(obj, key, val))
		*ok = false;
}

static json_t *string_array(char *const *v, size_t n, bool *ok)
{
	json_t *arr = json_array();
	size_t i;

	if (!arr) {
		*ok = false;
		return NULL;
	}
	for (i = 0; i < n; i++)
		if (json_array_append_new(arr, json_string(v[i])))
			*ok = false;
	return arr;
}

static json_t *dump_version(const struct hp_manifest *m, const struct hp_manifest_version *v,
			    bool *ok)
{
	json_t *obj, *funcs;
	size_t i;

	if (m->kind == HP_MANIFEST_SOURCE)
		return json_string(v->version);
	obj = json_object();
	funcs = json_array();
	if (!obj || !funcs) {
		json_decref(obj);
		json_decref(funcs);
		*ok = false;
		return NULL;
	}
	put(obj, "version", json_string(v->version), ok);
	put(obj, "build_id", json_string(v->build_id ? v->build_id : ""), ok);
	put(obj, "sha256", json_string(v->sha256), ok);
	if (m->format >= 2 && v->patched_sha256[0])
		put(obj, "patched_sha256", json_string(v->patched_sha256), ok);
	for (i = 0; i < v->nr_funcs; i++) {
		json_t *f = json_object();

		if (!f || json_array_append_new(funcs, f)) {
			*ok = false;
			continue;
		}
		put(f, "name", json_string(v->funcs[i].name), ok);
		put(f, "size", json_integer((json_int_t)v->funcs[i].size), ok);
		put(f, "fingerprint", json_string(v->funcs[i].fingerprint), ok);
	}
	put(obj, "functions", funcs, ok);
	return obj;
}

static json_t *dump_build(const struct hp_manifest *m, const struct hp_manifest_build *b, bool *ok)
{
	json_t *obj = json_object(), *cont = json_object(), *reps = json_array();
	bool final = m->kind == HP_MANIFEST_FINAL;
	size_t i;

	if (!obj || !cont || !reps) {
		json_decref(obj);
		json_decref(cont);
		json_decref(reps);
		*ok = false;
		return NULL;
	}
	put(obj, "version", json_string(b->version), ok);
	if (final) {
		put(obj, "build_id", json_string(b->build_id ? b->build_id : ""), ok);
		put(obj, "sha256", json_string(b->sha256), ok);
		put(obj, "size", json_integer((json_int_t)b->size), ok);
	}
	put(cont, "file", json_string(b->file), ok);
	if (final) {
		put(cont, "sha256", json_string(b->file_sha256), ok);
		put(cont, "size", json_integer((json_int_t)b->file_size), ok);
	}
	put(obj, "container", cont, ok);
	for (i = 0; i < b->nr_replaces; i++) {
		const struct hp_manifest_replaced *r = &b->replaces[i];
		json_t *ro;

		if (!final) {
			if (json_array_append_new(reps, json_string(r->version)))
				*ok = false;
			continue;
		}
		ro = json_object();
		if (!ro || json_array_append_new(reps, ro)) {
			*ok = false;
			continue;
		}
		put(ro, "version", json_string(r->version), ok);
		put(ro, "build_id", json_string(r->build_id ? r->build_id : ""), ok);
		put(ro, "sha256", json_string(r->sha256), ok);
	}
	put(obj, "replaces", reps, ok);
	return obj;
}

static json_t *dump_component(const struct hp_manifest *m, const struct hp_manifest_component *c,
			      bool *ok)
{
	json_t *obj = json_object(), *payload = json_object(), *vers = json_array();
	size_t i;

	if (!obj || !payload || !vers) {
		json_decref(obj);
		json_decref(payload);
		json_decref(vers);
		*ok = false;
		return NULL;
	}
	put(obj, "name", json_string(c->name), ok);
	put(obj, "package_note", json_string(c->package_note), ok);
	put(obj, "paths", string_array(c->paths, c->nr_paths, ok), ok);
	put(obj, "functions", string_array(c->functions, c->nr_functions, ok), ok);
	put(payload, "file", json_string(c->payload), ok);
	if (m->kind == HP_MANIFEST_FINAL) {
		put(payload, "sha256", json_string(c->payload_sha256), ok);
		put(payload, "size", json_integer((json_int_t)c->payload_size), ok);
	}
	put(obj, "payload", payload, ok);
	for (i = 0; i < c->nr_versions; i++)
		if (json_array_append_new(vers, dump_version(m, &c->versions[i], ok)))
			*ok = false;
	put(obj, "eligible", vers, ok);
	if (m->format >= 2 && c->nr_builds) {
		json_t *builds = json_array();

		for (i = 0; builds && i < c->nr_builds; i++)
			if (json_array_append_new(builds, dump_build(m, &c->builds[i], ok)))
				*ok = false;
		put(obj, "full_builds", builds, ok);
	}
	return obj;
}

char *hp_manifest__dump(const struct hp_manifest *m)
{
	json_t *root = json_object(), *comps = json_array();
	char *text = NULL, *out = NULL;
	bool ok = root && comps;
	size_t i;

	if (!ok) {
		json_decref(comps);
		goto out;
	}
	put(root, "format", json_integer(m->format), &ok);
	put(root, "id", json_string(m->id), &ok);
	put(root, "title", json_string(m->title), &ok);
	for (i = 0; i < m->nr_components; i++)
		if (json_array_append_new(comps, dump_component(m, &m->components[i], &ok)))
			ok = false;
	put(root, "components", comps, &ok);
	if (!ok)
		goto out;
	/* Insertion order is the documented field order; jansson keeps it. */
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
	if (text && asprintf(&out, "%s\n", text) < 0)
		out = NULL;
out:
	free(text);
	json_decref(root);
	if (!out)
		errno = ENOMEM;
	return out;
}

int hp_manifest__write(const struct hp_manifest *m, const char *path)
{
	char *text;
	int err;

	text = hp_manifest__dump(m);
	if (!text)
		return -ENOMEM;
	err = atomic_file_put(path, 0644, ATOMIC_QUIET, text, strlen(text));
	if (err)
		pr_warn("manifest: %s: cannot write: %s", path, hp_strerror(err));
	free(text);
	return err;
}

static void free_strings(char **v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

void hp_manifest__free(struct hp_manifest *m)
{
	size_t i, j, k;

	if (!m)
		return;
	for (i = 0; i < m->nr_components; i++) {
		struct hp_manifest_component *c = &m->components[i];

		free(c->name);
		free(c->package_note);
		free_strings(c->paths, c->nr_paths);
		free_strings(c->functions, c->nr_functions);
		free(c->payload);
		for (j = 0; j < c->nr_versions; j++) {
			struct hp_manifest_version *v = &c->versions[j];

			free(v->version);
			free(v->build_id);
			for (k = 0; k < v->nr_funcs; k++)
				free(v->funcs[k].name);
			free(v->funcs);
		}
		free(c->versions);
		for (j = 0; j < c->nr_builds; j++) {
			struct hp_manifest_build *b = &c->builds[j];

			free(b->version);
			free(b->build_id);
			free(b->file);
			for (k = 0; k < b->nr_replaces; k++) {
				free(b->replaces[k].version);
				free(b->replaces[k].build_id);
			}
			free(b->replaces);
		}
		free(c->builds);
	}
	free(m->components);
	free(m->id);
	free(m->title);
	free(m);
}

const struct hp_manifest_component *hp_manifest__find_component(const struct hp_manifest *m,
								const char *name)
{
	size_t i;

	for (i = 0; m && name && i < m->nr_components; i++)
		if (!strcmp(m->components[i].name, name))
			return &m->components[i];
	return NULL;
}

const struct hp_manifest_version *hp_manifest__find_version(const struct hp_manifest_component *c,
							    const char *version)
{
	size_t i;

	for (i = 0; c && version && i < c->nr_versions; i++)
		if (!strcmp(c->versions[i].version, version))
			return &c->versions[i];
	return NULL;
}

const struct hp_manifest_build *hp_manifest__find_build(const struct hp_manifest_component *c,
							const char *version,
							const struct hp_manifest_replaced **r)
{
	size_t i, j;

	if (r)
		*r = NULL;
	for (i = 0; c && version && i < c->nr_builds; i++)
		for (j = 0; j < c->builds[i].nr_replaces; j++)
			if (!strcmp(c->builds[i].replaces[j].version, version)) {
				if (r)
					*r = &c->builds[i].replaces[j];
				return &c->builds[i];
			}
	return NULL;
}

const struct hp_manifest_build *hp_manifest__find_build_sha256(const struct hp_manifest_component *c,
							       const char *sha256)
{
	size_t i;

	for (i = 0; c && sha256 && i < c->nr_builds; i++)
		if (!strcmp(c->builds[i].sha256, sha256))
			return &c->builds[i];
	return NULL;
}
