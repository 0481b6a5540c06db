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
 * temporary file.  At the end the runs (and, in a serial build, the last
 * buffer still in memory) are merged in one pass through a binary heap:
 * every run is a file of its own with a small read-ahead batch, so the
 * merge needs a few kB per run and no second pass even for thousands of
 * runs.
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
#define OMEN_SORT_BATCH		512

/* the buffer's first allocation, in entries; it doubles up to the limit */
#define OMEN_SORT_INITIAL	8192

static inline int
pair_cmp(const OmenPos *a, const OmenPos *b)
{
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	if (a->tid != b->tid)
		return a->tid < b->tid ? -1 : 1;
	return 0;
}

#define ST_SORT omen_sort_pairs
#define ST_ELEMENT_TYPE OmenPos
#define ST_COMPARE(a, b) pair_cmp(a, b)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/* A sorted run being merged: a file, or the buffer left in memory. */
typedef struct OmenSortSource
{
	BufFile    *file;			/* NULL for the in-memory run */
	OmenPos    *batch;			/* entries read ahead (or the buffer) */
	int64		n;
	int64		pos;
} OmenSortSource;

struct OmenSort
{
	char		kind;
	SharedFileSet *fileset;
	int			participant;

	/* the buffer */
	OmenPos    *pairs;
	int64		npairs;
	int64		allocated;
	int64		maxpairs;

	/* runs written (serial sorts keep them open for the merge) */
	BufFile   **runs;
	int			nruns;
	int			maxruns;

	/* reading */
	bool		merging;
	int64		next;			/* next buffer entry, when not merging */
	OmenSortSource *sources;
	int			nsources;
	int		   *heap;			/* source numbers, least head first */
	int			nheap;
};

OmenSort *
omen_sort_begin(char kind, int workmem, SharedFileSet *fileset, int participant)
{
	OmenSort   *s = palloc0(sizeof(OmenSort));

	s->kind = kind;
	s->fileset = fileset;
	s->participant = participant;
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
	{
		if (s->nruns == 0)
			PrepareTempTablespaces();
		file = BufFileCreateTemp(false);
	}
	BufFileWrite(file, s->pairs, s->npairs * sizeof(OmenPos));
	if (s->nruns == s->maxruns)
	{
		s->maxruns = Max(8, s->maxruns * 2);
		s->runs = s->runs ? repalloc(s->runs, s->maxruns * sizeof(BufFile *))
			: palloc(s->maxruns * sizeof(BufFile *));
	}
	s->runs[s->nruns++] = file;
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

/* Read the next batch of a file run; false when it is exhausted. */
static bool
source_fill(OmenSort *s, OmenSortSource *src)
{
	size_t		got;

	if (src->file == NULL)
		return false;
	got = BufFileRead(src->file, src->batch, OMEN_SORT_BATCH * sizeof(OmenPos));
	if (got % sizeof(OmenPos) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read an omen sort run: read %zu bytes, not a whole number of entries", got)));
	src->n = got / sizeof(OmenPos);
	src->pos = 0;
	return src->n > 0;
}

static inline bool
source_less(OmenSort *s, int a, int b)
{
	OmenSortSource *sa = &s->sources[a];
	OmenSortSource *sb = &s->sources[b];

	return pair_cmp(&sa->batch[sa->pos], &sb->batch[sb->pos]) < 0;
}

/* Restore the heap property below slot i. */
static void
heap_sift_down(OmenSort *s, int i)
{
	for (;;)
	{
		int			l = 2 * i + 1;
		int			least = i;
		int			t;

		if (l < s->nheap && source_less(s, s->heap[l], s->heap[least]))
			least = l;
		if (l + 1 < s->nheap && source_less(s, s->heap[l + 1], s->heap[least]))
			least = l + 1;
		if (least == i)
			return;
		t = s->heap[i];
		s->heap[i] = s->heap[least];
		s->heap[least] = t;
		i = least;
	}
}

static void
add_source(OmenSort *s, BufFile *file, OmenPos *mem, int64 nmem)
{
	OmenSortSource *src = &s->sources[s->nsources];

	src->file = file;
	if (file)
	{
		if (BufFileSeek(file, 0, 0, SEEK_SET) != 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not rewind an omen sort run")));
		src->batch = palloc(OMEN_SORT_BATCH * sizeof(OmenPos));
		if (!source_fill(s, src))
		{
			/* an empty run: leave it out */
			BufFileClose(file);
			pfree(src->batch);
			return;
		}
	}
	else
	{
		src->batch = mem;
		src->n = nmem;
		src->pos = 0;
		if (nmem == 0)
			return;
	}
	s->nsources++;
}

/* Set up the merge of the sources added, least heads on top. */
static void
start_merge(OmenSort *s)
{
	int			i;

	s->heap = palloc(Max(s->nsources, 1) * sizeof(int));
	for (i = 0; i < s->nsources; i++)
		s->heap[i] = i;
	s->nheap = s->nsources;
	for (i = s->nheap / 2 - 1; i >= 0; i--)
		heap_sift_down(s, i);
	s->merging = true;
}

OmenSort *
omen_sort_begin_merge(char kind, SharedFileSet *fileset, int nparticipants)
{
	OmenSort   *s = palloc0(sizeof(OmenSort));
	List	   *files = NIL;
	ListCell   *lc;
	int			p;

	s->kind = kind;
	s->fileset = fileset;
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
			files = lappend(files, file);
		}
	}
	s->nruns = list_length(files);
	s->sources = palloc0(Max(s->nruns, 1) * sizeof(OmenSortSource));
	foreach(lc, files)
		add_source(s, (BufFile *) lfirst(lc), NULL, 0);
	list_free(files);
	start_merge(s);
	return s;
}

void
omen_sort_performsort(OmenSort *s)
{
	int			i;

	Assert(s->fileset == NULL);
	omen_sort_pairs(s->pairs, s->npairs);
	s->next = 0;
	if (s->nruns == 0)
		return;					/* it all fit: read the buffer */
	s->sources = palloc0((s->nruns + 1) * sizeof(OmenSortSource));
	for (i = 0; i < s->nruns; i++)
		add_source(s, s->runs[i], NULL, 0);
	add_source(s, NULL, s->pairs, s->npairs);
	start_merge(s);
}

bool
omen_sort_next(OmenSort *s, int64 *key, int64 *tid)
{
	OmenSortSource *src;

	if (!s->merging)
	{
		if (s->next >= s->npairs)
			return false;
		*key = s->pairs[s->next].key;
		*tid = s->pairs[s->next].tid;
		s->next++;
		return true;
	}
	if (s->nheap == 0)
		return false;
	src = &s->sources[s->heap[0]];
	*key = src->batch[src->pos].key;
	*tid = src->batch[src->pos].tid;
	if (++src->pos >= src->n && !source_fill(s, src))
	{
		/* this run is done: the last source takes its slot */
		s->heap[0] = s->heap[--s->nheap];
	}
	if (s->nheap > 1)
		heap_sift_down(s, 0);
	return true;
}

int
omen_sort_nruns(OmenSort *s)
{
	return s->nruns;
}

void
omen_sort_end(OmenSort *s)
{
	int			i;

	if (s->merging)
	{
		for (i = 0; i < s->nsources; i++)
		{
			if (s->sources[i].file)
				BufFileClose(s->sources[i].file);
		}
	}
	else
	{
		for (i = 0; i < s->nruns; i++)
			BufFileClose(s->runs[i]);
	}
	if (s->pairs)
		pfree(s->pairs);
	pfree(s);
}
