#!/bin/sh
# Installs the Debian packages a make target needs, or says how to.
# Usage: scripts/deps.sh [--check] GROUP...   (groups: build test fuzz bench)
# With --check it only exits 1 when something is missing (used by make test
# and make run so they work as the first command on a fresh machine).
set -eu

check_only=0
if [ "${1:-}" = "--check" ]; then check_only=1; shift; fi
[ $# -gt 0 ] || set -- build test

pkgs=""
for group in "$@"; do
	case "$group" in
	build) pkgs="$pkgs gcc make pkg-config libc6-dev libevent-dev libssl-dev libcrypt-dev libmagic-dev openssl" ;;
	test)  pkgs="$pkgs libcmocka-dev python3 python3-pytest swaks libio-socket-ssl-perl libnet-ssleay-perl fetchmail mpop getmail6 neomutt msmtp dnsmasq-base" ;;
	fuzz)  pkgs="$pkgs clang libclang-rt-14-dev" ;;
	bench) pkgs="$pkgs libgmime-3.0-dev pkg-config postfix dovecot-pop3d python3" ;;
	*) echo "deps.sh: unknown group '$group' (build, test, fuzz, bench)" >&2; exit 2 ;;
	esac
done

missing=""
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done

[ -n "$missing" ] || exit 0
[ $check_only -eq 0 ] || exit 1

if [ "$(id -u)" -eq 0 ]; then
	echo "deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	case " $missing " in
	*" postfix "*)
		# The bench only needs smtp-source and a private instance it
		# configures itself: no system mail setup, and no system
		# instance left listening on port 25 afterwards.
		echo "postfix postfix/main_mailer_type select No configuration" |
			debconf-set-selections ;;
	esac
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends $missing
	case " $missing " in
	*" postfix "*) postfix stop >/dev/null 2>&1 || true ;;
	esac
	case " $missing " in
	*" dovecot-pop3d "*)
		# Only the bench's private instance may serve; the system one
		# would hold ports 110 and 995.
		{ systemctl stop dovecot || service dovecot stop ||
		  doveadm stop; } >/dev/null 2>&1 || true ;;
	esac
else
	echo "deps: missing Debian packages:$missing"
	echo "deps: run as root:  apt-get update && apt-get install -y$missing"
	exit 1
fi
