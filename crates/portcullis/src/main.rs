//! The `portcullis` command: wiring only. Each subcommand lives in `commands/`.

mod cli;
mod tls;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    println!("{:?}", cli.command);
}
