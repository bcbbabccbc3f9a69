//! Owned output strings and the reading of pointer + length inputs.

use crate::error::{guard, FfiResult, IstioNomadError, IstioNomadResult};
use std::ffi::c_char;
use std::ptr;

/// An owned string returned by the library: UTF-8 text with a known length, also
/// NUL-terminated for C convenience. Read it with `istio_nomad_string_data` and
/// `istio_nomad_string_len`; release it with `istio_nomad_string_free`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IstioNomadString {
    /// The text followed by one NUL byte.
    bytes: Box<[u8]>,
}

impl IstioNomadString {
    /// Wraps `text` (a NUL is appended; interior NULs are kept and counted by the length).
    pub fn new(text: String) -> Self {
        let mut bytes = text.into_bytes();
        bytes.push(0);
        IstioNomadString {
            bytes: bytes.into_boxed_slice(),
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        let text = &self.bytes[..self.bytes.len().saturating_sub(1)];
        // Built from a String in `new`, so always UTF-8.
        std::str::from_utf8(text).unwrap_or_default()
    }
}

/// Stores `text` as a new string in `*out`.
///
/// # Safety
/// `out` is a valid, writable slot (checked for NULL by the caller).
pub(crate) unsafe fn put_string(out: *mut *mut IstioNomadString, text: String) {
    // SAFETY: guaranteed by the caller.
    unsafe { *out = Box::into_raw(Box::new(IstioNomadString::new(text))) };
}

/// Checks an out-parameter slot and sets it to NULL (so a failure leaves NULL behind).
///
/// # Safety
/// `out` is NULL or a valid, writable slot.
pub(crate) unsafe fn out_slot<T>(out: *mut *mut T, name: &str) -> FfiResult<*mut *mut T> {
    if out.is_null() {
        return Err(IstioNomadError::null(name));
    }
    // SAFETY: not NULL, writable by the caller's contract.
    unsafe { *out = ptr::null_mut() };
    Ok(out)
}

/// The bytes of a pointer + length input. `(NULL, 0)` is the empty input; NULL with a non-zero
/// length is `ISTIO_NOMAD_NULL_ARGUMENT`.
///
/// # Safety
/// When not NULL, `data` points to `len` readable bytes that stay unchanged during the call.
pub(crate) unsafe fn input_bytes<'a>(
    data: *const u8,
    len: usize,
    name: &str,
) -> FfiResult<&'a [u8]> {
    if data.is_null() {
        if len == 0 {
            return Ok(&[]);
        }
        return Err(IstioNomadError::null(name));
    }
    if len > isize::MAX as usize {
        return Err(IstioNomadError::argument(
            IstioNomadResult::ISTIO_NOMAD_INVALID_ARGUMENT,
            name,
            format!("length {len} is larger than any object"),
        ));
    }
    // SAFETY: non-NULL, `len` readable bytes by the caller's contract, len <= isize::MAX.
    Ok(unsafe { std::slice::from_raw_parts(data, len) })
}

/// The UTF-8 text of a pointer + length input.
///
/// # Safety
/// As [`input_bytes`].
pub(crate) unsafe fn input_str<'a>(data: *const u8, len: usize, name: &str) -> FfiResult<&'a str> {
    // SAFETY: forwarded contract.
    let bytes = unsafe { input_bytes(data, len, name) }?;
    std::str::from_utf8(bytes).map_err(|e| {
        IstioNomadError::argument(
            IstioNomadResult::ISTIO_NOMAD_INVALID_UTF8,
            name,
            format!(
                "is not valid UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

/// The text of a string, NUL-terminated, owned by the string (valid until
/// `istio_nomad_string_free`). Use `istio_nomad_string_len` for the length: the text itself
/// never relies on the terminator. NULL when `string` is NULL.
///
/// # Safety
/// The argument is NULL or a handle returned by this library and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn istio_nomad_string_data(string: *const IstioNomadString) -> *const c_char {
    guard(ptr::null(), || {
        // SAFETY: NULL or a pointer returned by this library and not yet freed.
        unsafe { string.as_ref() }.map_or(ptr::null(), |s| s.bytes.as_ptr().cast())
    })
}

/// The length of a string in bytes, without the terminating NUL; 0 when `string` is NULL.
///
/// # Safety
/// The argument is NULL or a handle returned by this library and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn istio_nomad_string_len(string: *const IstioNomadString) -> usize {
    guard(0, || {
        // SAFETY: NULL or a pointer returned by this library and not yet freed.
        unsafe { string.as_ref() }.map_or(0, |s| s.bytes.len().saturating_sub(1))
    })
}

/// Frees a string and sets `*string` to NULL, so a second free or a use after free through the
/// same variable sees NULL. NULL-safe: `string` or `*string` may be NULL.
///
/// # Safety
/// `string` is NULL or points to NULL or to a pointer returned by this library.
#[no_mangle]
pub unsafe extern "C" fn istio_nomad_string_free(string: *mut *mut IstioNomadString) {
    guard((), || {
        if string.is_null() {
            return;
        }
        // SAFETY: a valid slot holding NULL or an owned string, by the caller's contract.
        let owned = unsafe { std::mem::replace(&mut *string, ptr::null_mut()) };
        if !owned.is_null() {
            // SAFETY: created by Box::into_raw in `put_string`; the slot is NULL now.
            drop(unsafe { Box::from_raw(owned) });
        }
    })
}
