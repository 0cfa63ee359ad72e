#!/usr/bin/env bash
# Fills fuzz/corpus/ with seeds: the real LL2 answers in
# tests/fixtures/ll2/ (whole pages, and each object alone as a one-item
# page) for `ll2_page`, and typical commands for `chat_command`.
# Idempotent; run from anywhere.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
fixtures="$here/../tests/fixtures/ll2"
page="$here/corpus/ll2_page"
chat="$here/corpus/chat_command"
mkdir -p "$page" "$chat"

for f in "$fixtures"/*.json; do
    cp "$f" "$page/$(basename "$f")"
done
# One page per object, so the fuzzer starts from small inputs too.
if command -v python3 >/dev/null; then
    python3 - "$fixtures" "$page" <<'PY'
import json, pathlib, sys
src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for f in sorted(src.glob("*.json")):
    data = json.loads(f.read_text())
    objects = data if isinstance(data, list) else data.get("results", [data])
    for i, obj in enumerate(objects):
        page = {"count": 1, "next": None, "previous": None, "results": [obj]}
        (dst / f"{f.stem}-{i}.json").write_text(json.dumps(page))
PY
fi

i=0
while IFS= read -r line; do
    printf '%s' "$line" > "$chat/seed-$i"
    i=$((i + 1))
done <<'CMDS'
/start
/help
/subscribe
/subscribe agency SpaceX -program Starlink
/subscribe@tminus_bot type launch agency Rocket Lab
/subscribe kind event type Docking -agency NASA
/sub program "Artemis", agency 44
/unsubscribe 2
/unsubscribe all
/list
/next
/next 20
/timezone Europe/Berlin
/tz america/new_york
/reminders 24h 1h 10m
/reminders 1h30m, 2d
/reminders off
/unknown@other_bot args
CMDS
echo "seeded: $(ls "$page" | wc -l) LL2 pages, $(ls "$chat" | wc -l) commands"
