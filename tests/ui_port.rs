//! Every `#[port]` diagnostic, one trybuild case each (`tests/ui/port/`).
#[test]
fn port_diagnostics() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/port/*.rs");
}
