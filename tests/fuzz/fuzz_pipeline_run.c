/* libFuzzer driver for the pipeline's run record parser (br_pipeline_run_parse,
 * lib/pipeline/pipeline.c): the input is a run.json, which `bookrec pipeline resume` reads
 * back and whose output paths it opens. Invariants: a record that parses has the format,
 * a valid id, nine steps in order, and output paths that are relative and free of "..";
 * printing it and parsing the text again succeeds (the runner rewrites what it read).
 * Seeds: tests/fuzz/corpus/pipeline_run/. */
#include "bookrec/error.h"
#include "bookrec/pipeline.h"
#include "bookrec/version.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *run = NULL, *again = NULL;
    int rc = br_pipeline_run_parse((const char *)data, size, &run);
    if (rc != 0) {
        if (rc != BR_EFORMAT || run)
            abort();
        return 0;
    }
    if (!br_version_id_valid(json_string_value(json_object_get(run, "id"))))
        abort();
    json_t *steps = json_object_get(run, "steps"), *s;
    size_t i, k;
    if (json_array_size(steps) != BR_PIPELINE_STEPS)
        abort();
    json_array_foreach(steps, i, s)
    {
        const char *name = json_string_value(json_object_get(s, "name"));
        if (!name || strcmp(name, br_pipeline_step_name((int)i)) != 0)
            abort();
        json_t *e;
        json_array_foreach(json_object_get(s, "outputs"), k, e)
        {
            const char *p = json_string_value(json_object_get(e, "path"));
            if (!p || p[0] == '/' || strstr(p, ".."))
                abort();
        }
    }
    char *text = json_dumps(run, JSON_COMPACT);
    if (text && br_pipeline_run_parse(text, strlen(text), &again) != 0)
        abort();
    free(text);
    json_decref(again);
    json_decref(run);
    return 0;
}
