//! mapillary-local-server: the Mapillary-compatible local server, for the
//! demo, tests, and rehearsing uploads without an account.

use std::io::Write;
use std::process::ExitCode;
use std::sync::mpsc;

use mapillary_local_server::LocalServer;
use mapillary_local_server::cli::{self, Command, NAME};

fn main() -> ExitCode {
    let config = match cli::parse(std::env::args_os().skip(1)) {
        Ok(Command::Serve(c)) => *c,
        Ok(Command::Print(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{NAME}: {e}\nUsage: {NAME} --data DIR [options] (see --help)");
            return ExitCode::from(2);
        }
    };
    let data_dir = config.data_dir.clone();
    let server = match LocalServer::start(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{NAME}: cannot start ({}): {e}", data_dir.display());
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {}", server.url());
    let _ = std::io::stdout().flush();
    let (tx, rx) = mpsc::channel();
    if let Err(e) = ctrlc::set_handler(move || {
        let _ = tx.send(());
    }) {
        eprintln!("{NAME}: cannot handle signals: {e}");
        return ExitCode::FAILURE;
    }
    let _ = rx.recv();
    server.stop();
    eprintln!("{NAME}: stopped");
    ExitCode::SUCCESS
}
