/*
 * omensort.c
 *	  External sort of (key, TID) entries for CREATE INDEX.
 *
 * An entry is two int64s, so it is sorted as such rather than through
 * tuplesort: the buffer is a flat array of 16-byte entries (tuplesort
 * keeps a 24-byte SortTuple plus a separately allocated datum for each),
 * sorted by a quicksort specialised for the pair with the comparison
 * inlined, so three times as many entries fit in maintenance_work_mem and
 * no comparison goes through a function pointer or a memcmp.
 *
 * When the buffer is full it is sorted and written as one run to a
 * temporary file.  At the end the runs are merged through a binary heap.
 * Every run being merged is a file of its own with a read-ahead batch
 * beside its BufFile buffer, 12 kB a run in all, so the merge's fan-in is
 * what the sort's memory pays for (and at most OMEN_SORT_MAX_ORDER open
 * files): more runs than that are first merged in groups into longer
 * runs, as tuplesort does.  When nothing was written the buffer is read
 * in place; when something was, the buffer is written as a last run and
 * freed, so the merge's batches have the memory to themselves.
 *
 * In a parallel build each participant writes its runs as files of the
 * build's shared file set, named "<kind>.<participant>.<run>", and the
 * leader opens them all by name once every participant is done.  The
 * shared file set removes them when the parallel context is destroyed.
 */
#include "postgres.h"

#include "commands/tablespace.h"
#include "miscadmin.h"
#include "storage/buffile.h"
#include "utils/memutils.h"

#include "omensort.h"

/* entries read from a run at a time */
#define OMEN_SORT_BATCH		256

/* most runs merged at once: tuplesort's limit too */
#define OMEN_SORT_MAX_ORDER	500

/* the buffer's first allocation, in entries; it doubles up to the limit */
#define OMEN_SORT_INITIAL	8192

/* entry order, the leaf's order */
static inline int
pair_cmp(const OmenPos *a, const OmenPos *b)
{
	return omen_pos_cmp(a->key, a->tid, b->key, b->tid);
}

#define ST_SORT omen_sort_pairs
#define ST_ELEMENT_TYPE OmenPos
#define ST_COMPARE(a, b) pair_cmp(a, b)
#define ST_SCOPE static
#define ST_CHECK_FOR_INTERRUPTS
#define ST_DEFINE
#include "lib/sort_template.h"

/* A sorted run being merged. */
typedef struct OmenSortSource
{
	BufFile    *file;
	OmenPos    *batch;			/* entries read ahead */
	int			n;
	int			pos;
} OmenSortSource;

/* A merge of sorted runs: a binary heap of sources by their next entry. */
typedef struct OmenMerge
{
	OmenSortSource *sources;
	int			nsources;
	int		   *heap;			/* source numbers, least next entry first */
	int			nheap;
} OmenMerge;

struct OmenSort
{
	char		kind;
	SharedFileSet *fileset;
	int			participant;
	int			workmem;

	/* the buffer */
	OmenPos    *pairs;
	int64		npairs;
	int64		allocated;
	int64		maxpairs;

	/* runs written (serial sorts keep them open for the merge) */
	BufFile   **runs;
	int			nruns;
	int			maxruns;

	/* reading: the buffer in place, or a merge of the runs */
	int64		next;
	OmenMerge  *merge;
};

OmenSort *
omen_sort_begin(char kind, int workmem, SharedFileSet *fileset, int participant)
{
	OmenSort   *s = palloc0(sizeof(OmenSort));

	s->kind = kind;
	s->fileset = fileset;
	s->participant = participant;
	s->workmem = workmem;
	s->maxpairs = Max((int64) workmem * 1024 / (int64) sizeof(OmenPos), 1024);
	s->maxpairs = Min(s->maxpairs, (int64) (MaxAllocHugeSize / sizeof(OmenPos)));
	s->allocated = Min(s->maxpairs, OMEN_SORT_INITIAL);
	s->pairs = MemoryContextAllocHuge(CurrentMemoryContext, s->allocated * sizeof(OmenPos));
	return s;
}

static void
run_name(char *name, Size len, char kind, int participant, int run)
{
	snprintf(name, len, "%c.%d.%d", kind, participant, run);
}

static void
add_run(OmenSort *s, BufFile *file)
{
	if (s->nruns == s->maxruns)
	{
		s->maxruns = Max(8, s->maxruns * 2);
		s->runs = s->runs ? repalloc(s->runs, s->maxruns * sizeof(BufFile *))
			: palloc(s->maxruns * sizeof(BufFile *));
	}
	s->runs[s->nruns++] = file;
}

static BufFile *
new_private_run(void)
{
	PrepareTempTablespaces();
	return BufFileCreateTemp(false);
}

/* Sort the buffer and write it as the next run. */
static void
write_run(OmenSort *s)
{
	BufFile    *file;

	omen_sort_pairs(s->pairs, s->npairs);
	if (s->fileset)
	{
		char		name[MAXPGPATH];

		run_name(name, sizeof(name), s->kind, s->participant, s->nruns);
		file = BufFileCreateFileSet(&s->fileset->fs, name);
	}
	else
		file = new_private_run();
	BufFileWrite(file, s->pairs, s->npairs * sizeof(OmenPos));
	add_run(s, file);
	s->npairs = 0;
}

void
omen_sort_put(OmenSort *s, int64 key, int64 tid)
{
	if (s->npairs == s->allocated)
	{
		if (s->allocated < s->maxpairs)
		{
			s->allocated = Min(s->allocated * 2, s->maxpairs);
			s->pairs = repalloc_huge(s->pairs, s->allocated * sizeof(OmenPos));
		}
		else
			write_run(s);
	}
	s->pairs[s->npairs].key = key;
	s->pairs[s->npairs].tid = tid;
	s->npairs++;
}

void
omen_sort_export(OmenSort *s)
{
	int			i;

	Assert(s->fileset);
	if (s->npairs > 0)
		write_run(s);
	/* closing flushes the files; they stay in the set for the leader */
	for (i = 0; i < s->nruns; i++)
		BufFileClose(s->runs[i]);
	s->nruns = 0;
}

/* ---------------------------------------------------------------------
 * Merging
 * ---------------------------------------------------------------------
 */

/* Runs merged at once with 'workmem' kB: a BufFile buffer and a batch each. */
static int
merge_order(int workmem)
{
	int64		order = (int64) workmem * 1024 / (BLCKSZ + OMEN_SORT_BATCH * sizeof(OmenPos));

	return (int) Max(2, Min(order, OMEN_SORT_MAX_ORDER));
}

/* Read the next batch of a run; false when it is exhausted. */
static bool
source_fill(OmenSortSource *src)
{
	size_t		got;

	got = BufFileRead(src->file, src->batch, OMEN_SORT_BATCH * sizeof(OmenPos));
	if (got % sizeof(OmenPos) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read an omen sort run: read %zu bytes, not a whole number of entries", got)));
	src->n = (int) (got / sizeof(OmenPos));
	src->pos = 0;
	return src->n > 0;
}

static inline bool
source_less(OmenMerge *m, int a, int b)
{
	OmenSortSource *sa = &m->sources[a];
	OmenSortSource *sb = &m->sources[b];

	return pair_cmp(&sa->batch[sa->pos], &sb->batch[sb->pos]) < 0;
}

/* Restore the heap property below slot i. */
static void
heap_sift_down(OmenMerge *m, int i)
{
	for (;;)
	{
		int			l = 2 * i + 1;
		int			least = i;
		int			t;

		if (l < m->nheap && source_less(m, m->heap[l], m->heap[least]))
			least = l;
		if (l + 1 < m->nheap && source_less(m, m->heap[l + 1], m->heap[least]))
			least = l + 1;
		if (least == i)
			return;
		t = m->heap[i];
		m->heap[i] = m->heap[least];
		m->heap[least] = t;
		i = least;
	}
}

/* Start merging the given runs; the merge owns (and closes) the files. */
static OmenMerge *
merge_begin(BufFile **files, int nfiles)
{
	OmenMerge  *m = palloc0(sizeof(OmenMerge));
	int			i;

	m->sources = palloc0(Max(nfiles, 1) * sizeof(OmenSortSource));
	m->heap = palloc(Max(nfiles, 1) * sizeof(int));
	for (i = 0; i < nfiles; i++)
	{
		OmenSortSource *src = &m->sources[m->nsources];

		if (BufFileSeek(files[i], 0, 0, SEEK_SET) != 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not rewind an omen sort run")));
		src->file = files[i];
		src->batch = palloc(OMEN_SORT_BATCH * sizeof(OmenPos));
		if (!source_fill(src))
		{
			/* an empty run: leave it out */
			BufFileClose(src->file);
			pfree(src->batch);
			src->file = NULL;
			continue;
		}
		m->heap[m->nsources] = m->nsources;
		m->nsources++;
	}
	m->nheap = m->nsources;
	for (i = m->nheap / 2 - 1; i >= 0; i--)
		heap_sift_down(m, i);
	return m;
}

static bool
merge_next(OmenMerge *m, int64 *key, int64 *tid)
{
	OmenSortSource *src;

	if (m->nheap == 0)
		return false;
	src = &m->sources[m->heap[0]];
	*key = src->batch[src->pos].key;
	*tid = src->batch[src->pos].tid;
	if (++src->pos >= src->n && !source_fill(src))
	{
		/* this run is done: the last slot's source takes its place */
		m->heap[0] = m->heap[--m->nheap];
	}
	if (m->nheap > 1)
		heap_sift_down(m, 0);
	return true;
}

static void
merge_end(OmenMerge *m)
{
	int			i;

	for (i = 0; i < m->nsources; i++)
	{
		BufFileClose(m->sources[i].file);
		pfree(m->sources[i].batch);
	}
	pfree(m->sources);
	pfree(m->heap);
	pfree(m);
}

/*
 * Merge the runs, first in groups of 'order' into longer (private) runs
 * while there are more than that, then all of them.
 */
static OmenMerge *
merge_runs(OmenSort *s)
{
	int			order = merge_order(s->workmem);

	if (s->nruns > order)
		elog(DEBUG2, "omen sort: %d runs, merged %d at a time first", s->nruns, order);
	while (s->nruns > order)
	{
		OmenMerge  *m = merge_begin(s->runs, order);
		BufFile    *out = new_private_run();
		OmenPos		batch[OMEN_SORT_BATCH];
		int			n = 0;

		while (merge_next(m, &batch[n].key, &batch[n].tid))
		{
			if (++n == OMEN_SORT_BATCH)
			{
				BufFileWrite(out, batch, n * sizeof(OmenPos));
				n = 0;
				CHECK_FOR_INTERRUPTS();
			}
		}
		if (n > 0)
			BufFileWrite(out, batch, n * sizeof(OmenPos));
		merge_end(m);
		memmove(s->runs, s->runs + order, (s->nruns - order) * sizeof(BufFile *));
		s->nruns -= order;
		add_run(s, out);
	}
	s->merge = merge_begin(s->runs, s->nruns);
	s->nruns = 0;				/* the merge owns the files now */
	return s->merge;
}

OmenSort *
omen_sort_begin_merge(char kind, int workmem, SharedFileSet *fileset, int nparticipants)
{
	OmenSort   *s = palloc0(sizeof(OmenSort));
	int			p;

	s->kind = kind;
	s->fileset = fileset;
	s->workmem = workmem;
	/* a participant's runs are numbered from 0 without gaps */
	for (p = 0; p < nparticipants; p++)
	{
		int			run;

		for (run = 0;; run++)
		{
			char		name[MAXPGPATH];
			BufFile    *file;

			run_name(name, sizeof(name), kind, p, run);
			file = BufFileOpenFileSet(&fileset->fs, name, O_RDONLY, true);
			if (file == NULL)
				break;
			add_run(s, file);
		}
	}
	merge_runs(s);
	return s;
}

void
omen_sort_performsort(OmenSort *s)
{
	Assert(s->fileset == NULL);
	if (s->nruns == 0)
	{
		/* it all fit: read the buffer in place */
		omen_sort_pairs(s->pairs, s->npairs);
		s->next = 0;
		return;
	}
	if (s->npairs > 0)
		write_run(s);
	pfree(s->pairs);
	s->pairs = NULL;
	s->npairs = 0;
	merge_runs(s);
}

bool
omen_sort_next(OmenSort *s, int64 *key, int64 *tid)
{
	if (s->merge)
		return merge_next(s->merge, key, tid);
	if (s->next >= s->npairs)
		return false;
	*key = s->pairs[s->next].key;
	*tid = s->pairs[s->next].tid;
	s->next++;
	return true;
}

void
omen_sort_end(OmenSort *s)
{
	int			i;

	if (s->merge)
		merge_end(s->merge);
	for (i = 0; i < s->nruns; i++)
		BufFileClose(s->runs[i]);
	if (s->runs)
		pfree(s->runs);
	if (s->pairs)
		pfree(s->pairs);
	pfree(s);
}
