"""Local Spark for the lab: the S3A connector jars and one SparkSession configured from settings.
Why: docs/adr/0002-spark-3.5-and-s3a-jars-from-maven.md.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
from pathlib import Path

from taxilab.core.settings import PROJECT_ROOT, Settings
from taxilab.core.state import write_text

log = logging.getLogger(__name__)

JAR_SUMS = Path(__file__).resolve().parent / "jars.sha256"


class JarError(RuntimeError):
    pass


def bundled_hadoop_version() -> str:
    """Hadoop version pyspark was built with, read off its jars (hadoop-client-api-X.jar)."""
    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    for jar in jars.glob("hadoop-client-api-*.jar"):
        return jar.stem.removeprefix("hadoop-client-api-")
    raise JarError(f"no hadoop-client-api jar in {jars}: is pyspark installed correctly?")


def _jar_specs(settings: Settings) -> list[tuple[str, str, str]]:
    import pyspark

    s = settings.spark
    return [
        ("org.apache.hadoop", "hadoop-aws", s.hadoop_aws_version),
        ("com.amazonaws", "aws-java-sdk-bundle", s.aws_sdk_bundle_version),
        # PathOutputCommitProtocol: lets Spark use the S3A committers (see spark_conf).
        ("org.apache.spark", "spark-hadoop-cloud_2.12", pyspark.__version__),
    ]


def jars_dir(settings: Settings) -> Path:
    # Shared by every state dir of this checkout (tests use their own state dirs): 280 MB once.
    return PROJECT_ROOT / ".lab" / "jars"


def ensure_jars(settings: Settings, progress: bool = True) -> list[Path]:
    """Download (once) and verify the S3A connector jars. Returns their paths."""
    hadoop = bundled_hadoop_version()
    if hadoop != settings.spark.hadoop_aws_version:
        raise JarError(
            f"pyspark bundles Hadoop {hadoop} but settings ask for hadoop-aws {settings.spark.hadoop_aws_version}: "
            "they must match (mismatched S3A jars fail at runtime)"
        )
    out = jars_dir(settings)
    out.mkdir(parents=True, exist_ok=True)
    sums = committed_jar_sums()
    paths = []
    for group, artifact, version in _jar_specs(settings):
        name = f"{artifact}-{version}.jar"
        expected = sums.get(name)
        if expected is None:
            raise JarError(
                f"{name}: no SHA-256 committed in {JAR_SUMS}; add the jar's sum there (computed from the "
                "file, cross-checked with Maven Central's .sha1) before using this version"
            )
        dest = out / name
        ok_marker = out / (name + ".verified")
        if dest.exists() and ok_marker.exists() and ok_marker.read_text().strip() == expected:
            paths.append(dest)  # verified against the committed sum when it was cached
            continue
        if not (dest.exists() and _sha256(dest) == expected):
            url = f"{settings.spark.maven_repo}/{group.replace('.', '/')}/{artifact}/{version}/{name}"
            log.info("downloading %s from Maven Central", name)
            bar = _progress_bar(name) if progress else None
            try:
                _download(url, dest, progress=bar)
            except Exception as e:  # noqa: BLE001 - any transport failure: name the jar and the URL
                dest.unlink(missing_ok=True)
                raise JarError(f"{name}: cannot download {url}: {e}") from e
            finally:
                if bar:
                    bar(None, None)
            actual = _sha256(dest)
            if actual != expected:
                dest.unlink(missing_ok=True)
                raise JarError(
                    f"{name}: SHA-256 {actual} does not match the sum committed in {JAR_SUMS} "
                    f"({expected}); the download from {url} was deleted"
                )
        write_text(ok_marker, expected)
        paths.append(dest)
    return paths


def committed_jar_sums() -> dict[str, str]:
    """{jar file name: SHA-256} from emulation/jars.sha256 (sha256sum's format)."""
    sums = {}
    for n, line in enumerate(JAR_SUMS.read_text().splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or len(parts[0]) != 64 or any(c not in "0123456789abcdef" for c in parts[0]):
            raise JarError(f"{JAR_SUMS} line {n}: expected '<sha256 hex>  <jar name>', got {line!r}")
        sums[parts[1].lstrip("*")] = parts[0]
    return sums


def _download(url: str, dest: Path, progress=None) -> None:
    """Stream url to dest (complete or absent: written to a temp name, renamed at the end)."""
    import requests
    from tenacity import retry, stop_after_attempt, wait_exponential

    from taxilab.core.state import atomic_output

    @retry(stop=stop_after_attempt(4), wait=wait_exponential(multiplier=1, max=10), reraise=True)
    def fetch() -> None:
        with requests.get(url, stream=True, timeout=60) as r, atomic_output(dest) as part:
            r.raise_for_status()
            total = int(r.headers.get("Content-Length") or 0) or None
            done = 0
            with part.open("wb") as f:
                for chunk in r.iter_content(1 << 20):
                    f.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)

    fetch()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _progress_bar(name: str):
    from tqdm import tqdm

    state: dict = {}

    def update(done, total):
        if done is None:
            if "bar" in state:
                state["bar"].close()
            return
        if "bar" not in state:
            state["bar"] = tqdm(total=total, unit="B", unit_scale=True, desc=f"jar {name}", leave=False)
            state["n"] = 0
        state["bar"].update(done - state["n"])
        state["n"] = done

    return update


def _log4j_config(settings: Settings) -> Path:
    """Spark's own logging goes to <state_dir>/logs/spark.log, not the terminal."""
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    path = settings.logs_dir / "log4j2.properties"
    logfile = settings.logs_dir / "spark.log"
    write_text(
        path,
        "\n".join(
            [
                "rootLogger.level = warn",
                "rootLogger.appenderRef.file.ref = file",
                "appender.file.type = File",
                "appender.file.name = file",
                f"appender.file.fileName = {logfile}",
                "appender.file.append = true",
                "appender.file.layout.type = PatternLayout",
                "appender.file.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n",
                "logger.s3a.name = org.apache.hadoop.fs.s3a",
                "logger.s3a.level = warn",
                "logger.parquet.name = org.apache.parquet",
                "logger.parquet.level = error",
            ]
        )
        + "\n",
    )
    return path


def spark_conf(settings: Settings, jars: list[Path]) -> dict[str, str]:
    s = settings.spark
    log4j = _log4j_config(settings)
    java_opts = f"-Dlog4j.configurationFile=file:{log4j} -Dlog4j2.configurationFile=file:{log4j}"
    conf = {
        "spark.master": s.master,
        "spark.app.name": "taxilab",
        "spark.driver.memory": s.driver_memory,
        "spark.driver.extraJavaOptions": java_opts,
        "spark.jars": ",".join(str(j) for j in jars),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(s.shuffle_partitions),
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.sql.parquet.compression.codec": "snappy",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.host": "127.0.0.1",
        # Glue-style s3:// paths and s3a:// both go through S3A.
        "spark.hadoop.fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3a.bucket.probe": "0",
        "spark.hadoop.fs.s3a.attempts.maximum": "10",
        "spark.hadoop.fs.s3a.retry.limit": "10",
        "spark.hadoop.fs.s3a.connection.maximum": "64",
        "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
        # S3A staging committers instead of FileOutputCommitter's rename-based commit, which on an object
        # store copies every file two or three times and can fail listing its own _temporary tree. Tasks
        # write to local disk and upload as uncompleted multipart uploads; job commit completes them
        # ("partitioned": replaces only the partitions written = dynamic partition overwrite;
        # "directory": replaces the whole output path). spark_jobs.io.lake picks the committer per write.
        "spark.sql.sources.commitProtocolClass": "org.apache.spark.internal.io.cloud.PathOutputCommitProtocol",
        "spark.sql.parquet.output.committer.class": "org.apache.spark.internal.io.cloud.BindingParquetOutputCommitter",
        "spark.hadoop.mapreduce.outputcommitter.factory.scheme.s3a": "org.apache.hadoop.fs.s3a.commit.S3ACommitterFactory",
        "spark.hadoop.mapreduce.outputcommitter.factory.scheme.s3": "org.apache.hadoop.fs.s3a.commit.S3ACommitterFactory",
        "spark.hadoop.fs.s3a.committer.name": "partitioned",
        "spark.hadoop.fs.s3a.committer.staging.conflict-mode": "replace",
        # Job cleanup must not abort every pending upload under the destination: runs for different months
        # write the same table (staging/nyc_taxi) at once, and one job's cleanup aborted the other's uploads
        # (its commit then failed or stalled). Uploads a killed run left behind are purged when older than
        # an hour instead (on AWS: the bucket's AbortIncompleteMultipartUpload lifecycle rule). ADR 0004.
        "spark.hadoop.fs.s3a.committer.abort.pending.uploads": "false",
        "spark.hadoop.fs.s3a.multipart.purge": "true",
        "spark.hadoop.fs.s3a.multipart.purge.age": "3600",
        "spark.hadoop.fs.s3a.committer.staging.tmp.path": f"file://{settings.state_dir / 'spark' / 'staging'}",
        "spark.hadoop.fs.s3a.buffer.dir": str(settings.state_dir / "spark" / "s3a-buffer"),
        "spark.local.dir": str(settings.state_dir / "spark" / "local"),
    }
    endpoint = settings.endpoint("s3")
    if endpoint:
        conf.update(
            {
                "spark.hadoop.fs.s3a.endpoint": endpoint,
                "spark.hadoop.fs.s3a.endpoint.region": settings.region,
                "spark.hadoop.fs.s3a.path.style.access": "true",
                "spark.hadoop.fs.s3a.connection.ssl.enabled": str(endpoint.startswith("https")).lower(),
                "spark.hadoop.fs.s3a.change.detection.mode": "none",
            }
        )
    if settings.uses_emulator:
        conf.update(
            {
                "spark.hadoop.fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
                "spark.hadoop.fs.s3a.access.key": settings.emulator_access_key,
                "spark.hadoop.fs.s3a.secret.key": settings.emulator_secret_key,
            }
        )
    conf.update(s.extra_conf)
    return conf


def get_session(settings: Settings):
    """The lab's SparkSession (created once per process; later calls return the same one)."""
    from pyspark.sql import SparkSession

    jars = ensure_jars(settings)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder
    for key, value in spark_conf(settings, jars).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def provide_job_sessions(settings: Settings) -> None:
    """Hand the job scripts (spark_jobs.runtime's one seam) this lab's session when they are run without one."""
    from spark_jobs import runtime

    runtime.set_session_provider(lambda: get_session(settings))
