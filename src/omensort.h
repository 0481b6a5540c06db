/*
 * omensort.h
 *	  External sort of (key, TID) entries for CREATE INDEX.
 */
#ifndef OMENSORT_H
#define OMENSORT_H

#include "storage/sharedfileset.h"

#include "omen.h"

typedef struct OmenSort OmenSort;

/*
 * A sort that holds up to workmem kB of entries in memory and writes each
 * full buffer as a sorted run.  With a shared file set the runs are files
 * of that set, named after 'kind' and 'participant', that the leader of a
 * parallel build merges (omen_sort_begin_merge); without, private
 * temporary files.
 */
extern OmenSort *omen_sort_begin(char kind, int workmem, SharedFileSet *fileset, int participant);
extern void omen_sort_put(OmenSort *s, int64 key, int64 tid);

/* A parallel participant: write what is left as a last run; close the runs. */
extern void omen_sort_export(OmenSort *s);

/* The leader of a parallel build: merge every participant's runs. */
extern OmenSort *omen_sort_begin_merge(char kind, int workmem, SharedFileSet *fileset, int nparticipants);

/* Make the entries ready to be read in order (serial sorts). */
extern void omen_sort_performsort(OmenSort *s);
extern bool omen_sort_next(OmenSort *s, int64 *key, int64 *tid);
extern void omen_sort_end(OmenSort *s);

#endif							/* OMENSORT_H */
