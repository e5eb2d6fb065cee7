//! The llama.cpp engine: loads a GGUF model, describes it, and runs conversations on it.
//!
//! llama.cpp's backend is process-wide and initialised once ([`backend`]). A [`Model`] holds the
//! loaded weights and what was learnt about them ([`ModelInfo`]), including the backend and
//! device that actually run it. Chats are rendered with the model's own chat template (a clear
//! error when it has none or llama.cpp's template engine does not know it). [`batch`] runs many
//! multi-turn conversations together in one context; [`Model::generate`] is the one-reply case.
//! [`Engine`] is the owner thread that holds a model and takes jobs.

pub mod batch;
mod owner;
pub mod sampling;

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaModel};
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::{LlamaBackendDeviceType, list_llama_ggml_backend_devices};

pub use batch::{BatchOptions, BatchStats, CancelToken, Conversation, Finish, Turn, TurnOutput};
pub use owner::{Engine, JobHandle};
pub use sampling::Sampling;

/// The engine as runs record it: the llama.cpp binding this build pins in `Cargo.toml`, and
/// the version of its `-sys` crate in `Cargo.lock`, whose bundled llama.cpp source it names
/// exactly (the packaged source carries no llama.cpp build number). A test keeps them in step.
pub const ENGINE: &str = "llama-cpp-2 0.1.160, llama-cpp-sys-2 0.1.161";

/// Errors of loading a model or generating with it. Each names the model file or the prompt.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("llama.cpp could not be initialised: {0}")]
    Backend(String),
    #[error("model file {path} does not exist{hint}")]
    ModelMissing { path: PathBuf, hint: String },
    #[error("cannot read model file {path}: {source}")]
    ModelUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a GGUF model file (it does not start with the GGUF magic bytes){hint}")]
    NotGguf { path: PathBuf, hint: String },
    #[error("llama.cpp could not load {path}: the file may be truncated or corrupt{hint}")]
    LoadFailed { path: PathBuf, hint: String },
    #[error("the model {path} has no chat template")]
    NoChatTemplate { path: PathBuf },
    #[error("llama.cpp's template engine cannot apply the chat template of {path} (code {code})")]
    UnsupportedChatTemplate { path: PathBuf, code: i32 },
    #[error("message text contains a NUL byte")]
    NulInMessage,
    #[error(
        "the conversation is {prompt_tokens} tokens long; with {reply_tokens} tokens for the \
         reply it exceeds the context of {context} tokens per sequence"
    )]
    ConversationTooLong {
        prompt_tokens: usize,
        reply_tokens: usize,
        context: usize,
    },
    #[error(
        "the text every conversation starts with (system text and few-shot examples) is \
         {tokens} tokens long, more than the context of {context} tokens per sequence"
    )]
    SharedPrefixTooLong { tokens: usize, context: usize },
    #[error("invalid turn: {0}")]
    InvalidTurn(String),
    #[error("the job was cancelled")]
    Cancelled,
    #[error("the engine thread has stopped")]
    EngineStopped,
    #[error("the job failed with an internal error (a bug: please report it with the log)")]
    JobPanicked,
    #[error("llama.cpp could not create a context of {context} tokens: {message}")]
    Context { context: u32, message: String },
    #[error("llama.cpp failed to decode: {0}")]
    Decode(String),
}

impl EngineError {
    /// Errors that end one conversation of a batch, not the batch.
    pub fn is_conversation_error(&self) -> bool {
        matches!(
            self,
            Self::ConversationTooLong { .. } | Self::InvalidTurn(_) | Self::NulInMessage
        )
    }
}

/// How to load a model.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Layers to offload to the GPU; `None` offloads all of them when a GPU backend is built in.
    pub gpu_layers: Option<u32>,
    /// Added to "does not exist" and "corrupt" errors: how to get a good file.
    pub fetch_hint: Option<String>,
}

/// What Preamble knows about a loaded model, for display and for run records.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
pub struct ModelInfo {
    pub path: PathBuf,
    /// `general.name` from the GGUF metadata, else the file name.
    pub name: String,
    /// `general.architecture`, e.g. `llama`.
    pub architecture: String,
    pub parameters: u64,
    pub size_bytes: u64,
    /// The quantization, from `general.file_type` (e.g. `Q4_1`).
    pub quantization: String,
    /// The context length the model was trained with.
    pub context_length: u32,
    /// The chat template carried in the model, if any.
    pub chat_template: Option<String>,
    /// The backend and device that run the model's layers, e.g. `CUDA0 (NVIDIA H100 80GB HBM3)`
    /// or `CPU (Intel(R) Xeon(R) ...)`.
    pub device: String,
    /// Layers offloaded to a GPU.
    pub gpu_layers: u32,
}

/// A role in a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }
}

/// One message of a chat.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

/// Settings of one generation.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct GenerateParams {
    pub max_tokens: u32,
    pub sampling: Sampling,
    pub seed: u64,
}

impl Default for GenerateParams {
    fn default() -> Self {
        Self {
            max_tokens: 256,
            sampling: Sampling::default(),
            seed: 0,
        }
    }
}

/// What a finished generation produced.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Generation {
    pub text: String,
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    /// True when the callback stopped the generation early.
    pub stopped: bool,
}

/// The GPU backends this program was built with: empty for a CPU build. A model that runs on
/// the CPU in a build with one is worth a warning (no device found, or no layers offloaded).
/// (A `dynamic-link` build takes its backends from the libraries it loads: it lists none.)
pub fn gpu_backends_built() -> Vec<&'static str> {
    [
        ("CUDA", cfg!(feature = "cuda")),
        ("Vulkan", cfg!(feature = "vulkan")),
        ("Metal", cfg!(feature = "metal")),
    ]
    .into_iter()
    .filter_map(|(name, built)| built.then_some(name))
    .collect()
}

/// The x86-64-v3 instructions llama.cpp's CPU kernels are built with (`.cargo/config.toml`)
/// that this CPU lacks; empty on a CPU that has them all, and off x86-64.
pub fn missing_cpu_features() -> Vec<&'static str> {
    #[cfg(target_arch = "x86_64")]
    {
        let has = [
            ("AVX", std::arch::is_x86_feature_detected!("avx")),
            ("AVX2", std::arch::is_x86_feature_detected!("avx2")),
            ("FMA", std::arch::is_x86_feature_detected!("fma")),
            ("F16C", std::arch::is_x86_feature_detected!("f16c")),
            ("BMI2", std::arch::is_x86_feature_detected!("bmi2")),
        ];
        has.into_iter()
            .filter(|(_, present)| !present)
            .map(|(name, _)| name)
            .collect()
    }
    #[cfg(not(target_arch = "x86_64"))]
    Vec::new()
}

/// The process-wide llama.cpp backend, initialised on first use. Refused on a CPU without the
/// instructions the kernels use, which would otherwise die of an illegal instruction.
pub fn backend() -> Result<&'static LlamaBackend, EngineError> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            let missing = missing_cpu_features();
            if !missing.is_empty() {
                return Err(format!(
                    "this CPU lacks {}: this build of llama.cpp needs an x86-64-v3 CPU \
                     (Intel Haswell, AMD Zen or newer); rebuild it without them (README, \"CPU speed\")",
                    missing.join(", ")
                ));
            }
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            LlamaBackend::init().map_err(|error| error.to_string())
        })
        .as_ref()
        .map_err(|message| EngineError::Backend(message.clone()))
}

/// A loaded model.
pub struct Model {
    model: LlamaModel,
    info: ModelInfo,
}

impl Model {
    /// Loads the GGUF file at `path`.
    pub fn load(path: &Path, options: &LoadOptions) -> Result<Self, EngineError> {
        let hint = options
            .fetch_hint
            .as_ref()
            .map(|hint| format!("; {hint}"))
            .unwrap_or_default();
        check_gguf_magic(path, &hint)?;
        let backend = backend()?;
        let gpu_layers = if backend.supports_gpu_offload() {
            options.gpu_layers.unwrap_or(u32::MAX)
        } else {
            0
        };
        let params = LlamaModelParams::default().with_n_gpu_layers(gpu_layers);
        let model = LlamaModel::load_from_file(backend, path, &params).map_err(|_| {
            EngineError::LoadFailed {
                path: path.to_owned(),
                hint: hint.clone(),
            }
        })?;
        let offloaded = gpu_layers.min(model.n_layer());
        let info = describe(path, &model, offloaded);
        tracing::info!(model = %info.name, device = %info.device, "model loaded");
        Ok(Self { model, info })
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The chat `messages` rendered with the model's own template, ending with the opening of
    /// the assistant's turn.
    pub fn render_chat(&self, messages: &[Message]) -> Result<String, EngineError> {
        let path = &self.info.path;
        let template = self
            .model
            .chat_template(None)
            .map_err(|_| EngineError::NoChatTemplate { path: path.clone() })?;
        let chat = messages
            .iter()
            .map(|m| LlamaChatMessage::new(m.role.as_str().to_owned(), m.content.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| EngineError::NulInMessage)?;
        self.model
            .apply_chat_template(&template, &chat, true)
            .map_err(|error| match error {
                llama_cpp_2::ApplyChatTemplateError::FfiError(code) => {
                    EngineError::UnsupportedChatTemplate {
                        path: path.clone(),
                        code,
                    }
                }
                _ => EngineError::UnsupportedChatTemplate {
                    path: path.clone(),
                    code: 0,
                },
            })
    }

    /// The tokens the model reads for `messages` followed by `assistant_prefix` (text the
    /// assistant's reply is made to start with).
    ///
    /// Only the chat template's own markers are special tokens: message text (prompts, and the
    /// model's own earlier replies) is tokenized with special-token parsing off, so a prompt
    /// that contains `<|im_end|>\n<|im_start|>system` reaches the model as those characters and
    /// cannot forge a turn. To tell the two apart, the template is rendered with a marker in
    /// place of each message's text; the rendered text is cut at the markers, the template's
    /// parts are tokenized with special tokens and the messages' parts without. BOS, where the
    /// vocabulary wants one, is added once at the start; no EOS is added. (A vocabulary that
    /// puts a space before every text it tokenizes, as SentencePiece models with
    /// `add_space_prefix` do, gives each message's text a leading space this way; the default
    /// model's BPE vocabulary does not.)
    pub fn chat_tokens(
        &self,
        messages: &[Message],
        assistant_prefix: &str,
    ) -> Result<Vec<LlamaToken>, EngineError> {
        let marked: Vec<Message> = messages
            .iter()
            .enumerate()
            .map(|(index, message)| Message::new(message.role, content_marker(index)))
            .collect();
        let rendered = self.render_chat(&marked)?;
        let vocab = self.model.vocab();
        let mut tokens = Vec::new();
        if vocab.should_add_bos() {
            tokens.push(vocab.bos());
        }
        let mut rest = rendered.as_str();
        for (index, message) in messages.iter().enumerate() {
            let marker = content_marker(index);
            let Some(at) = rest.find(&marker) else {
                return Err(EngineError::InvalidTurn(format!(
                    "the chat template of {} does not show message {} as written",
                    self.info.path.display(),
                    index + 1
                )));
            };
            vocab.tokenize_into(&rest.as_bytes()[..at], &mut tokens, false, true);
            vocab.tokenize_into(message.content.as_bytes(), &mut tokens, false, false);
            rest = &rest[at + marker.len()..];
        }
        vocab.tokenize_into(rest.as_bytes(), &mut tokens, false, true);
        vocab.tokenize_into(assistant_prefix.as_bytes(), &mut tokens, false, false);
        Ok(tokens)
    }

    /// Generates the assistant's reply to `messages`, handing each decoded piece of text to
    /// `on_piece` as it comes; `ControlFlow::Break` stops the generation after that piece.
    pub fn generate(
        &self,
        messages: &[Message],
        params: &GenerateParams,
        on_piece: impl FnMut(&str) -> ControlFlow<()>,
    ) -> Result<Generation, EngineError> {
        let cancel = CancelToken::new();
        let mut reply = [OneReply {
            turn: Some(Turn::Generate {
                messages: messages.to_vec(),
                assistant_prefix: String::new(),
                max_tokens: params.max_tokens,
                sampling: params.sampling,
                seed: params.seed,
            }),
            on_piece,
            cancel: cancel.clone(),
            text: String::new(),
            stats: batch::TurnStats::default(),
            error: None,
        }];
        // A context just large enough, within what the model was trained for.
        let prompt_tokens = self.chat_tokens(messages, "")?.len();
        let needed = u32::try_from(prompt_tokens + params.max_tokens as usize).unwrap_or(u32::MAX);
        let options = BatchOptions {
            parallel: 1,
            context_per_sequence: needed.min(self.info.context_length),
            ..BatchOptions::default()
        };
        let stopped = match batch::run(self, &mut reply, &[], &options, &cancel) {
            Ok(_) => false,
            Err(EngineError::Cancelled) => true,
            Err(error) => return Err(error),
        };
        let [reply] = reply;
        if let Some(error) = reply.error {
            return Err(error);
        }
        Ok(Generation {
            text: reply.text,
            prompt_tokens,
            generated_tokens: reply.stats.generated_tokens,
            stopped,
        })
    }
}

/// The conversation of [`Model::generate`]: one turn, streamed to a callback that may stop it.
struct OneReply<F> {
    turn: Option<Turn>,
    on_piece: F,
    cancel: CancelToken,
    text: String,
    stats: batch::TurnStats,
    error: Option<EngineError>,
}

impl<F: FnMut(&str) -> ControlFlow<()>> Conversation for OneReply<F> {
    fn next_turn(&mut self) -> Option<Turn> {
        self.turn.take()
    }

    fn turn_done(&mut self, output: TurnOutput) {
        if let TurnOutput::Text { stats, .. } = output {
            self.stats = stats;
        }
    }

    fn piece(&mut self, text: &str) {
        self.text.push_str(text);
        self.stats.generated_tokens += 1;
        if (self.on_piece)(text).is_break() {
            self.cancel.cancel();
        }
    }

    fn failed(&mut self, error: EngineError) {
        self.error = Some(error);
    }
}

/// Stands for message `index`'s text while the chat template is rendered: characters from the
/// Private Use Area, which no template changes and no prompt is expected to hold.
fn content_marker(index: usize) -> String {
    format!("\u{e000}preamble-message-{index}\u{e001}")
}

/// Removes and returns the longest prefix of `bytes` that is complete UTF-8, leaving an
/// incomplete trailing character for the next piece; invalid bytes become U+FFFD.
fn take_complete_utf8(bytes: &mut Vec<u8>) -> String {
    let complete = match std::str::from_utf8(bytes) {
        Ok(_) => bytes.len(),
        Err(error) if error.error_len().is_none() => error.valid_up_to(),
        Err(_) => bytes.len(),
    };
    let rest = bytes.split_off(complete);
    let text = String::from_utf8_lossy(bytes).into_owned();
    *bytes = rest;
    text
}

/// Checks that `path` is there and starts like a GGUF file; `hint` ends the errors.
pub fn check_gguf_magic(path: &Path, hint: &str) -> Result<(), EngineError> {
    use std::io::Read;
    let mut magic = [0u8; 4];
    let read = std::fs::File::open(path).and_then(|mut file| file.read_exact(&mut magic));
    match read {
        Ok(()) if &magic == b"GGUF" => Ok(()),
        Ok(()) => Err(EngineError::NotGguf {
            path: path.to_owned(),
            hint: hint.to_owned(),
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            Err(EngineError::ModelMissing {
                path: path.to_owned(),
                hint: hint.to_owned(),
            })
        }
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => {
            Err(EngineError::NotGguf {
                path: path.to_owned(),
                hint: hint.to_owned(),
            })
        }
        Err(source) => Err(EngineError::ModelUnreadable {
            path: path.to_owned(),
            source,
        }),
    }
}

fn describe(path: &Path, model: &LlamaModel, gpu_layers: u32) -> ModelInfo {
    let meta = |key: &str| model.meta_val_str(key).ok();
    let name = meta("general.name").unwrap_or_else(|| {
        path.file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let quantization = meta("general.file_type")
        .and_then(|code| code.parse::<u32>().ok())
        .map(file_type_name)
        .unwrap_or_else(|| "unknown".to_owned());
    ModelInfo {
        path: path.to_owned(),
        name,
        architecture: meta("general.architecture").unwrap_or_else(|| "unknown".to_owned()),
        parameters: model.n_params(),
        size_bytes: model.size(),
        quantization,
        context_length: model.n_ctx_train(),
        chat_template: model
            .chat_template(None)
            .ok()
            .and_then(|template| template.to_string().ok()),
        device: running_device(gpu_layers),
        gpu_layers,
    }
}

/// The device that runs a model with `gpu_layers` offloaded: the first GPU when any layer is
/// offloaded, else the CPU.
fn running_device(gpu_layers: u32) -> String {
    let devices = list_llama_ggml_backend_devices();
    let is_gpu = |kind: &LlamaBackendDeviceType| {
        matches!(
            kind,
            LlamaBackendDeviceType::Gpu | LlamaBackendDeviceType::IntegratedGpu
        )
    };
    let chosen = if gpu_layers > 0 {
        devices.iter().find(|device| is_gpu(&device.device_type))
    } else {
        None
    }
    .or_else(|| {
        devices
            .iter()
            .find(|device| matches!(device.device_type, LlamaBackendDeviceType::Cpu))
    });
    match chosen {
        Some(device) if device.description.is_empty() => device.name.clone(),
        Some(device) => format!("{} ({})", device.name, device.description.trim()),
        None => "CPU".to_owned(),
    }
}

/// llama.cpp's names for `general.file_type` codes (`enum llama_ftype`).
fn file_type_name(code: u32) -> String {
    let name = match code {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        19 => "IQ2_XXS",
        20 => "IQ2_XS",
        21 => "Q2_K_S",
        22 => "IQ3_XS",
        23 => "IQ3_XXS",
        24 => "IQ1_S",
        25 => "IQ4_NL",
        26 => "IQ3_S",
        27 => "IQ3_M",
        28 => "IQ2_S",
        29 => "IQ2_M",
        30 => "IQ4_XS",
        31 => "IQ1_M",
        32 => "BF16",
        36 => "TQ1_0",
        37 => "TQ2_0",
        38 => "MXFP4_MOE",
        _ => return format!("file type {code}"),
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(not(any(feature = "cuda", feature = "vulkan", feature = "metal")))]
    fn a_cpu_build_lists_no_gpu_backend() {
        assert!(gpu_backends_built().is_empty());
    }

    #[test]
    fn this_machine_has_the_cpu_level_the_kernels_are_built_for() {
        // The test suites run llama.cpp here, so the check must pass here; what it would name
        // elsewhere is one of the five features of `.cargo/config.toml`.
        assert_eq!(missing_cpu_features(), Vec::<&str>::new());
    }

    #[test]
    fn the_recorded_engine_is_the_pinned_binding() {
        let manifest = include_str!("../../Cargo.toml");
        let pinned = manifest
            .lines()
            .find_map(|line| line.strip_prefix("llama-cpp-2 = { version = \"="))
            .and_then(|rest| rest.split('"').next())
            .expect("Cargo.toml pins llama-cpp-2 with `version = \"=...\"`");
        let lock = include_str!("../../Cargo.lock");
        let sys = lock
            .split("[[package]]")
            .find(|package| package.contains("name = \"llama-cpp-sys-2\""))
            .and_then(|package| {
                package
                    .lines()
                    .find_map(|line| line.strip_prefix("version = \""))
            })
            .and_then(|rest| rest.split('"').next())
            .expect("Cargo.lock holds llama-cpp-sys-2");
        assert_eq!(
            ENGINE,
            format!("llama-cpp-2 {pinned}, llama-cpp-sys-2 {sys}")
        );
    }

    #[test]
    fn utf8_split_across_pieces_is_held_back() {
        let snowman = "☃".as_bytes();
        let mut pending = vec![b'a', snowman[0], snowman[1]];
        assert_eq!(take_complete_utf8(&mut pending), "a");
        pending.push(snowman[2]);
        assert_eq!(take_complete_utf8(&mut pending), "☃");
        assert!(pending.is_empty());
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        let mut pending = vec![0xff, b'x'];
        assert_eq!(take_complete_utf8(&mut pending), "\u{fffd}x");
    }

    #[test]
    fn missing_and_foreign_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("absent.gguf");
        let options = LoadOptions {
            fetch_hint: Some("fetch it".to_owned()),
            ..LoadOptions::default()
        };
        let error = Model::load(&missing, &options).err().unwrap();
        assert!(matches!(error, EngineError::ModelMissing { .. }));
        assert!(error.to_string().contains("absent.gguf"));
        assert!(error.to_string().ends_with("; fetch it"));

        let text = dir.path().join("notes.gguf");
        std::fs::write(&text, "hello, not a model").unwrap();
        let error = Model::load(&text, &options).err().unwrap();
        assert!(matches!(error, EngineError::NotGguf { .. }), "{error}");

        let empty = dir.path().join("empty.gguf");
        std::fs::write(&empty, "").unwrap();
        let error = Model::load(&empty, &options).err().unwrap();
        assert!(matches!(error, EngineError::NotGguf { .. }), "{error}");
    }

    #[test]
    fn truncated_gguf_fails_to_load_without_crashing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("truncated.gguf");
        let mut bytes = b"GGUF".to_vec();
        bytes.extend_from_slice(&3u32.to_le_bytes());
        bytes.extend_from_slice(&[0xff; 8]);
        std::fs::write(&path, bytes).unwrap();
        let error = Model::load(&path, &LoadOptions::default()).err().unwrap();
        assert!(matches!(error, EngineError::LoadFailed { .. }), "{error}");
    }

    #[test]
    fn file_types_have_llama_cpp_names() {
        assert_eq!(file_type_name(3), "Q4_1");
        assert_eq!(file_type_name(15), "Q4_K_M");
        assert_eq!(file_type_name(999), "file type 999");
    }
}
