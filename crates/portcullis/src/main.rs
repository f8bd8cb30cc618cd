//! The `portcullis` command: wiring only. Each subcommand lives in `commands/`.

mod cli;
mod commands;
mod context;
mod files;
mod gateway;
mod logging;
mod output;
mod tls;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{AccessCommand, AuditCommand, Cli, Command, OutputFormat};
use crate::context::Context;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let output = cli.output;
    if output == OutputFormat::Csv && !matches!(cli.command, Command::Access(AccessCommand::Review(_))) {
        anyhow::bail!("--output csv is supported by `portcullis access review` only; use --output table or json");
    }
    match &cli.command {
        Command::Init(args) => {
            logging::init_default();
            commands::init::run(args, output).await?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Demo(args) => {
            logging::init_default();
            commands::demo::run(args).await?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Login(args) => {
            let config = portcullis_core::config::Config::load(&cli.config)?;
            commands::login::login(&config, args, output).await?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Logout(args) => {
            let config = portcullis_core::config::Config::load(&cli.config)?;
            commands::login::logout(&config, args).await?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Password(args) => {
            let config = portcullis_core::config::Config::load(&cli.config)?;
            commands::login::change_password(&config, args).await?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Audit(AuditCommand::Verify(args)) => {
            logging::init_default();
            let config = portcullis_core::config::Config::load(&cli.config)?;
            return commands::audit::verify(&config, args, output).await;
        }
        _ => {}
    }

    let context = Context::load(&cli.config)?;
    if matches!(cli.command, Command::Serve) {
        logging::init(&context.config.log)?;
    } else {
        logging::init_default();
    }
    match cli.command {
        Command::Serve => commands::serve::run(context).await?,
        Command::User(command) => commands::user::run(&context, &command, output).await?,
        Command::Role(command) => commands::role::run(&context, &command, output).await?,
        Command::Audit(command) => return commands::audit::run(&context, &command, output).await,
        Command::Target(command) => commands::target::run(&context, &command, output).await?,
        Command::Policy(command) => return commands::policy::run(&context, &command, output).await,
        Command::Catalog(command) => commands::catalog::run(&context, &command, output).await?,
        Command::Access(AccessCommand::Review(args)) => commands::access::review(&context, &args, output).await?,
        Command::Access(AccessCommand::Report) => commands::break_glass::report(&context, output).await?,
        Command::Request(args) => commands::request::run(&context, &args, output).await?,
        Command::BreakGlass(args) => commands::break_glass::run(&context, &args, output).await?,
        Command::Init(_) | Command::Demo(_) | Command::Login(_) | Command::Logout(_) | Command::Password(_) => {}
    }
    Ok(ExitCode::SUCCESS)
}
