#!/bin/sh
# make run: until the server exists, demonstrate the message commands on a
# sample Chinese (GB2312) message with an HTML alternative and an attachment.
set -eu
bin=${1:-build/posthorn}
sample=samples/welcome.eml
out=demo/extracted

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

say "$bin show $sample"
"$bin" show "$sample"
say "$bin parts $sample"
"$bin" parts "$sample"
mkdir -p "$out"
say "$bin extract $sample $out --force"
"$bin" extract "$sample" "$out" --force || true
say "$bin show --json $sample"
"$bin" show --json "$sample"
echo
cat <<MSG

posthorn is built: $bin
Next steps:
  $bin show FILE          read any .eml file (or - for stdin), decoded to UTF-8
  $bin parts FILE         list its MIME parts;  --json for scripts
  $bin extract FILE DIR   save its attachments with safe file names
  man ./doc/posthorn.1    the manual;  make test  runs every test
MSG
