//! Named-entity recognition: sentences → word pieces → windows → batches → model → spans.
//!
//! - Sentences are encoded in parallel (rayon) with the `tokenizers` crate.
//! - A sentence longer than the model's window is cut into overlapping windows; each piece
//!   takes its probabilities from the window where it has the most context on both sides, so
//!   no text is truncated and entities at window edges are neither cut nor duplicated.
//! - Windows are sorted by length and grouped into batches by a token budget (rows × padded
//!   length), which keeps padding low; the order is deterministic.
//! - The model sits behind [`TokenClassifier`], so decoding and batching are testable without
//!   libtorch and other backends can be added.

pub mod decode;
pub mod encode;
pub mod model;
pub mod testing;

use std::cmp::Reverse;
use std::sync::Mutex;

use anyhow::Result;
use rayon::prelude::*;
use tch::{Device, Kind, Tensor};

use self::encode::{PieceEncoder, Pieces};
use self::model::{LoadedModel, ModelConfig, ModelDir, NUM_TAGS, TOKENIZER_FILE};
use crate::segment::split_sentences;
use crate::types::{CharIndex, Document, EntityLabel, Mention, Span};

/// A padded batch of windows, `[rows, len]` row-major, [CLS]/[SEP] included.
#[derive(Debug, Clone)]
pub struct PieceBatch {
    pub ids: Vec<i64>,
    pub mask: Vec<i64>,
    pub shapes: Vec<i64>,
    pub rows: usize,
    pub len: usize,
}

impl PieceBatch {
    /// Build a batch from windows given as piece slices of their sentences.
    pub fn new(encoder: &PieceEncoder, windows: &[(&Pieces, usize, usize)]) -> Self {
        let len = windows.iter().map(|(_, a, b)| b - a).max().unwrap_or(0) + 2;
        let rows = windows.len();
        let mut batch = PieceBatch {
            ids: vec![encoder.pad_id as i64; rows * len],
            mask: vec![0; rows * len],
            shapes: vec![0; rows * len],
            rows,
            len,
        };
        for (r, (pieces, a, b)) in windows.iter().enumerate() {
            let row = r * len;
            batch.ids[row] = encoder.cls_id as i64;
            for (k, j) in (*a..*b).enumerate() {
                batch.ids[row + 1 + k] = pieces.ids[j] as i64;
                batch.shapes[row + 1 + k] = pieces.shapes[j] as i64;
            }
            batch.ids[row + 1 + (b - a)] = encoder.sep_id as i64;
            for m in &mut batch.mask[row..row + 2 + (b - a)] {
                *m = 1;
            }
        }
        batch
    }
}

/// Anything that turns a batch of pieces into per-type O/B/I probabilities.
pub trait TokenClassifier: Send {
    fn num_types(&self) -> usize;
    /// Probabilities `[rows, len, types, 3]`, row-major, softmax over the last axis.
    fn classify(&self, batch: &PieceBatch) -> Result<Vec<f32>>;
}

/// The rust-bert/tch backend.
pub struct TchClassifier {
    model: LoadedModel,
}

impl TchClassifier {
    pub fn new(model: LoadedModel) -> Self {
        TchClassifier { model }
    }
}

impl TokenClassifier for TchClassifier {
    fn num_types(&self) -> usize {
        self.model.config.labels.len()
    }

    fn classify(&self, batch: &PieceBatch) -> Result<Vec<f32>> {
        let shape = [batch.rows as i64, batch.len as i64];
        let device = self.model.vs.device();
        let t = |v: &[i64]| Tensor::from_slice(v).view(shape).to_device(device);
        let probs = tch::no_grad(|| -> Result<Tensor> {
            let logits = self.model.tagger.forward_t(
                &t(&batch.ids),
                &t(&batch.mask),
                &t(&batch.shapes),
                false,
            )?;
            Ok(logits.softmax(-1, Kind::Float))
        })?;
        let flat = probs.to_device(Device::Cpu).flatten(0, -1);
        Ok(Vec::<f32>::try_from(&flat)?)
    }
}

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
    /// Byte span in the document.
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
}

impl Default for NerOptions {
    fn default() -> Self {
        NerOptions { batch_tokens: 4096 }
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
}

impl NerEngine {
    /// Load a model folder with the tch backend on the CPU.
    pub fn load(dir: &ModelDir, options: NerOptions) -> Result<Self> {
        let model = LoadedModel::load(dir, Device::Cpu)?;
        let encoder = PieceEncoder::from_file(&dir.file(TOKENIZER_FILE))?;
        let config = model.config.clone();
        Ok(Self::new(
            encoder,
            Box::new(TchClassifier::new(model)),
            config,
            options,
        ))
    }

    pub fn new(
        encoder: PieceEncoder,
        classifier: Box<dyn TokenClassifier>,
        config: ModelConfig,
        options: NerOptions,
    ) -> Self {
        assert_eq!(classifier.num_types(), config.labels.len());
        NerEngine {
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
    pub fn annotate(&self, docs: &[Document]) -> Result<Vec<DocAnnotation>> {
        let max_pieces = self.config.max_len.saturating_sub(2).max(8);
        let encoder = &self.encoder;
        let work: Vec<Vec<SentenceWork>> = docs
            .par_iter()
            .map(|doc| prepare(encoder, &doc.text, max_pieces))
            .collect::<Result<_>>()?;

        // Every window of every sentence, longest first (ties in document order).
        let mut windows: Vec<(usize, usize, usize)> = Vec::new(); // doc, sentence, window
        for (d, sentences) in work.iter().enumerate() {
            for (s, sw) in sentences.iter().enumerate() {
                windows.extend((0..sw.windows.len()).map(|w| (d, s, w)));
            }
        }
        let win_len = |&(d, s, w): &(usize, usize, usize)| {
            let (a, b) = work[d][s].windows[w];
            b - a
        };
        let mut order: Vec<usize> = (0..windows.len()).collect();
        order.sort_by_key(|&i| Reverse(win_len(&windows[i])));

        // Run the model batch by batch; keep each window's probabilities.
        let num_types = self.num_types;
        let classifier = self
            .classifier
            .lock()
            .map_err(|_| anyhow::anyhow!("model poisoned by an earlier panic"))?;
        let row_width = num_types * NUM_TAGS as usize;
        let mut probs: Vec<Vec<f32>> = vec![Vec::new(); windows.len()];
        let mut start = 0;
        while start < order.len() {
            let padded = win_len(&windows[order[start]]) + 2; // longest in this batch
            let rows = (self.options.batch_tokens / padded).clamp(1, 512);
            let end = (start + rows).min(order.len());
            let members: Vec<(&Pieces, usize, usize)> = order[start..end]
                .iter()
                .map(|&i| {
                    let (d, s, w) = windows[i];
                    let (a, b) = work[d][s].windows[w];
                    (&work[d][s].pieces, a, b)
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
            start = end;
        }

        drop(classifier);

        // Stitch windows back into sentences and decode, in parallel over documents.
        let mut offsets = Vec::with_capacity(work.len() + 1);
        let mut next = 0;
        for sentences in &work {
            offsets.push(next);
            next += sentences.iter().map(|s| s.windows.len()).sum::<usize>();
        }
        let labels = &self.config.labels;
        let out = docs
            .par_iter()
            .zip(work.par_iter())
            .zip(offsets.par_iter())
            .map(|((doc, sentences), &first_window)| {
                let chars = CharIndex::new(&doc.text);
                let mut ann = DocAnnotation {
                    words: doc.text.split_whitespace().count(),
                    ..Default::default()
                };
                let mut w = first_window;
                for (si, sw) in sentences.iter().enumerate() {
                    let n = sw.windows.len();
                    let merged = stitch(&sw.pieces, &sw.windows, &probs[w..w + n], row_width);
                    w += n;
                    ann.model_tokens += sw.windows.iter().map(|(a, b)| b - a + 2).sum::<usize>();
                    ann.sentences.push(chars.span(sw.span));
                    let sentence_text = &doc.text[sw.span.start..sw.span.end];
                    for raw in
                        decode::decode_sentence(sentence_text, &sw.pieces, &merged, num_types)
                    {
                        let bytes = raw.span.shift(sw.span.start);
                        ann.mentions.push((
                            si,
                            Mention {
                                span: chars.span(bytes),
                                text: doc.text[bytes.start..bytes.end].to_string(),
                                label: labels[raw.type_index],
                                score: raw.score,
                            },
                        ));
                    }
                }
                ann
            })
            .collect();
        Ok(out)
    }
}

/// Split a document into sentences, encode them, and plan their windows.
fn prepare(encoder: &PieceEncoder, text: &str, max_pieces: usize) -> Result<Vec<SentenceWork>> {
    split_sentences(text)
        .into_iter()
        .map(|span| {
            let pieces = encoder.encode(&text[span.start..span.end])?;
            let windows = window_ranges(pieces.len(), max_pieces);
            Ok(SentenceWork {
                span,
                pieces,
                windows,
            })
        })
        .filter(|r| r.as_ref().map_or(true, |s| !s.pieces.is_empty()))
        .collect()
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
