#!/usr/bin/env python3
"""Inputs for bench/vuln.sh, generated from the real advisories in shared/data.

  vuln_gen.py osv N OUT.zip          N OSV records cloned from the real Go, RustSec, AlmaLinux
                                     and Debian/Ubuntu ones (ids and package names suffixed)
  vuln_gen.py sbom OSV.zip N OUT     a CycloneDX SBOM of N components, about a third of them
                                     packages the records name (versions drawn around their
                                     range bounds), the rest unrelated
  vuln_gen.py cargolock N OUT        a Cargo.lock of N crates: every RustSec crate at versions
                                     around its bounds, plus filler crates
  vuln_gen.py lock2sbom Cargo.lock OUT   a Cargo.lock as a CycloneDX SBOM (pkg:cargo purls)
  vuln_gen.py dpkg2sbom OUT          this machine's dpkg packages as a CycloneDX SBOM (until the
                                     inventory crate's `medguard sbom` exists)
"""
import glob, json, os, random, sys, zipfile

DATA = os.environ.get("MEDGUARD_SHARED_DATA", os.path.join(os.path.dirname(__file__), "../../shared/data"))
if not os.path.isdir(DATA):
    DATA = "/work/shared/data"


def real_records():
    files = sorted(glob.glob(f"{DATA}/osv-go/data/osv/*.json")
                   + glob.glob(f"{DATA}/osv-rustsec/osv/crates/*.json")
                   + glob.glob(f"{DATA}/osv-almalinux/advisories/*/*.json")
                   + glob.glob(f"{DATA}/osv-debian-ubuntu-samples/gcp/website/testdata/osv/*.json"))
    return [json.load(open(f)) for f in files]


def gen_osv(n, out):
    base = real_records()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for i in range(n):
            rec = json.loads(json.dumps(base[i % len(base)]))
            k = i // len(base)
            if k:
                rec["id"] = f"{rec['id']}-G{k}"
                for a in rec.get("affected", []):
                    if "package" in a:
                        a["package"]["name"] = f"{a['package']['name']}-g{k}"
            z.writestr(f"{i:06d}-{rec['id']}.json", json.dumps(rec))


PURL = {"Go": "golang", "crates.io": "cargo", "PyPI": "pypi", "npm": "npm"}


def purl_of(eco, name, version):
    base, _, release = eco.partition(":")
    if base in ("AlmaLinux",):
        return f"pkg:rpm/almalinux/{name}@{version}?distro=almalinux-{release}"
    if base in ("Debian", "Ubuntu"):
        return f"pkg:deb/{base.lower()}/{name}@{version}?distro={base.lower()}-{release}"
    if base == "Go":
        ns, _, n = name.rpartition("/")
        return f"pkg:golang/{ns}/{n}@{version}" if ns else f"pkg:golang/{n}@{version}"
    if base in PURL:
        return f"pkg:{PURL[base]}/{name}@{version}"
    return None


def gen_sbom(osv_zip, n, out):
    rnd = random.Random(7)
    cands = []
    with zipfile.ZipFile(osv_zip) as z:
        names = z.namelist()
        for entry in rnd.sample(names, min(len(names), n)):
            rec = json.loads(z.read(entry))
            for a in rec.get("affected", []):
                p = a.get("package")
                if not p:
                    continue
                bounds = [v for r in a.get("ranges", []) if r["type"] != "GIT" for e in r["events"] for v in e.values() if v != "0"]
                bounds += a.get("versions", [])[:3]
                if bounds:
                    cands.append((p["ecosystem"], p["name"], rnd.choice(bounds)))
    comps = []
    for eco, name, ver in cands[: n // 3]:
        purl = purl_of(eco, name, ver)
        if purl:
            comps.append({"type": "library", "name": name, "version": ver, "purl": purl,
                          "properties": [{"name": "medguard:running", "value": rnd.choice(["true", "false"])}]})
    i = 0
    while len(comps) < n:
        comps.append({"type": "library", "name": f"filler{i}", "version": "1.0.0", "purl": f"pkg:cargo/filler{i}@1.0.0"})
        i += 1
    json.dump({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": comps}, open(out, "w"))


def rustsec_crates():
    out = {}
    for f in glob.glob(f"{DATA}/osv-rustsec/osv/crates/*.json"):
        rec = json.load(open(f))
        for a in rec.get("affected", []):
            p = a.get("package", {})
            if p.get("ecosystem") != "crates.io":
                continue
            for r in a.get("ranges", []):
                for e in r["events"]:
                    for v in e.values():
                        out.setdefault(p["name"], set()).add(v)
    return out


def semverish(v):
    parts = v.split("-")[0].split("+")[0].split(".")
    return len(parts) == 3 and all(x.isdigit() for x in parts)


def gen_cargolock(n, out):
    rnd = random.Random(3)
    pkgs = []
    for name, vs in sorted(rustsec_crates().items()):
        for v in sorted(vs):
            if v == "0" or not semverish(v):
                continue
            major, minor, patch = (int(x) for x in v.split("-")[0].split("."))
            for cand in {v, f"{major}.{minor}.{max(patch - 1, 0)}", f"{major}.{minor}.{patch + 1}"}:
                pkgs.append((name, cand))
    pkgs = sorted(set(pkgs))
    i = 0
    while len(pkgs) < n:
        pkgs.append((f"filler-crate-{i}", f"1.{i % 7}.{i % 13}"))
        i += 1
    with open(out, "w") as f:
        f.write("# generated by bench/vuln_gen.py\nversion = 3\n")
        for name, v in pkgs[:max(n, len(pkgs))]:
            f.write(f'\n[[package]]\nname = "{name}"\nversion = "{v}"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\n')


def lock2sbom(lock, out):
    comps = []
    name = version = None
    for line in open(lock):
        line = line.strip()
        if line == "[[package]]":
            name = version = None
        elif line.startswith("name = "):
            name = line.split('"')[1]
        elif line.startswith("version = ") and name:
            version = line.split('"')[1]
            comps.append({"type": "library", "name": name, "version": version, "purl": f"pkg:cargo/{name}@{version}"})
    json.dump({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": comps}, open(out, "w"))


def dpkg2sbom(out):
    import subprocess
    rows = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\t${Version}\t${Architecture}\t${source:Package}\t${db:Status-Abbrev}\n"],
                          check=True, capture_output=True, text=True).stdout
    osrel = dict(l.rstrip().split("=", 1) for l in open("/etc/os-release") if "=" in l)
    distro = f"{osrel.get('ID', 'debian')}-{osrel.get('VERSION_ID', '').strip(chr(34))}"
    ns = osrel.get("ID", "debian")
    comps = []
    for line in rows.splitlines():
        name, version, arch, source, status = line.split("\t")
        if not status.startswith("ii"):
            continue
        purl = f"pkg:deb/{ns}/{name}@{version}?arch={arch}&distro={distro}"
        if source and source != name:
            purl += f"&upstream={source}"
        comps.append({"type": "library", "name": name, "version": version, "purl": purl})
    json.dump({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": comps}, open(out, "w"))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "osv":
        gen_osv(int(sys.argv[2]), sys.argv[3])
    elif cmd == "sbom":
        gen_sbom(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif cmd == "cargolock":
        gen_cargolock(int(sys.argv[2]), sys.argv[3])
    elif cmd == "dpkg2sbom":
        dpkg2sbom(sys.argv[2])
    elif cmd == "lock2sbom":
        lock2sbom(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
