use std::path::PathBuf;

/// Everything that can be wrong with an experiment before or while its results are written.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    #[error("{}: cannot read the experiment file: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: TOML syntax error: {message}", path.display())]
    Syntax { path: PathBuf, message: String },
    #[error("{}: {key}: {message}", path.display())]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
    #[error("cannot write results to {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}
