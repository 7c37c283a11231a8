// Embed libtorch's library folder as an rpath, so `target/release/biotable` runs without
// LD_LIBRARY_PATH (scripts/setup-libtorch.sh sets LIBTORCH).
fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if let Ok(dir) = std::env::var("LIBTORCH") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}/lib");
    }
}
