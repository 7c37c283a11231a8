//! The `biotable` command line: a thin layer over the library.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use biotable::corpus::{default_data_dir, CorpusSpec};
use biotable::export::Formats;
use biotable::ingest::FieldNames;
use biotable::ner::model::ModelDir;
use biotable::ner::{BackendChoice, NerEngine, NerOptions};
use biotable::pipeline::{default_model_dir, extract, ExtractOptions};

/// Exit status when the run finished but some records were skipped (listed in errors.csv).
const EXIT_SKIPPED: u8 = 3;

#[derive(Parser)]
#[command(
    name = "biotable",
    version,
    about = "Biomedical news and abstracts in, a knowledge table out"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Find entities in documents and write the tables.
    ///
    /// Exit status: 0 when every record was read, 3 when some were skipped or renamed (see
    /// DIR/errors.csv), 1 on a fatal error or, with --strict, at the first bad record
    /// (nothing is left looking finished).
    Extract {
        /// Files or folders (recursively): .txt/.md, .jsonl, .csv, optionally .gz; `-` reads
        /// JSONL from stdin.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Output families: any of csv, jsonl, json, parquet, html (report.html; implies csv).
        #[arg(long, default_value = "csv,jsonl,json")]
        format: Formats,
        /// Take only shard K of N (every N-th input record, from the K-th) and also write
        /// DIR/part.jsonl, which `biotable merge` reads: N such runs on N machines, then one
        /// merge, give the tables of one run.
        #[arg(long, value_name = "K/N")]
        shard: Option<biotable::pipeline::admit::Shard>,
        #[command(flatten)]
        engine: EngineArgs,
        /// Print wall and CPU seconds per stage at the end (always in manifest.json).
        #[arg(long)]
        profile: bool,
        /// JSONL field / CSV column holding the document id.
        #[arg(long, default_value = "id")]
        id_field: String,
        /// JSONL field / CSV column holding the text.
        #[arg(long, default_value = "text")]
        text_field: String,
        /// Stop after N documents (to try a corpus first).
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
        /// Do not link mentions to ontologies and company lists (entities keyed by name).
        #[arg(long)]
        no_link: bool,
        /// Go on from where an interrupted run with the same arguments stopped (DIR keeps a
        /// checkpoint while a run is unfinished).
        #[arg(long)]
        resume: bool,
        /// Stop at the first bad record (exit status 1) instead of skipping it.
        #[arg(long)]
        strict: bool,
        /// Seconds between checkpoints.
        #[arg(long, default_value_t = 30.0, hide = true)]
        checkpoint_secs: f64,
        /// Documents per processing chunk.
        #[arg(long, default_value_t = 256, hide = true)]
        chunk_docs: usize,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Map side of a split run (Spark): JSONL documents on stdin, typed JSONL records on
    /// stdout (mention, document, error; then entity, pair and run).
    ///
    /// Nothing is written anywhere else. A bad record becomes an `error` record, never a
    /// non-zero exit; the same input gives the same output bytes.
    Map {
        #[command(flatten)]
        engine: EngineArgs,
        /// JSON field holding the document id.
        #[arg(long, default_value = "id")]
        id_field: String,
        /// JSON field holding the text.
        #[arg(long, default_value = "text")]
        text_field: String,
        /// Do not link mentions (entities keyed by name).
        #[arg(long)]
        no_link: bool,
        /// Documents per processing chunk.
        #[arg(long, default_value_t = 256, hide = true)]
        chunk_docs: usize,
    },
    /// Reduce side: merge the parts of a split run into the tables one `extract` writes.
    ///
    /// Parts are `biotable map` outputs (.jsonl, .jsonl.gz), folders of them (Spark's
    /// part-* files), or `extract --shard` output folders. Parts made with another model or
    /// settings are refused.
    Merge {
        #[arg(required = true)]
        parts: Vec<PathBuf>,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Output families: any of csv, jsonl, json, parquet, html.
        #[arg(long, default_value = "csv,jsonl,json")]
        format: Formats,
        /// The documents (files or folders), for the texts of --format html.
        #[arg(long, num_args = 1..)]
        docs: Option<Vec<PathBuf>>,
    },
    /// Write DIR/report.html: one self-contained page of a finished run's tables (top
    /// entities per label, mentions in context, the co-occurrence network, documents with
    /// their entities highlighted). Opens from disk, no network, no server.
    Report {
        /// Output folder of a finished extract or merge.
        dir: PathBuf,
        /// Where to write the page (default DIR/report.html).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Entities shown per label.
        #[arg(long, default_value_t = 50)]
        top: usize,
        /// Documents shown with their entities highlighted.
        #[arg(long, default_value_t = 20)]
        documents: usize,
        /// Where the document texts are (default: the run's inputs, from its manifest).
        #[arg(long, num_args = 1..)]
        docs: Option<Vec<PathBuf>>,
    },
    /// Train the NER model as a TOML config says (resumes from its last checkpoint).
    Train {
        #[arg(long)]
        config: PathBuf,
    },
    /// Score a model on a public corpus: entity-level exact-match P/R/F1 per label (JSON).
    Eval {
        #[command(flatten)]
        engine: EngineArgs,
        /// ncbi-disease, bc5cdr, jnlpba, bionlp13cg, wnut17, multiconer2, formal-orgs,
        /// org-lists; whole PubTator documents: ncbi-disease-docs, bc5cdr-docs.
        #[arg(long)]
        corpus: String,
        #[arg(long, default_value = "test")]
        split: String,
        /// Corpora folder (default: $BIOTABLE_DATA or ../shared/data).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Score the labels after normalization (company/organization evidence, short forms),
        /// as `extract` writes them.
        #[arg(long)]
        normalize: bool,
        /// Rewrite the test sentences in this case first (title: headline Title Case, upper,
        /// lower); gold spans are unchanged.
        #[arg(long)]
        case: Option<biotable::corpus::casing::Case>,
        /// Ablations: per-word argmax instead of constrained Viterbi; no span-edge trimming;
        /// no document-level consistency; no markup hygiene; lexicon features off.
        #[arg(long)]
        no_viterbi: bool,
        #[arg(long)]
        no_trim: bool,
        /// Ablation: keep touching spans of one type apart.
        #[arg(long)]
        no_merge: bool,
        #[arg(long)]
        no_consistency: bool,
        #[arg(long)]
        no_hygiene: bool,
        #[arg(long)]
        no_lexicon: bool,
        /// List up to N false positives and N false negatives in the report (dev splits only:
        /// never read test errors).
        #[arg(long, default_value_t = 0)]
        errors: usize,
    },
    /// Score disease linking on the gold mentions of ncbi-disease or bc5cdr (JSON).
    EvalLink {
        #[arg(long)]
        corpus: String,
        #[arg(long, default_value = "test")]
        split: String,
        /// Corpora folder (default: $BIOTABLE_DATA or ../shared/data).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Link against this lexicon (.tsv.gz from scripts/build-lexicon.py) instead of the
        /// bundled one, e.g. one built with `--corpus-splits train` to tune on the dev splits.
        #[arg(long)]
        lexicon: Option<PathBuf>,
        /// How many of the most frequent errors to list.
        #[arg(long, default_value_t = 25)]
        errors: usize,
    },
    /// Score the abbreviation detector on a gold file (JSON).
    EvalAbbrev {
        #[arg(long, default_value = "data/eval/abbreviations.jsonl")]
        gold: PathBuf,
    },
}

/// The model and the engine that runs it (extract, map, eval).
#[derive(Args)]
struct EngineArgs {
    /// Model folder (default: the bundled models/biotable-ner).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Upper bound on word pieces (rows × padded length) per model batch; a batch never mixes
    /// documents.
    #[arg(long, default_value_t = 1024)]
    batch_tokens: usize,
    /// Worker threads for reading, tokenizing and decoding, and the model engine's threads.
    #[arg(long, default_value_t = default_threads())]
    threads: usize,
    /// Model engine: onnx (model.int8.onnx on ONNX Runtime), tch (libtorch, fp32), or auto
    /// (onnx when the model folder has it and the runtime is installed).
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    backend: BackendChoice,
}

impl EngineArgs {
    /// `--model`, or the bundled model.
    fn model_dir(&self) -> PathBuf {
        self.model.clone().unwrap_or_else(default_model_dir)
    }
}

/// Print a line on stdout; a closed pipe (`biotable … | head`) is not an error.
fn say(line: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{line}").and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn main() -> ExitCode {
    biotable::memory::tune_allocator();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("biotable: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Extract {
            inputs,
            out,
            format,
            engine,
            profile,
            id_field,
            text_field,
            limit,
            no_link,
            resume,
            strict,
            checkpoint_secs,
            chunk_docs,
            quiet,
            shard,
        } => {
            let mut opts = ExtractOptions::new(inputs, out, engine.model_dir());
            opts.formats = format;
            opts.batch_tokens = engine.batch_tokens;
            opts.threads = engine.threads;
            opts.backend = engine.backend;
            opts.progress = !quiet && std::io::stderr().is_terminal();
            opts.fields = FieldNames {
                id: id_field,
                text: text_field,
            };
            opts.limit = limit;
            opts.link = !no_link;
            opts.resume = resume;
            opts.strict = strict;
            opts.checkpoint_every = std::time::Duration::from_secs_f64(checkpoint_secs.max(0.0));
            opts.chunk_docs = chunk_docs.max(1);
            opts.shard = shard;
            let summary = extract(&opts)?;
            let c = &summary.manifest.counts;
            say(&format!(
                "biotable: {} documents, {} mentions, {} entities in {:.1}s ({:.0} words/s); tables in {}",
                c.documents,
                c.mentions,
                c.entities,
                summary.manifest.elapsed_seconds,
                summary.manifest.throughput.words_per_second,
                summary.out.display()
            ))?;
            if let Some(note) = &summary.manifest.backend_note {
                eprintln!("biotable: {note}");
            }
            if profile {
                let mut times = biotable::profile::StageTimes::default();
                for row in &summary.manifest.stages {
                    times.add_raw(row.stage, row.wall_seconds, row.cpu_seconds);
                }
                eprint!(
                    "biotable: stage times ({} backend, {} threads)\n{}",
                    summary.manifest.backend,
                    summary.manifest.threads,
                    times.table()
                );
            }
            if c.errors > 0 {
                let first: Vec<String> =
                    summary.first_errors.iter().map(|e| e.to_string()).collect();
                eprintln!(
                    "biotable: skipped {} bad records (first: {}); all are listed in {}",
                    c.errors,
                    first.join("; "),
                    summary.out.join("errors.csv").display()
                );
                return Ok(ExitCode::from(EXIT_SKIPPED));
            }
        }
        Command::Map {
            engine,
            id_field,
            text_field,
            no_link,
            chunk_docs,
        } => {
            let opts = biotable::pipeline::MapOptions {
                settings: biotable::pipeline::map::MapSettings {
                    model: engine.model_dir(),
                    batch_tokens: engine.batch_tokens,
                    threads: engine.threads,
                    backend: engine.backend,
                    link: !no_link,
                },
                inputs: vec![PathBuf::from("-")],
                fields: FieldNames {
                    id: id_field,
                    text: text_field,
                },
                chunk_docs,
            };
            let mut out = std::io::stdout().lock();
            let summary = biotable::pipeline::map(&opts, &mut out)?;
            tracing::info!(
                documents = summary.documents,
                mentions = summary.mentions,
                errors = summary.errors,
                "map done"
            );
        }
        Command::Merge {
            parts,
            out,
            format,
            docs,
        } => {
            let summary = biotable::pipeline::merge(&biotable::pipeline::MergeOptions {
                parts,
                out,
                formats: format,
                docs,
            })?;
            let c = &summary.manifest.counts;
            say(&format!(
                "biotable: merged {} parts: {} documents, {} mentions, {} entities; tables in {}",
                summary.manifest.inputs.len(),
                c.documents,
                c.mentions,
                c.entities,
                summary.out.display()
            ))?;
        }
        Command::Report {
            dir,
            out,
            top,
            documents,
            docs,
        } => {
            let mut opts = biotable::report::ReportOptions::new(dir);
            opts.out = out;
            opts.top = top.max(1);
            opts.documents = documents;
            opts.docs = docs;
            let path = biotable::report::write_report(&opts)?;
            say(&format!(
                "biotable: wrote {} (open it in a browser; it needs no network)",
                path.display()
            ))?;
        }
        Command::Train { config } => {
            let cfg = biotable::train::TrainConfig::from_file(&config)?;
            biotable::train::run(&cfg)?;
        }
        Command::Eval {
            engine,
            corpus,
            split,
            data,
            normalize,
            case,
            no_viterbi,
            no_trim,
            no_merge,
            no_consistency,
            no_hygiene,
            no_lexicon,
            errors,
        } => {
            if errors > 0 && split == "test" {
                anyhow::bail!("--errors lists mistakes for tuning: use a dev split, never test");
            }
            let ner = NerEngine::load(
                &ModelDir(engine.model_dir()),
                NerOptions {
                    batch_tokens: engine.batch_tokens,
                    decode: biotable::ner::decode::DecodeOptions {
                        viterbi: !no_viterbi,
                        trim_edges: !no_trim,
                        merge_adjacent: !no_merge,
                    },
                    doc_consistency: !no_consistency,
                    hygiene: !no_hygiene,
                    lexicon_features: !no_lexicon,
                    backend: engine.backend,
                    threads: engine.threads,
                    ..NerOptions::default()
                },
            )?;
            let spec = CorpusSpec::find(&corpus)?;
            let normalizer = normalize.then(|| {
                biotable::normalize::Normalizer::new(
                    biotable::normalize::lexicon::Lexicon::bundled(),
                )
            });
            let options = biotable::eval::EvalOptions {
                normalizer: normalizer.as_ref(),
                case,
                max_sentences: 0,
                errors,
            };
            let report = biotable::eval::evaluate_with(
                &ner,
                spec,
                &data.unwrap_or_else(default_data_dir),
                &split,
                &options,
            )?;
            say(&serde_json::to_string_pretty(&report)?)?;
        }
        Command::EvalLink {
            corpus,
            split,
            data,
            lexicon,
            errors,
        } => {
            use biotable::normalize::lexicon::Lexicon;
            let own;
            let lex = match lexicon {
                Some(path) => {
                    let file = std::fs::File::open(&path)
                        .with_context(|| format!("cannot open lexicon {}", path.display()))?;
                    own = Lexicon::from_gz(file)
                        .with_context(|| format!("bad lexicon {}", path.display()))?;
                    &own
                }
                None => Lexicon::bundled(),
            };
            let report = biotable::eval_normalize::linking(
                lex,
                &data.unwrap_or_else(default_data_dir),
                &corpus,
                &split,
                errors,
            )?;
            say(&serde_json::to_string_pretty(&report)?)?;
        }
        Command::EvalAbbrev { gold } => {
            let report = biotable::eval_normalize::abbreviations(&gold)?;
            say(&serde_json::to_string_pretty(&report)?)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
