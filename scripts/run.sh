#!/bin/sh
# make run: a working mail server in ./demo on 127.0.0.1, ports 10000 + the
# standard ones. Sets it up once (posthornctl init, a "demo" user with a
# random password, postmaster -> demo), prints how to send it mail, then
# runs posthornd in the foreground until Ctrl-C.
# Usage: scripts/run.sh [BUILD_DIR]   (default build)
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
dir=demo
conf=$dir/posthorn.conf
pwfile=$dir/demo-password
ctl="$build/posthornctl"
daemon="$build/posthornd"

make --no-print-directory BUILD="$build" all >/dev/null
for bin in "$ctl" "$daemon"; do
	[ -x "$bin" ] || { echo "run.sh: $bin was not built" >&2; exit 1; }
done

if [ ! -f "$conf" ]; then
	echo "== setting up $dir (posthornctl init)"
	"$ctl" init "$dir" --hostname localhost --domain example.test \
		--listen 127.0.0.1 --port-base 10000 >/dev/null
fi

if ! "$ctl" -c "$conf" user list 2>/dev/null | grep -qw demo; then
	umask 077
	if [ ! -s "$pwfile" ]; then
		head -c 12 /dev/urandom | base64 | tr -d '/+=\n' > "$pwfile"
	fi
	"$ctl" -c "$conf" user add demo --password-stdin < "$pwfile" >/dev/null
	umask 022
fi
[ -s "$pwfile" ] || { echo "run.sh: $pwfile is missing; reset with: $ctl -c $conf user passwd demo" >&2; exit 1; }
password=$(cat "$pwfile")

if ! "$ctl" -c "$conf" alias list 2>/dev/null | grep -qw postmaster; then
	"$ctl" -c "$conf" alias add postmaster demo >/dev/null
fi

"$daemon" -c "$conf" --check >/dev/null

# The served listeners as written in the config: "protocol port" pairs.
ports=$(awk '/^\[/{proto=""; port=""}
             /^protocol *=/{proto=$3} /^port *=/{port=$3}
             proto ~ /^(smtp|submission|smtps|pop3|pop3s)$/ && port != "" {
                 printf "    %-11s 127.0.0.1:%s\n", proto, port; proto=""}' "$conf")
port_of() { echo "$ports" | awk -v p="$1" '$1 == p {sub(/.*:/, "", $2); print $2}'; }
smtp=$(port_of smtp)
submission=$(port_of submission)
pop3=$(port_of pop3)
pop3s=$(port_of pop3s)
data_dir=$(awk -F' *= *' '/^data_dir *=/{print $2}' "$conf")
case "$data_dir" in /*) ;; *) data_dir="$dir/$data_dir" ;; esac

# A client account for the demo user, so posthorn send/fetch work at once.
client_conf=$dir/client.conf
if [ ! -f "$client_conf" ]; then
	cat > "$client_conf" <<CONF
# posthorn client config for the demo (build/posthorn --config $client_conf ...)
default = demo

[account demo]
address = demo@example.test
name = Demo User
smtp_host = 127.0.0.1
smtp_port = $submission
smtp_tls = starttls
smtp_user = demo
pop3_host = 127.0.0.1
pop3_port = $pop3s
pop3_tls = tls
pop3_user = demo
mail_dir = client-mail
password_cmd = cat $PWD/$pwfile
ca_file = tls/cert.pem
CONF
	chmod 600 "$client_conf"
fi

cat <<MSG

posthornd demo: $conf
  user demo@example.test, password: $password   (kept in $pwfile)
  listeners (IMAP comes with a later issue):
$ports

Send it mail from another terminal:
  python3 -c 'import smtplib; smtplib.SMTP("127.0.0.1", $smtp).sendmail("you@example.org", ["demo@example.test"], b"Subject: hello\r\n\r\nHello from Python\r\n")'
  swaks --server 127.0.0.1 --port $submission --tls --auth PLAIN \\
        --auth-user demo --auth-password '$password' \\
        --from demo@example.test --to postmaster@example.test --header 'Subject: hello from swaks'

Fetch it over POP3 (STLS on $pop3, implicit TLS on $pop3s):
  python3 -c 'import poplib, ssl; p = poplib.POP3("127.0.0.1", $pop3); p.stls(ssl._create_unverified_context()); p.user("demo"); p.pass_("$password"); print(p.stat()); [print(l.decode()) for l in p.retr(1)[1]]; p.quit()'
  mpop --host=127.0.0.1 --port=$pop3s --tls=on --tls-starttls=off \\
       --tls-trust-file=$dir/tls/cert.pem --auth=user --user=demo --keep=on --only-new=off \\
       --delivery=maildir,/tmp/demo-maildir --passwordeval='cat $pwfile'   # (mkdir -p /tmp/demo-maildir/{new,cur,tmp} first)

Or with posthorn, the mail client (account in $client_conf):
  $build/posthorn --config $client_conf account test
  echo 'Hello, 你好' | $build/posthorn --config $client_conf send --to demo@example.test --subject 'hello from posthorn' --attach README.md
  $build/posthorn --config $client_conf fetch
  $build/posthorn --config $client_conf list
  $build/posthorn --config $client_conf read 1

Mail to other domains is queued and delivered through DNS MX (or a
[transport] smarthost); watch and steer the queue with:
  $ctl -c $conf queue list
  $ctl -c $conf queue flush
and inject mail like sendmail does (cron, scripts, mutt):
  printf 'To: demo@example.test\\nSubject: from sendmail\\n\\nhi\\n' | $build/posthorn-sendmail -C $conf -t

Or read what arrived straight from the Maildir:
  ls $data_dir/mail/demo/new/
  $build/posthorn show "\$(ls -t $data_dir/mail/demo/new/* | head -1)"

Starting posthornd in the foreground (Ctrl-C stops it):
MSG
exec "$daemon" -c "$conf" -f
