-- The planner picks omen where it would pick btree: equality probes,
-- ranges, ORDER BY with LIMIT, min/max, nested-loop probes, IN lists.
CREATE TABLE pl (id int8, v int);
INSERT INTO pl SELECT g, g % 100 FROM generate_series(1, 200000) g;
CREATE INDEX pl_omen ON pl USING omen (id);
VACUUM ANALYZE pl;
EXPLAIN (COSTS OFF) SELECT * FROM pl WHERE id = 42;
EXPLAIN (COSTS OFF) SELECT * FROM pl WHERE id = 42::int4;
EXPLAIN (COSTS OFF) SELECT * FROM pl WHERE id BETWEEN 1000 AND 1010 ORDER BY id;
EXPLAIN (COSTS OFF) SELECT * FROM pl ORDER BY id DESC LIMIT 5;
EXPLAIN (COSTS OFF) SELECT min(id), max(id) FROM pl;
EXPLAIN (COSTS OFF) SELECT id FROM pl WHERE id IN (1, 5, 9);
EXPLAIN (COSTS OFF) SELECT count(*) FROM pl WHERE id IS NULL;
CREATE TABLE probes (id int8);
INSERT INTO probes SELECT (g * 7) % 200000 + 1 FROM generate_series(1, 50) g;
ANALYZE probes;
EXPLAIN (COSTS OFF) SELECT count(*) FROM probes p JOIN pl ON pl.id = p.id;
SELECT count(*) FROM probes p JOIN pl ON pl.id = p.id;

-- side by side with btree: omen costs no more, so it is chosen
CREATE INDEX pl_btree ON pl USING btree (id);
EXPLAIN (COSTS OFF) SELECT * FROM pl WHERE id = 42;
EXPLAIN (COSTS OFF) SELECT * FROM pl WHERE id BETWEEN 1000 AND 1010 ORDER BY id;
DROP INDEX pl_btree;

-- a fresh model reads one index page per equality probe
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
CREATE FUNCTION index_buffers(q text) RETURNS int LANGUAGE plpgsql AS $f$
DECLARE
    line text;
    total int := 0;
    m text[];
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
        -- the index scan node's own buffers are on the line after it
        IF line ~ 'Index (Only )?Scan using pl_omen' THEN
            total := -1;
        ELSIF total = -1 AND line ~ 'Buffers:' THEN
            m := regexp_match(line, 'shared (?:hit=(\d+))?\s*(?:read=(\d+))?');
            total := coalesce(m[1]::int, 0) + coalesce(m[2]::int, 0);
        END IF;
    END LOOP;
    RETURN total;
END
$f$;
SELECT index_buffers('SELECT count(*) FROM probes p JOIN pl ON pl.id = p.id') BETWEEN 50 AND 55 AS one_buffer_per_probe;
RESET ALL;
