//! The parquet family (arrow-rs, zstd): `mentions.parquet`, `documents.parquet` and
//! `errors.parquet` streamed a row group at a time (memory stays flat); `entities.parquet`
//! and `cooccurrences.parquet` at the end. Columns are typed: offsets and counts Int64,
//! scores Float64, lists as lists (`xrefs`, `example_doc_ids`), `attributes` a map,
//! `surface_forms` a list of `{text, count}` in frequency order.

use std::fs::File;
use std::io::BufWriter;

use anyhow::{Context, Result};
use arrow_array::builder::{
    ArrayBuilder, Float64Builder, Int64Builder, ListBuilder, MapBuilder, StringBuilder,
    StructBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Fields};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::{attributes_of, concept_of, xrefs_of, Files, Sink, Tables};
use crate::records::{DocumentRecord, ErrorRecord, MentionRecord};

pub const FILES: [&str; 5] = [
    "mentions.parquet",
    "entities.parquet",
    "cooccurrences.parquet",
    "documents.parquet",
    "errors.parquet",
];

/// Rows per row group (and per batch handed to the writer).
const ROW_GROUP: usize = 65_536;

type Writer = ArrowWriter<BufWriter<File>>;

fn props() -> Result<WriterProperties> {
    Ok(WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .set_max_row_group_row_count(Some(ROW_GROUP))
        .build())
}

/// Columns being filled for one table; `batch` takes what they hold.
trait Columns: Default {
    type Row;
    fn push(&mut self, row: &Self::Row);
    fn len(&self) -> usize;
    fn batch(&mut self) -> Result<RecordBatch>;
}

/// A streamed table: rows go to column builders and leave as a row group every
/// [`ROW_GROUP`] rows.
struct Streamed<C: Columns> {
    columns: C,
    writer: Writer,
    name: &'static str,
}

impl<C: Columns> Streamed<C> {
    fn open(files: &mut Files, name: &'static str) -> Result<Self> {
        let mut columns = C::default();
        let schema = columns.batch()?.schema();
        let writer = ArrowWriter::try_new(files.stream(name)?, schema, Some(props()?))
            .with_context(|| format!("cannot start {name}"))?;
        Ok(Streamed {
            columns,
            writer,
            name,
        })
    }

    fn push(&mut self, row: &C::Row) -> Result<()> {
        self.columns.push(row);
        if self.columns.len() >= ROW_GROUP {
            self.write()?;
        }
        Ok(())
    }

    fn write(&mut self) -> Result<()> {
        if self.columns.len() > 0 {
            let batch = self.columns.batch()?;
            self.writer
                .write(&batch)
                .with_context(|| format!("writing {}", self.name))?;
            self.writer.flush()?;
        }
        Ok(())
    }

    fn close(mut self) -> Result<()> {
        self.write()?;
        self.writer
            .close()
            .with_context(|| format!("closing {}", self.name))?;
        Ok(())
    }
}

fn batch(columns: Vec<(&str, ArrayRef, bool)>) -> Result<RecordBatch> {
    Ok(RecordBatch::try_from_iter_with_nullable(columns)?)
}

fn strings() -> ListBuilder<StringBuilder> {
    ListBuilder::new(StringBuilder::new())
}

fn push_strings<'a>(b: &mut ListBuilder<StringBuilder>, items: impl IntoIterator<Item = &'a str>) {
    for s in items {
        b.values().append_value(s);
    }
    b.append(true);
}

fn finish(b: &mut dyn ArrayBuilder) -> ArrayRef {
    b.finish()
}

#[derive(Default)]
struct MentionColumns {
    doc_id: StringBuilder,
    start: Int64Builder,
    end: Int64Builder,
    text: StringBuilder,
    label: StringBuilder,
    score: Float64Builder,
    sentence: Int64Builder,
    entity_id: StringBuilder,
    concept_id: StringBuilder,
    concept_name: StringBuilder,
    ontology: StringBuilder,
    link_score: Float64Builder,
}

impl Columns for MentionColumns {
    type Row = MentionRecord;

    fn push(&mut self, r: &MentionRecord) {
        self.doc_id.append_value(&r.doc_id);
        self.start.append_value(r.start as i64);
        self.end.append_value(r.end as i64);
        self.text.append_value(&r.text);
        self.label.append_value(r.label.as_str());
        self.score.append_value(r.score);
        self.sentence.append_value(r.sentence as i64);
        self.entity_id.append_value(r.entity_id.to_string());
        self.concept_id.append_option(r.concept_id.as_deref());
        self.concept_name.append_option(r.concept_name.as_deref());
        self.ontology.append_option(r.ontology.map(|o| o.as_str()));
        self.link_score.append_option(r.link_score);
    }

    fn len(&self) -> usize {
        self.doc_id.len()
    }

    fn batch(&mut self) -> Result<RecordBatch> {
        batch(vec![
            ("doc_id", finish(&mut self.doc_id), false),
            ("start", finish(&mut self.start), false),
            ("end", finish(&mut self.end), false),
            ("text", finish(&mut self.text), false),
            ("label", finish(&mut self.label), false),
            ("score", finish(&mut self.score), false),
            ("sentence", finish(&mut self.sentence), false),
            ("entity_id", finish(&mut self.entity_id), false),
            ("concept_id", finish(&mut self.concept_id), true),
            ("concept_name", finish(&mut self.concept_name), true),
            ("ontology", finish(&mut self.ontology), true),
            ("link_score", finish(&mut self.link_score), true),
        ])
    }
}

#[derive(Default)]
struct DocumentColumns {
    doc_id: StringBuilder,
    source: StringBuilder,
    chars: Int64Builder,
    words: Int64Builder,
    sentences: Int64Builder,
    mentions: Int64Builder,
    model_tokens: Int64Builder,
}

impl Columns for DocumentColumns {
    type Row = DocumentRecord;

    fn push(&mut self, r: &DocumentRecord) {
        self.doc_id.append_value(&r.doc_id);
        self.source.append_value(&r.source);
        self.chars.append_value(r.chars as i64);
        self.words.append_value(r.words as i64);
        self.sentences.append_value(r.sentences as i64);
        self.mentions.append_value(r.mentions as i64);
        self.model_tokens.append_value(r.model_tokens as i64);
    }

    fn len(&self) -> usize {
        self.doc_id.len()
    }

    fn batch(&mut self) -> Result<RecordBatch> {
        batch(vec![
            ("doc_id", finish(&mut self.doc_id), false),
            ("source", finish(&mut self.source), false),
            ("chars", finish(&mut self.chars), false),
            ("words", finish(&mut self.words), false),
            ("sentences", finish(&mut self.sentences), false),
            ("mentions", finish(&mut self.mentions), false),
            ("model_tokens", finish(&mut self.model_tokens), false),
        ])
    }
}

#[derive(Default)]
struct ErrorColumns {
    file: StringBuilder,
    line: Int64Builder,
    reason: StringBuilder,
}

impl Columns for ErrorColumns {
    type Row = ErrorRecord;

    fn push(&mut self, r: &ErrorRecord) {
        self.file.append_value(&r.file);
        self.line.append_option(r.line.map(|l| l as i64));
        self.reason.append_value(&r.reason);
    }

    fn len(&self) -> usize {
        self.file.len()
    }

    fn batch(&mut self) -> Result<RecordBatch> {
        batch(vec![
            ("file", finish(&mut self.file), false),
            ("line", finish(&mut self.line), true),
            ("reason", finish(&mut self.reason), false),
        ])
    }
}

struct EntityColumns {
    entity_id: StringBuilder,
    label: StringBuilder,
    name: StringBuilder,
    concept_id: StringBuilder,
    ontology: StringBuilder,
    xrefs: ListBuilder<StringBuilder>,
    attributes: MapBuilder<StringBuilder, StringBuilder>,
    mention_count: Int64Builder,
    document_count: Int64Builder,
    surface_forms: ListBuilder<StructBuilder>,
    example_doc_ids: ListBuilder<StringBuilder>,
}

impl Default for EntityColumns {
    fn default() -> Self {
        let form_fields = Fields::from(vec![
            Field::new("text", DataType::Utf8, false),
            Field::new("count", DataType::Int64, false),
        ]);
        let form = StructBuilder::new(
            form_fields,
            vec![
                Box::new(StringBuilder::new()) as Box<dyn ArrayBuilder>,
                Box::new(Int64Builder::new()),
            ],
        );
        EntityColumns {
            entity_id: StringBuilder::new(),
            label: StringBuilder::new(),
            name: StringBuilder::new(),
            concept_id: StringBuilder::new(),
            ontology: StringBuilder::new(),
            xrefs: strings(),
            attributes: MapBuilder::new(None, StringBuilder::new(), StringBuilder::new()),
            mention_count: Int64Builder::new(),
            document_count: Int64Builder::new(),
            surface_forms: ListBuilder::new(form),
            example_doc_ids: strings(),
        }
    }
}

impl EntityColumns {
    fn batch(&mut self) -> Result<RecordBatch> {
        batch(vec![
            ("entity_id", finish(&mut self.entity_id), false),
            ("label", finish(&mut self.label), false),
            ("name", finish(&mut self.name), false),
            ("concept_id", finish(&mut self.concept_id), true),
            ("ontology", finish(&mut self.ontology), true),
            ("xrefs", finish(&mut self.xrefs), false),
            ("attributes", finish(&mut self.attributes), false),
            ("mention_count", finish(&mut self.mention_count), false),
            ("document_count", finish(&mut self.document_count), false),
            ("surface_forms", finish(&mut self.surface_forms), false),
            ("example_doc_ids", finish(&mut self.example_doc_ids), false),
        ])
    }

    fn push_row(&mut self, e: &crate::table::EntityRow<'_>) {
        let (concept_id, ontology) = concept_of(e);
        self.entity_id.append_value(e.entity_id.to_string());
        self.label.append_value(e.label.as_str());
        self.name.append_value(e.name);
        self.concept_id.append_option(concept_id);
        self.ontology.append_option(ontology.map(|o| o.as_str()));
        push_strings(&mut self.xrefs, xrefs_of(e).iter().map(String::as_str));
        for (k, v) in attributes_of(e) {
            self.attributes.keys().append_value(k);
            self.attributes.values().append_value(v);
        }
        self.attributes
            .append(true)
            .expect("keys and values are appended in step");
        self.mention_count.append_value(e.mention_count as i64);
        self.document_count.append_value(e.document_count as i64);
        let forms = self.surface_forms.values();
        for &(text, count) in &e.surface_forms {
            forms
                .field_builder::<StringBuilder>(0)
                .expect("text column")
                .append_value(text);
            forms
                .field_builder::<Int64Builder>(1)
                .expect("count column")
                .append_value(count as i64);
            forms.append(true);
        }
        self.surface_forms.append(true);
        push_strings(
            &mut self.example_doc_ids,
            e.example_doc_ids.iter().map(String::as_str),
        );
    }
}

#[derive(Default)]
struct PairColumns {
    entity_a: StringBuilder,
    label_a: StringBuilder,
    name_a: StringBuilder,
    entity_b: StringBuilder,
    label_b: StringBuilder,
    name_b: StringBuilder,
    sentence_count: Int64Builder,
    document_count: Int64Builder,
    example_doc_ids: ListBuilder<StringBuilder>,
}

impl PairColumns {
    fn batch(&mut self) -> Result<RecordBatch> {
        batch(vec![
            ("entity_a", finish(&mut self.entity_a), false),
            ("label_a", finish(&mut self.label_a), false),
            ("name_a", finish(&mut self.name_a), false),
            ("entity_b", finish(&mut self.entity_b), false),
            ("label_b", finish(&mut self.label_b), false),
            ("name_b", finish(&mut self.name_b), false),
            ("sentence_count", finish(&mut self.sentence_count), false),
            ("document_count", finish(&mut self.document_count), false),
            ("example_doc_ids", finish(&mut self.example_doc_ids), false),
        ])
    }
}

/// Write an aggregated table at the end, a row group at a time, with `push` filling the
/// columns from one row.
fn write_rows<C, R>(
    files: &mut Files,
    name: &'static str,
    mut columns: C,
    rows: &[R],
    mut push: impl FnMut(&mut C, &R),
    mut batch: impl FnMut(&mut C) -> Result<RecordBatch>,
) -> Result<()> {
    let schema = batch(&mut columns)?.schema();
    let mut w = ArrowWriter::try_new(files.create(name)?, schema, Some(props()?))?;
    for group in rows.chunks(ROW_GROUP) {
        for r in group {
            push(&mut columns, r);
        }
        w.write(&batch(&mut columns)?)
            .with_context(|| format!("writing {name}"))?;
        w.flush()?;
    }
    w.close().with_context(|| format!("closing {name}"))?;
    Ok(())
}

pub struct ParquetSink {
    mentions: Streamed<MentionColumns>,
    documents: Streamed<DocumentColumns>,
    errors: Streamed<ErrorColumns>,
}

impl ParquetSink {
    pub fn open(files: &mut Files) -> Result<Self> {
        Ok(ParquetSink {
            mentions: Streamed::open(files, "mentions.parquet")?,
            documents: Streamed::open(files, "documents.parquet")?,
            errors: Streamed::open(files, "errors.parquet")?,
        })
    }
}

impl Sink for ParquetSink {
    fn mention(&mut self, row: &MentionRecord) -> Result<()> {
        self.mentions.push(row)
    }

    fn document(&mut self, row: &DocumentRecord) -> Result<()> {
        self.documents.push(row)
    }

    fn error(&mut self, row: &ErrorRecord) -> Result<()> {
        self.errors.push(row)
    }

    /// Row groups leave as they fill; a Parquet file cannot be resumed, so nothing more.
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }

    fn finish(self: Box<Self>, t: &Tables, files: &mut Files) -> Result<()> {
        let ParquetSink {
            mentions,
            documents,
            errors,
        } = *self;
        mentions.close()?;
        documents.close()?;
        errors.close()?;
        write_rows(
            files,
            "entities.parquet",
            EntityColumns::default(),
            t.entities,
            |c, e| c.push_row(e),
            |c| c.batch(),
        )?;
        write_rows(
            files,
            "cooccurrences.parquet",
            PairColumns::default(),
            t.pairs,
            |c, p| {
                let (a, b) = (t.entity(p.a), t.entity(p.b));
                c.entity_a.append_value(a.entity_id.to_string());
                c.label_a.append_value(a.label.as_str());
                c.name_a.append_value(a.name);
                c.entity_b.append_value(b.entity_id.to_string());
                c.label_b.append_value(b.label.as_str());
                c.name_b.append_value(b.name);
                c.sentence_count.append_value(p.sentence_count as i64);
                c.document_count.append_value(p.document_count as i64);
                push_strings(
                    &mut c.example_doc_ids,
                    p.example_doc_ids.iter().map(String::as_str),
                );
            },
            |c| c.batch(),
        )
    }
}
