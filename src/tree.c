/* tree.c - see tree.h. */
#include "tree.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *LEVELS[] = {"kernel", "fusion", "layer", "model"};
static const char *LEVEL_DIRS[] = {"level_0_kernel", "level_1_fusion", "level_2_layer",
                                   "level_3_model"};

int level_rank(const char *level) {
    if (!level) return -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(level, LEVELS[i]) == 0) return i;
    return -1;
}

const char *level_dir(const char *level) {
    int r = level_rank(level);
    return r < 0 ? NULL : LEVEL_DIRS[r];
}

int tree_validate(const json_t *plan, char **err) {
    json_t *nodes = json_object_get(plan, "nodes");
    if (!json_is_array(nodes) || json_array_size(nodes) == 0) {
        set_error(err, "plan: \"nodes\" must be a non-empty list");
        return -1;
    }
    size_t n = json_array_size(nodes);
    int rc = -1;
    /* id -> index, and how many parents each node has */
    json_t *index = json_object();
    int *parents = xcalloc(n, sizeof *parents);
    size_t i;
    json_t *node;

    json_array_foreach(nodes, i, node) {
        const char *id = json_str(node, "id");
        if (!json_is_object(node) || !id || !*id) {
            set_error(err, "plan: node %zu has no \"id\"", i);
            goto done;
        }
        if (json_object_get(index, id)) {
            set_error(err, "plan: node id '%s' appears twice", id);
            goto done;
        }
        json_object_set_new(index, id, json_integer((json_int_t)i));
        const char *level = json_str(node, "level");
        if (level_rank(level) < 0) {
            set_error(err, "plan: node '%s' has unknown level '%s' (expected model, layer, fusion or kernel)",
                      id, level ? level : "(none)");
            goto done;
        }
        json_t *ch = json_object_get(node, "children");
        if (ch && !json_is_array(ch)) {
            set_error(err, "plan: node '%s': \"children\" must be a list", id);
            goto done;
        }
    }

    json_array_foreach(nodes, i, node) {
        const char *id = json_str(node, "id");
        int rank = level_rank(json_str(node, "level"));
        json_t *ch = json_object_get(node, "children");
        size_t k;
        json_t *c;
        json_array_foreach(ch, k, c) {
            const char *cid = json_string_value(c);
            json_t *ci = cid ? json_object_get(index, cid) : NULL;
            if (!ci) {
                set_error(err, "plan: node '%s' names child '%s', which is not a node", id,
                          cid ? cid : "(not a string)");
                goto done;
            }
            json_t *child = json_array_get(nodes, (size_t)json_integer_value(ci));
            const char *clevel = json_str(child, "level");
            if (level_rank(clevel) >= rank) {
                set_error(err, "plan: node '%s' (%s) has child '%s' at level %s, which is not lower",
                          id, json_str(node, "level"), cid, clevel);
                goto done;
            }
            parents[json_integer_value(ci)]++;
        }
        if (json_array_size(ch) == 0 && rank != 0) {
            set_error(err, "plan: node '%s' is a leaf at level %s; every leaf must be a kernel",
                      id, json_str(node, "level"));
            goto done;
        }
    }

    const char *root = NULL;
    int roots = 0;
    json_array_foreach(nodes, i, node) {
        if (parents[i] == 0) {
            roots++;
            if (!root) root = json_str(node, "id");
        }
    }
    if (roots != 1) {
        set_error(err, "plan: %d nodes have no parent (%s%s); exactly one root is needed",
                  roots, root ? "first: " : "none", root ? root : "");
        goto done;
    }
    const char *named = json_str(plan, "root");
    if (named && strcmp(named, root) != 0) {
        set_error(err, "plan: \"root\" is '%s' but the node without a parent is '%s'", named, root);
        goto done;
    }
    rc = 0;
done:
    json_decref(index);
    free(parents);
    return rc;
}

void tree_counts(const json_t *plan, level_counts *c, int *unique_kernels,
                 long *kernel_instances) {
    memset(c, 0, sizeof *c);
    long inst = 0;
    size_t i;
    json_t *node;
    json_array_foreach(json_object_get(plan, "nodes"), i, node) {
        switch (level_rank(json_str(node, "level"))) {
        case 3: c->model++; break;
        case 2: c->layer++; break;
        case 1: c->fusion++; break;
        case 0: {
            c->kernel++;
            json_t *ic = json_object_get(node, "instance_count");
            inst += json_is_integer(ic) ? (long)json_integer_value(ic) : 1;
            break;
        }
        default: break;
        }
    }
    if (unique_kernels) *unique_kernels = c->kernel;
    if (kernel_instances) *kernel_instances = inst;
}

json_t *level_counts_json(const level_counts *c) {
    return json_pack("{s:i, s:i, s:i, s:i}", "model", c->model, "layer", c->layer,
                     "fusion", c->fusion, "kernel", c->kernel);
}

/* A string member of the plan, or "" so the file always has the key. */
static json_t *plan_str(const json_t *plan, const char *key) {
    const char *s = json_str(plan, key);
    return json_string(s ? s : "");
}

json_t *tree_build(const json_t *plan, const tree_info *info, char **err) {
    if (tree_validate(plan, err) != 0) return NULL;
    level_counts c;
    int unique;
    long inst;
    tree_counts(plan, &c, &unique, &inst);

    json_t *meta = json_object();
    json_object_set_new(meta, "source_file", plan_str(plan, "source_file"));
    json_object_set_new(meta, "source_level", plan_str(plan, "source_level"));
    json_object_set_new(meta, "model_name", plan_str(plan, "model_name"));
    json_object_set_new(meta, "timestamp", json_string(info->timestamp ? info->timestamp : ""));
    json_object_set_new(meta, "root", plan_str(plan, "root"));
    json_object_set_new(meta, "total_components",
                        json_integer((json_int_t)json_array_size(json_object_get(plan, "nodes"))));
    json_object_set_new(meta, "by_level", level_counts_json(&c));
    json_object_set_new(meta, "unique_kernels", json_integer(unique));
    json_object_set_new(meta, "kernel_instances", json_integer(inst));
    json_object_set_new(meta, "verification_status", json_string(info->verified ? "PASSED" : "FAILED"));
    json_object_set_new(meta, "trace_method", plan_str(plan, "trace_method"));
    json_t *prep = json_object_get(plan, "preparation");
    if (json_is_object(prep)) json_object_set(meta, "preparation", prep);
    if (!json_str(plan, "root")) {
        /* the validated root: the one node that no other names as a child */
        json_t *named = json_object();
        size_t i, k;
        json_t *node, *ch;
        json_array_foreach(json_object_get(plan, "nodes"), i, node)
            json_array_foreach(json_object_get(node, "children"), k, ch)
                json_object_set(named, json_string_value(ch), json_true());
        json_array_foreach(json_object_get(plan, "nodes"), i, node) {
            if (!json_object_get(named, json_str(node, "id"))) {
                json_object_set_new(meta, "root", json_string(json_str(node, "id")));
                break;
            }
        }
        json_decref(named);
    }

    json_t *nodes = json_object();
    size_t i;
    json_t *node;
    json_array_foreach(json_object_get(plan, "nodes"), i, node)
        json_object_set_new(nodes, json_str(node, "id"), json_deep_copy(node));

    json_t *flow = json_object_get(plan, "data_flow");
    json_t *tree = json_object();
    json_object_set_new(tree, "metadata", meta);
    json_object_set_new(tree, "nodes", nodes);
    json_object_set_new(tree, "data_flow", json_is_array(flow) ? json_deep_copy(flow) : json_array());
    return tree;
}
