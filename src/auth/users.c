/* users: the user database files DATA_DIR/users and DATA_DIR/apop (see
 * users.h), password hashing with yescrypt and constant-time verification.
 * The files are small and rewritten whole, atomically, on every change. */
#include "users.h"

#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/evp.h>

#include "../lib/fs.h"

/* Far above any real user list; a bound so a wrong path cannot eat memory. */
#define USERS_FILE_MAX (64u << 20)
#define USERS_PASSWORD_MAX 1024
#define USERS_SECRET_MAX 256
#define USERS_NAME_MAX 64

int users_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > USERS_NAME_MAX || name[0] == '.' || name[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!(islower(c) || isdigit(c) || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static void user_clear(struct user *u)
{
	free(u->name);
	free(u->hash);
	if (u->apop_secret) {
		explicit_bzero(u->apop_secret, strlen(u->apop_secret));
		free(u->apop_secret);
	}
	memset(u, 0, sizeof *u);
}

void users_free(struct users *db)
{
	for (size_t i = 0; i < db->count; i++)
		user_clear(&db->items[i]);
	free(db->items);
	db->items = NULL;
	db->count = 0;
}

static int user_cmp(const void *a, const void *b)
{
	return strcmp(((const struct user *)a)->name,
	              ((const struct user *)b)->name);
}

const struct user *users_find(const struct users *db, const char *name)
{
	char lower[USERS_NAME_MAX + 1];
	size_t n = strlen(name);
	if (n == 0 || n > USERS_NAME_MAX || !db->count)
		return NULL;
	for (size_t i = 0; i <= n; i++)
		lower[i] = (char)tolower((unsigned char)name[i]);
	struct user key = {.name = lower};
	return bsearch(&key, db->items, db->count, sizeof *db->items, user_cmp);
}

/* Yescrypt and the other crypt(3) schemes use only these characters; "!"
 * and "*" mark a locked account (never matches). */
static int hash_valid(const char *h)
{
	if (h[0] != '$' && h[0] != '!' && h[0] != '*')
		return 0;
	for (const char *p = h; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("./$!*", *p))
			return 0;
	return 1;
}

/* Printable ASCII without ':' (the field separator). */
static int secret_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > USERS_SECRET_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e || s[i] == ':')
			return 0;
	return 1;
}

static int parse_quota(const char *s, unsigned long long *out)
{
	unsigned long long v = 0;
	if (!*s || strlen(s) > 19)
		return -1;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		v = v * 10 + (unsigned long long)(*s - '0');
	}
	*out = v;
	return 0;
}

/* Iterates over the lines of text: the next line (without its LF or CRLF)
 * goes to *line as a NUL-terminated copy in lb. Returns 1 for a line, 0 at
 * the end, -1 for a NUL byte or no memory. */
static int next_line(const char *text, size_t len, size_t *pos, struct buf *lb)
{
	if (*pos >= len)
		return 0;
	const char *start = text + *pos;
	const char *nl = memchr(start, '\n', len - *pos);
	size_t n = nl ? (size_t)(nl - start) : len - *pos;
	*pos += n + (nl ? 1 : 0);
	if (n && start[n - 1] == '\r')
		n--;
	if (memchr(start, '\0', n))
		return -1;
	buf_reset(lb);
	if (buf_append(lb, start, n) < 0 || !buf_cstr(lb))
		return -1;
	return 1;
}

static int is_blank_or_comment(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return *s == '\0' || *s == '#';
}

static int users_append(struct users *db, const char *name, const char *hash,
                        unsigned long long quota)
{
	struct user *items = realloc(db->items, (db->count + 1) * sizeof *items);
	if (!items)
		return -1;
	db->items = items;
	struct user *u = &items[db->count];
	memset(u, 0, sizeof *u);
	u->name = strdup(name);
	u->hash = strdup(hash);
	u->quota = quota;
	db->count++;
	return u->name && u->hash ? 0 : -1;
}

/* One "name:hash[:quota]" line; the reason for a bad one goes to *why. */
static int parse_user_line(struct users *db, char *line, const char **why)
{
	char *name = line, *hash = strchr(line, ':'), *quota_s = NULL;
	unsigned long long quota = 0;
	if (!hash) {
		*why = "expected name:hash[:quota]";
		return -1;
	}
	*hash++ = '\0';
	quota_s = strchr(hash, ':');
	if (quota_s)
		*quota_s++ = '\0';
	if (!users_name_valid(name))
		*why = "invalid user name (lowercase a-z 0-9 . _ -, 1-64 bytes)";
	else if (!hash_valid(hash))
		*why = "invalid password hash (expected a crypt(3) hash such as $y$...)";
	else if (quota_s && parse_quota(quota_s, &quota) < 0)
		*why = "invalid quota (expected a number of bytes)";
	else if (users_append(db, name, hash, quota) < 0)
		*why = "out of memory";
	else
		return 0;
	return -1;
}

/* Sorts and rejects duplicates (reported with the later line number). */
static int check_duplicates(struct users *db, const char *path, struct buf *err)
{
	if (db->count > 1)
		qsort(db->items, db->count, sizeof *db->items, user_cmp);
	for (size_t i = 1; i < db->count; i++) {
		if (strcmp(db->items[i - 1].name, db->items[i].name) == 0) {
			buf_printf(err, "%s: duplicate user \"%s\"", path,
			           db->items[i].name);
			return -1;
		}
	}
	return 0;
}

static int parse_users(const char *path, const char *text, size_t len,
                       struct users *db, struct buf *err)
{
	struct buf lb = BUF_INIT;
	size_t pos = 0;
	int lineno = 0, r, rc = 0;
	while ((r = next_line(text, len, &pos, &lb)) > 0) {
		lineno++;
		char *line = buf_cstr(&lb);
		const char *why = NULL;
		if (is_blank_or_comment(line))
			continue;
		if (parse_user_line(db, line, &why) < 0) {
			buf_printf(err, "%s:%d: %s", path, lineno, why);
			rc = -1;
			break;
		}
	}
	if (r < 0) {
		buf_printf(err, "%s:%d: NUL byte in line or out of memory", path,
		           lineno + 1);
		rc = -1;
	}
	buf_free(&lb);
	if (rc == 0)
		rc = check_duplicates(db, path, err);
	return rc;
}

/* One "name:secret" line of the apop file, for a user that exists. */
static int parse_apop_line(struct users *db, char *line, const char **why)
{
	char *secret = strchr(line, ':');
	if (!secret) {
		*why = "expected name:secret";
		return -1;
	}
	*secret++ = '\0';
	struct user *u = (struct user *)users_find(db, line);
	if (!users_name_valid(line))
		*why = "invalid user name";
	else if (!u)
		*why = "APOP secret for an unknown user";
	else if (u->apop_secret)
		*why = "duplicate APOP secret";
	else if (!secret_valid(secret))
		*why = "invalid secret (1-256 printable ASCII characters, no ':')";
	else if (!(u->apop_secret = strdup(secret)))
		*why = "out of memory";
	else
		return 0;
	return -1;
}

static int parse_apop(const char *path, const char *text, size_t len,
                      struct users *db, struct buf *err)
{
	struct buf lb = BUF_INIT;
	size_t pos = 0;
	int lineno = 0, r, rc = 0;
	while ((r = next_line(text, len, &pos, &lb)) > 0) {
		lineno++;
		char *line = buf_cstr(&lb);
		const char *why = NULL;
		if (is_blank_or_comment(line))
			continue;
		if (parse_apop_line(db, line, &why) < 0) {
			buf_printf(err, "%s:%d: %s", path, lineno, why);
			rc = -1;
			break;
		}
	}
	if (r < 0) {
		buf_printf(err, "%s:%d: NUL byte in line or out of memory", path,
		           lineno + 1);
		rc = -1;
	}
	if (lb.data)
		explicit_bzero(lb.data, lb.cap);
	buf_free(&lb);
	return rc;
}

/* Reads DATA_DIR/name; a missing file leaves text empty and *missing 1. */
static int read_db_file(const char *data_dir, const char *name,
                        struct buf *path, struct buf *text, struct buf *err)
{
	if (fs_join(data_dir, name, path) < 0 || !buf_cstr(path)) {
		buf_printf(err, "%s: invalid data directory", data_dir);
		return -1;
	}
	if (fs_read_file(path->data, USERS_FILE_MAX, text) < 0 && errno != ENOENT) {
		buf_printf(err, "%s: %s", path->data, strerror(errno));
		return -1;
	}
	return buf_cstr(text) ? 0 : -1;
}

int users_load(const char *data_dir, struct users *db, struct buf *err)
{
	struct buf path = BUF_INIT, text = BUF_INIT;
	int rc = -1;
	memset(db, 0, sizeof *db);
	if (read_db_file(data_dir, "users", &path, &text, err) < 0 ||
	    parse_users(path.data, text.data, text.len, db, err) < 0)
		goto out;
	buf_reset(&path);
	buf_reset(&text);
	if (read_db_file(data_dir, "apop", &path, &text, err) < 0 ||
	    parse_apop(path.data, text.data, text.len, db, err) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0)
		users_free(db);
	if (text.data)
		explicit_bzero(text.data, text.cap);
	buf_free(&path);
	buf_free(&text);
	return rc;
}

/* Equal-length-independent comparison: every byte of the stored hash is
 * looked at whatever the candidate holds, so timing tells nothing. */
static int equal_const_time(const char *candidate, const char *stored)
{
	size_t nc = strlen(candidate), ns = strlen(stored);
	unsigned diff = nc != ns;
	for (size_t i = 0; i < ns; i++)
		diff |= (unsigned char)(i < nc ? candidate[i] : 0) ^
		        (unsigned char)stored[i];
	return diff == 0;
}

/* A fixed yescrypt setting, hashed against when there is no usable hash so
 * an unknown user costs the same time as a wrong password. */
static const char *dummy_setting(char *setting, size_t size)
{
	static const char zero[16] = {0};
	return crypt_gensalt_rn("$y$", 0, zero, sizeof zero, setting, (int)size);
}

int users_verify(const struct user *u, const char *password)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	const char *hash = u && u->hash && u->hash[0] == '$' ? u->hash : NULL;
	const char *use = hash ? hash : dummy_setting(setting, sizeof setting);
	if (!use || !password || strlen(password) > USERS_PASSWORD_MAX)
		return 0;
	struct crypt_data *cd = calloc(1, sizeof *cd);
	if (!cd)
		return 0;
	const char *out = crypt_r(password, use, cd);
	int ok = hash && out && out[0] == '$' && equal_const_time(out, hash);
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	return ok;
}

int users_verify_apop(const struct user *u, const char *timestamp,
                      const char *digest)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (!u || !u->apop_secret || !timestamp || !digest || strlen(digest) != 32)
		return 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
	         EVP_DigestUpdate(ctx, timestamp, strlen(timestamp)) == 1 &&
	         EVP_DigestUpdate(ctx, u->apop_secret, strlen(u->apop_secret)) == 1 &&
	         EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 16;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return 0;
	char want[33], got[33];
	for (unsigned i = 0; i < 16; i++) {
		want[2 * i] = hex[md[i] >> 4];
		want[2 * i + 1] = hex[md[i] & 15];
	}
	want[32] = '\0';
	for (unsigned i = 0; i <= 32; i++)
		got[i] = (char)tolower((unsigned char)digest[i]);
	ok = equal_const_time(want, got);
	explicit_bzero(want, sizeof want);
	return ok;
}

static int random_bytes(void *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = getrandom((char *)p + got, n - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

int users_hash_password(const char *password, struct buf *out)
{
	char rnd[16], setting[CRYPT_GENSALT_OUTPUT_SIZE];
	size_t n = strlen(password);
	if (n == 0 || n > USERS_PASSWORD_MAX || random_bytes(rnd, sizeof rnd) < 0 ||
	    !crypt_gensalt_rn("$y$", 0, rnd, sizeof rnd, setting, sizeof setting))
		return -1;
	struct crypt_data *cd = calloc(1, sizeof *cd);
	if (!cd)
		return -1;
	const char *hash = crypt_r(password, setting, cd);
	int rc = hash && strncmp(hash, "$y$", 3) == 0 ? buf_puts(out, hash) : -1;
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	return rc;
}

/* Writes both files from db: apop first, so a crash between the two never
 * leaves a secret for a user the users file no longer has. */
static int users_save(const char *data_dir, const struct users *db,
                      struct buf *err)
{
	struct buf users = BUF_INIT, apop = BUF_INIT, path = BUF_INIT;
	int rc = buf_puts(&users, "# posthorn users: name:hash[:quota_bytes]"
	                  " (managed by posthornctl user)\n");
	rc |= buf_puts(&apop, "# posthorn APOP secrets, in the clear: keep mode 0600"
	               " (managed by posthornctl user apop)\n");
	for (size_t i = 0; i < db->count; i++) {
		const struct user *u = &db->items[i];
		rc |= buf_printf(&users, "%s:%s", u->name, u->hash);
		if (u->quota)
			rc |= buf_printf(&users, ":%llu", u->quota);
		rc |= buf_putc(&users, '\n');
		if (u->apop_secret)
			rc |= buf_printf(&apop, "%s:%s\n", u->name, u->apop_secret);
	}
	if (rc) {
		buf_puts(err, "out of memory");
	} else if (fs_join(data_dir, "apop", &path) < 0 || !buf_cstr(&path) ||
	           fs_write_atomic(path.data, apop.data, apop.len, 0600) < 0) {
		buf_printf(err, "%s: %s", path.len ? path.data : data_dir,
		           strerror(errno));
		rc = -1;
	} else if ((buf_reset(&path), fs_join(data_dir, "users", &path)) < 0 ||
	           !buf_cstr(&path) ||
	           fs_write_atomic(path.data, users.data, users.len, 0600) < 0) {
		buf_printf(err, "%s: %s", path.len ? path.data : data_dir,
		           strerror(errno));
		rc = -1;
	}
	if (apop.data)
		explicit_bzero(apop.data, apop.cap);
	buf_free(&users);
	buf_free(&apop);
	buf_free(&path);
	return rc ? -1 : 0;
}

/* Lowercases name into lower (USERS_NAME_MAX + 1 bytes) and validates it. */
static int normalise_name(const char *name, char *lower, struct buf *err)
{
	size_t n = strlen(name);
	for (size_t i = 0; i <= n && i <= USERS_NAME_MAX; i++)
		lower[i] = (char)tolower((unsigned char)name[i]);
	if (n > USERS_NAME_MAX || !users_name_valid(lower)) {
		buf_printf(err, "invalid user name \"%.80s\": use 1-64 of a-z 0-9 . _ -,"
		           " not starting with . or -", name);
		return -1;
	}
	return 0;
}

static int password_acceptable(const char *password, struct buf *err)
{
	size_t n = strlen(password);
	if (n == 0) {
		buf_puts(err, "empty password refused");
		return -1;
	}
	if (n > USERS_PASSWORD_MAX) {
		buf_printf(err, "password longer than %d bytes", USERS_PASSWORD_MAX);
		return -1;
	}
	return 0;
}

int users_add(const char *data_dir, const char *name, const char *password,
              struct buf *err)
{
	char lower[USERS_NAME_MAX + 1];
	struct users db;
	struct buf hash = BUF_INIT;
	int rc = -1;
	if (normalise_name(name, lower, err) < 0 ||
	    password_acceptable(password, err) < 0 ||
	    users_load(data_dir, &db, err) < 0)
		return -1;
	if (users_find(&db, lower))
		buf_printf(err, "user \"%s\" already exists", lower);
	else if (users_hash_password(password, &hash) < 0 || !buf_cstr(&hash))
		buf_puts(err, "cannot hash the password (crypt_r/getrandom failed)");
	else if (users_append(&db, lower, hash.data, 0) < 0)
		buf_puts(err, "out of memory");
	else {
		qsort(db.items, db.count, sizeof *db.items, user_cmp);
		rc = users_save(data_dir, &db, err);
	}
	buf_free(&hash);
	users_free(&db);
	return rc;
}

/* Loads db and finds name in it; -1 (db freed) if that fails. */
static struct user *load_existing(const char *data_dir, const char *name,
                                  struct users *db, struct buf *err)
{
	char lower[USERS_NAME_MAX + 1];
	if (normalise_name(name, lower, err) < 0 ||
	    users_load(data_dir, db, err) < 0)
		return NULL;
	struct user *u = (struct user *)users_find(db, lower);
	if (!u) {
		buf_printf(err, "no such user \"%s\"", lower);
		users_free(db);
	}
	return u;
}

int users_delete(const char *data_dir, const char *name, struct buf *err)
{
	struct users db;
	struct user *u = load_existing(data_dir, name, &db, err);
	if (!u)
		return -1;
	size_t i = (size_t)(u - db.items);
	user_clear(u);
	memmove(&db.items[i], &db.items[i + 1],
	        (db.count - i - 1) * sizeof *db.items);
	db.count--;
	int rc = users_save(data_dir, &db, err);
	users_free(&db);
	return rc;
}

int users_set_password(const char *data_dir, const char *name,
                       const char *password, struct buf *err)
{
	struct users db;
	struct buf hash = BUF_INIT;
	int rc = -1;
	if (password_acceptable(password, err) < 0)
		return -1;
	struct user *u = load_existing(data_dir, name, &db, err);
	if (!u)
		return -1;
	char *copy = NULL;
	if (users_hash_password(password, &hash) < 0 || !buf_cstr(&hash) ||
	    !(copy = strdup(hash.data))) {
		buf_puts(err, "cannot hash the password (crypt_r/getrandom failed)");
	} else {
		free(u->hash);
		u->hash = copy;
		rc = users_save(data_dir, &db, err);
	}
	buf_free(&hash);
	users_free(&db);
	return rc;
}

int users_set_apop(const char *data_dir, const char *name,
                   const char *secret, struct buf *err)
{
	struct users db;
	char *copy = NULL;
	if (secret && !secret_valid(secret)) {
		buf_puts(err, "invalid APOP secret: 1-256 printable ASCII characters,"
		         " no spaces or ':'");
		return -1;
	}
	struct user *u = load_existing(data_dir, name, &db, err);
	if (!u)
		return -1;
	if (secret && !(copy = strdup(secret))) {
		buf_puts(err, "out of memory");
		users_free(&db);
		return -1;
	}
	if (u->apop_secret) {
		explicit_bzero(u->apop_secret, strlen(u->apop_secret));
		free(u->apop_secret);
	}
	u->apop_secret = copy;
	int rc = users_save(data_dir, &db, err);
	users_free(&db);
	return rc;
}
