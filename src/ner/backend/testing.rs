//! A tiny, randomly initialised model in the real model format, for tests and examples.
//!
//! It exercises every code path of loading, tokenizing, batching, decoding and export in
//! milliseconds, without the shipped weights. Its predictions are noise; it is never used as
//! the product's model.

use std::fs;
use std::path::Path;

use ::tch::nn;
use anyhow::{anyhow, Result};
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::Tokenizer;

use super::tch::{read_bert_config, save_weights, Tagger};
use crate::ner::model::{
    ModelConfig, BERT_CONFIG_FILE, MODEL_CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE,
};
use crate::types::EntityLabel;

/// A small word-piece tokenizer: special tokens, ASCII characters (word-initial and `##`
/// continuation) and a few whole words.
pub fn tiny_tokenizer() -> Result<Tokenizer> {
    let mut vocab: Vec<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for c in (b'!'..=b'~')
        .map(char::from)
        .filter(|c| !c.is_ascii_uppercase())
    {
        vocab.push(c.to_string());
        if c.is_ascii_alphanumeric() {
            vocab.push(format!("##{c}"));
        }
    }
    for w in [
        "acute",
        "myeloid",
        "leukemia",
        "cells",
        "cell",
        "natural",
        "killer",
        "inc",
        "university",
    ] {
        vocab.push(w.to_string());
    }
    let map: ahash::AHashMap<String, u32> = vocab
        .into_iter()
        .enumerate()
        .map(|(i, t)| (t, i as u32))
        .collect();
    let wp = WordPiece::builder()
        .vocab(map)
        .unk_token("[UNK]".into())
        .continuing_subword_prefix("##".into())
        .max_input_chars_per_word(100)
        .build()
        .map_err(|e| anyhow!("building tiny tokenizer: {e}"))?;
    let mut tok = Tokenizer::new(wp);
    tok.with_normalizer(Some(BertNormalizer::new(true, true, None, true)));
    tok.with_pre_tokenizer(Some(BertPreTokenizer));
    Ok(tok)
}

/// Write the tiny tokenizer and a tiny BERT configuration into `dir` (created if needed);
/// returns the configuration.
fn write_tokenizer_and_bert_config(dir: &Path) -> Result<rust_bert::bert::BertConfig> {
    fs::create_dir_all(dir)?;
    let tok = tiny_tokenizer()?;
    tok.save(dir.join(TOKENIZER_FILE), false)
        .map_err(|e| anyhow!("saving tokenizer: {e}"))?;
    let bert_json = serde_json::json!({
        "hidden_act": "gelu",
        "attention_probs_dropout_prob": 0.1,
        "hidden_dropout_prob": 0.1,
        "hidden_size": 32,
        "initializer_range": 0.02,
        "intermediate_size": 64,
        "max_position_embeddings": 512,
        "num_attention_heads": 2,
        "num_hidden_layers": 2,
        "type_vocab_size": 2,
        "vocab_size": tok.get_vocab_size(true),
    });
    fs::write(
        dir.join(BERT_CONFIG_FILE),
        serde_json::to_string_pretty(&bert_json)?,
    )?;
    read_bert_config(&dir.join(BERT_CONFIG_FILE))
}

/// Write a random model with the given labels into `dir` (created if needed).
pub fn write_random_model(dir: &Path, labels: &[EntityLabel], seed: i64) -> Result<()> {
    write_random_model_with(dir, labels, seed, 0)
}

/// [`write_random_model`] with lexicon features of width `lexicon_dim` (0: none).
pub fn write_random_model_with(
    dir: &Path,
    labels: &[EntityLabel],
    seed: i64,
    lexicon_dim: i64,
) -> Result<()> {
    let bert = write_tokenizer_and_bert_config(dir)?;
    let config = ModelConfig {
        name: "tiny-random".into(),
        labels: labels.to_vec(),
        shape_dim: 8,
        max_len: 32,
        lexicon_dim,
        description: "randomly initialised test model; predictions are noise".into(),
    };
    fs::write(
        dir.join(MODEL_CONFIG_FILE),
        serde_json::to_string_pretty(&config)?,
    )?;
    ::tch::manual_seed(seed);
    let vs = nn::VarStore::new(::tch::Device::Cpu);
    let _tagger = Tagger::new(
        &vs.root(),
        &bert,
        labels.len(),
        config.shape_dim,
        lexicon_dim,
    );
    save_weights(&vs, &dir.join(WEIGHTS_FILE), false)
}

/// Write a tiny random *base encoder* in HuggingFace layout (tensor names without the `bert.`
/// prefix, plus a pooler), as `biotable train` expects from all-MiniLM-L6-v2.
pub fn write_random_base_encoder(dir: &Path, seed: i64) -> Result<()> {
    let bert = write_tokenizer_and_bert_config(dir)?;
    ::tch::manual_seed(seed);
    let vs = nn::VarStore::new(::tch::Device::Cpu);
    let _encoder =
        rust_bert::bert::BertModel::<rust_bert::bert::BertEmbeddings>::new_with_optional_pooler(
            vs.root(),
            &bert,
            true,
        );
    save_weights(&vs, &dir.join(WEIGHTS_FILE), false)
}
