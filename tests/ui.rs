//! Every diagnostic of `#[derive(Schema)]` has a case under `tests/ui/schema/` with the
//! compiler output it must produce (`.stderr`). Regenerate with
//! `TRYBUILD=overwrite cargo test --test ui`, then read each `.stderr`: the error must point at
//! the offending attribute and say what to do.

#[test]
fn schema_diagnostics() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/schema/*.rs");
}
