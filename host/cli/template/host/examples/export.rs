//! Writes the guest's ELF and an input for the opml CLI:
//! `cargo run -p {{name}}-host --example export -- OUT_DIR [VALUES...]` writes
//! `OUT_DIR/guest.elf` and `OUT_DIR/input.bin` (the values, one opml codec frame; default
//! `5 -2 9`), for `opml run`, `opml fixture` and `opml demo --elf`.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().ok_or("usage: export OUT_DIR [VALUES...]")?);
    let mut values = args.map(|v| v.parse::<i64>()).collect::<Result<Vec<_>, _>>()?;
    if values.is_empty() {
        values = vec![5, -2, 9];
    }
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("guest.elf"), {{crate}}_host::{{const}}_GUEST_ELF)?;
    std::fs::write(out.join("input.bin"), {{crate}}_host::input(&values)?)?;
    println!("{}", out.display());
    Ok(())
}
