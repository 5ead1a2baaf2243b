//! The `fogbank` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    fogbank::cli::main()
}
