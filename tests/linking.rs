//! Disease linking on the gold mentions of the public test splits (needs ../shared/data or
//! $BIOTABLE_DATA; skipped with a message when the corpora are absent). Guards the figures
//! quoted in the README against regressions.

use biotable::corpus::default_data_dir;
use biotable::eval_normalize::linking;
use biotable::normalize::lexicon::Lexicon;

fn check(corpus: &str, min_accuracy: f64, min_precision: f64) {
    let data = default_data_dir();
    if !data.join(corpus).is_dir() {
        eprintln!(
            "skipped: no {corpus} corpus under {} (set BIOTABLE_DATA)",
            data.display()
        );
        return;
    }
    let r = linking(Lexicon::bundled(), &data, corpus, "test", 10).unwrap();
    assert!(
        r.reachable > 800,
        "{corpus}: {} reachable mentions",
        r.reachable
    );
    assert!(
        r.accuracy_of_reachable >= min_accuracy,
        "{corpus}: accuracy {:.3} ({} / {}); top errors {:?}",
        r.accuracy_of_reachable,
        r.correct,
        r.reachable,
        r.top_errors
    );
    assert!(
        r.precision_of_reachable >= min_precision,
        "{corpus}: precision {:.3}",
        r.precision_of_reachable
    );
}

#[test]
fn ncbi_disease_test_linking_meets_its_target() {
    check("ncbi-disease", 0.85, 0.90);
}

#[test]
fn bc5cdr_test_linking_meets_its_target() {
    check("bc5cdr", 0.85, 0.93);
}
