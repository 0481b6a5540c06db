-- Bad input gets a clear ERROR and nothing is lost.
CREATE TABLE bad (t text, f float8, n numeric, k int8, j int8);
INSERT INTO bad SELECT g::text, g, g, g, g FROM generate_series(1, 100) g;
CREATE INDEX ON bad USING omen (t);
CREATE INDEX ON bad USING omen (f);
CREATE INDEX ON bad USING omen (n);
CREATE INDEX ON bad USING omen (k, j);
CREATE INDEX ON bad USING omen (k) INCLUDE (j);
CREATE UNIQUE INDEX ON bad USING omen (k);
CREATE INDEX ON bad USING omen (k DESC);
CREATE INDEX ON bad USING omen (k NULLS FIRST);
CREATE INDEX ON bad USING omen (k) WITH (epsilon = 0);
CREATE INDEX ON bad USING omen (k) WITH (epsilon = 65537);
CREATE INDEX ON bad USING omen (k) WITH (fillfactor = 9);
CREATE INDEX ON bad USING omen (k) WITH (fillfactor = 101);
CREATE INDEX ON bad USING omen (k) WITH (epsilon = 'many');
CREATE INDEX ON bad USING omen (k) WITH (unknown_option = 1);
CREATE INDEX bad_ok ON bad USING omen (k) WITH (epsilon = 1, fillfactor = 10);
SELECT epsilon, fillfactor FROM omen_index_stats('bad_ok');
ALTER INDEX bad_ok SET (epsilon = 0);
SELECT count(*) FROM bad;
SELECT omen_index_check('bad_ok', true);

-- the functions refuse what is not an omen index
CREATE INDEX bad_btree ON bad (k);
SELECT * FROM omen_index_stats('bad_btree');
SELECT omen_index_check('bad_btree');
SELECT omen_index_retrain('bad_btree');
SELECT * FROM omen_index_stats('bad');
SELECT omen_index_check('bad');

-- damaged pages (wrong magic, format version, torn entries, broken links)
-- are exercised in test/t/003_damage.pl, which patches the files offline.
