"""Build step of the `pyspark` target: the S3A connector jars into pyspark's jars folder.

The same three jars, versions and Maven Central checksums the lab uses on the host (emulation/spark.py:
hadoop-aws and the AWS SDK bundle matching pyspark 3.5's Hadoop 3.3.4, spark-hadoop-cloud for the S3A
committers). Each download is verified against Maven Central's .sha1 file; a mismatch fails the build.
Usage: python fetch_jars.py DEST_DIR group:artifact:version ...
"""

import hashlib
import sys
import urllib.request
from pathlib import Path

MAVEN = "https://repo1.maven.org/maven2"


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as r:
        return r.read()


def main(dest: str, coords: list[str]) -> None:
    out = Path(dest)
    for coord in coords:
        group, artifact, version = coord.split(":")
        name = f"{artifact}-{version}.jar"
        url = f"{MAVEN}/{group.replace('.', '/')}/{artifact}/{version}/{name}"
        data = fetch(url)
        expected = fetch(url + ".sha1").decode().split()[0].strip()
        actual = hashlib.sha1(data).hexdigest()
        if actual != expected:
            sys.exit(f"{name}: SHA-1 {actual} does not match Maven Central's {expected}")
        (out / name).write_bytes(data)
        print(f"{name}: {len(data)} bytes, SHA-1 verified")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
