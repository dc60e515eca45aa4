/* vcard: the address-book format of RFC 6350 (4.0), RFC 2426 (3.0) and the
 * older vCard 2.1: a tolerant reader of what phones, Apple, Google and
 * Outlook export, and a writer of clean 4.0 or 3.0. Only what a mail
 * client needs is kept (names, e-mail addresses, a phone, organisation,
 * note, UID); other properties are skipped. No I/O, no globals. */
#ifndef POSTHORN_MSG_VCARD_H
#define POSTHORN_MSG_VCARD_H

#include <stddef.h>

#include "../lib/buf.h"

/* Bounds on what one parse accepts. */
#define VCARD_MAX_CARDS 100000
#define VCARD_MAX_CARD_BYTES (1024 * 1024)  /* BEGIN through END */
#define VCARD_MAX_EMAILS 100                 /* per card; more are dropped */
#define VCARD_MAX_WARNINGS 100               /* lines; then a count */

/* The parts of N, in the order of the property. */
enum vcard_n_part {
	VCARD_N_FAMILY,
	VCARD_N_GIVEN,
	VCARD_N_ADDITIONAL,
	VCARD_N_PREFIX,
	VCARD_N_SUFFIX,
	VCARD_N_PARTS,
};

/* One contact. Every string is owned, NUL-terminated, valid UTF-8 without
 * escapes; NULL means absent. Only note may hold line breaks ("\n"). */
struct vcard_card {
	char *fn;                    /* formatted name; parsed cards always
	                              * have one (built from N, NICKNAME, ORG
	                              * or the first address when missing) */
	char *n[VCARD_N_PARTS];      /* structured name; several values of
	                              * one part stay joined by ',' */
	char *nickname;              /* several nicknames joined by ',' */
	char *org;                   /* organisation; units joined by ", " */
	char *note;
	char *uid;
	char *tel;                   /* the most preferred TEL */
	char **emails;               /* most preferred first, no duplicates
	                              * (compared case-insensitively) */
	size_t nemails;
	size_t line;                 /* line of BEGIN:VCARD, 0 when not parsed */
	int fn_built;                /* 1 when the card had no FN and fn was
	                              * built from the other fields */
};

struct vcard_list {
	struct vcard_card *cards;    /* owned */
	size_t count;
	size_t cap;
};

/* Parses every card in s[0..n) and appends it to list (zero it before the
 * first call). Tolerated: CRLF, LF or CR line ends, a UTF-8 or UTF-16 BOM,
 * folding with space or tab, groups ("item1.EMAIL"), 2.1 bare parameters
 * ("WORK", "PREF"), QUOTED-PRINTABLE with soft line breaks, BASE64, any
 * CHARSET (converted to UTF-8; unlabelled 8-bit text is guessed), unknown
 * properties (skipped). A damaged card (no END:VCARD, a line that is not a
 * property, over VCARD_MAX_CARD_BYTES, neither name nor address) is left
 * out and the others kept. Each problem appends one line "line N: reason"
 * to warnings (may be NULL; at most VCARD_MAX_WARNINGS lines, then one
 * line with the count of the rest; a full warnings buffer is not an
 * error). Returns the number of cards left out (>= 0), or -1 when out of
 * memory (list then holds the cards parsed so far). */
long vcard_parse(const char *s, size_t n, struct vcard_list *list,
                 struct buf *warnings);

/* Appends one card in vCard version 4 (4.0) or 3 (3.0): CRLF line ends,
 * lines folded at 75 octets without splitting a UTF-8 character, BEGIN,
 * VERSION, FN, N, NICKNAME, EMAIL (4.0: PREF=1 on the first; 3.0:
 * TYPE=INTERNET, and PREF on the first), TEL, ORG, NOTE, UID, END. A NULL
 * fn is written as "". Returns 0, or -1 (unknown version, out's limit or
 * memory; out may then hold part of the card). */
int vcard_write(const struct vcard_card *c, int version, struct buf *out);

/* vcard_write for every card of list. 0 or -1. */
int vcard_write_list(const struct vcard_list *list, int version,
                     struct buf *out);

/* Writes a new random "urn:uuid:xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"
 * (version 4 UUID from getrandom(2), clocks and pid when it fails) and a
 * NUL into out. */
#define VCARD_UID_SIZE 46
void vcard_uid_generate(char out[VCARD_UID_SIZE]);

/* Replaces *field with a copy of value (NULL clears it). 0 or -1. */
int vcard_set(char **field, const char *value);

/* Adds address to c's addresses unless it is there already (compared
 * case-insensitively). Returns 0 when added, 1 when already there, -1 at
 * VCARD_MAX_EMAILS or out of memory. */
int vcard_add_email(struct vcard_card *c, const char *address);

/* Moves *c to the end of list (*c is zeroed and owns nothing afterwards).
 * 0, or -1 when out of memory (c unchanged) or at VCARD_MAX_CARDS. */
int vcard_list_add(struct vcard_list *list, struct vcard_card *c);

/* Frees card i and closes the gap, keeping the order of the others. */
void vcard_list_remove(struct vcard_list *list, size_t i);

/* Frees what c owns and zeroes it. */
void vcard_card_free(struct vcard_card *c);

/* Frees every card; list is empty afterwards. */
void vcard_list_free(struct vcard_list *list);

#endif
