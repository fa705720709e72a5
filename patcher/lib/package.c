/* The package: the first stage of the pipeline. A package directory holds
 * manifest.json, its minisign signature and the payload containers. Opening
 * it checks everything a later stage relies on, in the order that keeps
 * untrusted bytes away from the parsers: the manifest is read once and its
 * signature checked on exactly those bytes before the JSON parser sees them;
 * each payload file is opened strictly inside the package directory, its
 * size and SHA-256 compared with the (now trusted) manifest before the
 * container is decompressed, and the object it holds is parsed by the
 * linker. Nothing here writes anything.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hotpatch.h"
#include "internal.h"
#include "link.h"
#include "manifest.h"

/* Open name below the directory dirfd, refusing anything that resolves
 * outside it: ".." and absolute names are refused by the manifest parser
 * already, and RESOLVE_BENEATH also refuses a symlink (at any depth) whose
 * target leaves the directory. Kernels before 5.6 lack openat2; there the
 * resolved path must still start with the directory's. */
static int open_beneath(int dirfd, const char *dir, const char *name)
{
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	char *real = NULL, *full = NULL, realdir[PATH_MAX];
	size_t n;
	int fd;

	fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
	if (fd >= 0 || errno != ENOSYS)
		return fd < 0 ? -errno : fd;
	if (!realpath(dir, realdir) || asprintf(&full, "%s/%s", dir, name) < 0)
		return -errno;
	real = realpath(full, NULL);
	free(full);
	if (!real)
		return -errno;
	n = strlen(realdir);
	if (strncmp(real, realdir, n) || real[n] != '/') {
		free(real);
		return -EXDEV;
	}
	fd = open(real, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	free(real);
	return fd < 0 ? -errno : fd;
}

/* Read exactly size bytes of fd (a regular file that must hold exactly that
 * many) into a new buffer; any other size is a mismatch with the manifest,
 * found before anything is read. */
static int read_pinned(int fd, const char *path, uint64_t size, void **out)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t got = 0;
	ssize_t n;
	int err = 0;

	*out = NULL;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		pr_warn("package: %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -HP_E_FORMAT;
		pr_warn("package: %s: not a regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size != size) {
		err = -HP_E_MISMATCH;
		pr_warn("package: %s: %lld bytes, the manifest says %llu (%s)", path,
			(long long)st.st_size, (unsigned long long)size,
			(uint64_t)st.st_size < size ? "truncated" : "oversized");
		goto out;
	}
	buf = malloc(size ? size : 1);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	while (got < size) {
		n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -HP_E_MISMATCH;
			pr_warn("package: %s: read: %s", path, n < 0 ? strerror(errno) : "file shrank");
			goto out;
		}
		got += (size_t)n;
	}
	*out = buf;
	buf = NULL;
out:
	free(buf);
	return err;
}

static int open_payload(struct hp_package *pkg, int dirfd, const struct hp_manifest_component *c,
			const struct hp_package_opts *opts, struct hp_package_payload *p)
{
	char sha[65];
	void *raw = NULL;
	int fd = -1, err;

	p->component = c;
	if (asprintf(&p->path, "%s/%s", pkg->dir, c->payload) < 0) {
		p->path = NULL;
		return -ENOMEM;
	}
	fd = open_beneath(dirfd, pkg->dir, c->payload);
	if (fd < 0) {
		err = fd;
		if (err == -EXDEV || err == -ELOOP) {
			pr_warn("package: %s: component %s: payload '%s' resolves outside the package directory",
				pkg->manifest_path, c->name, c->payload);
			err = -HP_E_FORMAT;
		} else {
			pr_warn("package: %s: component %s: %s", p->path, c->name, strerror(-err));
		}
		goto out;
	}
	err = read_pinned(fd, p->path, c->payload_size, &raw);
	if (err)
		goto out;
	err = hp_sha256_buf(raw, c->payload_size, sha);
	if (err)
		goto out;
	if (strcmp(sha, c->payload_sha256)) {
		err = -HP_E_MISMATCH;
		pr_warn("package: %s: SHA-256 %s, the manifest says %s", p->path, sha,
			c->payload_sha256);
		goto out;
	}
	err = hp_container__unpack(raw, c->payload_size, opts ? opts->max_payload_size : 0,
				   &p->object, &p->object_size);
	if (err) {
		pr_warn("package: %s: component %s: the payload container is refused (%s)", p->path,
			c->name, hp_strerror(err));
		goto out;
	}
	err = link_object_open(p->object, p->object_size, p->path, &p->link);
	if (err)
		pr_warn("package: %s: component %s: the payload object is refused (%s)", p->path,
			c->name, hp_strerror(err));
out:
	if (fd >= 0)
		close(fd);
	free(raw);
	return err;
}

/* The container of full build b, opened inside the package directory, or
 * a negative error after a message. */
static int open_build(const struct hp_package *pkg, int dirfd, const struct hp_manifest_build *b)
{
	int fd = open_beneath(dirfd, pkg->dir, b->file);

	if (fd >= 0)
		return fd;
	pr_warn("package: %s: full build '%s': %s", pkg->manifest_path, b->file,
		fd == -EXDEV || fd == -ELOOP ? "resolves outside the package directory" :
		strerror(-fd));
	return fd == -EXDEV || fd == -ELOOP ? -HP_E_FORMAT : fd;
}

/* Format 2: a full fixed build's container is checked at open like a
 * payload's (inside the directory, size and SHA-256), but hashed from the
 * file rather than read whole: it may be large, and only apply needs its
 * bytes (hp_package__read_build checks them again as it reads them). */
static int check_build(const struct hp_package *pkg, int dirfd, const struct hp_manifest_build *b)
{
	char sha[65];
	struct stat st;
	int fd, err;

	fd = open_build(pkg, dirfd, b);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != b->file_size) {
		err = -HP_E_MISMATCH;
		pr_warn("package: %s/%s: not a regular file of %llu bytes, as the manifest says",
			pkg->dir, b->file, (unsigned long long)b->file_size);
		goto out;
	}
	err = hp_sha256_fd(fd, sha);
	if (!err && strcmp(sha, b->file_sha256)) {
		err = -HP_E_MISMATCH;
		pr_warn("package: %s/%s: SHA-256 %s, the manifest says %s", pkg->dir, b->file, sha,
			b->file_sha256);
	}
out:
	close(fd);
	return err;
}

int hp_package__read_build(const struct hp_package *pkg, const struct hp_manifest_build *b,
			   void **out, size_t *out_len)
{
	char *path = NULL, sha[65];
	void *raw = NULL, *bytes = NULL;
	size_t len = 0;
	int dirfd = -1, fd = -1, err;

	*out = NULL;
	*out_len = 0;
	if (asprintf(&path, "%s/%s", pkg->dir, b->file) < 0) {
		path = NULL;
		err = -ENOMEM;
		goto out;
	}
	dirfd = open(pkg->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		err = -errno;
		pr_warn("package: %s: %s", pkg->dir, strerror(errno));
		goto out;
	}
	fd = open_build(pkg, dirfd, b);
	if (fd < 0) {
		err = fd;
		goto out;
	}
	/* The bytes hashed are the bytes unpacked. */
	err = read_pinned(fd, path, b->file_size, &raw);
	if (!err)
		err = hp_sha256_buf(raw, b->file_size, sha);
	if (err)
		goto out;
	if (strcmp(sha, b->file_sha256)) {
		err = -HP_E_MISMATCH;
		pr_warn("package: %s: SHA-256 %s, the manifest says %s", path, sha, b->file_sha256);
		goto out;
	}
	err = hp_container__unpack(raw, b->file_size, b->size, &bytes, &len);
	if (err) {
		pr_warn("package: %s: full build %s: the container is refused (%s)", path, b->version,
			hp_strerror(err));
		goto out;
	}
	err = hp_sha256_buf(bytes, len, sha);
	if (!err && (len != b->size || strcmp(sha, b->sha256))) {
		err = -HP_E_MISMATCH;
		pr_warn("package: %s: full build %s unpacks to %zu bytes with SHA-256 %s; the manifest says %llu bytes, %s",
			path, b->version, len, sha, (unsigned long long)b->size, b->sha256);
	}
	if (err)
		goto out;
	*out = bytes;
	*out_len = len;
	bytes = NULL;
out:
	if (fd >= 0)
		close(fd);
	if (dirfd >= 0)
		close(dirfd);
	free(bytes);
	free(raw);
	free(path);
	return err;
}

/* Read the manifest once, bounded; the same bytes are verified and parsed. */
static int read_manifest(const char *path, void **out, size_t *len)
{
	struct stat st;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		err = -errno;
		pr_warn("package: %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return err;
	}
	if (S_ISREG(st.st_mode) && st.st_size > (off_t)MANIFEST_MAX_BYTES) {
		pr_warn("package: %s: %lld bytes, more than the manifest limit of %u", path,
			(long long)st.st_size, MANIFEST_MAX_BYTES);
		close(fd);
		return -HP_E_TOO_BIG;
	}
	err = read_pinned(fd, path, (uint64_t)st.st_size, out);
	close(fd);
	*len = (size_t)st.st_size;
	return err;
}

static int check_signature(struct hp_package *pkg, const void *data, size_t len,
			   const struct hp_package_opts *opts)
{
	struct hp_keyring *keys = NULL;
	struct hp_sig_info *info = NULL;
	char *sigfile = NULL;
	int err;

	if (opts && opts->skip_signature) {
		pr_warn("package: %s: WARNING: signature NOT verified (--insecure-skip-signature); "
			"anyone could have written this package", pkg->manifest_path);
		return 0;
	}
	if (asprintf(&sigfile, "%s.minisig", pkg->manifest_path) < 0) {
		sigfile = NULL;
		err = -ENOMEM;
		goto out;
	}
	keys = hp_keyring__load_trusted(opts ? opts->trusted_dir : NULL,
					opts ? opts->trusted_keys : NULL,
					opts ? opts->nr_trusted_keys : 0);
	if (!keys) {
		err = -errno;
		goto out;
	}
	info = calloc(1, sizeof(*info));
	if (!info) {
		err = -ENOMEM;
		goto out;
	}
	err = hp_sig__verify_buf(data, len, pkg->manifest_path, sigfile, keys, info);
	if (err)
		goto out;
	pkg->signature_checked = 1;
	snprintf(pkg->key_id, sizeof(pkg->key_id), "%s", info->key_id);
	pr_info("package: %s: signed by trusted key %s", pkg->manifest_path, pkg->key_id);
out:
	free(info);
	free(sigfile);
	hp_keyring__free(keys);
	return err;
}

struct hp_package *hp_package__open(const char *manifest_path, const struct hp_package_opts *opts)
{
	struct hp_package *pkg = NULL;
	void *data = NULL;
	size_t len = 0, i, j;
	char *slash;
	int dirfd = -1, err;

	pkg = calloc(1, sizeof(*pkg));
	if (!pkg || !(pkg->manifest_path = strdup(manifest_path)) ||
	    !(pkg->dir = strdup(manifest_path))) {
		err = -ENOMEM;
		goto out;
	}
	slash = strrchr(pkg->dir, '/');
	if (!slash)
		strcpy(pkg->dir, ".");
	else if (slash == pkg->dir)
		slash[1] = '\0';
	else
		*slash = '\0';

	err = read_manifest(manifest_path, &data, &len);
	if (err)
		goto out;
	err = check_signature(pkg, data, len, opts);
	if (err)
		goto out;
	pkg->manifest = hp_manifest__parse(data, len, manifest_path, HP_MANIFEST_FINAL);
	if (!pkg->manifest) {
		err = -errno;
		goto out;
	}

	dirfd = open(pkg->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		err = -errno;
		pr_warn("package: %s: %s", pkg->dir, strerror(errno));
		goto out;
	}
	pkg->payloads = calloc(pkg->manifest->nr_components, sizeof(*pkg->payloads));
	if (!pkg->payloads) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < pkg->manifest->nr_components; i++) {
		pkg->nr_payloads = i + 1;
		err = open_payload(pkg, dirfd, &pkg->manifest->components[i], opts,
				   &pkg->payloads[i]);
		if (err)
			goto out;
		for (j = 0; j < pkg->manifest->components[i].nr_builds; j++) {
			err = check_build(pkg, dirfd, &pkg->manifest->components[i].builds[j]);
			if (err)
				goto out;
		}
	}
out:
	if (dirfd >= 0)
		close(dirfd);
	free(data);
	if (err) {
		hp_package__close(pkg);
		errno = -err;
		return NULL;
	}
	return pkg;
}

void hp_package__close(struct hp_package *pkg)
{
	size_t i;

	if (!pkg)
		return;
	for (i = 0; i < pkg->nr_payloads; i++) {
		link_object_free(pkg->payloads[i].link);
		free(pkg->payloads[i].object);
		free(pkg->payloads[i].path);
	}
	free(pkg->payloads);
	hp_manifest__free(pkg->manifest);
	free(pkg->manifest_path);
	free(pkg->dir);
	free(pkg);
}

const struct hp_package_payload *hp_package__find_payload(const struct hp_package *pkg,
							  const char *component)
{
	size_t i;

	for (i = 0; pkg && component && i < pkg->nr_payloads; i++)
		if (!strcmp(pkg->payloads[i].component->name, component))
			return &pkg->payloads[i];
	return NULL;
}
