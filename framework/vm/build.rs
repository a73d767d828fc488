//! Sets `cfg(jit)` when the `jit` feature is on and the host is one the block compiler targets.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(jit)");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if std::env::var_os("CARGO_FEATURE_JIT").is_some()
        && matches!(arch.as_str(), "x86_64" | "aarch64")
    {
        println!("cargo::rustc-cfg=jit");
    }
}
