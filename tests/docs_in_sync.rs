//! `docs/isa.md` embeds tables generated from the code (instruction formats and the
//! register map). This test fails when they drift; run it with
//! `TESSERA_UPDATE_DOCS=1 cargo test --test docs_in_sync` to rewrite them.

use std::path::Path;
use tessera_isa::isa::layout_markdown;
use tessera_isa::regs::registers_markdown;

/// Replaces the text between the `name` markers; `None` if the markers are missing.
fn splice(doc: &str, name: &str, body: &str) -> Option<String> {
    let begin = format!("<!-- BEGIN GENERATED: {name} (tessera isa; do not edit) -->\n");
    let end = format!("<!-- END GENERATED: {name} -->");
    let start = doc.find(&begin)? + begin.len();
    let stop = doc[start..].find(&end)? + start;
    Some(format!("{}{}{}", &doc[..start], body, &doc[stop..]))
}

#[test]
fn isa_doc_tables_match_the_code() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/isa.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let updated = splice(&doc, "formats", &layout_markdown())
        .and_then(|d| splice(&d, "registers", &format!("{}\n", registers_markdown())))
        .expect("docs/isa.md lost its GENERATED markers");
    if std::env::var_os("TESSERA_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &updated).unwrap();
    } else {
        assert!(
            doc == updated,
            "docs/isa.md is out of date with the encoding/register tables; \
             rerun with TESSERA_UPDATE_DOCS=1 cargo test --test docs_in_sync"
        );
    }
}
