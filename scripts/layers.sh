#!/bin/sh
# Checks the layering of STYLE.md with grep: each folder may include only the
# folders listed for it (its own headers always).
set -eu
cd "$(dirname "$0")/.."
fail=0
check() { # folder allowed...
	dir=$1; shift
	[ -d "src/$dir" ] || return 0
	pattern=$(printf '|%s' "$@"); pattern=${pattern#|}
	bad=$(grep -Hn '#include "\.\./' src/$dir/*.[ch] 2>/dev/null |
	      grep -Ev "#include \"\.\./($pattern)/" || true)
	[ -z "$pattern" ] && bad=$(grep -Hn '#include "\.\./' src/$dir/*.[ch] 2>/dev/null || true)
	if [ -n "$bad" ]; then
		echo "lint: src/$dir may include only: ${*:-nothing of ours}"
		echo "$bad"
		fail=1
	fi
}
check lib
check msg lib
check auth lib msg
check store lib msg
check smtp lib msg auth store
check pop3 lib msg auth store
check imap lib msg auth store
check client lib msg store smtp pop3
check ctl lib msg auth store
check sendmail lib msg smtp
check daemon lib msg auth store smtp pop3 imap
exit $fail
