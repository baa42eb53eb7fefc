/* tree.h - the decomposition tree: plan validation and decomposition_tree.json.
 *
 * The glue's plan reply lists nodes (id, level, children, ...) and data-flow
 * edges; this module checks that they form one tree-shaped hierarchy and
 * builds the JSON file from them and from the results of the gates. Kernel
 * nodes are unique workloads that several parents may share, so the
 * hierarchy is a DAG with one root, ordered by level: every child sits at a
 * strictly lower level than its parent, and every leaf is a kernel. */
#ifndef DECOMPOSE_TREE_H
#define DECOMPOSE_TREE_H

#include <jansson.h>

typedef struct {
    int model, layer, fusion, kernel;
} level_counts;

typedef struct {
    const char *timestamp;      /* UTC ISO-8601, given so tests are repeatable */
    int verified;               /* every gate passed */
} tree_info;

/* 3 for "model" down to 0 for "kernel"; -1 for anything else. */
int level_rank(const char *level);
const char *level_dir(const char *level);   /* "level_0_kernel", or NULL */

/* Check the plan's nodes: ids unique strings, levels known, every child
 * exists and is of a lower level, exactly one node without a parent (and it
 * is the plan's "root" when the plan names one), every leaf a kernel.
 * 0, or -1 with *err saying which node is wrong and how. */
int tree_validate(const json_t *plan, char **err);

/* Node counts by level, kernel nodes (unique workloads) and the sum of their
 * instance_count (1 when absent). Assumes a valid plan. */
void tree_counts(const json_t *plan, level_counts *by_level, int *unique_kernels,
                 long *kernel_instances);

/* decomposition_tree.json: {metadata, nodes (object keyed by id), data_flow}.
 * NULL with *err if the plan is invalid. */
json_t *tree_build(const json_t *plan, const tree_info *info, char **err);

/* {"model": n, "layer": n, "fusion": n, "kernel": n} */
json_t *level_counts_json(const level_counts *c);

#endif
