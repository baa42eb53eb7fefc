/* job.c - see job.h. The YAML is loaded as a libyaml document and walked:
 * a mapping of scalar keys to scalars or a sequence of scalars, but for a
 * folder's init_args and inputs, which are passed on as JSON. Unknown keys
 * are errors, so a typo does not silently fall back to a default. */
#include "job.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <jansson.h>
#include <yaml.h>

#include "outdir.h"
#include "paths.h"
#include "pipeline.h"
#include "util.h"

void job_free(job *j) {
    free(j->input_type);
    for (size_t i = 0; i < j->nmodels; i++) free(j->models[i]);
    free(j->models);
    free(j->models_dir);
    free(j->output_dir);
    free(j->source_level);
    free(j->name);
    free(j->repo_path);
    free(j->entry_file);
    free(j->entry_class);
    free(j->model_class);
    free(j->config);
    free(j->init_args);
    free(j->inputs);
    memset(j, 0, sizeof *j);
}

static const char *scalar(yaml_node_t *n) {
    return (n && n->type == YAML_SCALAR_NODE) ? (const char *)n->data.scalar.value : NULL;
}

/* A plain scalar as YAML means it: null, true/false, a number, else text. */
static json_t *scalar_json(yaml_node_t *n) {
    const char *v = (const char *)n->data.scalar.value;
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return json_string(v);
    if (!strcmp(v, "null") || !strcmp(v, "~") || !*v) return json_null();
    if (!strcmp(v, "true")) return json_true();
    if (!strcmp(v, "false")) return json_false();
    char *end;
    errno = 0;
    long long i = strtoll(v, &end, 10);
    if (!*end && !errno) return json_integer(i);
    double d = strtod(v, &end);
    if (!*end && isfinite(d)) return json_real(d);
    return json_string(v);
}

/* The value of init_args or inputs as JSON, for the glue. NULL where it
 * nests deeper than any argument list needs (an alias loop). */
static json_t *node_json(yaml_document_t *doc, yaml_node_t *n, int depth) {
    if (!n || depth > 32) return NULL;
    if (n->type == YAML_SCALAR_NODE) return scalar_json(n);
    json_t *out = n->type == YAML_SEQUENCE_NODE ? json_array() : json_object();
    if (n->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
            json_t *v = node_json(doc, yaml_document_get_node(doc, *it), depth + 1);
            if (!v) goto bad;
            json_array_append_new(out, v);
        }
    } else {
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
            const char *k = scalar(yaml_document_get_node(doc, p->key));
            json_t *v = k ? node_json(doc, yaml_document_get_node(doc, p->value), depth + 1) : NULL;
            if (!v) goto bad;
            json_object_set_new(out, k, v);
        }
    }
    return out;
bad:
    json_decref(out);
    return NULL;
}

/* The fields whose YAML value is kept as JSON text for the glue, and which
 * containers each takes. */
typedef struct {
    const char *key;
    size_t off;         /* of its char * in job */
    int kinds;
    const char *needed; /* for the error */
} json_field;

static const json_field JSON_FIELDS[] = {
    {"init_args", offsetof(job, init_args), TAKES_LIST, "a list"},
    {"inputs", offsetof(job, inputs), TAKES_LIST | TAKES_OBJECT, "a list (or a mapping of the inputs by name)"},
    {"config", offsetof(job, config), TAKES_OBJECT, "a mapping of config fields"},
};

static const json_field *json_field_of(const char *key) {
    for (size_t i = 0; i < sizeof JSON_FIELDS / sizeof JSON_FIELDS[0]; i++)
        if (!strcmp(JSON_FIELDS[i].key, key)) return &JSON_FIELDS[i];
    return NULL;
}

static void add_model(job *j, const char *m) {
    j->models = xrealloc(j->models, (j->nmodels + 1) * sizeof *j->models);
    j->models[j->nmodels++] = xstrdup(m);
}

int job_parse(const char *text, size_t len, const char *name, job *j, char **err) {
    yaml_parser_t parser;
    yaml_document_t doc;
    int rc = -1, have_doc = 0;
    memset(j, 0, sizeof *j);
    j->num_trials = 3;
    if (!yaml_parser_initialize(&parser)) {
        set_error(err, "%s: cannot start the YAML parser", name);
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        set_error(err, "%s: line %zu: %s", name, parser.problem_mark.line + 1,
                  parser.problem ? parser.problem : "invalid YAML");
        goto done;
    }
    have_doc = 1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root || root->type != YAML_MAPPING_NODE) {
        set_error(err, "%s: a job file is a mapping of fields (input_type, model, output_dir, ...)", name);
        goto done;
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(&doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(&doc, p->value);
        const char *key = scalar(kn);
        const char *val = scalar(vn);
        size_t line = kn ? kn->start_mark.line + 1 : 0;
        if (!key) {
            set_error(err, "%s: line %zu: keys must be plain names", name, line);
            goto done;
        }
        if (strcmp(key, "models") == 0) {
            if (vn && vn->type == YAML_SEQUENCE_NODE) {
                for (yaml_node_item_t *it = vn->data.sequence.items.start; it < vn->data.sequence.items.top; it++) {
                    const char *m = scalar(yaml_document_get_node(&doc, *it));
                    if (!m || !*m) {
                        set_error(err, "%s: line %zu: every entry of 'models' must be a file name", name, line);
                        goto done;
                    }
                    add_model(j, m);
                }
                continue;
            }
            if (!val) {
                set_error(err, "%s: line %zu: 'models' must be a list of files", name, line);
                goto done;
            }
            add_model(j, val);
            continue;
        }
        const json_field *jf = json_field_of(key);
        if (jf) {
            json_t *v = node_json(&doc, vn, 0);
            if (!json_is_kind(v, jf->kinds)) {
                set_error(err, "%s: line %zu: '%s' must be %s", name, line, key, jf->needed);
                json_decref(v);
                goto done;
            }
            char **dst = (char **)((char *)j + jf->off);
            free(*dst);
            *dst = json_dumps(v, JSON_COMPACT);
            json_decref(v);
            continue;
        }
        if (!val || !*val) {
            set_error(err, "%s: line %zu: '%s' needs a value", name, line, key);
            goto done;
        }
        char **dst = NULL;
        if (!strcmp(key, "input_type")) dst = &j->input_type;
        else if (!strcmp(key, "models_dir")) dst = &j->models_dir;
        else if (!strcmp(key, "output_dir")) dst = &j->output_dir;
        else if (!strcmp(key, "source_level")) dst = &j->source_level;
        else if (!strcmp(key, "name")) dst = &j->name;
        else if (!strcmp(key, "repo_path")) dst = &j->repo_path;
        else if (!strcmp(key, "entry_file")) dst = &j->entry_file;
        else if (!strcmp(key, "entry_class")) dst = &j->entry_class;
        else if (!strcmp(key, "model_class")) dst = &j->model_class;
        if (dst) {
            free(*dst);
            *dst = xstrdup(val);
            continue;
        }
        if (!strcmp(key, "model")) {
            add_model(j, val);
            continue;
        }
        char *end;
        errno = 0;
        if (!strcmp(key, "num_trials")) {
            long v = strtol(val, &end, 10);
            if (*end || errno || v < 1 || v > 1000000) {
                set_error(err, "%s: line %zu: num_trials '%s' is not a whole number from 1 to 1000000", name, line, val);
                goto done;
            }
            j->num_trials = (int)v;
            j->num_trials_set = 1;
        } else if (!strcmp(key, "rtol") || !strcmp(key, "atol")) {
            double v = strtod(val, &end);
            if (*end || errno || !isfinite(v) || v < 0) {
                set_error(err, "%s: line %zu: %s '%s' is not a non-negative number", name, line, key, val);
                goto done;
            }
            if (key[0] == 'r') j->rtol = v, j->rtol_set = 1;
            else j->atol = v, j->atol_set = 1;
        } else {
            set_error(err, "%s: line %zu: unknown field '%s'", name, line, key);
            goto done;
        }
    }
    int is_repo = j->input_type && strcmp(j->input_type, "repo") == 0;
    int is_hf = j->input_type && strcmp(j->input_type, "huggingface") == 0;
    if (j->input_type && !is_repo && !is_hf && strcmp(j->input_type, "single_file") != 0) {
        set_error(err, "%s: input_type '%s' is not one of single_file, repo and huggingface", name,
                  j->input_type);
        goto done;
    }
    if (is_hf) {
        if (!j->model_class) {
            set_error(err, "%s: input_type huggingface needs 'model_class' (a transformers class)", name);
            goto done;
        }
        if (j->repo_path || j->entry_file || j->entry_class || j->init_args) {
            set_error(err, "%s: repo_path, entry_file, entry_class and init_args are for input_type repo", name);
            goto done;
        }
        if (j->inputs && j->inputs[0] != '{') {
            set_error(err, "%s: the inputs of a huggingface model are a mapping by name (input_ids: ...)", name);
            goto done;
        }
    } else if (j->model_class || j->config) {
        set_error(err, "%s: model_class and config are for input_type huggingface", name);
        goto done;
    } else if (is_repo) {
        const char *missing = !j->repo_path ? "repo_path" : !j->entry_file ? "entry_file"
                            : !j->entry_class ? "entry_class" : !j->inputs ? "inputs" : NULL;
        if (missing) {
            set_error(err, "%s: input_type repo needs '%s'", name, missing);
            goto done;
        }
        if (j->nmodels) {
            set_error(err, "%s: input_type repo takes repo_path, not model or models", name);
            goto done;
        }
        add_model(j, j->repo_path);  /* the one run's model is the folder */
    } else if (j->repo_path || j->entry_file || j->entry_class || j->init_args || j->inputs) {
        set_error(err, "%s: repo_path, entry_file, entry_class, init_args and inputs are for input_type repo "
                  "(inputs also for huggingface)", name);
        goto done;
    }
    if (j->nmodels == 0) {
        set_error(err, "%s: no model given (field 'model' or 'models')", name);
        goto done;
    }
    if (j->name && j->nmodels > 1) {
        set_error(err, "%s: 'name' applies to one model, but the job has %zu", name, j->nmodels);
        goto done;
    }
    if (j->name && !name_is_safe_component(j->name)) {
        set_error(err, "%s: name '%s' is not a valid name", name, j->name);
        goto done;
    }
    if (j->source_level && !name_is_safe_component(j->source_level)) {
        set_error(err, "%s: source_level '%s' is not a valid name", name, j->source_level);
        goto done;
    }
    if (j->models_dir) {
        for (size_t i = 0; i < j->nmodels; i++) {
            if (j->models[i][0] == '/') continue;
            char *p = path_join(j->models_dir, j->models[i]);
            struct stat st;
            if (is_hf && (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))) {
                free(p);  /* a model id, not a snapshot folder under models_dir */
                continue;
            }
            free(j->models[i]);
            j->models[i] = p;
        }
    }
    rc = 0;
done:
    if (have_doc) yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (rc != 0) job_free(j);
    return rc;
}

int job_load(const char *path, job *j, char **err) {
    memset(j, 0, sizeof *j);
    size_t len;
    char *text = read_file(path, &len, err);
    if (!text) return -1;
    int rc = job_parse(text, len, path, j, err);
    free(text);
    return rc;
}

char *job_output_for(const job *j, const char *model_name) {
    if (!j->output_dir) return NULL;
    char *filled = str_replace_all(j->output_dir, "{model_name}", model_name);
    if (filled) return filled;
    if (j->nmodels > 1) return path_join(j->output_dir, model_name);
    return xstrdup(j->output_dir);
}

int job_run(const cli_args *a, const run_env *env) {
    job j;
    char *err = NULL;
    if (job_load(a->model, &j, &err) != 0) {
        int code = report_error(env, a->json, err);
        free(err);
        return code;
    }
    int worst = 0;
    json_t *results = json_array();
    for (size_t i = 0; i < j.nmodels; i++) {
        cli_args m = *a;
        m.cmd = CMD_RUN;
        m.model = j.models[i];
        m.children = NULL;
        m.nchildren = 0;
        char *name = j.name ? xstrdup(j.name)
                   : j.model_class ? model_name_from_hf(j.models[i])
                                   : model_name_from_path(j.entry_file ? j.entry_file : j.models[i]);
        char *out = job_output_for(&j, name);
        m.output = out;
        m.name = j.name;
        m.source_level = j.source_level;
        m.entry_file = j.entry_file;
        m.entry_class = j.entry_class;
        m.init_args = j.init_args;
        m.inputs = j.inputs;
        m.model_class = j.model_class;
        m.hf_config = j.config;
        if (!a->num_trials_set && j.num_trials_set) m.num_trials = j.num_trials, m.num_trials_set = 1;
        if (!a->rtol_set && j.rtol_set) m.rtol = j.rtol, m.rtol_set = 1;
        if (!a->atol_set && j.atol_set) m.atol = j.atol, m.atol_set = 1;

        fprintf(env->log, "decompose: job %s: model %zu/%zu: %s\n", a->model, i + 1, j.nmodels, j.models[i]);
        int code;
        if (a->json) {
            /* Each run's one object is collected into the job's one object. */
            char *buf = NULL;
            size_t blen = 0;
            FILE *mem = open_memstream(&buf, &blen);
            run_env e = *env;
            e.out = mem ? mem : env->log;
            code = pipeline_run(&m, &e);
            if (mem) fclose(mem);
            json_t *r = buf ? json_loads(buf, 0, NULL) : NULL;
            if (!r) r = json_pack("{s:s}", "status", "ERROR");
            json_object_set_new(r, "model", json_string(j.models[i]));
            json_array_append_new(results, r);
            free(buf);
        } else {
            code = pipeline_run(&m, env);
        }
        if (code > worst) worst = code;
        free(name);
        free(out);
    }
    if (a->json) {
        json_t *o = json_pack("{s:s, s:o}", "status", worst == 0 ? "PASS" : worst == 1 ? "FAIL" : "ERROR",
                              "models", results);
        report_json(env, o);
        json_decref(o);
    } else {
        json_decref(results);
    }
    job_free(&j);
    return worst;
}
