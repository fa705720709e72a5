/* Strict parser for the two signing config files. A setting that decides
 * whether traffic is signed must never fall back to a default because of a
 * typo, so anything but the two keys, each exactly once, with 0 or 1, is
 * rejected with the file, the line and the cause. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smb_config.h"

static const char *const keys[] = { "EnableSecuritySignature", "RequireSecuritySignature" };

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Trim blanks on both sides of s[0..*n), returning the new start. */
static const char *trim(const char *s, size_t *n)
{
	while (*n && is_blank(*s)) {
		s++;
		(*n)--;
	}
	while (*n && is_blank(s[*n - 1]))
		(*n)--;
	return s;
}

int cfg_parse(const char *name, const char *text, size_t len, struct signing_config *out,
	      char *err, size_t errlen)
{
	int value[2] = { -1, -1 }, seen_line[2] = { 0, 0 };
	size_t pos = 0, i;
	int lineno = 0;

	if (len > CFG_MAX_SIZE)
		return fail(err, errlen, CFG_E_TOO_BIG, "%s: file is larger than %d bytes", name,
			    CFG_MAX_SIZE);
	while (pos < len) {
		const char *line = text + pos, *eol = memchr(line, '\n', len - pos);
		size_t n = eol ? (size_t)(eol - line) : len - pos, kn, vn;
		const char *eq, *k, *v;
		int key = -1;

		pos += n + (eol ? 1 : 0);
		lineno++;
		if (n > CFG_MAX_LINE)
			return fail(err, errlen, CFG_E_LONG_LINE, "%s:%d: line longer than %d bytes",
				    name, lineno, CFG_MAX_LINE);
		for (i = 0; i < n; i++)
			if ((unsigned char)line[i] < 0x20 && line[i] != '\t' && line[i] != '\r')
				return fail(err, errlen, CFG_E_BINARY,
					    "%s:%d: control character 0x%02x in a text file", name,
					    lineno, (unsigned char)line[i]);
		line = trim(line, &n);
		if (n == 0 || line[0] == '#' || line[0] == ';')
			continue;
		eq = memchr(line, '=', n);
		if (!eq)
			return fail(err, errlen, CFG_E_SYNTAX, "%s:%d: expected 'Key = Value', got '%.*s'",
				    name, lineno, (int)n, line);
		kn = (size_t)(eq - line);
		k = trim(line, &kn);
		vn = n - (size_t)(eq - line) - 1;
		v = trim(eq + 1, &vn);
		if (kn == 0)
			return fail(err, errlen, CFG_E_SYNTAX, "%s:%d: missing key before '='", name,
				    lineno);
		for (i = 0; i < 2; i++)
			if (strlen(keys[i]) == kn && memcmp(keys[i], k, kn) == 0)
				key = (int)i;
		if (key < 0)
			return fail(err, errlen, CFG_E_KEY,
				    "%s:%d: unknown key '%.*s' (expected EnableSecuritySignature or RequireSecuritySignature)",
				    name, lineno, (int)kn, k);
		if (seen_line[key])
			return fail(err, errlen, CFG_E_DUPLICATE,
				    "%s:%d: %s given again (first on line %d)", name, lineno,
				    keys[key], seen_line[key]);
		if (vn != 1 || (v[0] != '0' && v[0] != '1'))
			return fail(err, errlen, CFG_E_VALUE, "%s:%d: %s: value '%.*s' is not 0 or 1",
				    name, lineno, keys[key], (int)vn, v);
		value[key] = v[0] - '0';
		seen_line[key] = lineno;
	}
	for (i = 0; i < 2; i++)
		if (value[i] < 0)
			return fail(err, errlen, CFG_E_MISSING, "%s: missing key %s", name, keys[i]);
	out->enable = value[0];
	out->require = value[1];
	return CFG_OK;
}

int cfg_load(const char *path, struct signing_config *out, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(err, errlen, CFG_E_OPEN, "%s: cannot open: %s", path, strerror(errno));
	buf = malloc(CFG_MAX_SIZE + 1);
	if (!buf) {
		ret = fail(err, errlen, CFG_E_OPEN, "%s: out of memory", path);
		goto out;
	}
	/* One byte more than allowed, so an oversized file is seen as such. */
	while (len <= CFG_MAX_SIZE) {
		n = read(fd, buf + len, CFG_MAX_SIZE + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = fail(err, errlen, CFG_E_OPEN, "%s: cannot read: %s", path,
				   strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	ret = cfg_parse(path, buf, len, out, err, errlen);
out:
	free(buf);
	close(fd);
	return ret;
}

enum signing_setting cfg_setting(const struct signing_config *cfg)
{
	if (cfg->require)
		return SIGNING_REQUIRED;
	return cfg->enable ? SIGNING_ENABLED : SIGNING_DISABLED;
}

const char *cfg_setting_name(enum signing_setting s)
{
	switch (s) {
	case SIGNING_DISABLED: return "disabled";
	case SIGNING_ENABLED: return "enabled";
	case SIGNING_REQUIRED: return "required";
	}
	return "?";
}
