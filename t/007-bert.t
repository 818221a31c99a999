#!/usr/bin/env perl
# The BERT architecture's unit tests: config.json and the
# sentence-transformers files, a broken model directory per mistake with
# its exact message, and parity with the reference embeddings of
# all-MiniLM-L6-v2 and of random BERT models at several batch
# compositions (t/fixtures/bert, written by t/lib/gen_bert.py); built by
# `make unit`, their TAP goes straight to prove.
use strict;
use warnings;
my $bin = ($ENV{TEST_NGINX_REPO} // '.') . '/build/test_bert';
-x $bin or do { print "1..0 # SKIP $bin is not built (make unit)\n"; exit 0 };
my $fix = ($ENV{TEST_NGINX_FIXTURES} // 't/fixtures') . '/bert';
exec $bin, $fix or die "exec $bin: $!";
