use std::path::PathBuf;

/// Everything that can be wrong with an experiment before or while its results are written.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    // The I/O error is in the message and deliberately not a `source`: callers printing the
    // error chain would repeat it.
    #[error("{}: cannot read the experiment file: {io}", path.display())]
    Read { path: PathBuf, io: std::io::Error },
    #[error("{}: TOML syntax error: {message}", path.display())]
    Syntax { path: PathBuf, message: String },
    #[error("{}: {key}: {message}", path.display())]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
    #[error("cannot write results to {}: {io}", path.display())]
    Write { path: PathBuf, io: std::io::Error },
}
