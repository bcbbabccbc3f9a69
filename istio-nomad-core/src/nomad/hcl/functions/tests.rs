//! Exact-value tests for what the go-cty differential test cannot cover: known vectors,
//! documented examples, filesystem access, refusals, limits, and inputs that must not panic.

use std::path::Path;

use hcl::Value;

use super::{call, exists, names, FunctionEnv, FunctionError};

const LIMIT: usize = 1 << 20;

fn env() -> FunctionEnv<'static> {
    FunctionEnv {
        base_dir: None,
        max_value_bytes: LIMIT,
    }
}

fn v(json: serde_json::Value) -> Value {
    serde_json::from_value(json).expect("an hcl value")
}

fn ok(name: &str, args: serde_json::Value) -> Value {
    let args = match v(args) {
        Value::Array(a) => a,
        other => vec![other],
    };
    call(name, args, &env()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn err(name: &str, args: serde_json::Value) -> FunctionError {
    let args = match v(args) {
        Value::Array(a) => a,
        other => vec![other],
    };
    match call(name, args, &env()) {
        Ok(v) => panic!("{name} should fail, gave {v:?}"),
        Err(e) => e,
    }
}

fn s(x: &str) -> Value {
    Value::String(x.to_string())
}

/// Nomad v1.6.9 `jobspec2/functions.go`, every name, in its order.
const NOMAD_TABLE: &[&str] = &[
    "abs",
    "base64decode",
    "base64encode",
    "bcrypt",
    "can",
    "ceil",
    "chomp",
    "chunklist",
    "cidrhost",
    "cidrnetmask",
    "cidrsubnet",
    "cidrsubnets",
    "coalesce",
    "coalescelist",
    "compact",
    "concat",
    "contains",
    "convert",
    "csvdecode",
    "distinct",
    "element",
    "flatten",
    "floor",
    "format",
    "formatdate",
    "formatlist",
    "indent",
    "index",
    "join",
    "jsondecode",
    "jsonencode",
    "keys",
    "length",
    "log",
    "lookup",
    "lower",
    "max",
    "md5",
    "merge",
    "min",
    "parseint",
    "pow",
    "range",
    "reverse",
    "replace",
    "regex_replace",
    "rsadecrypt",
    "setintersection",
    "setproduct",
    "setunion",
    "sha1",
    "sha256",
    "sha512",
    "signum",
    "slice",
    "sort",
    "split",
    "strlen",
    "strrev",
    "substr",
    "timeadd",
    "title",
    "trim",
    "trimprefix",
    "trimspace",
    "trimsuffix",
    "try",
    "upper",
    "urlencode",
    "uuidv4",
    "uuidv5",
    "values",
    "yamldecode",
    "yamlencode",
    "zipmap",
    "abspath",
    "basename",
    "dirname",
    "file",
    "filebase64",
    "fileexists",
    "fileset",
    "pathexpand",
];

#[test]
fn the_table_is_nomads() {
    assert_eq!(names().collect::<Vec<_>>(), NOMAD_TABLE);
    assert_eq!(NOMAD_TABLE.len(), 83);
    assert!(NOMAD_TABLE.iter().all(|n| exists(n)));
    assert!(!exists("templatefile"));
    assert!(!exists("timestamp"));
    assert_eq!(
        err("nosuch", serde_json::json!([])),
        FunctionError::Unknown {
            name: "nosuch".into()
        }
    );
    assert_eq!(
        err("nosuch", serde_json::json!([])).to_string(),
        "unknown function \"nosuch\""
    );
}

#[test]
fn arity_errors_name_the_function_and_counts() {
    assert_eq!(
        err("upper", serde_json::json!([])),
        FunctionError::Arity {
            name: "upper".into(),
            expected: "1".into(),
            got: 0
        }
    );
    assert_eq!(
        err("cidrsubnet", serde_json::json!(["10.0.0.0/8", 1])).to_string(),
        "cidrsubnet: expects 3 argument(s), got 2"
    );
    assert_eq!(
        err("join", serde_json::json!([])).to_string(),
        "join: expects at least 1 argument(s), got 0"
    );
    assert_eq!(
        err("upper", serde_json::json!(["a", "b"])).to_string(),
        "upper: expects 1 argument(s), got 2"
    );
}

#[test]
fn argument_errors_count_from_one() {
    assert_eq!(
        err("upper", serde_json::json!([[1]])),
        FunctionError::Argument {
            name: "upper".into(),
            index: 1,
            message: "invalid value for \"str\" parameter: a string required".into()
        }
    );
    assert_eq!(
        err("upper", serde_json::json!([null])).to_string(),
        "upper: argument 1: argument must not be null"
    );
    assert_eq!(
        err("substr", serde_json::json!(["abc", 1.5, 1])).to_string(),
        "substr: argument 2: value must be a whole number, between -9223372036854775808 and 9223372036854775807"
    );
}

#[test]
fn uuidv5_known_vectors() {
    // RFC 4122 namespaces; the values are those of Python's uuid.uuid5 and Go's google/uuid.
    assert_eq!(
        ok("uuidv5", serde_json::json!(["dns", "python.org"])),
        s("886313e1-3b8a-5372-9b90-0c9aee199e5d")
    );
    assert_eq!(
        ok("uuidv5", serde_json::json!(["dns", "www.example.com"])),
        s("2ed6657d-e927-568b-95e1-2665a8aea6a2")
    );
    assert_eq!(
        ok(
            "uuidv5",
            serde_json::json!(["6ba7b811-9dad-11d1-80b4-00c04fd430c8", "http://python.org/"])
        ),
        s("4c565f0d-3f5a-5890-b41b-20cf47701c5e")
    );
    assert!(matches!(
        err("uuidv5", serde_json::json!(["nope", "x"])),
        FunctionError::Failed { .. }
    ));
}

#[test]
fn uuidv4_is_random_and_well_formed() {
    let a = ok("uuidv4", serde_json::json!([]));
    let b = ok("uuidv4", serde_json::json!([]));
    assert_ne!(a, b);
    let a = a.as_str().expect("a string").to_string();
    let parsed = uuid::Uuid::parse_str(&a).expect("a UUID");
    assert_eq!(parsed.get_version_num(), 4);
    assert_eq!(a, a.to_lowercase());
    assert_eq!(a.len(), 36);
}

#[test]
fn cidr_examples_from_the_documentation() {
    // Terraform's (and Nomad's, same go-cty-funcs) function documentation examples.
    assert_eq!(
        ok("cidrhost", serde_json::json!(["10.12.112.0/20", 16])),
        s("10.12.112.16")
    );
    assert_eq!(
        ok("cidrhost", serde_json::json!(["10.12.112.0/20", 268])),
        s("10.12.113.12")
    );
    assert_eq!(
        ok(
            "cidrhost",
            serde_json::json!(["fd00:fd12:3456:7890:00a2::/72", 34])
        ),
        s("fd00:fd12:3456:7890::22")
    );
    assert_eq!(
        ok("cidrnetmask", serde_json::json!(["172.16.0.0/12"])),
        s("255.240.0.0")
    );
    assert_eq!(
        ok("cidrsubnet", serde_json::json!(["172.16.0.0/12", 4, 2])),
        s("172.18.0.0/16")
    );
    assert_eq!(
        ok("cidrsubnet", serde_json::json!(["10.1.2.0/24", 4, 15])),
        s("10.1.2.240/28")
    );
    assert_eq!(
        ok(
            "cidrsubnet",
            serde_json::json!(["fd00:fd12:3456:7890::/56", 16, 162])
        ),
        s("fd00:fd12:3456:7800:a200::/72")
    );
    assert_eq!(
        ok(
            "cidrsubnets",
            serde_json::json!(["10.1.0.0/16", 4, 4, 8, 4])
        ),
        v(serde_json::json!([
            "10.1.0.0/20",
            "10.1.16.0/20",
            "10.1.32.0/24",
            "10.1.48.0/20"
        ]))
    );
    assert_eq!(
        ok(
            "cidrsubnets",
            serde_json::json!(["fd00:fd12:3456:7890::/56", 16, 16, 16, 32])
        ),
        v(serde_json::json!([
            "fd00:fd12:3456:7800::/72",
            "fd00:fd12:3456:7800:100::/72",
            "fd00:fd12:3456:7800:200::/72",
            "fd00:fd12:3456:7800:300::/88"
        ]))
    );
    // A negative network number is refused (go-cidr would produce an unrelated address).
    assert!(err("cidrsubnet", serde_json::json!(["10.0.0.0/8", 8, -1]))
        .to_string()
        .contains("does not accommodate a subnet numbered -1"));
}

#[test]
fn hashes_of_known_strings() {
    assert_eq!(
        ok("md5", serde_json::json!(["hello world"])),
        s("5eb63bbbe01eeed093cb22bb8f5acdc3")
    );
    assert_eq!(
        ok("sha1", serde_json::json!(["hello world"])),
        s("2aae6c35c94fcfb415dbe95f408b9ce91ee846ed")
    );
    assert_eq!(
        ok("sha256", serde_json::json!(["hello world"])),
        s("b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9")
    );
    assert_eq!(
        ok("sha512", serde_json::json!([""])),
        s("cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e")
    );
}

#[test]
fn bcrypt_hashes_verify_and_costs_are_bounded() {
    let h = ok("bcrypt", serde_json::json!(["secret", 4]));
    let h = h.as_str().expect("string");
    assert!(h.starts_with("$2a$04$"), "{h}");
    assert!(::bcrypt::verify("secret", h).expect("verifies"));
    assert!(!::bcrypt::verify("other", h).expect("verifies"));
    // Below 4 means Go's default cost, 10.
    let h = ok("bcrypt", serde_json::json!(["x", 1]));
    assert!(h.as_str().expect("string").starts_with("$2a$10$"));
    assert!(err("bcrypt", serde_json::json!(["x", 32]))
        .to_string()
        .contains("cost 32"));
    assert!(err("bcrypt", serde_json::json!(["x", 20]))
        .to_string()
        .contains("too long"));
    assert!(err("bcrypt", serde_json::json!(["x", 4, 5]))
        .to_string()
        .contains("no more than two arguments"));
    assert!(err("bcrypt", serde_json::json!(["a".repeat(73)]))
        .to_string()
        .contains("72 bytes"));
}

/// A 1024-bit PKCS #1 key and "hello, rsadecrypt" encrypted to it with PKCS #1 v1.5
/// (made with `openssl genrsa -traditional 1024` and `openssl pkeyutl -encrypt`).
const RSA_KEY: &str = include_str!("../../../../tests/data/hcl_functions/rsa_key.pem");
const RSA_CIPHERTEXT: &str =
    include_str!("../../../../tests/data/hcl_functions/rsa_ciphertext.b64");

#[test]
fn rsadecrypt_decrypts_pkcs1_v15() {
    assert_eq!(
        ok(
            "rsadecrypt",
            serde_json::json!([RSA_CIPHERTEXT.trim(), RSA_KEY])
        ),
        s("hello, rsadecrypt")
    );
    assert!(err("rsadecrypt", serde_json::json!(["!!", RSA_KEY]))
        .to_string()
        .contains("base64"));
    assert!(err(
        "rsadecrypt",
        serde_json::json!([RSA_CIPHERTEXT.trim(), "no key"])
    )
    .to_string()
    .contains("no key found"));
    let encrypted = RSA_KEY.replacen(
        "-----BEGIN RSA PRIVATE KEY-----\n",
        "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n",
        1,
    );
    assert!(err(
        "rsadecrypt",
        serde_json::json!([RSA_CIPHERTEXT.trim(), encrypted])
    )
    .to_string()
    .contains("password protected"));
    assert!(err("rsadecrypt", serde_json::json!(["aGVsbG8=", RSA_KEY]))
        .to_string()
        .contains("decryption error"));
}

#[test]
fn try_and_can_take_evaluated_arguments() {
    assert_eq!(ok("try", serde_json::json!(["a", "b"])), s("a"));
    assert_eq!(ok("can", serde_json::json!([null])), Value::Bool(true));
    assert!(err("try", serde_json::json!([]))
        .to_string()
        .contains("at least one"));
}

#[test]
fn filesystem_functions_are_refused_without_a_base_folder() {
    for name in [
        "abspath",
        "basename",
        "dirname",
        "file",
        "filebase64",
        "fileexists",
        "pathexpand",
    ] {
        assert_eq!(
            err(name, serde_json::json!(["x"])),
            FunctionError::FilesystemNotAllowed { name: name.into() }
        );
    }
    assert_eq!(
        err("fileset", serde_json::json!([".", "*"])).to_string(),
        "fileset: reads files, which is not allowed here (allow filesystem functions to use it)"
    );
}

fn fs_call(
    dir: &Path,
    name: &str,
    args: serde_json::Value,
    limit: usize,
) -> Result<Value, FunctionError> {
    let env = FunctionEnv {
        base_dir: Some(dir),
        max_value_bytes: limit,
    };
    let Value::Array(args) = v(args) else {
        panic!("args must be an array")
    };
    call(name, args, &env)
}

#[test]
fn filesystem_functions_read_relative_to_the_base_folder() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("conf/deep")).expect("mkdir");
    std::fs::write(dir.join("conf/app.toml"), "port = 80\n").expect("write");
    std::fs::write(dir.join("conf/deep/x.toml"), "x").expect("write");
    std::fs::write(dir.join("conf/readme.md"), "r").expect("write");
    std::fs::write(dir.join("bin"), [0u8, 0xff]).expect("write");
    let call = |name: &str, args: serde_json::Value| fs_call(dir, name, args, LIMIT);

    assert_eq!(
        call("file", serde_json::json!(["conf/app.toml"])),
        Ok(s("port = 80\n"))
    );
    assert_eq!(
        call("file", serde_json::json!(["./conf/../conf/app.toml"])),
        Ok(s("port = 80\n"))
    );
    assert_eq!(
        call("filebase64", serde_json::json!(["bin"])),
        Ok(s("AP8="))
    );
    assert!(call("file", serde_json::json!(["bin"]))
        .expect_err("not UTF-8")
        .to_string()
        .contains("not valid UTF-8"));
    let missing = call("file", serde_json::json!(["nope.txt"])).expect_err("missing");
    assert_eq!(
        missing.to_string(),
        format!("file: no file exists at {}/nope.txt", dir.display())
    );
    assert_eq!(
        call("fileexists", serde_json::json!(["conf/app.toml"])),
        Ok(Value::Bool(true))
    );
    assert_eq!(
        call("fileexists", serde_json::json!(["conf/none"])),
        Ok(Value::Bool(false))
    );
    assert!(call("fileexists", serde_json::json!(["conf"])).is_err());
    assert_eq!(
        call("fileset", serde_json::json!(["conf", "**/*.toml"])),
        Ok(v(serde_json::json!(["app.toml", "deep/x.toml"])))
    );
    assert_eq!(
        call("fileset", serde_json::json!([".", "conf/*"])),
        Ok(v(serde_json::json!(["conf/app.toml", "conf/readme.md"])))
    );
    assert_eq!(
        call("basename", serde_json::json!(["conf/app.toml"])),
        Ok(s("app.toml"))
    );
    assert_eq!(
        call("dirname", serde_json::json!(["conf/app.toml"])),
        Ok(s("conf"))
    );
    assert_eq!(
        call("abspath", serde_json::json!(["conf/../x"])),
        Ok(s(&format!(
            "{}/x",
            dir.canonicalize().expect("canonical").display()
        )))
    );
    // A file larger than the limit is refused before it is read whole.
    assert_eq!(
        fs_call(dir, "file", serde_json::json!(["conf/app.toml"]), 4),
        Err(FunctionError::TooLarge {
            name: "file".into(),
            limit: 4
        })
    );
}

#[test]
fn predictable_growth_is_refused_before_it_is_built() {
    let small = FunctionEnv {
        base_dir: None,
        max_value_bytes: 1000,
    };
    let too_large = |name: &str, args: serde_json::Value| {
        let Value::Array(args) = v(args) else {
            panic!()
        };
        assert_eq!(
            call(name, args, &small),
            Err(FunctionError::TooLarge {
                name: name.into(),
                limit: 1000
            }),
            "{name}"
        );
    };
    too_large("indent", serde_json::json!([1_000_000_000_000_i64, "a\nb"]));
    too_large(
        "replace",
        serde_json::json!(["a".repeat(100), "a", "b".repeat(100)]),
    );
    too_large("format", serde_json::json!(["%999999s", "x"]));
    too_large("format", serde_json::json!(["%.900000f", 1]));
    too_large(
        "regex_replace",
        serde_json::json!(["a".repeat(100), "a", "$0$0$0$0$0$0$0$0$0$0$0"]),
    );
    too_large(
        "regex_replace",
        serde_json::json!(["a".repeat(500), "a+", "$0$0$0"]),
    );
    too_large(
        "setproduct",
        serde_json::json!([vec!["aaaaaaaaaa"; 40], vec!["bbbbbbbbbb"; 40]]),
    );
    too_large(
        "formatlist",
        serde_json::json!(["%s%s%s", vec!["x".repeat(50); 20], "y", "z"]),
    );
    too_large("jsonencode", serde_json::json!([vec!["x".repeat(100); 20]]));
    too_large("base64encode", serde_json::json!(["x".repeat(900)]));
    too_large("urlencode", serde_json::json!(["/".repeat(400)]));
    // An alias bomb in YAML stops as it expands.
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..8 {
        bomb.push_str(&format!(
            "{}: &{} [*{}, *{}, *{}, *{}, *{}, *{}, *{}, *{}]\n",
            (b'a' + i) as char,
            (b'a' + i) as char,
            (b'a' + i - 1) as char,
            (b'a' + i - 1) as char,
            (b'a' + i - 1) as char,
            (b'a' + i - 1) as char,
            (b'a' + i - 1) as char,
            (b'a' + i - 1) as char,
            (b'a' + i - 1) as char,
            (b'a' + i - 1) as char
        ));
    }
    too_large("yamldecode", serde_json::json!([bomb]));
    // range is bounded by cty itself.
    assert!(err("range", serde_json::json!([0, 1e12]))
        .to_string()
        .contains("more than 1024 values"));
}

#[test]
fn deep_values_are_refused_not_overflowed() {
    let mut deep = Value::Null;
    for _ in 0..300 {
        deep = Value::Array(vec![deep]);
    }
    let e = call("flatten", vec![deep.clone()], &env()).expect_err("too deep");
    assert!(e.to_string().contains("nests more than"), "{e}");
    let e = call("jsonencode", vec![deep], &env()).expect_err("too deep");
    assert!(e.to_string().contains("nests more than"), "{e}");
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(call("jsondecode", vec![s(&nested)], &env()).is_err());
    let yaml = format!("{}x{}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(call("yamldecode", vec![s(&yaml)], &env()).is_err());
    let yaml = format!("{}x", "- ".repeat(400));
    let e = call("yamldecode", vec![s(&yaml)], &env()).expect_err("too deep");
    assert!(e.to_string().contains("nests more than"), "{e}");
    assert!(call(
        "convert",
        vec![Value::Null, s(&"list(".repeat(1000))],
        &env()
    )
    .is_err());
}

#[test]
fn numbers_outside_f64_are_refused_or_rounded() {
    // cty holds 1e400 exactly; here it does not fit and is an error, not infinity.
    assert!(err("jsondecode", serde_json::json!(["1e400"]))
        .to_string()
        .contains("number"));
    // Infinite results cannot be HCL values.
    assert!(err("log", serde_json::json!([0, 10]))
        .to_string()
        .contains("infinite"));
    // Integers stay exact to 128 bits; beyond that they are rounded.
    assert_eq!(
        ok(
            "parseint",
            serde_json::json!(["7fffffffffffffffffffffffffffffff", 16])
        ),
        Value::Number(hcl::Number::from_f64(1.7014118346046923e38).expect("finite"))
    );
    assert_eq!(
        ok("parseint", serde_json::json!(["ffffffffffffffff", 16])),
        Value::Number(hcl::Number::from(u64::MAX))
    );
}

/// Odd arguments for every function: nothing may panic, whatever the result.
#[test]
fn no_input_panics() {
    let pool: Vec<Value> = vec![
        Value::Null,
        s(""),
        s("%[0]d%.99999999999f%9999999999s"),
        s("10.0.0.0/8"),
        s("::/0"),
        s("*/**/[a-"),
        s("(?P<x>a|\\Q"),
        s("2018-01-02T23:12:01+99:99"),
        s("-9999999999999999999h"),
        s("\u{0}\u{feff}\u{2028}é\r\n"),
        v(serde_json::json!(-1)),
        v(serde_json::json!(0)),
        v(serde_json::json!(1.5)),
        v(serde_json::json!(i64::MIN)),
        v(serde_json::json!(u64::MAX)),
        v(serde_json::json!(1e300)),
        v(serde_json::json!(true)),
        v(serde_json::json!([])),
        v(serde_json::json!({})),
        v(serde_json::json!([null, [1, "a"], {"k": [true]}])),
        v(serde_json::json!({"a": null, "b": [[]], "c": {"d": 1}})),
    ];
    let small = FunctionEnv {
        base_dir: None,
        max_value_bytes: 4096,
    };
    let mut calls = 0usize;
    for name in names() {
        if name == "bcrypt" {
            continue; // slow by design; its arguments are checked above
        }
        let _ = call(name, vec![], &small);
        for a in &pool {
            let _ = call(name, vec![a.clone()], &small);
            for b in &pool {
                let _ = call(name, vec![a.clone(), b.clone()], &small);
                calls += 2;
            }
        }
        for a in &pool {
            for b in pool.iter().step_by(3) {
                for c in pool.iter().step_by(4) {
                    let _ = call(name, vec![a.clone(), b.clone(), c.clone()], &small);
                    calls += 1;
                }
            }
        }
    }
    assert!(calls > 50_000, "{calls}");
}
