/* Tests of server/metrics.c: the rendered text is checked line by line
 * against the Prometheus text format 0.0.4, and the numbers against what was
 * observed. */
#include "harness.h"

#include "bookrec/error.h"
#include "metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Each line is a comment ("# HELP name text", "# TYPE name type") or a sample
 * "name{labels} value" with a valid metric name, balanced quoted labels and a
 * number; every sample's family has had its TYPE line before it. Returns the
 * number of samples, or -1 with the bad line in bad. */
static int check_exposition(const char *text, char *bad, size_t badcap)
{
    static char typed[512][128];
    int n_typed = 0, samples = 0;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        if (!nl)
            goto fail; /* the last line ends with a newline too */
        size_t len = (size_t)(nl - p);
        char line[512];
        if (len >= sizeof line)
            goto fail;
        memcpy(line, p, len);
        line[len] = '\0';
        if (!strncmp(line, "# TYPE ", 7)) {
            char name[128], type[32];
            if (sscanf(line + 7, "%127s %31s", name, type) != 2 || n_typed >= 512)
                goto fail;
            if (strcmp(type, "counter") && strcmp(type, "gauge") && strcmp(type, "histogram"))
                goto fail;
            strcpy(typed[n_typed++], name);
        } else if (!strncmp(line, "# HELP ", 7)) {
            /* free text */
        } else {
            size_t i = 0;
            while ((line[i] >= 'a' && line[i] <= 'z') || (line[i] >= 'A' && line[i] <= 'Z') ||
                   line[i] == '_' || line[i] == ':' || (i && line[i] >= '0' && line[i] <= '9'))
                i++;
            if (i == 0)
                goto fail;
            char fam[128];
            snprintf(fam, sizeof fam, "%.*s", (int)i, line);
            int ok = 0;
            for (int t = 0; t < n_typed && !ok; t++) {
                size_t tl = strlen(typed[t]);
                ok = !strcmp(fam, typed[t]) ||
                     (!strncmp(fam, typed[t], tl) &&
                      (!strcmp(fam + tl, "_bucket") || !strcmp(fam + tl, "_sum") ||
                       !strcmp(fam + tl, "_count")));
            }
            if (!ok)
                goto fail;
            if (line[i] == '{') {
                i++;
                while (line[i] != '}') {
                    while (line[i] && line[i] != '=')
                        i++;
                    if (line[i] != '=' || line[i + 1] != '"')
                        goto fail;
                    i += 2;
                    while (line[i] && line[i] != '"')
                        i += line[i] == '\\' ? 2 : 1;
                    if (line[i] != '"')
                        goto fail;
                    i++;
                    if (line[i] == ',')
                        i++;
                    else if (line[i] != '}')
                        goto fail;
                }
                i++;
            }
            if (line[i] != ' ')
                goto fail;
            char *end;
            const char *v = line + i + 1;
            if (strcmp(v, "+Inf") && strcmp(v, "-Inf") && strcmp(v, "NaN")) {
                strtod(v, &end);
                if (end == v || *end)
                    goto fail;
            }
            samples++;
        }
        p = nl + 1;
    }
    return samples;
fail:
    snprintf(bad, badcap, "%.*s", (int)(strchr(p, '\n') ? strchr(p, '\n') - p : 80), p);
    return -1;
}

static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (!strncmp(p, series, n) && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return -1;
}

TEST(prom_routes_and_histogram)
{
    br_metrics *m = NULL;
    ASSERT_OK(br_metrics_new(&m));
    int sim = br_metrics_route(m, "/similar");
    int rec = br_metrics_route(m, "/recommend");
    ASSERT_EQ_INT(sim, 1); /* 0 is "other" */
    ASSERT_EQ_INT(rec, 2);
    ASSERT_EQ_INT(br_metrics_route(m, "/similar"), sim);
    ASSERT_EQ_INT(br_metrics_route(m, "bad\"name"), BR_EINVAL);
    ASSERT_EQ_INT(br_metrics_route(m, ""), BR_EINVAL);

    br_metrics_observe(m, sim, 200, 0.00004);  /* le 0.00005 */
    br_metrics_observe(m, sim, 200, 0.003);    /* le 0.005 */
    br_metrics_observe(m, sim, 404, 0.2);      /* le 0.25 */
    br_metrics_observe(m, sim, 503, 10);       /* +Inf only */
    br_metrics_observe(m, 999, 200, 0.001);    /* unknown index: other */
    br_metrics_observe(m, rec, 0, -1);         /* nonsense: 5xx, 0 s */

    size_t len;
    char *t = br_metrics_render(m, &len);
    ASSERT_TRUE(t != NULL);
    ASSERT_EQ_INT(strlen(t), len);
    char bad[600];
    int n = check_exposition(t, bad, sizeof bad);
    if (n < 0)
        fprintf(stderr, "bad line: %s\n", bad);
    ASSERT_CMP_INT(n, >, 0);
    ASSERT_NEAR(sample(t, "bookrec_http_requests_total{route=\"/similar\",code=\"2xx\"}"), 2, 0);
    ASSERT_NEAR(sample(t, "bookrec_http_requests_total{route=\"/similar\",code=\"4xx\"}"), 1, 0);
    ASSERT_NEAR(sample(t, "bookrec_http_requests_total{route=\"/similar\",code=\"5xx\"}"), 1, 0);
    ASSERT_NEAR(sample(t, "bookrec_http_requests_total{route=\"other\",code=\"2xx\"}"), 1, 0);
    ASSERT_NEAR(sample(t, "bookrec_http_requests_total{route=\"/recommend\",code=\"5xx\"}"), 1,
                0);
    const char *b = "bookrec_http_request_duration_seconds_bucket{route=\"/similar\",le=";
    char key[200];
    snprintf(key, sizeof key, "%s\"0.00005\"}", b);
    ASSERT_NEAR(sample(t, key), 1, 0);
    snprintf(key, sizeof key, "%s\"0.005\"}", b);
    ASSERT_NEAR(sample(t, key), 2, 0);
    snprintf(key, sizeof key, "%s\"0.25\"}", b);
    ASSERT_NEAR(sample(t, key), 3, 0);
    snprintf(key, sizeof key, "%s\"5\"}", b);
    ASSERT_NEAR(sample(t, key), 3, 0);
    snprintf(key, sizeof key, "%s\"+Inf\"}", b);
    ASSERT_NEAR(sample(t, key), 4, 0);
    ASSERT_NEAR(sample(t, "bookrec_http_request_duration_seconds_count{route=\"/similar\"}"), 4,
                0);
    ASSERT_NEAR(sample(t, "bookrec_http_request_duration_seconds_sum{route=\"/similar\"}"),
                10.20304, 1e-6);
    ASSERT_TRUE(strstr(t, "# TYPE bookrec_http_request_duration_seconds histogram\n") != NULL);
    free(t);
    br_metrics_free(m);
    br_metrics_free(NULL);
}

TEST(prom_named_counters_and_gauges)
{
    br_metrics *m = NULL;
    ASSERT_OK(br_metrics_new(&m));
    ASSERT_OK(br_metrics_counter_add(m, "bookrec_reloads_total", "Model reloads.", 1));
    ASSERT_OK(br_metrics_counter_add(m, "bookrec_reloads_total", NULL, 2));
    ASSERT_OK(br_metrics_gauge_set(m, "bookrec_model_items", "Items in the loaded model.", 5));
    ASSERT_OK(br_metrics_gauge_set(m, "bookrec_model_items", NULL, 34408));
    ASSERT_OK(br_metrics_counter_add(m, "bookrec_cache_hits_total{cache=\"meta\"}",
                                     "Cache hits.\nBy cache \\ name.", 7));
    ASSERT_OK(br_metrics_counter_add(m, "bookrec_cache_hits_total{cache=\"recs\"}", NULL, 0.5));
    ASSERT_EQ_INT(br_metrics_counter_add(m, "bookrec_reloads_total", NULL, -1), BR_EINVAL);
    ASSERT_EQ_INT(br_metrics_gauge_set(m, "bookrec_reloads_total", NULL, 1), BR_EINVAL);
    ASSERT_EQ_INT(br_metrics_gauge_set(m, "bookrec_cache_hits_total{cache=\"x\"}", NULL, 1),
                  BR_EINVAL); /* a counter family */
    ASSERT_EQ_INT(br_metrics_counter_add(m, "9bad", NULL, 1), BR_EINVAL);
    ASSERT_EQ_INT(br_metrics_counter_add(m, "bad name", NULL, 1), BR_EINVAL);
    ASSERT_EQ_INT(br_metrics_counter_add(m, "x{a=\"1\"", NULL, 1), BR_EINVAL);
    ASSERT_EQ_INT(br_metrics_counter_add(m, "x{a=\"\n\"}", NULL, 1), BR_EINVAL);

    char *t = br_metrics_render(m, NULL);
    ASSERT_TRUE(t != NULL);
    char bad[600];
    int n = check_exposition(t, bad, sizeof bad);
    if (n < 0)
        fprintf(stderr, "bad line: %s\n", bad);
    ASSERT_CMP_INT(n, >, 0);
    ASSERT_NEAR(sample(t, "bookrec_reloads_total"), 3, 0);
    ASSERT_NEAR(sample(t, "bookrec_model_items"), 34408, 0);
    ASSERT_NEAR(sample(t, "bookrec_cache_hits_total{cache=\"meta\"}"), 7, 0);
    ASSERT_NEAR(sample(t, "bookrec_cache_hits_total{cache=\"recs\"}"), 0.5, 0);
    ASSERT_TRUE(strstr(t, "# TYPE bookrec_reloads_total counter\n") != NULL);
    ASSERT_TRUE(strstr(t, "# TYPE bookrec_model_items gauge\n") != NULL);
    ASSERT_TRUE(strstr(t, "# HELP bookrec_cache_hits_total Cache hits.\\nBy cache \\\\ name.\n"));
    /* One HELP/TYPE pair per family. */
    const char *first = strstr(t, "# TYPE bookrec_cache_hits_total");
    ASSERT_TRUE(first && !strstr(first + 1, "# TYPE bookrec_cache_hits_total"));
    free(t);
    br_metrics_free(m);
}

TEST(prom_limits)
{
    br_metrics *m = NULL;
    char name[64];
    ASSERT_OK(br_metrics_new(&m));
    for (int i = 1; i < BR_METRICS_MAX_ROUTES; i++) {
        snprintf(name, sizeof name, "/r%d", i);
        ASSERT_EQ_INT(br_metrics_route(m, name), i);
    }
    ASSERT_EQ_INT(br_metrics_route(m, "/one-too-many"), BR_ELIMIT);
    for (int i = 0; i < BR_METRICS_MAX_SERIES; i++) {
        snprintf(name, sizeof name, "s_%d", i);
        ASSERT_OK(br_metrics_gauge_set(m, name, "g", i));
    }
    ASSERT_EQ_INT(br_metrics_gauge_set(m, "s_more", "g", 1), BR_ELIMIT);
    char *t = br_metrics_render(m, NULL);
    ASSERT_TRUE(t != NULL);
    char bad[600];
    ASSERT_CMP_INT(check_exposition(t, bad, sizeof bad), >, 0);
    free(t);
    br_metrics_free(m);
}

typedef struct obs_arg {
    br_metrics *m;
    int route;
} obs_arg;

static void *observe_many(void *arg)
{
    obs_arg *a = arg;
    for (int i = 0; i < 100000; i++) {
        br_metrics_observe(a->m, a->route, 200, 0.001);
        if (i % 1000 == 0)
            br_metrics_counter_add(a->m, "bookrec_things_total", "Things.", 1);
    }
    return NULL;
}

TEST(prom_concurrent_observe)
{
    br_metrics *m = NULL;
    pthread_t t[4];
    obs_arg a;
    ASSERT_OK(br_metrics_new(&m));
    a = (obs_arg){m, br_metrics_route(m, "/x")};
    for (int i = 0; i < 4; i++)
        ASSERT_EQ_INT(pthread_create(&t[i], NULL, observe_many, &a), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    char *r = br_metrics_render(m, NULL);
    ASSERT_TRUE(r != NULL);
    ASSERT_NEAR(sample(r, "bookrec_http_request_duration_seconds_count{route=\"/x\"}"), 400000,
                0);
    ASSERT_NEAR(sample(r, "bookrec_things_total"), 400, 0);
    ASSERT_NEAR(sample(r, "bookrec_http_request_duration_seconds_sum{route=\"/x\"}"), 400, 1e-6);
    free(r);
    br_metrics_free(m);
}
