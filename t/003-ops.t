#!/usr/bin/env perl
# The op layer's unit tests: every op of kernels/infer_ops.h on the CPU
# backend against float64 references, and the memory planner; built by
# `make unit`, their TAP goes straight to prove.
use strict;
use warnings;
my $bin = ($ENV{TEST_NGINX_REPO} // '.') . '/build/test_ops';
-x $bin or do { print "1..0 # SKIP $bin is not built (make unit)\n"; exit 0 };
exec $bin or die "exec $bin: $!";
