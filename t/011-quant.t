#!/usr/bin/env perl
# GGUF's quantized blocks (Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K): their
# values against the gguf package's on t/fixtures/quant (written by
# t/lib/gen_quant.py), the dot products and the product through the op
# layer against float64, a row alone and batched bit for bit, get_rows of
# a quantized table; built by `make unit`, their TAP goes straight to
# prove.
use strict;
use warnings;
my $bin = ($ENV{TEST_NGINX_REPO} // '.') . '/build/test_quant';
-x $bin or do { print "1..0 # SKIP $bin is not built (make unit)\n"; exit 0 };
my $fix = ($ENV{TEST_NGINX_FIXTURES} // 't/fixtures') . '/quant';
exec $bin, $fix or die "exec $bin: $!";
