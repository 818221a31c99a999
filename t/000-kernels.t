#!/usr/bin/env perl
# The kernels' own unit tests (safetensors, config.json, the numerics
# header, the CPU backend against the reference forward pass), built by
# `make unit`; their TAP goes straight to prove.
use strict;
use warnings;
my $bin = ($ENV{TEST_NGINX_REPO} // '.') . '/build/test_kernels';
-x $bin or do { print "1..0 # SKIP $bin is not built (make unit)\n"; exit 0 };
exec $bin or die "exec $bin: $!";
