#!/usr/bin/env perl
# Choosing the next token and the stop strings of text generation: the
# sampler's bias, penalties and filters against the numpy reference of
# t/lib/gen_sample.py (t/fixtures/sample), the frequencies of its draws
# by chi-square, greedy, seeds, infer_sample_check()'s messages; the stop
# strings against tables, Python's str.find and a brute-force reference
# of random splits.  Built by `make unit`, its TAP goes straight to prove.
use strict;
use warnings;
my $bin = ($ENV{TEST_NGINX_REPO} // '.') . '/build/test_sample';
-x $bin or do { print "1..0 # SKIP $bin is not built (make unit)\n"; exit 0 };
my $fix = ($ENV{TEST_NGINX_FIXTURES} // 't/fixtures') . '/sample';
-f "$fix/manifest.json"
    or do { print "1..0 # SKIP no $fix/manifest.json (make fixtures)\n";
            exit 0 };
exec $bin, $fix or die "exec $bin: $!";
