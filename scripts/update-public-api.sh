#!/usr/bin/env bash
# Adds every public symbol the PublicApiAnalyzers report as undeclared (RS0016) to the project's
# PublicAPI.Unshipped.txt, then removes the entries reported as gone (RS0017). Review the diff before committing:
# the public surface is part of the product.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:-ScaleOps.sln}"
log=$(mktemp)
dotnet build "$target" -p:TreatWarningsAsErrors=false -nologo -clp:NoSummary >"$log" 2>&1 || true
python3 - "$log" <<'PY'
import re, sys, collections
adds = collections.defaultdict(set); removes = collections.defaultdict(set)
for line in open(sys.argv[1], encoding="utf-8"):
    m = re.search(r"warning RS0016: Symbol '(.+)' is not part of the declared public API.*\[(.+\.csproj)\]", line)
    if m: adds[m.group(2)].add(m.group(1))
    m = re.search(r"warning RS0017: Symbol '(.+)' is part of the declared API, but is either not public or could not be found.*\[(.+\.csproj)\]", line)
    if m: removes[m.group(2)].add(m.group(1))
import os
for proj in set(adds) | set(removes):
    path = os.path.join(os.path.dirname(proj), "PublicAPI.Unshipped.txt")
    lines = [l.rstrip("\n") for l in open(path, encoding="utf-8")] if os.path.exists(path) else ["#nullable enable"]
    body = set(l for l in lines[1:] if l) | adds[proj]
    body -= removes[proj]
    with open(path, "w", encoding="utf-8") as f:
        f.write("#nullable enable\n" + "".join(s + "\n" for s in sorted(body, key=lambda s: s.lstrip("~").replace("static ", "").replace("override ", "").replace("abstract ", "").replace("virtual ", "").replace("const ", ""))))
    print(f"{path}: +{len(adds[proj])} -{len(removes[proj])}")
PY
rm -f "$log"
