//! Named-entity recognition: sentences → word pieces → windows → batches → model → spans.
//!
//! - Sentences are encoded in parallel (rayon) with the `tokenizers` crate.
//! - A sentence longer than the model's window is cut into overlapping windows; each piece
//!   takes its probabilities from the window where it has the most context on both sides, so
//!   no text is truncated and entities at window edges are neither cut nor duplicated.
//! - Windows are sorted by length and grouped into batches by a token budget (rows × padded
//!   length), which keeps padding low; the order is deterministic.
//! - The model sits behind [`TokenClassifier`] ([`backend`]: tch or int8 ONNX), so decoding
//!   and batching are testable without an engine.

pub mod backend;
pub mod consistency;
pub mod decode;
pub mod edges;
pub mod encode;
pub mod lexfeat;
pub mod model;

use std::borrow::Cow;
use std::cmp::Reverse;
use std::sync::Mutex;

use self::backend::NUM_TAGS;
pub use self::backend::{BackendChoice, Engine, PieceBatch, TokenClassifier};
use self::encode::{PieceEncoder, Pieces};
use self::model::{ModelConfig, ModelDir, TOKENIZER_FILE};
use crate::hygiene;
use crate::profile::{Stage, StageTimes, Timer};
use crate::segment::split_sentences;
use crate::types::{CharIndex, Document, EntityLabel, Mention, Span};
use anyhow::Result;
use rayon::prelude::*;

/// What NER found in one document.
#[derive(Debug, Clone, Default)]
pub struct DocAnnotation {
    /// Sentence spans in characters.
    pub sentences: Vec<Span>,
    /// Mentions in document order, with the index of their sentence.
    pub mentions: Vec<(usize, Mention)>,
    /// Word pieces fed to the model (windows, special tokens included).
    pub model_tokens: usize,
    /// Whitespace-separated words.
    pub words: usize,
}

struct SentenceWork {
    /// Byte span in its document.
    span: Span,
    pieces: Pieces,
    /// Piece ranges of this sentence's windows.
    windows: Vec<(usize, usize)>,
}

/// Options of the NER stage.
#[derive(Debug, Clone)]
pub struct NerOptions {
    /// Upper bound on rows × padded length of one model batch.
    pub batch_tokens: usize,
    /// Sentence text encoded, classified and decoded at a time (see [`NerEngine::annotate`]).
    pub wave_bytes: usize,
    /// How word tags become spans (see [`decode::DecodeOptions`]).
    pub decode: decode::DecodeOptions,
    /// Blank markup, URLs, addresses, phone numbers and boilerplate first ([`hygiene`]).
    pub hygiene: bool,
    /// Give a name the label most of its occurrences in the document have
    /// ([`consistency`]).
    pub doc_consistency: bool,
    /// Compute lexicon features for models that have them (off: an ablation, every piece
    /// reads "no name").
    pub lexicon_features: bool,
    /// Which engine runs the model ([`backend::load`]).
    pub backend: BackendChoice,
    /// Threads of the engine (intra-op).
    pub threads: usize,
}

impl Default for NerOptions {
    fn default() -> Self {
        NerOptions {
            batch_tokens: 1024,
            wave_bytes: 1 << 20,
            decode: decode::DecodeOptions::default(),
            hygiene: true,
            doc_consistency: true,
            lexicon_features: true,
            backend: BackendChoice::Auto,
            threads: 1,
        }
    }
}

/// Tokenizer + classifier + decoding.
pub struct NerEngine {
    encoder: PieceEncoder,
    /// Batches run one at a time; the lock makes the engine shareable across rayon workers.
    classifier: Mutex<Box<dyn TokenClassifier>>,
    num_types: usize,
    config: ModelConfig,
    options: NerOptions,
    engine: Engine,
    backend_note: Option<String>,
}

impl NerEngine {
    /// Load a model folder with the tch backend on the CPU.
    /// Load a model folder with the engine `options.backend` names. When `auto` falls back to
    /// tch, the reason is logged once and kept in [`NerEngine::backend_note`].
    pub fn load(dir: &ModelDir, options: NerOptions) -> Result<Self> {
        dir.check(&[])?;
        let config = dir.read_config()?;
        // The engine loads while another thread reads the tokenizer and builds the lexicon
        // automaton (~1 s each at start-up).
        let with_lexicon = config.lexicon_dim > 0 && options.lexicon_features;
        let (loaded, encoder) = std::thread::scope(|scope| {
            let encoder = scope.spawn(|| -> Result<PieceEncoder> {
                let encoder = PieceEncoder::from_file(&dir.file(TOKENIZER_FILE))?;
                Ok(match with_lexicon {
                    true => encoder.with_lexicon(lexfeat::LexiconMatcher::bundled()),
                    false => encoder,
                })
            });
            let loaded = backend::load(dir, options.backend, options.threads);
            let encoder = encoder
                .join()
                .map_err(|_| anyhow::anyhow!("building the tokenizer panicked"))
                .and_then(|e| e);
            (loaded, encoder)
        });
        let (loaded, encoder) = (loaded?, encoder?);
        if let Some(note) = &loaded.note {
            tracing::info!("{note}");
        }
        let mut engine = Self::new(encoder, loaded.classifier, config, options);
        engine.backend_note = loaded.note;
        Ok(engine)
    }

    /// The engine that runs the model.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Why `--backend auto` did not pick ONNX, if it did not.
    pub fn backend_note(&self) -> Option<&str> {
        self.backend_note.as_deref()
    }

    pub fn new(
        encoder: PieceEncoder,
        classifier: Box<dyn TokenClassifier>,
        config: ModelConfig,
        options: NerOptions,
    ) -> Self {
        assert_eq!(classifier.num_types(), config.labels.len());
        NerEngine {
            engine: classifier.engine(),
            backend_note: None,
            encoder,
            num_types: classifier.num_types(),
            classifier: Mutex::new(classifier),
            config,
            options,
        }
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    pub fn labels(&self) -> &[EntityLabel] {
        &self.config.labels
    }

    /// Annotate a chunk of documents. Output order follows input order.
    ///
    /// Sentences are taken [`NerOptions::wave_bytes`] of text at a time (a chunk of ordinary
    /// documents is one wave), so a huge document never holds all its word pieces and
    /// probabilities at once.
    pub fn annotate(&self, docs: &[Document]) -> Result<Vec<DocAnnotation>> {
        self.annotate_timed(docs, &mut StageTimes::default())
    }

    /// [`NerEngine::annotate`], charging split, tokenize, model and decode time to `times`.
    pub fn annotate_timed(
        &self,
        docs: &[Document],
        times: &mut StageTimes,
    ) -> Result<Vec<DocAnnotation>> {
        // What the model reads: the text with markup and boilerplate blanked, byte for byte
        // aligned with the original (mention text and offsets come from the original).
        let (texts, spans, chars, mut out) = times.time(Stage::Split, || {
            let texts: Vec<Cow<str>> = docs
                .par_iter()
                .map(|d| {
                    if self.options.hygiene {
                        hygiene::mask(&d.text)
                    } else {
                        Cow::Borrowed(d.text.as_str())
                    }
                })
                .collect();
            let spans: Vec<Vec<Span>> = texts.par_iter().map(|t| split_sentences(t)).collect();
            let chars: Vec<CharIndex> = docs.par_iter().map(|d| CharIndex::new(&d.text)).collect();
            let out: Vec<DocAnnotation> = docs
                .par_iter()
                .map(|d| DocAnnotation {
                    words: d.text.split_whitespace().count(),
                    ..Default::default()
                })
                .collect();
            (texts, spans, chars, out)
        });
        // Waves end at document boundaries, except inside a document longer than a wave, which
        // is cut at its own multiples of `wave_bytes`: with batches that never mix documents
        // (see `run_wave`), what a document gets never depends on the documents around it.
        let mut wave: Vec<(usize, Span)> = Vec::new();
        let mut bytes = 0;
        for (d, sentences) in spans.iter().enumerate() {
            let doc_bytes: usize = sentences.iter().map(Span::len).sum();
            if !wave.is_empty() && bytes + doc_bytes > self.options.wave_bytes {
                self.run_wave(docs, &texts, &chars, &wave, &mut out, times)?;
                wave.clear();
                bytes = 0;
            }
            let mut in_doc = 0;
            for &span in sentences {
                wave.push((d, span));
                bytes += span.len();
                in_doc += span.len();
                if in_doc >= self.options.wave_bytes {
                    self.run_wave(docs, &texts, &chars, &wave, &mut out, times)?;
                    wave.clear();
                    bytes = 0;
                    in_doc = 0;
                }
            }
        }
        if !wave.is_empty() {
            self.run_wave(docs, &texts, &chars, &wave, &mut out, times)?;
        }
        if self.options.doc_consistency {
            times.time(Stage::Decode, || {
                out.par_iter_mut().enumerate().for_each(|(d, ann)| {
                    consistency::apply(&docs[d].text, &texts[d], &chars[d], ann);
                })
            });
        }
        Ok(out)
    }

    /// Encode, classify and decode sentences `(document, byte span)` given in document order,
    /// appending their sentences and mentions to `out`.
    fn run_wave(
        &self,
        docs: &[Document],
        texts: &[Cow<str>],
        chars: &[CharIndex],
        wave: &[(usize, Span)],
        out: &mut [DocAnnotation],
        times: &mut StageTimes,
    ) -> Result<()> {
        let max_pieces = self.config.max_len.saturating_sub(2).max(8);
        let encoder = &self.encoder;
        let work: Vec<SentenceWork> = times.time(Stage::Tokenize, || {
            wave.par_iter()
                .map(|&(d, span)| {
                    let pieces = encoder.encode(&texts[d][span.start..span.end])?;
                    // A sentence of nothing the tokenizer keeps (control characters) gets no window.
                    let windows = if pieces.is_empty() {
                        Vec::new()
                    } else {
                        window_ranges(pieces.len(), max_pieces)
                    };
                    Ok(SentenceWork {
                        span,
                        pieces,
                        windows,
                    })
                })
                .collect::<Result<_>>()
        })?;

        // Every window of every sentence, document by document, longest first within a
        // document (ties in sentence order). A batch never mixes documents: the int8 engine
        // quantizes activations per batch, so a document's results would otherwise depend on
        // its neighbours (and differ between one run and the shards of a split run).
        let windows: Vec<(usize, usize)> = work
            .iter()
            .enumerate()
            .flat_map(|(s, sw)| (0..sw.windows.len()).map(move |w| (s, w)))
            .collect();
        let win_len = |&(s, w): &(usize, usize)| {
            let (a, b) = work[s].windows[w];
            b - a
        };
        let mut order: Vec<usize> = (0..windows.len()).collect();
        let doc_of = |&(s, _): &(usize, usize)| wave[s].0;
        order.sort_by_key(|&i| (doc_of(&windows[i]), Reverse(win_len(&windows[i]))));
        // Each document's windows (longest first) are cut into the batches that cost least.
        let mut batches: Vec<(usize, usize)> = Vec::new();
        let mut first = 0;
        while first < order.len() {
            let doc = doc_of(&windows[order[first]]);
            let last = first
                + order[first..]
                    .iter()
                    .take_while(|&&i| doc_of(&windows[i]) == doc)
                    .count();
            let padded: Vec<usize> = order[first..last]
                .iter()
                .map(|&i| win_len(&windows[i]) + 2)
                .collect();
            batches.extend(
                plan_batches(&padded, self.options.batch_tokens)
                    .into_iter()
                    .map(|(a, b)| (first + a, first + b)),
            );
            first = last;
        }

        // Run the model batch by batch; keep each window's probabilities.
        let num_types = self.num_types;
        let classifier = self
            .classifier
            .lock()
            .map_err(|_| anyhow::anyhow!("model poisoned by an earlier panic"))?;
        let row_width = num_types * NUM_TAGS as usize;
        let mut probs: Vec<Vec<f32>> = vec![Vec::new(); windows.len()];
        let model_timer = Timer::start();
        for &(start, end) in &batches {
            let members: Vec<(&Pieces, usize, usize)> = order[start..end]
                .iter()
                .map(|&i| {
                    let (s, w) = windows[i];
                    let (a, b) = work[s].windows[w];
                    (&work[s].pieces, a, b)
                })
                .collect();
            let batch = PieceBatch::new(encoder, &members);
            let out = classifier.classify(&batch)?;
            for (r, &i) in order[start..end].iter().enumerate() {
                let n = win_len(&windows[i]);
                let row =
                    &out[(r * batch.len + 1) * row_width..(r * batch.len + 1 + n) * row_width];
                probs[i] = row.to_vec();
            }
        }
        drop(classifier);
        model_timer.stop(times, Stage::Model);
        let decode_timer = Timer::start();

        // Stitch windows back into sentences and decode, in parallel over sentences.
        let mut first_window = Vec::with_capacity(work.len());
        let mut next = 0;
        for sw in &work {
            first_window.push(next);
            next += sw.windows.len();
        }
        let labels = &self.config.labels;
        let decoded: Vec<Vec<Mention>> = wave
            .par_iter()
            .zip(work.par_iter())
            .zip(first_window.par_iter())
            .map(|((&(d, _), sw), &w)| {
                if sw.windows.is_empty() {
                    return Vec::new();
                }
                let text = &docs[d].text;
                let read = &texts[d];
                let merged = stitch(
                    &sw.pieces,
                    &sw.windows,
                    &probs[w..w + sw.windows.len()],
                    row_width,
                );
                let sentence_text = &read[sw.span.start..sw.span.end];
                decode::decode_sentence(
                    sentence_text,
                    &sw.pieces,
                    &merged,
                    num_types,
                    &self.options.decode,
                )
                .into_iter()
                .map(|raw| {
                    let bytes = raw.span.shift(sw.span.start);
                    Mention {
                        span: chars[d].span(bytes),
                        text: text[bytes.start..bytes.end].to_string(),
                        label: labels[raw.type_index],
                        score: raw.score,
                    }
                })
                .collect()
            })
            .collect();

        for ((&(d, _), sw), mentions) in wave.iter().zip(&work).zip(decoded) {
            if sw.windows.is_empty() {
                continue;
            }
            let ann = &mut out[d];
            let sentence = ann.sentences.len();
            ann.sentences.push(chars[d].span(sw.span));
            ann.model_tokens += sw.windows.iter().map(|(a, b)| b - a + 2).sum::<usize>();
            ann.mentions
                .extend(mentions.into_iter().map(|m| (sentence, m)));
        }
        decode_timer.stop(times, Stage::Decode);
        Ok(())
    }
}

/// Fixed cost of one model call, in padded word pieces. Measured on 300 abstracts (int8
/// engine, 2 threads), model seconds for costs 0 / 8 / 20 / 48 / 100 / 200: 6.7 / 6.5 /
/// 6.6 / 6.7 / 7.5 / 8.9; one batch per document: 11.0.
const CALL_COST: usize = 16;

/// Cut windows of padded lengths `padded` (sorted longest first) into consecutive batches
/// `[start, end)` that minimize padded pieces plus [`CALL_COST`] per batch, each batch within
/// `budget` pieces (or one window). Depends on `padded` alone: what a document gets never
/// depends on the documents around it.
fn plan_batches(padded: &[usize], budget: usize) -> Vec<(usize, usize)> {
    let n = padded.len();
    // best[j]: least cost of the first j windows; cut[j]: where its last batch starts.
    let mut best = vec![usize::MAX; n + 1];
    let mut cut = vec![0; n + 1];
    best[0] = 0;
    for j in 1..=n {
        for i in (0..j).rev() {
            let rows = j - i;
            let cost = rows * padded[i];
            if rows > 1 && (cost > budget || rows > 512) {
                break;
            }
            let total = best[i].saturating_add(cost + CALL_COST);
            if total < best[j] {
                best[j] = total;
                cut[j] = i;
            }
        }
    }
    let mut out = Vec::new();
    let mut j = n;
    while j > 0 {
        out.push((cut[j], j));
        j = cut[j];
    }
    out.reverse();
    out
}

/// Piece ranges covering `n` pieces with windows of at most `max` pieces, overlapping by a
/// quarter of a window. An edge may fall inside a word; that is harmless, because each piece
/// is read from the window where it is most central (see `stitch`).
pub fn window_ranges(n: usize, max: usize) -> Vec<(usize, usize)> {
    if n <= max {
        return vec![(0, n)];
    }
    let stride = (max - max / 4).max(1);
    let mut out = Vec::new();
    let mut a = 0;
    loop {
        let b = (a + max).min(n);
        out.push((a, b));
        if b == n {
            break;
        }
        a += stride;
    }
    out
}

/// Merge per-window probabilities into one `[pieces, types, 3]` array for the sentence.
fn stitch(pieces: &Pieces, windows: &[(usize, usize)], probs: &[Vec<f32>], row: usize) -> Vec<f32> {
    if windows.len() == 1 {
        return probs[0].clone();
    }
    let mut merged = vec![0f32; pieces.len() * row];
    // Windows are sorted by start and end; the ones holding piece j start at `first` (the
    // first window ending after j), so each piece looks at its two or so windows only.
    let mut first = 0;
    for j in 0..pieces.len() {
        while windows[first].1 <= j {
            first += 1;
        }
        let (k, &(a, _)) = windows[first..]
            .iter()
            .take_while(|&&(a, _)| a <= j)
            .enumerate()
            .map(|(i, w)| (first + i, w))
            .max_by_key(|(k, &(a, b))| ((j - a).min(b - 1 - j), Reverse(*k)))
            .expect("windows cover every piece");
        merged[j * row..(j + 1) * row].copy_from_slice(&probs[k][(j - a) * row..(j - a + 1) * row]);
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::DocSource;

    /// Tags every "leukemia" piece B and everything else O, whatever the batch.
    struct LeukemiaTagger(u32);

    impl TokenClassifier for LeukemiaTagger {
        fn num_types(&self) -> usize {
            1
        }
        fn engine(&self) -> Engine {
            Engine::Mock
        }
        fn classify(&self, batch: &PieceBatch) -> Result<Vec<f32>> {
            Ok(batch
                .ids
                .iter()
                .flat_map(|&id| match id == self.0 as i64 {
                    true => [0.1, 0.8, 0.1],
                    false => [0.9, 0.05, 0.05],
                })
                .collect())
        }
    }

    fn engine(options: NerOptions) -> NerEngine {
        let tok = backend::testing::tiny_tokenizer().unwrap();
        let leukemia = tok.token_to_id("leukemia").unwrap();
        let config = ModelConfig {
            name: "mock".into(),
            labels: vec![EntityLabel::Disease],
            shape_dim: 0,
            lexicon_dim: 0,
            max_len: 16,
            description: String::new(),
        };
        NerEngine::new(
            PieceEncoder::new(tok).unwrap(),
            Box::new(LeukemiaTagger(leukemia)),
            config,
            options,
        )
    }

    #[test]
    fn waves_split_documents_without_changing_the_result() {
        let docs: Vec<Document> = [
            "Leukemia cells. The leukemia came back.\nNo leukemia here.",
            "",
            "one long sentence of leukemia cells and more leukemia and the rest of it",
            "Ende leukemia ü.",
        ]
        .iter()
        .enumerate()
        .map(|(i, t)| Document {
            id: format!("d{i}"),
            text: t.to_string(),
            source: DocSource {
                path: "t.txt".into(),
                line: None,
            },
        })
        .collect();
        let whole = engine(NerOptions::default()).annotate(&docs).unwrap();
        let small = NerOptions {
            wave_bytes: 1,
            ..NerOptions::default()
        };
        let waves = engine(small).annotate(&docs).unwrap();
        assert_eq!(whole.len(), 4);
        let leukemias = whole.iter().map(|a| a.mentions.len()).sum::<usize>();
        assert_eq!(leukemias, 6, "{whole:?}");
        for (a, b) in whole.iter().zip(&waves) {
            assert_eq!(a.sentences, b.sentences);
            assert_eq!(a.mentions, b.mentions);
            assert_eq!((a.words, a.model_tokens), (b.words, b.model_tokens));
        }
        // Sentence numbers follow the document's own sentences.
        let d0: Vec<usize> = whole[0].mentions.iter().map(|(s, _)| *s).collect();
        assert_eq!(d0, vec![0, 1, 2]);
        assert_eq!(whole[3].mentions[0].1.span, Span::new(5, 13));
    }

    #[test]
    fn batches_cover_a_document_in_order_within_the_budget() {
        let padded = [82, 42, 40, 37, 32, 27, 22, 14];
        let plan = plan_batches(&padded, 1024);
        assert_eq!(plan.first().unwrap().0, 0);
        assert_eq!(plan.last().unwrap().1, padded.len());
        assert!(plan.windows(2).all(|w| w[0].1 == w[1].0));
        // The long window does not pad the short ones.
        assert_eq!(plan[0], (0, 1));
        for &(a, b) in &plan {
            assert!((b - a) * padded[a] <= 1024);
        }
        // A budget below one window still runs it, alone.
        assert_eq!(plan_batches(&[600, 500], 256), vec![(0, 1), (1, 2)]);
        assert!(plan_batches(&[], 1024).is_empty());
    }

    #[test]
    fn windows_cover_everything_with_overlap() {
        assert_eq!(window_ranges(5, 10), vec![(0, 5)]);
        assert_eq!(window_ranges(0, 10), vec![(0, 0)]);
        let w = window_ranges(25, 8);
        assert_eq!(w.first().unwrap().0, 0);
        assert_eq!(w.last().unwrap().1, 25);
        for pair in w.windows(2) {
            assert!(pair[1].0 < pair[0].1, "windows overlap: {pair:?}");
            assert!(pair[1].1 - pair[1].0 <= 8);
        }
    }

    #[test]
    fn stitch_reads_each_piece_from_its_most_central_window() {
        let pieces = Pieces {
            ids: vec![0; 10],
            offsets: vec![(0, 0); 10],
            words: (0..10).collect(),
            shapes: vec![0; 10],
            lex: Vec::new(),
        };
        let windows = window_ranges(10, 8); // (0,8), (6,10)
        assert_eq!(windows, vec![(0, 8), (6, 10)]);
        // Window k fills every value with k.
        let probs: Vec<Vec<f32>> = windows
            .iter()
            .enumerate()
            .map(|(k, (a, b))| vec![k as f32; (b - a) * 3])
            .collect();
        let merged = stitch(&pieces, &windows, &probs, 3);
        let from: Vec<f32> = merged.chunks(3).map(|c| c[0]).collect();
        // Piece 6: min(6, 1) = 1 in window 0, min(0, 3) = 0 in window 1 -> window 0.
        // Piece 7: window 0 gives 0, window 1 gives 1 -> window 1.
        assert_eq!(from, vec![0., 0., 0., 0., 0., 0., 0., 1., 1., 1.]);
    }
}
