"""biotable on Apache Spark: the map side runs `biotable map` on every partition, the reduce
side merges the parts with `biotable merge` into the tables one `biotable extract` run writes
(CSV, Parquet, ...).

    python examples/spark/biotable_spark.py --input docs.jsonl --out tables/ \
        [--format parquet,csv] [--partitions 64] [--mode pipe|arrow] [--master local[2]] \
        [--biotable PATH] [--model DIR] [--threads N] [--staging DIR]

or the same arguments after `spark-submit examples/spark/biotable_spark.py`.

Input: JSONL or Parquet with a document id and a text column (`--id-field`, `--text-field`).

Map modes:
- `pipe` (default): `RDD.pipe` streams each partition's documents, as JSON lines, through one
  `biotable map` process. Needs RDDs (classic clusters: EMR, Dataproc, Databricks classic).
- `arrow`: `DataFrame.mapInArrow`, for Spark Connect and serverless clusters where RDDs are
  unavailable: each partition is spooled to a local temporary file and piped through
  `biotable map`; its output lines come back as Arrow batches.

Either way the map output (typed JSON records) is written as text files to the staging folder,
one `part-*` file per partition, and `biotable merge STAGING --out OUT` reduces them on the
driver. The staging folder must be a path the driver can read as a local file (local disk,
/dbfs, an NFS/EFS mount).

Retries: `biotable map` never exits non-zero for a bad record (it writes an `error` record), and
the same input gives the same bytes, so a task that Spark retries writes the same part. A part
cut short (a killed task whose output survived) is refused by merge, which checks that every
part ends with its `run` record. Parts made with another model or settings are refused too.

Executors need the biotable binary, its model folder and its shared libraries (libtorch's
`lib/` and `libonnxruntime.so`): see "Scaling out" in the README.
"""

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--input", required=True, help="JSONL or Parquet documents (file or folder)")
    p.add_argument("--out", required=True, help="output folder of the tables")
    p.add_argument("--format", default="parquet,csv", help="biotable merge --format")
    p.add_argument("--partitions", type=int, default=0, help="repartition the documents first")
    p.add_argument("--mode", choices=["pipe", "arrow"], default="pipe")
    p.add_argument("--master", default=None, help="Spark master (default: spark-submit's)")
    p.add_argument("--biotable", default=os.environ.get("BIOTABLE_BIN", "biotable"),
                   help="biotable binary on the executors and the driver")
    p.add_argument("--model", default=None, help="model folder on the executors")
    p.add_argument("--threads", type=int, default=1,
                   help="threads per map task (match spark.task.cpus)")
    p.add_argument("--id-field", default="id")
    p.add_argument("--text-field", default="text")
    p.add_argument("--staging", default=None,
                   help="folder for the map output (default: OUT/_parts, removed after merge)")
    p.add_argument("--keep-staging", action="store_true")
    return p.parse_args(argv)


def map_command(args):
    cmd = [args.biotable, "map", "--threads", str(args.threads),
           "--id-field", args.id_field, "--text-field", args.text_field]
    if args.model:
        cmd += ["--model", args.model]
    return cmd


def executor_env():
    """What `biotable map` needs from the environment on an executor."""
    keep = ("LD_LIBRARY_PATH", "BIOTABLE_ORT_LIB", "BIOTABLE_CACHE", "RUST_LOG", "HOME")
    return {k: os.environ[k] for k in keep if k in os.environ}


def read_lines(spark, args):
    """The documents as JSON lines, one string column `line`. JSONL is passed through as it is,
    so biotable itself parses every record and reports the bad ones (as `extract` would);
    Parquet rows become JSON objects with the id and text fields."""
    from pyspark.sql import functions as F

    path = args.input
    is_parquet = path.rstrip("/").endswith(".parquet") or (
        os.path.isdir(path) and any(f.endswith(".parquet") for f in os.listdir(path)))
    if is_parquet:
        df = spark.read.parquet(path)
        for field in (args.id_field, args.text_field):
            if field not in df.columns:
                sys.exit(f"biotable_spark: {path} has no column {field!r} (columns: {df.columns})")
        df = df.select(F.to_json(F.struct(
            F.col(args.id_field).cast("string").alias(args.id_field),
            F.col(args.text_field).cast("string").alias(args.text_field))).alias("line"))
    else:
        df = spark.read.text(path).select(F.col("value").alias("line"))
    if args.partitions:
        df = df.repartition(args.partitions)
    return df


def map_pipe(df, args, staging):
    """Classic Spark: RDD.pipe through `biotable map` (one process per partition)."""
    cmd = " ".join(shlex.quote(c) for c in map_command(args))
    parts = df.rdd.map(lambda row: row[0]).pipe(cmd, env=executor_env(), checkCode=True)
    parts.saveAsTextFile(staging)


def map_arrow(df, args, staging):
    """Spark Connect / serverless: mapInArrow, spooling each partition to a temporary file."""
    command = map_command(args)
    env = {**os.environ, **executor_env()}

    def run_map(batches):
        import pyarrow as pa

        with tempfile.TemporaryDirectory(prefix="biotable-map-") as tmp:
            docs = os.path.join(tmp, "docs.jsonl")
            with open(docs, "w", encoding="utf-8") as f:
                for batch in batches:
                    for line in batch.column(0).to_pylist():
                        f.write(line + "\n")
            with open(docs, "rb") as stdin:
                proc = subprocess.Popen(command, stdin=stdin, stdout=subprocess.PIPE, env=env)
                lines = []
                for line in proc.stdout:
                    lines.append(line.decode("utf-8").rstrip("\n"))
                    if len(lines) >= 4096:
                        yield pa.RecordBatch.from_pydict({"record": lines})
                        lines = []
                if lines:
                    yield pa.RecordBatch.from_pydict({"record": lines})
                if proc.wait() != 0:
                    raise RuntimeError(f"{' '.join(command)} exited with status {proc.returncode}")

    df.mapInArrow(run_map, "record string").write.mode("overwrite").text(staging)


def main(argv=None):
    args = parse_args(argv if argv is not None else sys.argv[1:])
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("biotable")
    if args.master:
        builder = builder.master(args.master)
        if args.master.startswith("local"):
            # Local workers run this Python (the one with pyarrow), not the first on the PATH.
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    staging = args.staging or os.path.join(args.out, "_parts")
    if os.path.exists(staging):
        shutil.rmtree(staging)
    os.makedirs(args.out, exist_ok=True)
    try:
        df = read_lines(spark, args)
        (map_pipe if args.mode == "pipe" else map_arrow)(df, args, staging)
    finally:
        spark.stop()
    merge = [args.biotable, "merge", staging, "--out", args.out, "--format", args.format]
    print("biotable_spark: " + " ".join(shlex.quote(c) for c in merge), file=sys.stderr)
    subprocess.run(merge, check=True)
    if not args.keep_staging:
        shutil.rmtree(staging)


if __name__ == "__main__":
    main()
