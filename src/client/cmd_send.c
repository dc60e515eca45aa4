/* send and compose: a new message from the command line or from $EDITOR. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/fs.h"
#include "commands.h"
#include "connect.h"
#include "outgoing.h"
#include "util.h"

static const char send_usage[] =
	"usage: posthorn send --to ADDR [--cc ADDR] [--bcc ADDR] --subject TEXT\n"
	"                     [--attach FILE]... [--body-file F] [--html-file F]\n"
	"                     [--from ADDR] [--reply-to ADDR] [--no-save]\n"
	"\n"
	"Sends a message through the account's SMTP server (STARTTLS or TLS,\n"
	"AUTH as configured) and saves a copy in the Sent folder.\n"
	"  --to, --cc, --bcc  a recipient: an address, \"Name <addr>\", a comma\n"
	"                     separated list, or a name from the address book;\n"
	"                     repeat the option for more. Bcc is not written\n"
	"                     into the message.\n"
	"  --attach FILE      attach a file (its type from libmagic); repeatable\n"
	"  --body-file F      the text; default standard input when it is not a\n"
	"                     terminal, else $EDITOR opens\n"
	"  --html-file F      an HTML version of the text (multipart/alternative)\n"
	"  --from ADDR        another identity than the account's address\n"
	"  --no-save          no copy in Sent\n"
	"Global: --account NAME, --config FILE, --trace (the SMTP dialogue on\n"
	"stderr, passwords redacted). Prints each recipient's answer.\n"
	"Exit status: 0 sent to all; see 'man posthorn' for the others.\n";

static const char compose_usage[] =
	"usage: posthorn compose [--to ADDR] [--cc ADDR] [--bcc ADDR]\n"
	"                        [--subject TEXT] [--attach FILE]... [--draft]\n"
	"\n"
	"Opens $VISUAL or $EDITOR (else vi) on a message template: From:, To:,\n"
	"Cc:, Bcc:, Subject: and Attach: lines (one file per Attach: line), a\n"
	"blank line, then the text. When the editor exits the message is sent\n"
	"(a copy goes to Sent), or saved to Drafts with --draft or when the\n"
	"template has the line \"X-Posthorn-Draft: yes\". An unchanged or empty\n"
	"template is not sent (exit 1).\n";

/* The options send and compose share. Returns 0, 1 for --help, -1 usage. */
struct send_args {
	const char *subject, *body_file, *html_file, *from, *reply_to;
	int no_save, draft;
};

static int send_parse(int argc, char **argv, struct outgoing *o,
                      struct send_args *sa, int compose)
{
	memset(sa, 0, sizeof *sa);
	if ((argc = outgoing_take_multi(argc, argv, "--to", &o->to)) < 0 ||
	    (argc = outgoing_take_multi(argc, argv, "--cc", &o->cc)) < 0 ||
	    (argc = outgoing_take_multi(argc, argv, "--bcc", &o->bcc)) < 0 ||
	    (argc = outgoing_take_multi(argc, argv, "--attach", &o->attach)) < 0)
		return -1;
	const struct util_opt opts[] = {
		{"--subject", &sa->subject, NULL},
		{"--body-file", &sa->body_file, NULL},
		{"--html-file", &sa->html_file, NULL},
		{"--from", &sa->from, NULL},
		{"--reply-to", &sa->reply_to, NULL},
		{"--no-save", NULL, &sa->no_save},
		{"--draft", NULL, &sa->draft},
	};
	char *pos[1];
	size_t npos = 0;
	int r = util_parse_args(argc, argv, opts, compose ? 7 : 6, pos, 0, &npos);
	if (r)
		return r;
	if ((sa->subject && !(o->subject = strdup(sa->subject))) ||
	    (sa->from && !(o->from = strdup(sa->from))) ||
	    (sa->reply_to && !(o->reply_to = strdup(sa->reply_to))))
		return -1;
	return 0;
}

/* Reads a file the user named into b. 0 or EXIT_INPUT (printed). */
static int send_read_file(const char *path, struct buf *b, const char *what)
{
	if (fs_read_file(path, (size_t)64 << 20, b) == 0)
		return 0;
	fprintf(stderr, "posthorn: cannot read the %s %s: %s\n", what, path,
	        errno == EFBIG ? "larger than 64 MB" : strerror(errno));
	return EXIT_INPUT;
}

/* What send does once the account is open: the text from --body-file,
 * standard input or $EDITOR, then off it goes (or to Drafts). */
static int send_body(const struct account *a, struct outgoing *o,
                     const struct send_args *sa)
{
	int rc, have_text = 0;
	if (sa->body_file) {
		if ((rc = send_read_file(sa->body_file, &o->text, "text file")) != 0)
			return rc;
		have_text = 1;
	} else if ((rc = outgoing_read_stdin(o, &have_text)) != 0) {
		return rc;
	}
	if (sa->html_file &&
	    (rc = send_read_file(sa->html_file, &o->html, "HTML file")) != 0)
		return rc;
	if (!have_text && !sa->html_file) {
		int draft = 0;
		if ((rc = outgoing_edit(a, o, &draft)) != 0)
			return rc;
		if (draft)
			return outgoing_save_draft(a, o);
	}
	return outgoing_send(a, o, !sa->no_save);
}

/* What compose does once the account is open: the editor, then send or
 * save to Drafts. */
static int compose_body(const struct account *a, struct outgoing *o,
                        const struct send_args *sa)
{
	int rc, draft = 0;
	if ((rc = outgoing_edit(a, o, &draft)) != 0)
		return rc;
	if (draft || sa->draft)
		return outgoing_save_draft(a, o);
	if (!o->to.n && !o->cc.n && !o->bcc.n) {
		fprintf(stderr, "posthorn: the message has no recipient; saving it "
		        "to Drafts instead\n");
		rc = outgoing_save_draft(a, o);
		return rc ? rc : 1;
	}
	return outgoing_send(a, o, 1);
}

/* The frame send and compose share: parses the options (the usage on
 * --help; a usage error, and for send no recipient, is EXIT_USAGE), opens
 * the account, runs body, frees everything. Returns the exit status. */
static int send_run(int argc, char **argv, int compose,
                    int (*body)(const struct account *a, struct outgoing *o,
                                const struct send_args *sa))
{
	struct outgoing o;
	struct send_args sa;
	struct account_config cfg;
	const struct account *a = NULL;
	outgoing_init(&o);
	memset(&cfg, 0, sizeof cfg);
	int rc = send_parse(argc, argv, &o, &sa, compose);
	if (rc == 1) {
		fputs(compose ? compose_usage : send_usage, stdout);
		rc = EXIT_OK;
	} else if (rc < 0 || (!compose && !o.to.n && !o.cc.n && !o.bcc.n)) {
		if (rc == 0)
			fprintf(stderr, "posthorn send: no recipient: give --to ADDR\n");
		fprintf(stderr, "try 'posthorn %s --help'\n",
		        compose ? "compose" : "send");
		rc = EXIT_USAGE;
	} else if ((rc = client_account(&cfg, NULL, &a)) == 0) {
		rc = body(a, &o, &sa);
	}
	outgoing_free(&o);
	account_config_free(&cfg);
	return rc;
}

int cmd_send(int argc, char **argv)
{
	return send_run(argc, argv, 0, send_body);
}

int cmd_compose(int argc, char **argv)
{
	return send_run(argc, argv, 1, compose_body);
}
