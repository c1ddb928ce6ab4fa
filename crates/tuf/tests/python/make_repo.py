"""Builds a TUF repository with python-tuf (tuf.api.metadata), laid out as medguard's client
expects: one delegated targets role per device model, trusted for MODEL/*, and targets whose
custom metadata names the model and bundle version. Consistent snapshot.

usage: make_repo.py OUT_DIR MODEL FILE VERSION [FILE VERSION]...
"""
import hashlib
import os
import sys
from datetime import datetime, timedelta, timezone

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer


def main() -> None:
    out, model = sys.argv[1], sys.argv[2]
    pairs = list(zip(sys.argv[3::2], sys.argv[4::2]))
    expires = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=7)
    signers = {role: CryptoSigner.generate_ed25519() for role in
               ("root", "targets", "snapshot", "timestamp", model)}

    root = Root(expires=expires, consistent_snapshot=True)
    for role in ("root", "targets", "snapshot", "timestamp"):
        root.add_key(signers[role].public_key, role)

    delegated = Targets(expires=expires)
    os.makedirs(os.path.join(out, "targets", model), exist_ok=True)
    for path, version in pairs:
        data = open(path, "rb").read()
        name = f"{model}/{os.path.basename(path)}"
        target = TargetFile.from_data(name, data, ["sha256"])
        target.unrecognized_fields["custom"] = {
            "medguard": {"model": model, "bundle_version": version}
        }
        delegated.targets[name] = target
        digest = hashlib.sha256(data).hexdigest()
        with open(os.path.join(out, "targets", model, f"{digest}.{os.path.basename(path)}"), "wb") as f:
            f.write(data)

    top = Targets(expires=expires)
    key = signers[model].public_key
    top.delegations = Delegations(
        keys={key.keyid: key},
        roles={model: DelegatedRole(model, [key.keyid], 1, True, paths=[f"{model}/*"])},
    )
    snapshot = Snapshot(expires=expires)
    snapshot.meta["targets.json"] = MetaFile(version=1)
    snapshot.meta[f"{model}.json"] = MetaFile(version=1)

    meta_dir = os.path.join(out, "metadata")
    os.makedirs(meta_dir, exist_ok=True)
    ser = JSONSerializer(compact=False)

    def write(md: Metadata, role: str, filename: str) -> bytes:
        md.sign(signers[role])
        raw = md.to_bytes(ser)
        with open(os.path.join(meta_dir, filename), "wb") as f:
            f.write(raw)
        return raw

    write(Metadata(root), "root", "1.root.json")
    write(Metadata(top), "targets", "1.targets.json")
    write(Metadata(delegated), model, f"1.{model}.json")
    snap_raw = write(Metadata(snapshot), "snapshot", "1.snapshot.json")
    timestamp = Timestamp(expires=expires)
    timestamp.snapshot_meta = MetaFile(
        version=1, length=len(snap_raw), hashes={"sha256": hashlib.sha256(snap_raw).hexdigest()}
    )
    write(Metadata(timestamp), "timestamp", "timestamp.json")


if __name__ == "__main__":
    main()
