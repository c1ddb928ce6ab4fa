//! The vendor's MDS2 declarations file on arbitrary text: never panic; a refusal points at a
//! place inside the text; an accepted file names only the form's questions, reads back the
//! same from what it writes, and on a model with no devices fills exactly the declared answers
//! (nothing else is answered, so nothing undeclared becomes "yes").
#![no_main]

use libfuzzer_sys::fuzz_target;
use medguard_mds2::{DeclarationsError, Mds2Form, ModelEvidence, Source, VendorDeclarations, questions};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines = text.split('\n').count();
    let d = match VendorDeclarations::parse(text, "mds2/m.toml") {
        Ok(d) => d,
        Err(
            DeclarationsError::Syntax { line, column, .. }
            | DeclarationsError::UnknownQuestion { line, column, .. }
            | DeclarationsError::BadAnswer { line, column, .. }
            | DeclarationsError::Empty { line, column, .. },
        ) => {
            assert!(line >= 1 && line <= lines && column >= 1, "{line}:{column} outside the text");
            return;
        }
        Err(e) => panic!("an unexpected refusal: {e}"),
    };
    for id in d.answers.keys() {
        assert!(questions::find(id).is_some(), "accepted {id}");
    }
    let again = VendorDeclarations::parse(&d.to_toml(), "mds2/m.toml").expect("reads back");
    assert_eq!(again, d);
    let form = Mds2Form::fill("m", &ModelEvidence::default(), &d, time::OffsetDateTime::UNIX_EPOCH);
    for e in &form.entries {
        match d.answers.get(e.id) {
            Some(declared) => {
                assert_eq!(e.answer, Some(declared.answer), "{}", e.id);
                assert!(matches!(e.source, Source::Declared { .. }), "{}", e.id);
            }
            None if e.id == "DOC-3" => {}
            None => assert_eq!((e.answer, &e.source), (None, &Source::Unanswered), "{}", e.id),
        }
    }
});
