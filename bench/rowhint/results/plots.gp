set terminal pngcairo size 900,540
set datafile separator ','
set key top left
set grid
set output '/tmp/bn/bench/rowhint/scaling.png'
set title 'Equality probe time by table size (uniform keys, nested loop, index scan)'
set logscale x
set xlabel 'rows'
set ylabel 'microseconds per probe'
plot '/tmp/bn/bench/rowhint/results/scaling.csv' every ::1 using 1:2 with linespoints title 'btree', \
     '' every ::1 using 1:3 with linespoints title 'omen', \
     '' every ::1 using 1:4 with linespoints title 'hash'
unset logscale x
set output '/tmp/bn/bench/rowhint/latency.png'
set title 'Point-select reader latency, 10M rows, first run; a random-insert writer from second 20'
set xlabel 'second'
set ylabel 'microseconds'
plot '/tmp/bn/bench/rowhint/results/latency-10M.csv' every ::1 using (strcol(1) eq 'btree' && $2 == 1 ? $3 : 1/0):6 with lines title 'btree p50', \
     '' every ::1 using (strcol(1) eq 'btree' && $2 == 1 ? $3 : 1/0):7 with lines title 'btree p99', \
     '' every ::1 using (strcol(1) eq 'omen' && $2 == 1 ? $3 : 1/0):6 with lines title 'omen p50', \
     '' every ::1 using (strcol(1) eq 'omen' && $2 == 1 ? $3 : 1/0):7 with lines title 'omen p99'
