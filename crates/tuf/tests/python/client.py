"""python-tuf's client (ngclient.Updater) fetching one target from a TUF repository.

usage: client.py BASE_URL TRUSTED_ROOT METADATA_DIR DOWNLOAD_DIR TARGET_NAME
Prints the downloaded path and the target's custom metadata as JSON; exits 1 on refusal.
"""
import json
import os
import sys

from tuf.ngclient import Updater


def main() -> int:
    base, trusted, meta_dir, out, name = sys.argv[1:6]
    os.makedirs(meta_dir, exist_ok=True)
    os.makedirs(out, exist_ok=True)
    updater = Updater(
        metadata_dir=meta_dir,
        metadata_base_url=f"{base}/metadata/",
        target_base_url=f"{base}/targets/",
        target_dir=out,
        bootstrap=open(trusted, "rb").read(),
    )
    try:
        updater.refresh()
        info = updater.get_targetinfo(name)
        if info is None:
            print(json.dumps({"error": f"no target {name}"}))
            return 1
        path = updater.download_target(info)
    except Exception as e:  # noqa: BLE001 - report any refusal as such
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        return 1
    print(json.dumps({"path": path, "length": info.length,
                      "custom": info.unrecognized_fields.get("custom")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
