#!/usr/bin/env bash
# Writes the King James Bible (public domain; Debian packages bible-kjv +
# bible-kjv-text) as plain text into text/kjv.txt (git-ignored): one verse per
# line, verse references ("Ge1:1 ", "1Sm3:4 ", "SSol1:1 ") stripped, books
# separated by one blank line. Installs the packages when missing.
# Idempotent: an existing complete text/kjv.txt is kept.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=text/kjv.txt
VERSES=31102   # verses of the KJV (Gen 1:1 .. Rev 22:21), a completeness check
BOOKS=66

if [ -s "$OUT" ] && [ "$(grep -c . "$OUT")" -eq "$VERSES" ]; then
  echo "fetch-text: $OUT present ($VERSES verses)"
  exit 0
fi

missing=()
for p in bible-kjv bible-kjv-text; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "fetch-text: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

mkdir -p "$(dirname "$OUT")"
tmp="$OUT.tmp.$$"
trap 'rm -f "$tmp"' EXIT
# `bible -f` prints "<Book><chapter>:<verse> <text>" one verse a line.
# Any line that does not look like that is an error, not something to guess at.
bible -f gen1:1-rev22:21 | LC_ALL=C awk -v want_books="$BOOKS" '
  {
    if (!match($0, /^[1-3]?[A-Za-z]+[0-9]+:[0-9]+ /)) {
      printf "fetch-text: unexpected line %d from bible: %s\n", NR, $0 > "/dev/stderr"; bad = 1; exit 1
    }
    ref = substr($0, 1, RLENGTH - 1); text = substr($0, RLENGTH + 1)
    book = ref; sub(/[0-9]+:[0-9]+$/, "", book)
    if (book != prev) { if (NR > 1) print ""; nbooks++; prev = book }
    print text
  }
  END { if (!bad && nbooks != want_books) {
          printf "fetch-text: found %d books, expected %d\n", nbooks, want_books > "/dev/stderr"; exit 1 } }
' > "$tmp"
n=$(grep -c . "$tmp")
if [ "$n" -ne "$VERSES" ]; then
  echo "fetch-text: got $n verses, expected $VERSES" >&2
  exit 1
fi
mv "$tmp" "$OUT"
trap - EXIT
echo "fetch-text: wrote $OUT ($n verses, $(wc -c < "$OUT") bytes)"
