/* heap.h - how the process's heap treats what a run frees. */
#ifndef DECOMPOSE_HEAP_H
#define DECOMPOSE_HEAP_H

/* Keep freed blocks in the heap for the next allocation (a run starts). */
void heap_keep_freed(void);

/* Give the heap's free memory back to the system (a long-lived server's
 * request is over). */
void heap_give_back(void);

#endif
