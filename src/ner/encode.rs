//! Sentence text → word pieces with byte offsets, word indices and casing/word-shape ids.
//!
//! The encoder (all-MiniLM-L6-v2) is uncased, so the tagger gets what casing carries through a
//! small word-shape embedding: "Lund University", "NYSE American" and "Calidi Biotherapeutics
//! Inc." look different from "lund university" to it. The same code serves training and
//! inference, so both see identical pieces and shapes.

use std::path::Path;

use anyhow::{anyhow, Context, Result};
use tokenizers::Tokenizer;

use super::lexfeat::{LexFeatures, LexiconMatcher};

/// Number of distinct shape ids (0 is reserved for [CLS]/[SEP]/padding).
pub const NUM_SHAPES: i64 = 24;

/// One sentence (or any text) as word pieces.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pieces {
    pub ids: Vec<u32>,
    /// Byte offsets of each piece in the encoded text.
    pub offsets: Vec<(usize, usize)>,
    /// Index of the pre-tokenizer word (whitespace/punctuation split) each piece belongs to.
    pub words: Vec<u32>,
    /// Word-shape id of each piece (see [`piece_shape`]).
    pub shapes: Vec<u8>,
    /// Lexicon features of each piece (see [`super::lexfeat`]); empty when the encoder has no
    /// lexicon (models without lexicon features).
    pub lex: Vec<LexFeatures>,
}

impl Pieces {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// Thread-safe word-piece encoder around a `tokenizers` tokenizer.
pub struct PieceEncoder {
    tokenizer: Tokenizer,
    lexicon: Option<&'static LexiconMatcher>,
    pub cls_id: u32,
    pub sep_id: u32,
    pub pad_id: u32,
}

impl PieceEncoder {
    pub fn from_file(path: &Path) -> Result<Self> {
        let tokenizer = Tokenizer::from_file(path)
            .map_err(|e| anyhow!("cannot read tokenizer {}: {e}", path.display()))?;
        Self::new(tokenizer)
    }

    pub fn new(mut tokenizer: Tokenizer) -> Result<Self> {
        // We window and pad ourselves; the file's settings (MiniLM ships max_length 128 and
        // fixed padding) must not truncate or pad sentences.
        tokenizer
            .with_truncation(None)
            .map_err(|e| anyhow!("tokenizer: {e}"))?;
        tokenizer.with_padding(None);
        let id = |t: &str| {
            tokenizer
                .token_to_id(t)
                .with_context(|| format!("tokenizer has no {t} token"))
        };
        Ok(PieceEncoder {
            cls_id: id("[CLS]")?,
            sep_id: id("[SEP]")?,
            pad_id: id("[PAD]")?,
            tokenizer,
            lexicon: None,
        })
    }

    /// Also compute lexicon features for every piece (models trained with them).
    pub fn with_lexicon(mut self, lexicon: &'static LexiconMatcher) -> Self {
        self.lexicon = Some(lexicon);
        self
    }

    pub fn has_lexicon(&self) -> bool {
        self.lexicon.is_some()
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Encode `text` without special tokens.
    pub fn encode(&self, text: &str) -> Result<Pieces> {
        let enc = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| anyhow!("tokenizer failed: {e}"))?;
        let mut pieces = Pieces {
            ids: enc.get_ids().to_vec(),
            offsets: enc.get_offsets().to_vec(),
            words: enc.get_word_ids().iter().map(|w| w.unwrap_or(0)).collect(),
            shapes: Vec::with_capacity(enc.len()),
            lex: Vec::new(),
        };
        if let Some(lexicon) = self.lexicon {
            pieces.lex = lexicon.piece_features(text, &pieces.offsets);
        }
        // Word extents, for the shape of the whole word.
        let mut i = 0;
        while i < pieces.len() {
            let w = pieces.words[i];
            let mut j = i;
            while j < pieces.len() && pieces.words[j] == w {
                j += 1;
            }
            let word_text = &text[pieces.offsets[i].0..pieces.offsets[j - 1].1];
            let shape = word_shape(word_text);
            for k in i..j {
                pieces.shapes.push(piece_shape(shape, k > i));
            }
            i = j;
        }
        Ok(pieces)
    }
}

/// Shape classes of a whole word.
fn word_shape(word: &str) -> u8 {
    let mut upper = 0usize;
    let mut lower = 0usize;
    let mut caseless = 0usize;
    let mut digit = 0usize;
    let mut other = 0usize;
    let mut first_upper = false;
    for (i, c) in word.chars().enumerate() {
        if c.is_uppercase() {
            upper += 1;
            if i == 0 {
                first_upper = true;
            }
        } else if c.is_lowercase() {
            lower += 1;
        } else if c.is_numeric() {
            digit += 1;
        } else if c.is_alphabetic() {
            caseless += 1;
        } else {
            other += 1;
        }
    }
    let letters = upper + lower + caseless;
    match () {
        _ if letters == 0 && digit == 0 => 8, // punctuation / symbols
        _ if letters == 0 => 6,               // 2024, 0.5
        _ if digit > 0 => 7,                  // CD4, IL2
        _ if caseless > 0 && upper + lower == 0 => 9, // CJK and other caseless scripts
        _ if upper == 0 => 1,                 // lowercase
        _ if upper == 1 && first_upper && letters == 1 => 3, // single capital: "T"
        _ if upper == 1 && first_upper => 2,  // Title
        _ if lower == 0 && other == 0 => 4,   // ALLCAPS
        _ => 5,                               // mIxed: mRNA, BioNTech
    }
}

/// Shape id of a piece: word shape (1..=9) × first piece / continuation piece.
pub fn piece_shape(word_shape: u8, continuation: bool) -> u8 {
    word_shape * 2 + continuation as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(word_shape("leukemia"), 1);
        assert_eq!(word_shape("University"), 2);
        assert_eq!(word_shape("T"), 3);
        assert_eq!(word_shape("NYSE"), 4);
        assert_eq!(word_shape("mRNA"), 5);
        assert_eq!(word_shape("2024"), 6);
        assert_eq!(word_shape("CD4"), 7);
        assert_eq!(word_shape("("), 8);
        assert_eq!(word_shape("日本"), 9);
        assert!((piece_shape(9, true) as i64) < NUM_SHAPES);
    }
}
