/*
 * plan_mesh: plans a mesh spec through the istio-nomad C ABI and prints the dependency stages.
 *
 *   cargo build -p istio-nomad-ffi
 *   gcc -Wall -Wextra -I istio-nomad-ffi/include examples/c/plan_mesh.c \
 *       target/debug/libistio_nomad_ffi.a -lpthread -ldl -lm -o plan_mesh
 *   ./plan_mesh examples/bookinfo.mesh.hcl [plan.json]
 *
 * With a second argument the whole plan document (every job as HCL and JSON, the iptables
 * rules, the VM bundles, the order) is written to that file. On a bad spec it prints the
 * message and the JSON error detail (field paths, values, line) and exits 1.
 */
#include "istio_nomad.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

/* Prints the "order" member of the plan document: an array of stages, each an array of job
 * IDs. A small scanner is enough: the document is JSON written by the library. */
static void print_stages(const char *doc, size_t len) {
    const char *p = strstr(doc, "\"order\":");
    if (!p) return;
    const char *end = doc + len;
    int depth = 0, stage = 0, first = 1;
    for (p += 8; p < end; p++) {
        if (*p == '[') {
            if (++depth == 2) {
                printf("stage %d:", ++stage);
                first = 1;
            }
        } else if (*p == ']') {
            if (depth-- == 2) printf("\n");
            if (depth == 0) break;
        } else if (*p == '"' && depth == 2) {
            const char *s = ++p;
            while (p < end && *p != '"') p += (*p == '\\') ? 2 : 1;
            printf("%s %.*s", first ? "" : ",", (int)(p - s), s);
            first = 0;
        }
    }
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s <mesh spec (.hcl or .json)> [plan.json]\n", argv[0]);
        return 2;
    }
    size_t len = 0;
    char *spec = read_all(argv[1], &len);
    if (!spec) {
        perror(argv[1]);
        return 2;
    }

    IstioNomadString *plan = NULL;
    IstioNomadError *err = NULL;
    IstioNomadResult rc =
        istio_nomad_plan((const uint8_t *)spec, len, ISTIO_NOMAD_FORMAT_AUTO, &plan, &err);
    free(spec);
    if (rc != ISTIO_NOMAD_OK) {
        fprintf(stderr, "error (code %u): %s\n", (unsigned)rc, istio_nomad_error_message(err));
        fprintf(stderr, "detail: %s\n", istio_nomad_error_json(err));
        istio_nomad_error_free(&err);
        return 1;
    }

    printf("istio-nomad %s\n", istio_nomad_version());
    print_stages(istio_nomad_string_data(plan), istio_nomad_string_len(plan));
    if (argc > 2) {
        FILE *f = fopen(argv[2], "wb");
        if (!f || fwrite(istio_nomad_string_data(plan), 1, istio_nomad_string_len(plan), f) !=
                      istio_nomad_string_len(plan)) {
            perror(argv[2]);
            istio_nomad_string_free(&plan);
            return 1;
        }
        fclose(f);
        printf("plan written to %s (%zu bytes)\n", argv[2], istio_nomad_string_len(plan));
    }
    istio_nomad_string_free(&plan);
    return 0;
}
