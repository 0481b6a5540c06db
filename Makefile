EXTENSION = omen_index
EXTVERSION = 0.1

MODULE_big = omen_index
OBJS = src/omen.o src/omenbuild.o src/omeninsert.o src/omenscan.o \
       src/omenvacuum.o src/omenmodel.o src/omenpage.o src/omenfuncs.o \
       src/omenvalidate.o src/omenretrain.o src/omenworker.o \
       src/omenleaf.o src/omenxlog.o src/omensort.o
HEADERS = src/omen.h

DATA = $(wildcard src/omen_index--*.sql)

REGRESS = setup types scans writes leaves runs parallel errors planner functions upgrade
REGRESS_OPTS = --inputdir=. --load-extension=$(EXTENSION)

ISOLATION = split-during-scan retrain-concurrent reuse-during-scan vacuum-during-scan
ISOLATION_OPTS = --inputdir=test --load-extension=$(EXTENSION)

PROVE_TESTS = $(wildcard test/t/*.pl)

# Warnings are errors.  -Wextra's unused-parameter and missing-field warnings
# fire on PostgreSQL's callback signatures and headers, so those two are off.
# Model predictions must round the same way in the fitter and in lookups:
# no fused multiply-add.
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter \
            -Wno-missing-field-initializers -Wno-sign-compare -ffp-contract=off

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# TAP tests (test/t/*.pl) start their own clusters; run as a non-root user.
.PHONY: tap
tap:
	$(prove_installcheck)

# every object depends on the shared header
$(OBJS): src/omen.h src/omensort.h
