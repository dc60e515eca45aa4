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

# The SMTP listeners as written in the config: "protocol port" pairs.
ports=$(awk '/^\[/{proto=""; port=""}
             /^protocol *=/{proto=$3} /^port *=/{port=$3}
             proto ~ /^(smtp|submission|smtps)$/ && port != "" {
                 printf "    %-11s 127.0.0.1:%s\n", proto, port; proto=""}' "$conf")
port_of() { echo "$ports" | awk -v p="$1" '$1 == p {sub(/.*:/, "", $2); print $2}'; }
smtp=$(port_of smtp)
submission=$(port_of submission)
data_dir=$(awk -F' *= *' '/^data_dir *=/{print $2}' "$conf")
case "$data_dir" in /*) ;; *) data_dir="$dir/$data_dir" ;; esac

cat <<MSG

posthornd demo: $conf
  user demo@example.test, password: $password   (kept in $pwfile)
  SMTP listeners (POP3 and IMAP come with later issues):
$ports

Send it mail from another terminal:
  python3 -c 'import smtplib; smtplib.SMTP("127.0.0.1", $smtp).sendmail("you@example.org", ["demo@example.test"], b"Subject: hello\r\n\r\nHello from Python\r\n")'
  swaks --server 127.0.0.1 --port $submission --tls --auth PLAIN \\
        --auth-user demo --auth-password '$password' \\
        --from demo@example.test --to postmaster@example.test --header 'Subject: hello from swaks'

Read what arrived:
  ls $data_dir/mail/demo/new/
  $build/posthorn show "\$(ls -t $data_dir/mail/demo/new/* | head -1)"

Starting posthornd in the foreground (Ctrl-C stops it):
MSG
exec "$daemon" -c "$conf" -f
