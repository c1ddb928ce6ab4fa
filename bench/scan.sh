#!/usr/bin/env bash
# Benchmark of `medguard scan` against the `yara` command (same rules, same tree, same
# matches: `yara -r -N -p 2` vs `medguard scan --threads 2`) and against `clamscan -d` with the
# same ClamAV hash lists, in the same run, warm cache. Prints times and ratios.
#
# usage: bench/scan.sh [--files N]
# Needs: yara, clamav, python3, bc (Debian packages yara clamav python3 bc). Writes under
# bench/work/.
set -euo pipefail
cd "$(dirname "$0")/.."
files=20000
while [ $# -gt 0 ]; do
  case "$1" in
    --files) files=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
for t in yara clamscan python3 bc md5sum sha256sum; do
  command -v "$t" >/dev/null || { echo "missing $t (apt-get install yara clamav python3 bc)" >&2; exit 2; }
done

cargo build --release -q -p medguard
M=$PWD/target/release/medguard
W=$PWD/bench/work
mkdir -p "$W"
tree=$W/scan-tree-$files
if [ ! -d "$tree" ]; then
  python3 bench/gen_tree.py "$tree" --files "$files"
  # Plant the EICAR test file (assembled, so this script is not itself flagged) and a
  # marker in a few places, whole and embedded.
  e1='X5O!P%@AP[4\PZX54(P^)7CC)7}$'
  e2='EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
  printf '%s%s' "$e1" "$e2" > "$tree/eicar.com"
  printf '%s%s' "$e1" "$e2" >> "$tree/d000/s0/f000007.bin"
  printf 'x MEDGUARD-MARKER y' >> "$tree/d001/s3/f001333.bin"
fi

rules=$W/scan-rules.yar
cat > "$rules" <<'RULES'
rule EICAR_test_file { strings: $e = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE" condition: $e }
rule Medguard_marker { strings: $m = "MEDGUARD-MARKER" condition: $m }
rule Mimikatz_strings { strings: $a = "sekurlsa::logonpasswords" nocase $b = "gentilkiwi" wide ascii condition: any of them }
rule WannaCry_ransom_note { strings: $a = "@WanaDecryptor@" $b = { 57 61 6E 61 43 72 79 70 74 30 72 } condition: any of them }
rule Suspicious_powershell { strings: $a = "powershell -enc" nocase $b = "FromBase64String" condition: all of them }
rule Hex_jump_pattern { strings: $h = { E8 ?? ?? ?? ?? 5D 81 ED [2-8] 8B 45 } condition: $h }
rule Regex_url { strings: $r = /https?:\/\/[a-z0-9]{12,20}\.onion/ condition: $r }
rule Elf_with_marker { strings: $m = "MEDGUARD-ELF" condition: uint32(0) == 0x464c457f and $m }
RULES

# Hash lists: every 500th file by MD5 with its size, and the EICAR file by SHA-256, any size.
hdb=$W/scan-bench.hdb
hsb=$W/scan-bench.hsb
find "$tree" -type f -name 'f*5*00.bin' | sort | while read -r f; do
  printf '%s:%s:Bench.File.%s\n' "$(md5sum < "$f" | cut -d' ' -f1)" "$(stat -c %s "$f")" "$(basename "$f")"
done > "$hdb"
printf '%s:*:Bench.Eicar:73\n' "$(sha256sum < "$tree/eicar.com" | cut -d' ' -f1)" > "$hsb"

secs() { # run a command, print its wall time; exit status 0 or 1 is fine
  local start end rc=0
  start=$(date +%s.%N)
  "$@" > "$W/out" 2> "$W/err" || rc=$?
  end=$(date +%s.%N)
  [ $rc -le 1 ] || { cat "$W/err" >&2; exit $rc; }
  echo "$end - $start" | bc -l
}
best() { # best of 3
  local b=999999 s
  for _ in 1 2 3; do
    s=$(secs "$@")
    if (( $(echo "$s < $b" | bc -l) )); then b=$s; fi
  done
  echo "$b"
}

# Warm the cache once.
cat $(find "$tree" -type f) > /dev/null 2>&1 || true
n=$(find "$tree" -type f | wc -l)
bytes=$(du -sb "$tree" | cut -f1)
echo "tree: $n files, $((bytes / 1048576)) MiB"

# Same matches first.
yara -r -N -p 2 "$rules" "$tree" | awk '{print $2" "$1}' | sort > "$W/yara.matches"
"$M" scan "$tree" --rules "$rules" --threads 2 --normal-priority --json \
  | python3 -c 'import json,sys; [print(f["path"], f["detection"]["rule"]) for f in json.load(sys.stdin)["findings"]]' \
  | sort > "$W/medguard.matches" || true
if ! diff -u "$W/yara.matches" "$W/medguard.matches"; then
  echo "YARA matches differ" >&2; exit 1
fi
echo "YARA: same $(wc -l < "$W/yara.matches") matches"

t_yara=$(best yara -r -N -p 2 "$rules" "$tree")
t_med=$(best "$M" scan "$tree" --rules "$rules" --threads 2 --normal-priority)
t_med_idle=$(best "$M" scan "$tree" --rules "$rules" --threads 2)
printf 'yara -r -N -p 2:                          %6.2f s\n' "$t_yara"
printf 'medguard scan --threads 2:             %6.2f s  (%.2fx yara'"'"'s time)\n' "$t_med" "$(echo "$t_med / $t_yara" | bc -l)"
printf 'medguard scan --threads 2 (idle prio): %6.2f s  (%.2fx yara'"'"'s time)\n' "$t_med_idle" "$(echo "$t_med_idle / $t_yara" | bc -l)"

# Hash lists against clamscan with only these lists.
clamscan --no-summary --infected --recursive -d "$hdb" -d "$hsb" "$tree" \
  | sed -e 's/\.UNOFFICIAL FOUND$//' -e 's/: / /' | sort > "$W/clam.matches" || true
"$M" scan "$tree" --hashes "$hdb" --hashes "$hsb" --threads 2 --normal-priority --json \
  | python3 -c 'import json,sys; [print(f["path"], f["detection"]["signature"]) for f in json.load(sys.stdin)["findings"]]' \
  | sort > "$W/medguard-hash.matches" || true
if ! diff -u "$W/clam.matches" "$W/medguard-hash.matches"; then
  echo "hash matches differ" >&2; exit 1
fi
echo "hash lists: same $(wc -l < "$W/clam.matches") matches ($(wc -l < "$hdb") MD5 + 1 SHA-256 signatures)"
t_clam=$(secs clamscan --no-summary --infected --recursive -d "$hdb" -d "$hsb" "$tree")
t_medh=$(best "$M" scan "$tree" --hashes "$hdb" --hashes "$hsb" --threads 2 --normal-priority)
printf 'clamscan -d (1 run):                   %6.2f s\n' "$t_clam"
printf 'medguard scan --hashes:                %6.2f s  (%.2fx clamscan'"'"'s time)\n' "$t_medh" "$(echo "$t_medh / $t_clam" | bc -l)"
