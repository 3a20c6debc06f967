"""Write tests/data/rsa_keys.pem: RSA-2048 private keys (PKCS#8 PEM, one after another) for the test suite.

The suite hands these out instead of generating a key for every account and peer actor (tests/keys.py).
They are test fixtures, published on purpose: never use them anywhere else.

Usage (from the repository root): python scripts/make_test_keys.py [COUNT]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from activitypub.keys import generate_rsa_key_pair

TARGET = Path(__file__).resolve().parent.parent / "tests" / "data" / "rsa_keys.pem"
DEFAULT_COUNT = 64


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_COUNT
    TARGET.write_text("".join(generate_rsa_key_pair().private_pem for _ in range(count)))
    print(f"wrote {count} keys to {TARGET}")


if __name__ == "__main__":
    main()
