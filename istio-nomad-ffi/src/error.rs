//! Result codes, error details and the panic boundary every exported function runs inside.

use istio_nomad_core::error::{Error as CoreError, ErrorKind, FieldError};
use serde::Serialize;
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

/// The outcome of a call. `ISTIO_NOMAD_OK` is 0; every other value is a failure whose detail
/// is available through the `IstioNomadError` out-parameter and the thread-local last error.
///
/// One code per error kind of the core library (`istio_nomad_core::ErrorKind`: parse,
/// validation, iptables, backend, conflict, install, io, encode), plus the failures of the
/// boundary itself.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum IstioNomadResult {
    /// Success.
    ISTIO_NOMAD_OK = 0,
    /// The input is not valid HCL or JSON, or a value has the wrong type.
    ISTIO_NOMAD_PARSE = 1,
    /// The input parsed but breaks one or more rules; every problem is listed with its path.
    ISTIO_NOMAD_VALIDATION = 2,
    /// An interception rule set could not be built, read or applied.
    ISTIO_NOMAD_IPTABLES = 3,
    /// A Nomad, Consul or etcd call failed.
    ISTIO_NOMAD_BACKEND = 4,
    /// Another operator changed the cluster state first (check-and-set lost).
    ISTIO_NOMAD_CONFLICT = 5,
    /// A local file could not be read or written.
    ISTIO_NOMAD_IO = 6,
    /// A required pointer argument was NULL.
    ISTIO_NOMAD_NULL_ARGUMENT = 7,
    /// An input text is not valid UTF-8.
    ISTIO_NOMAD_INVALID_UTF8 = 8,
    /// A numeric argument (a format, a kind, a length) is out of range.
    ISTIO_NOMAD_INVALID_ARGUMENT = 9,
    /// The library panicked (a bug: please report it); the call failed and its outputs are NULL.
    ISTIO_NOMAD_PANIC = 10,
    /// A job of an apply or destroy failed: its deployment failed, its deadline passed, or a
    /// host-mode collision; the message names the job.
    ISTIO_NOMAD_INSTALL = 11,
    /// A value could not be written as JSON.
    ISTIO_NOMAD_ENCODE = 12,
}

impl IstioNomadResult {
    /// The code's name without the `ISTIO_NOMAD_` prefix (`VALIDATION`).
    pub fn name(self) -> &'static str {
        match self {
            Self::ISTIO_NOMAD_OK => "OK",
            Self::ISTIO_NOMAD_PARSE => "PARSE",
            Self::ISTIO_NOMAD_VALIDATION => "VALIDATION",
            Self::ISTIO_NOMAD_IPTABLES => "IPTABLES",
            Self::ISTIO_NOMAD_BACKEND => "BACKEND",
            Self::ISTIO_NOMAD_CONFLICT => "CONFLICT",
            Self::ISTIO_NOMAD_IO => "IO",
            Self::ISTIO_NOMAD_NULL_ARGUMENT => "NULL_ARGUMENT",
            Self::ISTIO_NOMAD_INVALID_UTF8 => "INVALID_UTF8",
            Self::ISTIO_NOMAD_INVALID_ARGUMENT => "INVALID_ARGUMENT",
            Self::ISTIO_NOMAD_PANIC => "PANIC",
            Self::ISTIO_NOMAD_INSTALL => "INSTALL",
            Self::ISTIO_NOMAD_ENCODE => "ENCODE",
        }
    }
}

/// The detail of a failed call: its code, a message and the located problems.
///
/// Read it with `istio_nomad_error_code`, `istio_nomad_error_message` and
/// `istio_nomad_error_json`; release it with `istio_nomad_error_free`.
#[derive(Debug, Clone)]
pub struct IstioNomadError {
    code: IstioNomadResult,
    message: CString,
    json: CString,
}

/// `istio_nomad_error_json`: the result code and its name, then the core's
/// [`istio_nomad_core::ErrorReport`]
/// (a boundary error such as `NULL_ARGUMENT` has `family: null`).
#[derive(Serialize)]
struct ErrorDocument<'a> {
    code: u32,
    name: &'static str,
    family: Option<ErrorKind>,
    message: &'a str,
    line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'a str>,
    fields: &'a [FieldError],
}

impl IstioNomadError {
    /// An error of the boundary itself with this code, message and located problems;
    /// `family` is the core family it belongs to, if any (a runtime that cannot start is `io`).
    pub fn new(
        code: IstioNomadResult,
        family: Option<ErrorKind>,
        message: impl Into<String>,
        fields: Vec<FieldError>,
    ) -> Self {
        let message = message.into();
        Self::build(
            code,
            &ErrorDocument {
                code: code as u32,
                name: code.name(),
                family,
                message: &message,
                line: None,
                kind: None,
                fields: &fields,
            },
        )
    }

    fn build(code: IstioNomadResult, doc: &ErrorDocument<'_>) -> Self {
        // Serializing plain strings and numbers cannot fail; fall back to a minimal document.
        let json = serde_json::to_string(doc).unwrap_or_else(|_| {
            format!("{{\"code\":{},\"name\":\"{}\"}}", code as u32, code.name())
        });
        IstioNomadError {
            code,
            message: c_string_lossy(doc.message.to_owned()),
            json: c_string_lossy(json),
        }
    }

    /// An error about one argument of the call (`path` is the parameter name).
    pub fn argument(code: IstioNomadResult, path: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let fields = vec![FieldError::new(path, message.clone())];
        Self::new(code, None, format!("{path}: {message}"), fields)
    }

    /// A NULL pointer passed for parameter `path`.
    pub fn null(path: &str) -> Self {
        Self::argument(
            IstioNomadResult::ISTIO_NOMAD_NULL_ARGUMENT,
            path,
            "must not be NULL",
        )
    }

    /// The result code.
    pub fn code(&self) -> IstioNomadResult {
        self.code
    }

    /// The message (NUL-terminated; interior NULs of the original were escaped as `\0`).
    pub fn message(&self) -> &CString {
        &self.message
    }

    /// The JSON document: `{"code", "name", "family", "message", "line", "fields": [{"path",
    /// "message", "value"}]}`.
    pub fn json(&self) -> &CString {
        &self.json
    }

    fn from_panic(payload: Box<dyn Any + Send>) -> Self {
        let what = if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "unknown panic payload".to_string()
        };
        Self::new(
            IstioNomadResult::ISTIO_NOMAD_PANIC,
            None,
            format!("internal error (panic): {what}"),
            Vec::new(),
        )
    }
}

impl From<CoreError> for IstioNomadError {
    fn from(e: CoreError) -> Self {
        use IstioNomadResult::*;
        // No catch-all: a kind added to the core does not compile until it has a code here.
        let code = match e.kind() {
            ErrorKind::Parse => ISTIO_NOMAD_PARSE,
            ErrorKind::Validation => ISTIO_NOMAD_VALIDATION,
            ErrorKind::Iptables => ISTIO_NOMAD_IPTABLES,
            ErrorKind::Backend => ISTIO_NOMAD_BACKEND,
            ErrorKind::Conflict => ISTIO_NOMAD_CONFLICT,
            ErrorKind::Install => ISTIO_NOMAD_INSTALL,
            ErrorKind::Io => ISTIO_NOMAD_IO,
            ErrorKind::Encode => ISTIO_NOMAD_ENCODE,
        };
        let r = e.report();
        Self::build(
            code,
            &ErrorDocument {
                code: code as u32,
                name: code.name(),
                family: Some(r.family),
                message: &r.message,
                line: r.line,
                kind: r.kind.as_deref(),
                fields: &r.fields,
            },
        )
    }
}

/// A CString of `s`, with interior NUL bytes written as `\0` so nothing is lost silently.
pub(crate) fn c_string_lossy(s: String) -> CString {
    match CString::new(s) {
        Ok(c) => c,
        Err(e) => {
            let s = String::from_utf8_lossy(&e.into_vec()).replace('\0', "\\0");
            CString::new(s).unwrap_or_default()
        }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<Option<IstioNomadError>> = const { RefCell::new(None) };
    static FORCE_PANIC: Cell<bool> = const { Cell::new(false) };
}

/// Makes every exported function called later on this thread panic inside its boundary
/// (only the test hook and the tests of this crate call it).
#[cfg(any(test, feature = "test-hooks"))]
pub(crate) fn set_force_panic(enabled: bool) {
    FORCE_PANIC.with(|f| f.set(enabled));
}

fn maybe_forced_panic() {
    if FORCE_PANIC.with(Cell::get) {
        panic!("forced by istio_nomad_test_force_panic");
    }
}

fn set_last_error(e: Option<IstioNomadError>) {
    // `try_with`: during thread teardown the slot may be gone; the error is then only returned.
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = e;
        }
    });
}

/// Runs `f` with the thread's last error (None when the last operation succeeded).
pub(crate) fn with_last_error<R>(f: impl FnOnce(Option<&IstioNomadError>) -> R) -> R {
    LAST_ERROR.with(|slot| match slot.try_borrow() {
        Ok(e) => f(e.as_ref()),
        Err(_) => f(None),
    })
}

/// The outcome of an operation body.
pub(crate) type FfiResult<T = ()> = Result<T, IstioNomadError>;

/// Runs an operation: clears the thread's last error and `*error_out`, runs `body` inside a
/// panic boundary, and records a failure (panic included) as the last error and in
/// `*error_out` when that pointer is not NULL.
///
/// # Safety
/// `error_out` is NULL or points to writable storage for one pointer.
pub(crate) unsafe fn operation(
    error_out: *mut *mut IstioNomadError,
    body: impl FnOnce() -> FfiResult,
) -> IstioNomadResult {
    if !error_out.is_null() {
        // SAFETY: the caller passes NULL or a writable pointer slot.
        unsafe { *error_out = ptr::null_mut() };
    }
    set_last_error(None);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        maybe_forced_panic();
        body()
    }));
    let err = match outcome {
        Ok(Ok(())) => return IstioNomadResult::ISTIO_NOMAD_OK,
        Ok(Err(e)) => e,
        Err(payload) => IstioNomadError::from_panic(payload),
    };
    let code = err.code;
    // Everything below is allocation and pointer writes; run it guarded as well.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        if !error_out.is_null() {
            // SAFETY: as above.
            unsafe { *error_out = Box::into_raw(Box::new(err.clone())) };
        }
        set_last_error(Some(err));
    }));
    code
}

/// Runs an accessor or a free function (no result code) inside a panic boundary: a panic is
/// recorded as the thread's last error (`ISTIO_NOMAD_PANIC`) and `fallback` is returned.
pub(crate) fn guard<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(|| {
        maybe_forced_panic();
        body()
    })) {
        Ok(v) => v,
        Err(payload) => {
            let _ = catch_unwind(AssertUnwindSafe(|| {
                set_last_error(Some(IstioNomadError::from_panic(payload)));
            }));
            fallback
        }
    }
}

/// Like [`guard`] without the test hook: for the functions that read the last error, which a
/// test needs to work while the hook is on.
pub(crate) fn guard_quiet<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// Returns `ptr` of a NUL-terminated string owned by the error.
pub(crate) fn c_ptr(s: &CString) -> *const c_char {
    s.as_ptr()
}

// ---------------------------------------------------------------------------------------------
// Exported functions
// ---------------------------------------------------------------------------------------------

/// The result code of an error; `ISTIO_NOMAD_NULL_ARGUMENT` when `error` is NULL.
///
/// # Safety
/// The argument is NULL or a handle returned by this library and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn istio_nomad_error_code(error: *const IstioNomadError) -> IstioNomadResult {
    guard(IstioNomadResult::ISTIO_NOMAD_PANIC, || {
        // SAFETY: NULL or a pointer returned by this library and not yet freed.
        match unsafe { error.as_ref() } {
            Some(e) => e.code,
            None => IstioNomadResult::ISTIO_NOMAD_NULL_ARGUMENT,
        }
    })
}

/// The message of an error, NUL-terminated, owned by the error (valid until
/// `istio_nomad_error_free`). NULL when `error` is NULL.
///
/// # Safety
/// The argument is NULL or a handle returned by this library and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn istio_nomad_error_message(error: *const IstioNomadError) -> *const c_char {
    guard(ptr::null(), || {
        // SAFETY: NULL or a pointer returned by this library and not yet freed.
        unsafe { error.as_ref() }.map_or(ptr::null(), |e| c_ptr(&e.message))
    })
}

/// The error as a JSON document, NUL-terminated, owned by the error (valid until
/// `istio_nomad_error_free`). NULL when `error` is NULL.
///
/// `{"code": 2, "name": "VALIDATION", "family": "validation", "message": "...", "line": null,
/// "fields": [{"path": "mesh.service[reviews].port[http].port", "message": "...", "value":
/// "70000"}]}`. `family` is the core error family (null for boundary errors such as
/// `NULL_ARGUMENT`); `line` is the 1-based line of a parse error when known; a parse error
/// also has `"kind"`: `"invalid"`, `"type"`, `"unknown_field"`, `"unknown_function"`,
/// `"function_call"`, `"filesystem_not_allowed"`, `"reference"`, `"variable"`, `"cycle"` or
/// `"limit.<which>"`.
///
/// # Safety
/// The argument is NULL or a handle returned by this library and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn istio_nomad_error_json(error: *const IstioNomadError) -> *const c_char {
    guard(ptr::null(), || {
        // SAFETY: NULL or a pointer returned by this library and not yet freed.
        unsafe { error.as_ref() }.map_or(ptr::null(), |e| c_ptr(&e.json))
    })
}

/// Frees an error and sets `*error` to NULL. NULL-safe: `error` or `*error` may be NULL.
///
/// # Safety
/// `error` is NULL or points to NULL or to a pointer returned by this library.
#[no_mangle]
pub unsafe extern "C" fn istio_nomad_error_free(error: *mut *mut IstioNomadError) {
    guard((), || {
        if error.is_null() {
            return;
        }
        // SAFETY: the caller passes a valid slot holding NULL or an owned error.
        let owned = unsafe { std::mem::replace(&mut *error, ptr::null_mut()) };
        if !owned.is_null() {
            // SAFETY: created by Box::into_raw in `operation`, freed once (the slot is NULL now).
            drop(unsafe { Box::from_raw(owned) });
        }
    })
}

/// The result code of the last operation on this thread (`ISTIO_NOMAD_OK` after a success).
#[no_mangle]
pub extern "C" fn istio_nomad_last_error_code() -> IstioNomadResult {
    guard_quiet(IstioNomadResult::ISTIO_NOMAD_PANIC, || {
        with_last_error(|e| e.map_or(IstioNomadResult::ISTIO_NOMAD_OK, |e| e.code))
    })
}

/// The message of the last failed operation on this thread, NUL-terminated; an empty string
/// when the last operation succeeded. The pointer stays valid until the next operation (any
/// function returning `IstioNomadResult`) on the same thread; copy it to keep it.
#[no_mangle]
pub extern "C" fn istio_nomad_last_error_message() -> *const c_char {
    guard_quiet(c"".as_ptr(), || {
        with_last_error(|e| e.map_or(c"".as_ptr(), |e| c_ptr(&e.message)))
    })
}

/// The last failed operation on this thread as a JSON document (the form of
/// `istio_nomad_error_json`); an empty string when the last operation succeeded. Valid until the
/// next operation on the same thread.
#[no_mangle]
pub extern "C" fn istio_nomad_last_error_json() -> *const c_char {
    guard_quiet(c"".as_ptr(), || {
        with_last_error(|e| e.map_or(c"".as_ptr(), |e| c_ptr(&e.json)))
    })
}

/// Test hook: while enabled, every exported function called on this thread (except the
/// `istio_nomad_last_error_*` readers) panics inside its panic boundary, so a test can check
/// that the panic comes back as `ISTIO_NOMAD_PANIC` instead of aborting the process.
#[cfg(feature = "test-hooks")]
#[no_mangle]
pub extern "C" fn istio_nomad_test_force_panic(enabled: bool) {
    guard_quiet((), || set_force_panic(enabled))
}
