/* date: RFC 5322 date-time parsing and formatting (see date.h). Lenient
 * about the obsolete forms real mail carries, strict about ranges; pure
 * arithmetic for the calendar so the result never depends on TZ. */
#include "date.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Anything beyond year 9999 either way cannot be formatted; bounding the
 * input keeps every sum below far from int64 overflow. */
#define DATE_LIMIT_SECONDS ((int64_t)400000 * 366 * 86400)

static const char date_months[12][10] = {
	"january", "february", "march", "april", "may", "june", "july",
	"august", "september", "october", "november", "december",
};

static const char date_days[7][10] = {
	"sunday", "monday", "tuesday", "wednesday", "thursday", "friday",
	"saturday",
};

struct date_zone {
	char name[4];
	int offset_min;
};

/* RFC 5322 4.3 obs-zone; "UTC" because real mail writes it. */
static const struct date_zone date_zones[] = {
	{"UT", 0}, {"UTC", 0}, {"GMT", 0}, {"Z", 0},
	{"EST", -5 * 60}, {"EDT", -4 * 60}, {"CST", -6 * 60}, {"CDT", -5 * 60},
	{"MST", -7 * 60}, {"MDT", -6 * 60}, {"PST", -8 * 60}, {"PDT", -7 * 60},
};

struct date_scan {
	const char *s;
	size_t len;
	size_t pos;
};

struct date_fields {
	int year, month, day, hour, minute, second, offset_min;
};

static int date_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int date_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Skips whitespace (folds included) and comments, nested, with
 * quoted-pairs. An unterminated comment swallows the rest. */
static void date_skip_cfws(struct date_scan *d)
{
	size_t depth = 0;
	while (d->pos < d->len) {
		char c = d->s[d->pos];
		if (depth && c == '\\') {
			d->pos += d->pos + 1 < d->len ? 2 : 1;
			continue;
		}
		if (c == '(')
			depth++;
		else if (depth && c == ')')
			depth--;
		else if (!depth && c != ' ' && c != '\t' && c != '\r' && c != '\n')
			return;
		d->pos++;
	}
}

/* Skips CFWS, then c if it is next. Returns 1 if c was skipped. */
static int date_skip_char(struct date_scan *d, char c)
{
	date_skip_cfws(d);
	if (d->pos < d->len && d->s[d->pos] == c) {
		d->pos++;
		return 1;
	}
	return 0;
}

/* Reads a run of digits; *ndigits gets its length (0: none there). Values
 * of more than 9 digits are read but reported as -1. */
static int date_number(struct date_scan *d, size_t *ndigits)
{
	date_skip_cfws(d);
	size_t start = d->pos;
	int v = 0;
	while (d->pos < d->len && date_is_digit(d->s[d->pos])) {
		if (d->pos - start < 9)
			v = v * 10 + (d->s[d->pos] - '0');
		d->pos++;
	}
	*ndigits = d->pos - start;
	return *ndigits > 9 ? -1 : v;
}

/* Reads a run of letters; returns its length, *word its start. */
static size_t date_word(struct date_scan *d, const char **word)
{
	date_skip_cfws(d);
	size_t start = d->pos;
	while (d->pos < d->len && date_is_alpha(d->s[d->pos]))
		d->pos++;
	*word = d->s + start;
	return d->pos - start;
}

/* Index in names[] of a word that is a name's three-letter abbreviation or
 * the whole name, or -1. */
static int date_name_index(const char *w, size_t n, const char (*names)[10],
                           int count)
{
	for (int i = 0; i < count && n >= 3; i++) {
		if (n != 3 && n != strlen(names[i]))
			continue;
		if (strncasecmp(w, names[i], n) == 0)
			return i;
	}
	return -1;
}

static int date_month(const char *w, size_t n)
{
	int m = date_name_index(w, n, date_months, 12);
	return m < 0 ? -1 : m + 1;
}

/* Numeric zone after its sign: hhmm, the seeds' hmm ("+800" is +08:00),
 * or bare hours. -1 when it is no sensible zone. */
static int date_numeric_zone(int v, size_t ndigits)
{
	int hours = ndigits >= 3 ? v / 100 : v;
	int minutes = ndigits >= 3 ? v % 100 : 0;
	if (ndigits == 0 || ndigits > 4 || hours > 23 || minutes > 59)
		return -1;
	return hours * 60 + minutes;
}

/* The zone, if any; unknown or missing zones count as UTC (RFC 5322 4.3
 * says military letters mean -0000, i.e. unknown). */
static int date_zone(struct date_scan *d)
{
	date_skip_cfws(d);
	if (d->pos < d->len && (d->s[d->pos] == '+' || d->s[d->pos] == '-')) {
		int sign = d->s[d->pos++] == '-' ? -1 : 1;
		size_t ndigits;
		int v = date_number(d, &ndigits);
		int zone = v < 0 ? -1 : date_numeric_zone(v, ndigits);
		return zone < 0 ? 0 : sign * zone;
	}
	const char *w;
	size_t n = date_word(d, &w);
	for (size_t i = 0; i < sizeof date_zones / sizeof date_zones[0]; i++)
		if (n == strlen(date_zones[i].name) &&
		    strncasecmp(w, date_zones[i].name, n) == 0)
			return date_zones[i].offset_min;
	/* A zone name followed by more ("EST5EDT"): use its first part. */
	for (size_t i = 0; n > 3 && i < sizeof date_zones / sizeof date_zones[0]; i++)
		if (strlen(date_zones[i].name) == 3 &&
		    strncasecmp(w, date_zones[i].name, 3) == 0)
			return date_zones[i].offset_min;
	return 0;
}

/* hour ":" minute [":" second] */
static int date_time(struct date_scan *d, struct date_fields *f)
{
	size_t n1, n2, n3 = 0;
	f->hour = date_number(d, &n1);
	if (n1 == 0 || n1 > 2 || !date_skip_char(d, ':'))
		return -1;
	f->minute = date_number(d, &n2);
	f->second = 0;
	if (n2 != 2)
		return -1;
	size_t save = d->pos;
	if (date_skip_char(d, ':')) {
		f->second = date_number(d, &n3);
		if (n3 != 2)
			return -1;
	} else {
		d->pos = save;
	}
	return 0;
}

static int date_year(int v, size_t ndigits)
{
	if (ndigits == 2)
		return v < 50 ? 2000 + v : 1900 + v;
	if (ndigits == 3)
		return 1900 + v;
	return ndigits == 4 ? v : -1;
}

/* Optional separator between day, month and year: "4-Dec-2004". */
static void date_skip_separator(struct date_scan *d)
{
	if (!date_skip_char(d, '-')) {
		if (!date_skip_char(d, '.'))
			(void)date_skip_char(d, '/');
	}
}

/* RFC 5322 order: day month year time [zone]. */
static int date_parse_rfc(struct date_scan *d, struct date_fields *f)
{
	size_t n;
	const char *w;
	f->day = date_number(d, &n);
	if (n == 0 || n > 2)
		return -1;
	date_skip_separator(d);
	size_t wn = date_word(d, &w);
	if ((f->month = date_month(w, wn)) < 0)
		return -1;
	date_skip_separator(d);
	int v = date_number(d, &n);
	if ((f->year = date_year(v, n)) < 0)
		return -1;
	if (date_time(d, f) < 0)
		return -1;
	f->offset_min = date_zone(d);
	return 0;
}

/* asctime order: month day time year [zone], UTC unless a zone follows. */
static int date_parse_asctime(struct date_scan *d, struct date_fields *f)
{
	size_t n;
	f->day = date_number(d, &n);
	if (n == 0 || n > 2 || date_time(d, f) < 0)
		return -1;
	int v = date_number(d, &n);
	if ((f->year = date_year(v, n)) < 0)
		return -1;
	f->offset_min = date_zone(d);
	return 0;
}

static int date_is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int date_days_in_month(int year, int month)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return month == 2 && date_is_leap(year) ? 29 : days[month - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static int64_t date_days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The inverse: civil date of a day count. */
static void date_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int date_valid(const struct date_fields *f)
{
	return f->month >= 1 && f->month <= 12 && f->day >= 1 &&
	       f->day <= date_days_in_month(f->year, f->month) &&
	       f->hour >= 0 && f->hour <= 23 && f->minute >= 0 &&
	       f->minute <= 59 && f->second >= 0 && f->second <= 60;
}

/* Skips an optional weekday with its comma. */
static void date_skip_weekday(struct date_scan *d)
{
	size_t save = d->pos;
	const char *w;
	size_t n = date_word(d, &w);
	if (n && date_name_index(w, n, date_days, 7) >= 0)
		(void)date_skip_char(d, ',');
	else
		d->pos = save;
}

/* Parses the date starting at d->pos into f; 0 or -1. */
static int date_parse_from(struct date_scan *d, struct date_fields *f)
{
	date_skip_weekday(d);
	date_skip_cfws(d);
	int rc;
	if (d->pos < d->len && date_is_alpha(d->s[d->pos])) {
		const char *w;
		size_t n = date_word(d, &w);
		f->month = date_month(w, n);
		rc = f->month < 0 ? -1 : date_parse_asctime(d, f);
	} else {
		rc = date_parse_rfc(d, f);
	}
	return rc < 0 || !date_valid(f) ? -1 : 0;
}

int msg_date_parse(const char *s, size_t len, int64_t *utc, int *offset_min)
{
	struct date_scan d = {s, len, 0};
	struct date_fields f = {0};
	if (date_parse_from(&d, &f) < 0) {
		/* A Received: field's date follows its last ';'. */
		const char *semi = len ? memrchr(s, ';', len) : NULL;
		if (!semi)
			return -1;
		d.pos = (size_t)(semi - s) + 1;
		memset(&f, 0, sizeof f);
		if (date_parse_from(&d, &f) < 0)
			return -1;
	}
	int64_t days = date_days_from_civil(f.year, f.month, f.day);
	*utc = days * 86400 + f.hour * 3600 + f.minute * 60 + f.second -
	       (int64_t)f.offset_min * 60;
	*offset_min = f.offset_min;
	return 0;
}

/* Floor division, so instants before 1970 land on the right day. */
static int64_t date_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Splits an instant into civil fields; -1 outside years 0..9999. */
static int date_split(int64_t t, int64_t *year, int *month, int *day,
                      int *secs_of_day, int *weekday)
{
	if (t < -DATE_LIMIT_SECONDS || t > DATE_LIMIT_SECONDS)
		return -1;
	int64_t days = date_floor_div(t, 86400);
	*secs_of_day = (int)(t - days * 86400);
	*weekday = (int)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday */
	date_civil_from_days(days, year, month, day);
	return *year < 0 || *year > 9999 ? -1 : 0;
}

int msg_date_format(int64_t utc, int offset_min, char *out, size_t outlen)
{
	static const char wdays[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu",
	                                 "Fri", "Sat"};
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May",
	                                   "Jun", "Jul", "Aug", "Sep", "Oct",
	                                   "Nov", "Dec"};
	int64_t year;
	int month, day, sod, wday;
	if (offset_min < -(99 * 60 + 59) || offset_min > 99 * 60 + 59)
		return -1;
	if (utc < -DATE_LIMIT_SECONDS || utc > DATE_LIMIT_SECONDS ||
	    date_split(utc + (int64_t)offset_min * 60, &year, &month, &day,
	               &sod, &wday) < 0)
		return -1;
	int abs_off = offset_min < 0 ? -offset_min : offset_min;
	int n = snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d %c%02d%02d",
	                 wdays[wday], day, months[month - 1], (int)year,
	                 sod / 3600, sod / 60 % 60, sod % 60,
	                 offset_min < 0 ? '-' : '+', abs_off / 60, abs_off % 60);
	return n < 0 || (size_t)n >= outlen ? -1 : n;
}

int msg_date_format_iso(int64_t utc, char *out, size_t outlen)
{
	int64_t year;
	int month, day, sod, wday;
	if (date_split(utc, &year, &month, &day, &sod, &wday) < 0)
		return -1;
	int n = snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)year,
	                 month, day, sod / 3600, sod / 60 % 60, sod % 60);
	return n < 0 || (size_t)n >= outlen ? -1 : n;
}
