/*
 * Tests of the istio-nomad C ABI from C, built with -Wall -Wextra -Werror and
 * -fsanitize=address,undefined by tests/run.sh:
 *
 *   test_ffi <repository root> [name filter]
 *
 * Every exported function is called with good inputs (the output compared byte for byte with
 * the golden files the Rust tests write from the core's own rendering), with NULL for every
 * pointer argument, with invalid UTF-8, truncated and 10 MB inputs, and, when the library was
 * built with the `test-hooks` feature, with a panic forced inside it.
 */
#include "istio_nomad.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *root;
static int checks_failed_in_test;

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            checks_failed_in_test++;                                                    \
            fprintf(stderr, "  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                               \
    } while (0)

#define CHECK_RC(expr, want)                                                              \
    do {                                                                                  \
        IstioNomadResult rc_ = (expr);                                                    \
        if (rc_ != (IstioNomadResult)(want)) {                                            \
            checks_failed_in_test++;                                                      \
            fprintf(stderr, "  %s:%d: %s returned %u, want %s (%u); last error: %s\n",    \
                    __FILE__, __LINE__, #expr, (unsigned)rc_, #want, (unsigned)(want),    \
                    istio_nomad_last_error_message());                                    \
        }                                                                                 \
    } while (0)

/* ---- helpers ------------------------------------------------------------------------- */

typedef struct {
    uint8_t *data; /* exactly len bytes, no terminator: any over-read is an ASan report */
    size_t len;
} buffer;

static buffer read_file(const char *rel) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    buffer b = {NULL, 0};
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b.len = (size_t)n;
    b.data = malloc(b.len ? b.len : 1);
    if (!b.data || fread(b.data, 1, b.len, f) != b.len) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    fclose(f);
    return b;
}

static buffer text(const char *s) {
    buffer b;
    b.len = strlen(s);
    b.data = malloc(b.len ? b.len : 1);
    memcpy(b.data, s, b.len); /* copied without its NUL */
    return b;
}

static void buffer_free(buffer *b) {
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

/* True when the string handle holds exactly the bytes of `want`. */
static int string_equals(const IstioNomadString *s, const buffer *want) {
    size_t n = istio_nomad_string_len(s);
    const char *p = istio_nomad_string_data(s);
    if (p == NULL || n != want->len || memcmp(p, want->data, n) != 0) {
        fprintf(stderr, "  output (%zu bytes) differs from the golden file (%zu bytes)\n", n,
                want->len);
        return 0;
    }
    return p[n] == '\0'; /* also NUL-terminated */
}

static int contains(const char *haystack, const char *needle) {
    return haystack != NULL && strstr(haystack, needle) != NULL;
}

/* ---- tests --------------------------------------------------------------------------- */

static void test_version(void) {
    const char *v = istio_nomad_version();
    CHECK(v != NULL && strcmp(v, ISTIO_NOMAD_VERSION) == 0);
    char expect[64];
    snprintf(expect, sizeof expect, "%d.%d.%d", ISTIO_NOMAD_VERSION_MAJOR,
             ISTIO_NOMAD_VERSION_MINOR, ISTIO_NOMAD_VERSION_PATCH);
    CHECK(strncmp(v, expect, strlen(expect)) == 0);
    CHECK(ISTIO_NOMAD_VERSION_NUMBER == ISTIO_NOMAD_VERSION_MAJOR * 10000 +
                                            ISTIO_NOMAD_VERSION_MINOR * 100 +
                                            ISTIO_NOMAD_VERSION_PATCH);
}

static void test_plan_bookinfo(void) {
    buffer spec = read_file("examples/bookinfo.mesh.hcl");
    buffer json_spec = read_file("istio-nomad-ffi/tests/golden/bookinfo.mesh.json");
    buffer golden = read_file("istio-nomad-ffi/tests/golden/bookinfo.plan.json");
    IstioNomadString *out = NULL;
    IstioNomadError *err = NULL;

    CHECK_RC(istio_nomad_plan(spec.data, spec.len, ISTIO_NOMAD_FORMAT_HCL, &out, &err),
             ISTIO_NOMAD_OK);
    CHECK(err == NULL);
    CHECK(string_equals(out, &golden));
    CHECK(istio_nomad_last_error_code() == ISTIO_NOMAD_OK);
    CHECK(strcmp(istio_nomad_last_error_message(), "") == 0);
    istio_nomad_string_free(&out);
    CHECK(out == NULL);

    /* The same mesh as JSON, format detected. */
    CHECK_RC(istio_nomad_plan(json_spec.data, json_spec.len, ISTIO_NOMAD_FORMAT_AUTO, &out,
                              NULL),
             ISTIO_NOMAD_OK);
    CHECK(string_equals(out, &golden));
    istio_nomad_string_free(&out);

    buffer_free(&spec);
    buffer_free(&json_spec);
    buffer_free(&golden);
}

static void test_verify_bookinfo(void) {
    buffer spec = read_file("examples/bookinfo.mesh.hcl");
    buffer golden = read_file("istio-nomad-ffi/tests/golden/bookinfo.verify.json");
    IstioNomadString *out = NULL;
    IstioNomadError *err = NULL;

    CHECK_RC(istio_nomad_verify(spec.data, spec.len, ISTIO_NOMAD_FORMAT_HCL, &out, &err),
             ISTIO_NOMAD_OK);
    CHECK(err == NULL);
    CHECK(string_equals(out, &golden));
    istio_nomad_string_free(&out);
    CHECK(out == NULL);
    CHECK_RC(istio_nomad_verify(NULL, 0, ISTIO_NOMAD_FORMAT_HCL, &out, NULL), ISTIO_NOMAD_PARSE);
    CHECK(out == NULL);
    CHECK_RC(istio_nomad_verify(spec.data, spec.len, ISTIO_NOMAD_FORMAT_HCL, NULL, NULL),
             ISTIO_NOMAD_NULL_ARGUMENT);

    buffer_free(&spec);
    buffer_free(&golden);
}

static void test_plan_errors(void) {
    buffer spec = read_file("examples/bookinfo.mesh.hcl");
    buffer want = read_file("istio-nomad-ffi/tests/golden/bookinfo-bad-port.error.json");
    IstioNomadString *out = NULL;
    IstioNomadError *err = NULL;

    /* A port out of range: VALIDATION with the field path, value and line. */
    char *bad = malloc(spec.len + 8);
    const char *at = NULL;
    for (size_t i = 0; i + 11 <= spec.len; i++) {
        if (memcmp(spec.data + i, "port = 9080", 11) == 0) {
            at = (const char *)spec.data + i;
            break;
        }
    }
    CHECK(at != NULL);
    size_t pre = (size_t)(at - (const char *)spec.data);
    memcpy(bad, spec.data, pre);
    memcpy(bad + pre, "port = 70000", 12);
    memcpy(bad + pre + 12, spec.data + pre + 11, spec.len - pre - 11);
    size_t bad_len = spec.len + 1;
    CHECK_RC(istio_nomad_plan((const uint8_t *)bad, bad_len, ISTIO_NOMAD_FORMAT_HCL, &out, &err),
             ISTIO_NOMAD_VALIDATION);
    CHECK(out == NULL);
    CHECK(istio_nomad_error_code(err) == ISTIO_NOMAD_VALIDATION);
    const char *json = istio_nomad_error_json(err);
    /* the golden document ends with a newline the library does not add */
    CHECK(json != NULL && strlen(json) + 1 == want.len && memcmp(json, want.data, want.len - 1) == 0);
    CHECK(contains(istio_nomad_error_message(err), "mesh.service[productpage].port[http].port"));
    CHECK(contains(istio_nomad_error_message(err), "70000"));
    CHECK(strcmp(istio_nomad_last_error_json(), json) == 0);
    CHECK(istio_nomad_last_error_code() == ISTIO_NOMAD_VALIDATION);
    istio_nomad_error_free(&err);
    CHECK(err == NULL);
    istio_nomad_error_free(&err); /* freeing again is a no-op */
    free(bad);

    /* Truncated input: the first half of the spec is not a complete HCL document. */
    CHECK_RC(istio_nomad_plan(spec.data, spec.len / 2, ISTIO_NOMAD_FORMAT_HCL, &out, &err),
             ISTIO_NOMAD_PARSE);
    CHECK(out == NULL && istio_nomad_error_code(err) == ISTIO_NOMAD_PARSE);
    CHECK(contains(istio_nomad_error_json(err), "\"family\":\"parse\""));
    istio_nomad_error_free(&err);

    /* Empty input, (NULL, 0): a parse error, not a NULL argument. */
    CHECK_RC(istio_nomad_plan(NULL, 0, ISTIO_NOMAD_FORMAT_HCL, &out, NULL), ISTIO_NOMAD_PARSE);
    CHECK(contains(istio_nomad_last_error_message(), "empty"));

    /* Unknown format value. */
    CHECK_RC(istio_nomad_plan(spec.data, spec.len, 42, &out, NULL), ISTIO_NOMAD_INVALID_ARGUMENT);
    CHECK(contains(istio_nomad_last_error_json(), "\"path\":\"format\""));

    buffer_free(&spec);
    buffer_free(&want);
}

static void test_job_convert_with_variables(void) {
    buffer job = text(
        "variable \"image\" { type = string }\n"
        "variable \"count\" { default = 1 }\n"
        "job \"web\" {\n"
        "  group \"g\" {\n"
        "    count = var.count\n"
        "    task \"t\" {\n"
        "      driver = \"docker\"\n"
        "      config { image = var.image }\n"
        "    }\n"
        "  }\n"
        "}\n");
    IstioNomadString *out = NULL;
    IstioNomadError *err = NULL;

    /* -var beats NOMAD_VAR_; a number given as JSON. */
    buffer opts = text("{\"vars\": {\"image\": \"nginx:1.27\", \"count\": 3},"
                       " \"env\": [[\"NOMAD_VAR_count\", \"2\"]]}");
    CHECK_RC(istio_nomad_job_convert_with(job.data, job.len, ISTIO_NOMAD_FORMAT_HCL,
                                          ISTIO_NOMAD_FORMAT_JSON, opts.data, opts.len, &out,
                                          &err),
             ISTIO_NOMAD_OK);
    const char *json = istio_nomad_string_data(out);
    CHECK(contains(json, "\"Count\": 3"));
    CHECK(contains(json, "\"image\": \"nginx:1.27\""));
    istio_nomad_string_free(&out);

    /* No options: the variable without a value is named, with the way to pass it. */
    CHECK_RC(istio_nomad_job_convert_with(job.data, job.len, ISTIO_NOMAD_FORMAT_AUTO,
                                          ISTIO_NOMAD_FORMAT_JSON, NULL, 0, &out, &err),
             ISTIO_NOMAD_PARSE);
    CHECK(out == NULL);
    json = istio_nomad_error_json(err);
    CHECK(contains(json, "\"kind\":\"variable\""));
    CHECK(contains(json, "\"path\":\"variable[image]\""));
    CHECK(contains(json, "NOMAD_VAR_image"));
    istio_nomad_error_free(&err);

    /* An undeclared variable; an unknown option key. */
    buffer undeclared = text("{\"vars\": {\"image\": \"x\", \"imgae\": \"y\"}}");
    CHECK_RC(istio_nomad_job_convert_with(job.data, job.len, 0, ISTIO_NOMAD_FORMAT_JSON,
                                          undeclared.data, undeclared.len, &out, &err),
             ISTIO_NOMAD_PARSE);
    CHECK(contains(istio_nomad_error_json(err), "\"path\":\"variable[imgae]\""));
    istio_nomad_error_free(&err);
    buffer unknown = text("{\"allow_unkown\": true}");
    CHECK_RC(istio_nomad_job_convert_with(job.data, job.len, 0, ISTIO_NOMAD_FORMAT_JSON,
                                          unknown.data, unknown.len, &out, NULL),
             ISTIO_NOMAD_PARSE);
    CHECK(contains(istio_nomad_last_error_message(), "read_options"));

    buffer_free(&undeclared);
    buffer_free(&unknown);
    buffer_free(&opts);
    buffer_free(&job);
}

static void test_job_convert_and_validate(void) {
    buffer job = read_file("istio-nomad-ffi/tests/data/web.job.json");
    buffer hcl = read_file("istio-nomad-ffi/tests/golden/web.job.hcl");
    buffer reg = read_file("istio-nomad-ffi/tests/golden/web.job.register.json");
    IstioNomadString *out = NULL;
    IstioNomadError *err = NULL;

    CHECK_RC(istio_nomad_job_convert(job.data, job.len, ISTIO_NOMAD_FORMAT_JSON,
                                     ISTIO_NOMAD_FORMAT_HCL, &out, &err),
             ISTIO_NOMAD_OK);
    CHECK(string_equals(out, &hcl));
    istio_nomad_string_free(&out);

    CHECK_RC(istio_nomad_job_convert(job.data, job.len, ISTIO_NOMAD_FORMAT_AUTO,
                                     ISTIO_NOMAD_FORMAT_JSON, &out, &err),
             ISTIO_NOMAD_OK);
    CHECK(string_equals(out, &reg));
    istio_nomad_string_free(&out);

    /* HCL back to JSON: the same job. */
    CHECK_RC(istio_nomad_job_convert(hcl.data, hcl.len, ISTIO_NOMAD_FORMAT_HCL,
                                     ISTIO_NOMAD_FORMAT_JSON, &out, &err),
             ISTIO_NOMAD_OK);
    CHECK(string_equals(out, &reg));
    istio_nomad_string_free(&out);

    CHECK_RC(istio_nomad_job_validate(job.data, job.len, ISTIO_NOMAD_FORMAT_AUTO, &err),
             ISTIO_NOMAD_OK);
    CHECK(err == NULL);
    CHECK_RC(istio_nomad_job_validate(hcl.data, hcl.len, ISTIO_NOMAD_FORMAT_HCL, NULL),
             ISTIO_NOMAD_OK);

    /* An invalid job: every problem with its path, as the golden error document. */
    buffer bad = read_file("istio-nomad-ffi/tests/data/web-invalid.job.json");
    buffer want = read_file("istio-nomad-ffi/tests/golden/web-invalid.error.json");
    CHECK_RC(istio_nomad_job_validate(bad.data, bad.len, ISTIO_NOMAD_FORMAT_JSON, &err),
             ISTIO_NOMAD_VALIDATION);
    const char *json = istio_nomad_error_json(err);
    CHECK(json != NULL && strlen(json) + 1 == want.len && memcmp(json, want.data, want.len - 1) == 0);
    CHECK(contains(json, "\"path\":\"job[web].group[api].count\""));
    istio_nomad_error_free(&err);

    /* Not a job at all; truncated JSON; unknown output format. */
    buffer junk = text("[1, 2, 3]");
    CHECK_RC(istio_nomad_job_convert(junk.data, junk.len, ISTIO_NOMAD_FORMAT_JSON,
                                     ISTIO_NOMAD_FORMAT_HCL, &out, &err),
             ISTIO_NOMAD_PARSE);
    CHECK(out == NULL);
    istio_nomad_error_free(&err);
    CHECK_RC(istio_nomad_job_convert(job.data, job.len / 3, ISTIO_NOMAD_FORMAT_JSON,
                                     ISTIO_NOMAD_FORMAT_HCL, &out, NULL),
             ISTIO_NOMAD_PARSE);
    CHECK(istio_nomad_last_error_code() == ISTIO_NOMAD_PARSE);
    CHECK_RC(istio_nomad_job_validate(job.data, job.len / 3, ISTIO_NOMAD_FORMAT_JSON, NULL),
             ISTIO_NOMAD_PARSE);
    CHECK_RC(istio_nomad_job_convert(job.data, job.len, ISTIO_NOMAD_FORMAT_JSON,
                                     ISTIO_NOMAD_FORMAT_AUTO, &out, NULL),
             ISTIO_NOMAD_INVALID_ARGUMENT);
    CHECK(contains(istio_nomad_last_error_json(), "\"path\":\"to_format\""));

    buffer_free(&junk);
    buffer_free(&bad);
    buffer_free(&want);
    buffer_free(&job);
    buffer_free(&hcl);
    buffer_free(&reg);
}

static void test_iptables_render(void) {
    buffer config = read_file("istio-nomad-ffi/tests/data/intercept.json");
    buffer all = read_file("istio-nomad-ffi/tests/golden/intercept.iptables.json");
    buffer restore = read_file("istio-nomad-ffi/tests/golden/intercept.restore.rules");
    buffer invalid = read_file("istio-nomad-ffi/tests/data/intercept-invalid.json");
    buffer want = read_file("istio-nomad-ffi/tests/golden/intercept-invalid.error.json");
    IstioNomadString *out = NULL;
    IstioNomadError *err = NULL;

    CHECK_RC(istio_nomad_iptables_render(config.data, config.len, ISTIO_NOMAD_IPTABLES_ALL, &out,
                                         &err),
             ISTIO_NOMAD_OK);
    CHECK(string_equals(out, &all));
    istio_nomad_string_free(&out);
    CHECK_RC(istio_nomad_iptables_render(config.data, config.len, ISTIO_NOMAD_IPTABLES_RESTORE,
                                         &out, NULL),
             ISTIO_NOMAD_OK);
    CHECK(string_equals(out, &restore));
    CHECK(contains(istio_nomad_string_data(out), "COMMIT"));
    istio_nomad_string_free(&out);
    const struct {
        uint32_t kind;
        const char *starts_with;
        const char *has;
    } kinds[] = {
        {ISTIO_NOMAD_IPTABLES_RESTORE_V6, "*mangle", "-j TPROXY"},
        {ISTIO_NOMAD_IPTABLES_SHELL, "#!/bin/sh", "ip6tables -t nat -N ISTIO_OUTPUT"},
        {ISTIO_NOMAD_IPTABLES_CLEANUP, "*mangle", "-X ISTIO_TPROXY"},
        {ISTIO_NOMAD_IPTABLES_CLEANUP_V6, "*mangle", "-X ISTIO_DIVERT"},
        {ISTIO_NOMAD_IPTABLES_CLEANUP_SHELL, "#!/bin/sh", "|| true"},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        CHECK_RC(istio_nomad_iptables_render(config.data, config.len, kinds[i].kind, &out, NULL),
                 ISTIO_NOMAD_OK);
        const char *t = istio_nomad_string_data(out);
        CHECK(t != NULL && strncmp(t, kinds[i].starts_with, strlen(kinds[i].starts_with)) == 0);
        CHECK(contains(t, kinds[i].has));
        istio_nomad_string_free(&out);
    }

    /* Defaults from "{}" (no NUL terminator needed). */
    buffer empty = text("{}");
    CHECK_RC(istio_nomad_iptables_render(empty.data, empty.len, ISTIO_NOMAD_IPTABLES_SHELL, &out,
                                         NULL),
             ISTIO_NOMAD_OK);
    CHECK(contains(istio_nomad_string_data(out), "15001"));
    istio_nomad_string_free(&out);

    /* Broken rules: VALIDATION with each setting's path. */
    CHECK_RC(istio_nomad_iptables_render(invalid.data, invalid.len, ISTIO_NOMAD_IPTABLES_SHELL,
                                         &out, &err),
             ISTIO_NOMAD_VALIDATION);
    const char *json = istio_nomad_error_json(err);
    CHECK(json != NULL && strlen(json) + 1 == want.len && memcmp(json, want.data, want.len - 1) == 0);
    istio_nomad_error_free(&err);
    /* Truncated JSON, unknown kind. */
    CHECK_RC(istio_nomad_iptables_render(config.data, config.len / 2, ISTIO_NOMAD_IPTABLES_SHELL,
                                         &out, NULL),
             ISTIO_NOMAD_PARSE);
    CHECK_RC(istio_nomad_iptables_render(config.data, config.len, 99, &out, NULL),
             ISTIO_NOMAD_INVALID_ARGUMENT);
    CHECK(out == NULL);

    buffer_free(&empty);
    buffer_free(&config);
    buffer_free(&all);
    buffer_free(&restore);
    buffer_free(&invalid);
    buffer_free(&want);
}

static void test_sidecar(void) {
    buffer job = read_file("istio-nomad-ffi/tests/data/web.job.json");
    buffer opts = read_file("istio-nomad-ffi/tests/data/sidecar-options.json");
    buffer bad_opts = read_file("istio-nomad-ffi/tests/data/sidecar-options-invalid.json");
    buffer injected = read_file("istio-nomad-ffi/tests/golden/web.injected.hcl");
    buffer original = read_file("istio-nomad-ffi/tests/golden/web.job.register.json");
    buffer want = read_file("istio-nomad-ffi/tests/golden/sidecar-options-invalid.error.json");
    IstioNomadString *out = NULL, *again = NULL;
    IstioNomadError *err = NULL;

    CHECK_RC(istio_nomad_sidecar_inject(job.data, job.len, ISTIO_NOMAD_FORMAT_JSON, opts.data,
                                        opts.len, ISTIO_NOMAD_FORMAT_HCL, &out, &err),
             ISTIO_NOMAD_OK);
    CHECK(string_equals(out, &injected));
    CHECK(contains(istio_nomad_string_data(out), "task \"istio-proxy\""));
    /* Injecting the injected job again gives the same job. */
    CHECK_RC(istio_nomad_sidecar_inject((const uint8_t *)istio_nomad_string_data(out),
                                        istio_nomad_string_len(out), ISTIO_NOMAD_FORMAT_AUTO,
                                        opts.data, opts.len, ISTIO_NOMAD_FORMAT_HCL, &again, NULL),
             ISTIO_NOMAD_OK);
    CHECK(string_equals(again, &injected));
    istio_nomad_string_free(&again);
    /* Removal restores the original job exactly. */
    CHECK_RC(istio_nomad_sidecar_remove((const uint8_t *)istio_nomad_string_data(out),
                                        istio_nomad_string_len(out), ISTIO_NOMAD_FORMAT_HCL,
                                        ISTIO_NOMAD_FORMAT_JSON, &again, &err),
             ISTIO_NOMAD_OK);
    CHECK(string_equals(again, &original));
    istio_nomad_string_free(&again);
    istio_nomad_string_free(&out);

    /* Bad options: every setting named. */
    CHECK_RC(istio_nomad_sidecar_inject(job.data, job.len, ISTIO_NOMAD_FORMAT_JSON, bad_opts.data,
                                        bad_opts.len, ISTIO_NOMAD_FORMAT_HCL, &out, &err),
             ISTIO_NOMAD_VALIDATION);
    const char *json = istio_nomad_error_json(err);
    CHECK(json != NULL && strlen(json) + 1 == want.len && memcmp(json, want.data, want.len - 1) == 0);
    istio_nomad_error_free(&err);
    /* Truncated options and job; unknown output format. */
    CHECK_RC(istio_nomad_sidecar_inject(job.data, job.len, ISTIO_NOMAD_FORMAT_JSON, opts.data,
                                        opts.len - 3, ISTIO_NOMAD_FORMAT_HCL, &out, NULL),
             ISTIO_NOMAD_PARSE);
    CHECK_RC(istio_nomad_sidecar_inject(job.data, job.len - 3, ISTIO_NOMAD_FORMAT_JSON, opts.data,
                                        opts.len, ISTIO_NOMAD_FORMAT_HCL, &out, NULL),
             ISTIO_NOMAD_PARSE);
    CHECK_RC(istio_nomad_sidecar_remove(job.data, job.len - 3, ISTIO_NOMAD_FORMAT_JSON,
                                        ISTIO_NOMAD_FORMAT_HCL, &out, NULL),
             ISTIO_NOMAD_PARSE);
    CHECK_RC(istio_nomad_sidecar_remove(job.data, job.len, ISTIO_NOMAD_FORMAT_JSON, 9, &out, NULL),
             ISTIO_NOMAD_INVALID_ARGUMENT);
    CHECK(out == NULL);

    buffer_free(&job);
    buffer_free(&opts);
    buffer_free(&bad_opts);
    buffer_free(&injected);
    buffer_free(&original);
    buffer_free(&want);
}

typedef struct {
    int count;
    int started;
    int healthy;
    int finished_last;
} progress_log;

static void on_progress(const char *event_json, void *user_data) {
    progress_log *log = user_data;
    log->count++;
    if (log->count == 1 && contains(event_json, "\"event\":\"started\"")) log->started = 1;
    if (contains(event_json, "\"event\":\"job_healthy\"")) log->healthy++;
    log->finished_last = contains(event_json, "\"event\":\"finished\"");
}

static void test_install(void) {
    buffer spec = read_file("examples/bookinfo.mesh.hcl");
    IstioNomadCluster *cluster = NULL;
    IstioNomadString *out = NULL;
    IstioNomadError *err = NULL;
    progress_log log = {0, 0, 0, 0};

    CHECK_RC(istio_nomad_cluster_in_memory(&cluster, &err), ISTIO_NOMAD_OK);
    CHECK(istio_nomad_cluster_is_in_memory(cluster));

    CHECK_RC(istio_nomad_diff(cluster, spec.data, spec.len, ISTIO_NOMAD_FORMAT_HCL, NULL, NULL,
                              &out, &err),
             ISTIO_NOMAD_OK);
    CHECK(contains(istio_nomad_string_data(out), "\"in_sync\": false"));
    CHECK(contains(istio_nomad_string_data(out), "\"change\": \"create\""));
    istio_nomad_string_free(&out);

    CHECK_RC(istio_nomad_apply(cluster, spec.data, spec.len, ISTIO_NOMAD_FORMAT_HCL, NULL, 0,
                               on_progress, &log, &out, &err),
             ISTIO_NOMAD_OK);
    CHECK(contains(istio_nomad_string_data(out), "\"action\": \"created\""));
    CHECK(log.started && log.finished_last);
    CHECK(log.healthy == 10); /* the Bookinfo plan has 10 jobs */
    istio_nomad_string_free(&out);

    CHECK_RC(istio_nomad_diff(cluster, spec.data, spec.len, ISTIO_NOMAD_FORMAT_AUTO, on_progress,
                              &log, &out, NULL),
             ISTIO_NOMAD_OK);
    CHECK(contains(istio_nomad_string_data(out), "\"in_sync\": true"));
    istio_nomad_string_free(&out);

    /* Again: nothing to write. */
    static const char opts[] = "{\"lock_ttl_secs\": 5, \"prune\": true}";
    CHECK_RC(istio_nomad_apply(cluster, spec.data, spec.len, 0, (const uint8_t *)opts,
                               sizeof opts - 1, NULL, NULL, &out, NULL),
             ISTIO_NOMAD_OK);
    CHECK(contains(istio_nomad_string_data(out), "\"total\": 0"));
    istio_nomad_string_free(&out);

    CHECK_RC(istio_nomad_destroy(cluster, spec.data, spec.len, 0, NULL, 0, on_progress, &log,
                                 &out, &err),
             ISTIO_NOMAD_OK);
    CHECK(contains(istio_nomad_string_data(out), "\"deregistered\": ["));
    CHECK(contains(istio_nomad_string_data(out), "\"productpage\""));
    istio_nomad_string_free(&out);

    /* Bad options: a validation error naming the option. */
    static const char bad[] = "{\"lock_ttl_secs\": 0}";
    CHECK_RC(istio_nomad_apply(cluster, spec.data, spec.len, 0, (const uint8_t *)bad,
                               sizeof bad - 1, NULL, NULL, &out, &err),
             ISTIO_NOMAD_VALIDATION);
    CHECK(contains(istio_nomad_error_json(err), "\"path\":\"lock_ttl\""));
    istio_nomad_error_free(&err);

    istio_nomad_cluster_free(&cluster);
    CHECK(cluster == NULL);
    istio_nomad_cluster_free(&cluster);
    buffer_free(&spec);
}

static void test_null_arguments(void) {
    static const uint8_t some[] = "x";
    IstioNomadString *out = NULL;
    IstioNomadError *err = NULL;

    CHECK_RC(istio_nomad_plan(NULL, 5, ISTIO_NOMAD_FORMAT_HCL, &out, &err),
             ISTIO_NOMAD_NULL_ARGUMENT);
    CHECK(contains(istio_nomad_error_json(err), "\"path\":\"spec\""));
    istio_nomad_error_free(&err);
    CHECK_RC(istio_nomad_plan(some, 1, ISTIO_NOMAD_FORMAT_HCL, NULL, &err),
             ISTIO_NOMAD_NULL_ARGUMENT);
    CHECK(contains(istio_nomad_error_json(err), "\"path\":\"out\""));
    istio_nomad_error_free(&err);
    CHECK_RC(istio_nomad_plan(NULL, 1, ISTIO_NOMAD_FORMAT_HCL, NULL, NULL),
             ISTIO_NOMAD_NULL_ARGUMENT);

    CHECK_RC(istio_nomad_job_convert(NULL, 1, 0, 1, &out, &err), ISTIO_NOMAD_NULL_ARGUMENT);
    CHECK(contains(istio_nomad_error_json(err), "\"path\":\"job\""));
    istio_nomad_error_free(&err);
    CHECK_RC(istio_nomad_job_convert(some, 1, 0, 1, NULL, NULL), ISTIO_NOMAD_NULL_ARGUMENT);
    CHECK(contains(istio_nomad_last_error_json(), "\"path\":\"out\""));
    CHECK_RC(istio_nomad_job_validate(NULL, 1, 0, &err), ISTIO_NOMAD_NULL_ARGUMENT);
    istio_nomad_error_free(&err);
    CHECK_RC(istio_nomad_job_validate(NULL, 1, 0, NULL), ISTIO_NOMAD_NULL_ARGUMENT);

    CHECK_RC(istio_nomad_iptables_render(NULL, 2, 0, &out, &err), ISTIO_NOMAD_NULL_ARGUMENT);
    CHECK(contains(istio_nomad_error_json(err), "\"path\":\"config\""));
    istio_nomad_error_free(&err);
    CHECK_RC(istio_nomad_iptables_render((const uint8_t *)"{}", 2, 0, NULL, NULL),
             ISTIO_NOMAD_NULL_ARGUMENT);

    CHECK_RC(istio_nomad_sidecar_inject(NULL, 1, 0, some, 1, 1, &out, &err),
             ISTIO_NOMAD_NULL_ARGUMENT);
    CHECK(contains(istio_nomad_error_json(err), "\"path\":\"job\""));
    istio_nomad_error_free(&err);
    CHECK_RC(istio_nomad_sidecar_inject(some, 1, 0, NULL, 1, 1, &out, &err),
             ISTIO_NOMAD_NULL_ARGUMENT);
    CHECK(contains(istio_nomad_error_json(err), "\"path\":\"options\""));
    istio_nomad_error_free(&err);
    CHECK_RC(istio_nomad_sidecar_inject(some, 1, 0, some, 1, 1, NULL, NULL),
             ISTIO_NOMAD_NULL_ARGUMENT);
    CHECK_RC(istio_nomad_sidecar_remove(NULL, 1, 0, 1, &out, NULL), ISTIO_NOMAD_NULL_ARGUMENT);
    CHECK_RC(istio_nomad_sidecar_remove(some, 1, 0, 1, NULL, NULL), ISTIO_NOMAD_NULL_ARGUMENT);

    IstioNomadCluster *cluster = NULL;
    CHECK_RC(istio_nomad_cluster_in_memory(NULL, NULL), ISTIO_NOMAD_NULL_ARGUMENT);
    CHECK_RC(istio_nomad_cluster_for_spec(NULL, 1, 0, &cluster, NULL), ISTIO_NOMAD_NULL_ARGUMENT);
    CHECK_RC(istio_nomad_cluster_for_spec(some, 1, 0, NULL, NULL), ISTIO_NOMAD_NULL_ARGUMENT);
    CHECK_RC(istio_nomad_diff(NULL, some, 1, 0, NULL, NULL, &out, &err), ISTIO_NOMAD_NULL_ARGUMENT);
    CHECK(contains(istio_nomad_error_json(err), "\"path\":\"cluster\""));
    istio_nomad_error_free(&err);
    CHECK_RC(istio_nomad_cluster_in_memory(&cluster, NULL), ISTIO_NOMAD_OK);
    CHECK_RC(istio_nomad_diff(cluster, NULL, 1, 0, NULL, NULL, &out, NULL),
             ISTIO_NOMAD_NULL_ARGUMENT);
    CHECK_RC(istio_nomad_diff(cluster, some, 1, 0, NULL, NULL, NULL, NULL),
             ISTIO_NOMAD_NULL_ARGUMENT);
    CHECK_RC(istio_nomad_apply(NULL, some, 1, 0, NULL, 0, NULL, NULL, &out, NULL),
             ISTIO_NOMAD_NULL_ARGUMENT);
    CHECK_RC(istio_nomad_apply(cluster, NULL, 1, 0, NULL, 0, NULL, NULL, &out, NULL),
             ISTIO_NOMAD_NULL_ARGUMENT);
    CHECK_RC(istio_nomad_apply(cluster, some, 1, 0, NULL, 3, NULL, NULL, &out, NULL),
             ISTIO_NOMAD_NULL_ARGUMENT);
    CHECK(contains(istio_nomad_last_error_json(), "\"path\":\"options\""));
    CHECK_RC(istio_nomad_apply(cluster, some, 1, 0, NULL, 0, NULL, NULL, NULL, NULL),
             ISTIO_NOMAD_NULL_ARGUMENT);
    CHECK_RC(istio_nomad_destroy(NULL, some, 1, 0, NULL, 0, NULL, NULL, &out, NULL),
             ISTIO_NOMAD_NULL_ARGUMENT);
    CHECK_RC(istio_nomad_destroy(cluster, NULL, 1, 0, NULL, 0, NULL, NULL, &out, NULL),
             ISTIO_NOMAD_NULL_ARGUMENT);
    CHECK_RC(istio_nomad_destroy(cluster, some, 1, 0, NULL, 0, NULL, NULL, NULL, NULL),
             ISTIO_NOMAD_NULL_ARGUMENT);
    CHECK(!istio_nomad_cluster_is_in_memory(NULL));
    istio_nomad_cluster_free(&cluster);
    istio_nomad_cluster_free(NULL);

    /* Accessors and frees accept NULL. */
    CHECK(istio_nomad_string_data(NULL) == NULL);
    CHECK(istio_nomad_string_len(NULL) == 0);
    istio_nomad_string_free(NULL);
    istio_nomad_string_free(&out); /* *out is NULL */
    CHECK(istio_nomad_error_code(NULL) == ISTIO_NOMAD_NULL_ARGUMENT);
    CHECK(istio_nomad_error_message(NULL) == NULL);
    CHECK(istio_nomad_error_json(NULL) == NULL);
    istio_nomad_error_free(NULL);
    istio_nomad_error_free(&err);
}

static void test_invalid_utf8(void) {
    static const uint8_t bad[] = {'m', 'e', 's', 'h', ' ', '"', 0xC3, 0x28, '"', ' ', '{', '}'};
    IstioNomadString *out = NULL;
    IstioNomadError *err = NULL;

    CHECK_RC(istio_nomad_plan(bad, sizeof bad, ISTIO_NOMAD_FORMAT_HCL, &out, &err),
             ISTIO_NOMAD_INVALID_UTF8);
    CHECK(out == NULL);
    CHECK(contains(istio_nomad_error_message(err), "offset 6"));
    istio_nomad_error_free(&err);
    CHECK_RC(istio_nomad_job_convert(bad, sizeof bad, 0, 2, &out, NULL), ISTIO_NOMAD_INVALID_UTF8);
    CHECK_RC(istio_nomad_job_validate(bad, sizeof bad, 0, NULL), ISTIO_NOMAD_INVALID_UTF8);
    CHECK_RC(istio_nomad_iptables_render(bad, sizeof bad, 0, &out, NULL), ISTIO_NOMAD_INVALID_UTF8);
    CHECK_RC(istio_nomad_sidecar_inject(bad, sizeof bad, 0, (const uint8_t *)"{}", 2, 1, &out, NULL),
             ISTIO_NOMAD_INVALID_UTF8);
    CHECK_RC(istio_nomad_sidecar_inject((const uint8_t *)"{}", 2, 0, bad, sizeof bad, 1, &out, NULL),
             ISTIO_NOMAD_INVALID_UTF8);
    CHECK(contains(istio_nomad_last_error_json(), "\"path\":\"options\""));
    CHECK_RC(istio_nomad_sidecar_remove(bad, sizeof bad, 0, 1, &out, NULL), ISTIO_NOMAD_INVALID_UTF8);
    IstioNomadCluster *cluster = NULL;
    CHECK_RC(istio_nomad_cluster_for_spec(bad, sizeof bad, 0, &cluster, NULL),
             ISTIO_NOMAD_INVALID_UTF8);
    CHECK_RC(istio_nomad_cluster_in_memory(&cluster, NULL), ISTIO_NOMAD_OK);
    CHECK_RC(istio_nomad_diff(cluster, bad, sizeof bad, 0, NULL, NULL, &out, NULL),
             ISTIO_NOMAD_INVALID_UTF8);
    CHECK_RC(istio_nomad_apply(cluster, bad, sizeof bad, 0, NULL, 0, NULL, NULL, &out, NULL),
             ISTIO_NOMAD_INVALID_UTF8);
    CHECK_RC(istio_nomad_destroy(cluster, bad, sizeof bad, 0, NULL, 0, NULL, NULL, &out, NULL),
             ISTIO_NOMAD_INVALID_UTF8);
    istio_nomad_cluster_free(&cluster);
    CHECK(contains(istio_nomad_last_error_json(), "\"name\":\"INVALID_UTF8\""));
}

static void test_large_inputs(void) {
    const size_t ten_mb = 10u * 1024u * 1024u;
    IstioNomadString *out = NULL;
    IstioNomadError *err = NULL;

    /* A 10 MB spec: refused by the size limit with a parse error, no crash. */
    uint8_t *big = malloc(ten_mb);
    memset(big, ' ', ten_mb);
    memcpy(big, "mesh \"big\" {", 12);
    big[ten_mb - 1] = '}';
    CHECK_RC(istio_nomad_plan(big, ten_mb, ISTIO_NOMAD_FORMAT_HCL, &out, &err), ISTIO_NOMAD_PARSE);
    CHECK(contains(istio_nomad_error_message(err), "limit"));
    istio_nomad_error_free(&err);

    /* A 10 MB job (one huge meta value): converted in full. */
    const char *head = "{\"ID\":\"big\",\"Datacenters\":[\"dc1\"],\"Meta\":{\"blob\":\"";
    const char *tail = "\"},\"TaskGroups\":[{\"Name\":\"g\",\"Tasks\":[{\"Name\":\"t\","
                       "\"Driver\":\"docker\",\"Config\":{\"image\":\"busybox:1\"}}]}]}";
    size_t hl = strlen(head), tl = strlen(tail);
    memcpy(big, head, hl);
    memset(big + hl, 'a', ten_mb - hl - tl);
    memcpy(big + ten_mb - tl, tail, tl);
    CHECK_RC(istio_nomad_job_validate(big, ten_mb, ISTIO_NOMAD_FORMAT_AUTO, NULL), ISTIO_NOMAD_OK);
    CHECK_RC(istio_nomad_job_convert(big, ten_mb, ISTIO_NOMAD_FORMAT_JSON,
                                     ISTIO_NOMAD_FORMAT_JSON, &out, NULL),
             ISTIO_NOMAD_OK);
    CHECK(istio_nomad_string_len(out) > ten_mb - hl - tl);
    CHECK(contains(istio_nomad_string_data(out), "\"ID\": \"big\""));
    istio_nomad_string_free(&out);

    /* 10 MB of bytes that are not UTF-8. */
    memset(big, 0xFF, ten_mb);
    CHECK_RC(istio_nomad_plan(big, ten_mb, ISTIO_NOMAD_FORMAT_HCL, &out, NULL),
             ISTIO_NOMAD_INVALID_UTF8);
    free(big);
}

static void test_free_nulls_the_handle(void) {
    buffer job = read_file("istio-nomad-ffi/tests/data/web.job.json");
    IstioNomadString *out = NULL;
    CHECK_RC(istio_nomad_job_convert(job.data, job.len, 0, ISTIO_NOMAD_FORMAT_HCL, &out, NULL),
             ISTIO_NOMAD_OK);
    CHECK(out != NULL);
    istio_nomad_string_free(&out);
    CHECK(out == NULL);
    /* A second free and reads through the freed variable see NULL, not freed memory. */
    istio_nomad_string_free(&out);
    CHECK(istio_nomad_string_data(out) == NULL);
    CHECK(istio_nomad_string_len(out) == 0);

    IstioNomadError *err = NULL;
    CHECK_RC(istio_nomad_job_validate(NULL, 1, 0, &err), ISTIO_NOMAD_NULL_ARGUMENT);
    CHECK(err != NULL);
    istio_nomad_error_free(&err);
    CHECK(err == NULL);
    CHECK(istio_nomad_error_message(err) == NULL);
    istio_nomad_error_free(&err);
    buffer_free(&job);
}

typedef struct {
    const buffer *spec;
    const buffer *golden;
    int ok;
} plan_job;

static void *plan_thread(void *arg) {
    plan_job *pj = arg;
    pj->ok = 1;
    for (int i = 0; i < 5; i++) {
        IstioNomadString *out = NULL;
        if (istio_nomad_plan(pj->spec->data, pj->spec->len, ISTIO_NOMAD_FORMAT_HCL, &out, NULL) !=
                ISTIO_NOMAD_OK ||
            !string_equals(out, pj->golden))
            pj->ok = 0;
        istio_nomad_string_free(&out);
        /* the last error is per thread: a failure here is not seen by the other threads */
        if (istio_nomad_job_validate(NULL, 1, 0, NULL) != ISTIO_NOMAD_NULL_ARGUMENT ||
            istio_nomad_last_error_code() != ISTIO_NOMAD_NULL_ARGUMENT)
            pj->ok = 0;
    }
    return NULL;
}

static void test_threads(void) {
    buffer spec = read_file("examples/bookinfo.mesh.hcl");
    buffer golden = read_file("istio-nomad-ffi/tests/golden/bookinfo.plan.json");
    enum { N = 4 };
    pthread_t threads[N];
    plan_job jobs[N];
    for (int i = 0; i < N; i++) {
        jobs[i] = (plan_job){&spec, &golden, 0};
        CHECK(pthread_create(&threads[i], NULL, plan_thread, &jobs[i]) == 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(threads[i], NULL);
        CHECK(jobs[i].ok);
    }
    buffer_free(&spec);
    buffer_free(&golden);
}

#if defined(ISTIO_NOMAD_TEST_HOOKS)
#define CHECK_PANICKED() CHECK(istio_nomad_last_error_code() == ISTIO_NOMAD_PANIC)

static void test_panics_are_caught(void) {
    buffer job = read_file("istio-nomad-ffi/tests/data/web.job.json");
    IstioNomadString *out = NULL;
    IstioNomadError *err = NULL;
    /* handles to hand to the accessors while panics are forced */
    IstioNomadString *held = NULL;
    IstioNomadError *held_err = NULL;
    CHECK_RC(istio_nomad_job_convert(job.data, job.len, 0, 2, &held, NULL), ISTIO_NOMAD_OK);
    CHECK_RC(istio_nomad_job_validate(NULL, 1, 0, &held_err), ISTIO_NOMAD_NULL_ARGUMENT);

#define EXPECT_PANIC(call)                                                       \
    do {                                                                         \
        istio_nomad_test_force_panic(true);                                      \
        CHECK_RC(call, ISTIO_NOMAD_PANIC);                                       \
        istio_nomad_test_force_panic(false);                                     \
        CHECK(contains(istio_nomad_last_error_message(), "panic"));              \
        CHECK(err != NULL && istio_nomad_error_code(err) == ISTIO_NOMAD_PANIC);  \
        CHECK(out == NULL);                                                      \
        istio_nomad_error_free(&err);                                            \
    } while (0)

    EXPECT_PANIC(istio_nomad_plan(job.data, job.len, 0, &out, &err));
    EXPECT_PANIC(istio_nomad_job_convert(job.data, job.len, 0, 1, &out, &err));
    EXPECT_PANIC(istio_nomad_job_validate(job.data, job.len, 0, &err));
    EXPECT_PANIC(istio_nomad_job_convert_with(job.data, job.len, 0, 1, NULL, 0, &out, &err));
    EXPECT_PANIC(istio_nomad_iptables_render((const uint8_t *)"{}", 2, 0, &out, &err));
    EXPECT_PANIC(istio_nomad_sidecar_inject(job.data, job.len, 0, (const uint8_t *)"{}", 2, 1,
                                            &out, &err));
    EXPECT_PANIC(istio_nomad_sidecar_remove(job.data, job.len, 0, 1, &out, &err));
    IstioNomadCluster *cluster = NULL;
    CHECK_RC(istio_nomad_cluster_in_memory(&cluster, NULL), ISTIO_NOMAD_OK);
    EXPECT_PANIC(istio_nomad_diff(cluster, job.data, job.len, 0, NULL, NULL, &out, &err));
    EXPECT_PANIC(istio_nomad_apply(cluster, job.data, job.len, 0, NULL, 0, NULL, NULL, &out, &err));
    EXPECT_PANIC(istio_nomad_destroy(cluster, job.data, job.len, 0, NULL, 0, NULL, NULL, &out, &err));
    IstioNomadCluster *made = NULL;
    istio_nomad_test_force_panic(true);
    CHECK_RC(istio_nomad_cluster_in_memory(&made, &err), ISTIO_NOMAD_PANIC);
    CHECK_RC(istio_nomad_cluster_for_spec(job.data, job.len, 0, &made, NULL), ISTIO_NOMAD_PANIC);
    CHECK(!istio_nomad_cluster_is_in_memory(cluster));
    CHECK_PANICKED();
    IstioNomadCluster *alias_cluster = cluster;
    istio_nomad_cluster_free(&alias_cluster); /* panics before freeing */
    CHECK_PANICKED();
    istio_nomad_test_force_panic(false);
    CHECK(made == NULL);
    istio_nomad_error_free(&err);
    CHECK(istio_nomad_cluster_is_in_memory(cluster));
    istio_nomad_cluster_free(&cluster);

    /* Accessors and frees return their documented fallback and record the panic. */
    istio_nomad_test_force_panic(true);
    CHECK(istio_nomad_version() == NULL);
    CHECK_PANICKED();
    CHECK(istio_nomad_string_data(held) == NULL);
    CHECK_PANICKED();
    CHECK(istio_nomad_string_len(held) == 0);
    CHECK_PANICKED();
    CHECK(istio_nomad_error_code(held_err) == ISTIO_NOMAD_PANIC);
    CHECK(istio_nomad_error_message(held_err) == NULL);
    CHECK_PANICKED();
    CHECK(istio_nomad_error_json(held_err) == NULL);
    CHECK_PANICKED();
    IstioNomadString *alias = held;
    istio_nomad_string_free(&alias); /* panics before freeing: nothing is freed */
    CHECK_PANICKED();
    IstioNomadError *alias_err = held_err;
    istio_nomad_error_free(&alias_err);
    CHECK_PANICKED();
    istio_nomad_test_force_panic(false);

    /* The library still works afterwards. */
    CHECK(istio_nomad_string_len(held) > 0);
    istio_nomad_string_free(&held);
    istio_nomad_error_free(&held_err);
    CHECK(held == NULL && held_err == NULL);
    CHECK_RC(istio_nomad_job_validate(job.data, job.len, 0, NULL), ISTIO_NOMAD_OK);
    buffer_free(&job);
}
#endif

/* ---- runner -------------------------------------------------------------------------- */

int main(int argc, char **argv) {
    root = argc > 1 ? argv[1] : ".";
    const char *filter = argc > 2 ? argv[2] : NULL;
    struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"version", test_version},
        {"plan_bookinfo", test_plan_bookinfo},
        {"plan_errors", test_plan_errors},
        {"verify_bookinfo", test_verify_bookinfo},
        {"job_convert_and_validate", test_job_convert_and_validate},
        {"job_convert_with_variables", test_job_convert_with_variables},
        {"iptables_render", test_iptables_render},
        {"sidecar", test_sidecar},
        {"install", test_install},
        {"null_arguments", test_null_arguments},
        {"invalid_utf8", test_invalid_utf8},
        {"large_inputs", test_large_inputs},
        {"free_nulls_the_handle", test_free_nulls_the_handle},
        {"threads", test_threads},
#if defined(ISTIO_NOMAD_TEST_HOOKS)
        {"panics_are_caught", test_panics_are_caught},
#endif
    };
    int passed = 0, failed = 0;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        if (filter && !strstr(tests[i].name, filter)) continue;
        checks_failed_in_test = 0;
        tests[i].fn();
        if (checks_failed_in_test == 0) {
            passed++;
            printf("ok   %s\n", tests[i].name);
        } else {
            failed++;
            printf("FAIL %s (%d checks)\n", tests[i].name, checks_failed_in_test);
        }
    }
    printf("C: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
