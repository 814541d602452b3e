//! The `yuqing` binary: all work happens in [`yuqing::cli`].

fn main() -> std::process::ExitCode {
    yuqing::cli::main()
}
