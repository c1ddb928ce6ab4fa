#!/usr/bin/env python3
"""The competitor of bench/cvss.sh: Red Hat's `cvss` package (PyPI) scores every vector of a
file, one per line, and prints `VECTOR<TAB>SCORE` with the same overall score medguard prints:
v3.x the environmental score when an environmental metric is defined, else the temporal score
when a temporal metric is, else the base score; v4.0 the score of all metrics."""
import sys

from cvss import CVSS3, CVSS4

TEMPORAL = {"E", "RL", "RC"}
ENVIRONMENTAL = {"CR", "IR", "AR", "MAV", "MAC", "MPR", "MUI", "MS", "MC", "MI", "MA"}


def defined(vector, names):
    return any(
        part.split(":")[0] in names and not part.endswith(":X") for part in vector.split("/")[1:]
    )


out = []
with open(sys.argv[1]) as f:
    for line in f:
        v = line.strip()
        if not v:
            continue
        if v.startswith("CVSS:4.0/"):
            score = CVSS4(v).base_score
        else:
            base, temporal, environmental = CVSS3(v).scores()
            if defined(v, ENVIRONMENTAL):
                score = environmental
            elif defined(v, TEMPORAL):
                score = temporal
            else:
                score = base
        out.append(f"{v}\t{float(score):.1f}")
sys.stdout.write("\n".join(out) + "\n")
